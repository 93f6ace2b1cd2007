"""nbhelpers.spurious: patterns, slices, escaping and label checks, the miner, LIME."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbhelpers import spurious

ROOT = Path(__file__).resolve().parents[1]


def test_patterns_match_words_not_substrings():
    texts = pd.DataFrame({"hypothesis": ["A red hat", "Fred sits", "He is not here", "knot", "Nobody came",
                                         "it isn't", "No way", "is n't"]})  # the last: tokenised SNLI form
    colour, negation = (spurious._where_mask(texts, p, ("hypothesis",)).tolist() for p in ("colour", "negation"))
    assert colour == [True, False, False, False, False, False, False, False]
    assert negation == [False, False, True, False, True, True, True, True]


def test_slice_report_with_regex_and_mask():
    df = pd.DataFrame({"premise": ["p"] * 4, "hypothesis": ["a red x", "b", "a red y", "c"],
                       "label": [0, 0, 2, 1]})
    preds = {"m1": np.array([0, 1, 1, 1]), "m2": np.array([1, 0, 2, 1])}
    by_regex = spurious.slice_report(df, r"\bred\b", preds)
    by_mask = spurious.slice_report(df, np.array([True, False, True, False]), preds)
    assert by_regex.equals(by_mask)
    assert by_regex.loc["all", "n"] == 2 and by_regex.loc["all", "m1 acc"] == 0.5
    assert by_regex.loc["contradiction", "m2 acc"] == 1.0 and by_regex.loc["entailment", "m2 acc"] == 0.0
    with pytest.raises(ValueError, match="selects"):
        spurious.slice_report(df, np.array([True]), preds)
    with pytest.raises(ValueError, match=r"predictions\['bad'\] is length 3 and df is length 4"):
        spurious.slice_report(df, "red", {"bad": np.array([0, 1, 2])})


def test_pattern_stats_label_distribution():
    df = pd.DataFrame({"premise": ["x", "x", "x", "x"], "hypothesis": ["not a", "not b", "c", "no d"],
                       "label": [2, 2, 0, 1]})
    stats = spurious.pattern_stats(df, ["not", "negation"])
    row = stats.loc[("not", "hypothesis")]
    assert row["n"] == 2 and row["share"] == 0.5 and row["contradiction"] == 1.0
    assert stats.loc[("negation", "hypothesis"), "n"] == 3


def test_html_is_escaped_and_patterns_bold():
    out = spurious.highlight("<script>alert('red')</script>", "colour")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<b>red</b>" in out
    q = pd.Series({"premise": "<img src=x onerror=alert(1)>", "hypothesis": "not blue", "label": 2})
    nb = pd.DataFrame({"premise": ["<b>bold</b>"], "hypothesis": ["red"], "label": [0], "distance": [3.0]})
    table = spurious.neighbor_html(q, nb, "colour", caption="<i>cap</i>")
    assert "<img" not in table and "&lt;img" in table and "&lt;b&gt;bold" in table
    assert "&lt;i&gt;cap" in table and "<b>red</b>" in table


PAIRS = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["d", "e", "f"], "label": [0, 1, 2]})


@pytest.mark.parametrize("label", [-1, 3, 1.5])
def test_neighbor_html_refuses_a_bad_neighbour_label(label):
    neighbours = PAIRS.assign(label=[0, label, 2], distance=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"neighbours labels must be integers in 0..2"):
        spurious.neighbor_html(PAIRS.iloc[0], neighbours, "not")


@pytest.mark.parametrize("label", [-1, 5])
def test_neighbor_html_refuses_a_bad_query_label(label):
    query = PAIRS.iloc[0].copy()
    query["label"] = label
    with pytest.raises(ValueError, match=r"query\['label'\] must be integers in 0..2"):
        spurious.neighbor_html(query, PAIRS.assign(distance=1.0), "not")


def test_neighbor_html_renders_good_labels():
    html = spurious.neighbor_html(PAIRS.iloc[0], PAIRS.assign(distance=1.0), "a")
    assert html.count("contradiction") == 1 and "<b>a</b>" in html


def test_neighbor_html_is_deterministic_and_tints_the_query_row():
    html = spurious.neighbor_html(PAIRS.iloc[0], PAIRS.assign(distance=1.0), "a")
    assert html == spurious.neighbor_html(PAIRS.iloc[0], PAIRS.assign(distance=1.0), "a")
    table_id = re.search(r'<table id="(T_\w+)"', html).group(1)
    assert re.search(rf"#{table_id} tbody tr:first-child {{\s*background-color: #eef;", html)
    assert table_id not in spurious.neighbor_html(PAIRS.iloc[1], PAIRS.assign(distance=1.0), "a")


def test_token_enrichment_ranks_the_planted_artifact_first():
    rng = np.random.default_rng(0)
    words = ["dog", "cat", "man", "woman", "park", "street"]
    hyps = [" ".join(rng.choice(words, 3)) for _ in range(200)]
    hyps[:20] = [h + " purple" for h in hyps[:20]]
    train = pd.DataFrame({"hypothesis": hyps})
    retrieved = np.r_[np.arange(20).repeat(3), rng.integers(20, 200, 40)]
    mined = spurious.token_enrichment(retrieved, train, min_count=5)
    assert mined.iloc[0]["token"] == "purple" and mined.iloc[0]["z"] > 5
    with pytest.raises(ValueError, match="neighbor_indices must be integers in 0..199"):
        spurious.token_enrichment([200], train)


# --- the paper's protocol: example rules, LIME over both sentences, the 'not' readings ---

def test_choose_examples_follows_each_rule_by_hand():
    gold = np.array([0, 0, 1, 1, 1, 2])
    orig = np.array([1, 0, 1, 1, 0, 2])
    aug = np.array([0, 1, 2, 1, 2, 2])
    df = pd.DataFrame({"premise": ["a red car"] * 6, "hypothesis": ["x"] * 6, "label": gold})
    onehot = lambda pred: np.eye(3)[pred]
    # row 2: neutral gold, the original model right, the augmented one says contradiction
    for rule, expected in (("original-wrong-augmented-right", [0]), ("neutral-to-contradiction", [2])):
        chosen, _ = spurious.choose_examples(df, onehot(orig), onehot(aug), pattern="colour", rule=rule, n=6)
        assert chosen == expected
    with pytest.raises(ValueError, match="rule='colour' but expected one of"):
        spurious.choose_examples(df, onehot(orig), onehot(aug), pattern="colour", rule="colour")


def test_choose_examples_finds_the_pattern_in_the_premise_too():
    df = pd.DataFrame({"premise": ["men in red outfits", "a dog", "a cat", "a blue car"],
                       "hypothesis": ["a band plays", "a dog barks", "a red cat", "a car"],
                       "label": [0, 0, 0, 0]})
    p_orig = np.array([[.1, .9, 0], [.1, .9, 0], [.4, .6, 0], [.9, .1, 0]])
    p_aug = np.array([[.9, .1, 0], [.9, .1, 0], [.6, .4, 0], [.1, .9, 0]])
    chosen, counts = spurious.choose_examples(df, p_orig, p_aug, pattern="colour",
                                              rule="original-wrong-augmented-right", n=5)
    # row 0 (colour in the premise only) comes first: the larger change in p(gold); row 3
    # changed the other way; row 1 has no colour word
    assert chosen == [0, 2]
    assert counts == {"with pattern": 3, "changed prediction": 3, "paper direction": 2}
    hyp_only, _ = spurious.choose_examples(df, p_orig, p_aug, pattern="colour", fields=("hypothesis",),
                                           rule="original-wrong-augmented-right", n=5)
    assert hyp_only == [2]


def test_choose_examples_checks_shapes():
    df = pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [0]})
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):
        spurious.choose_examples(df, np.ones((2, 3)) / 3, np.ones((1, 3)) / 3, pattern="not",
                                 rule="neutral-to-contradiction")


def test_lime_pair_gives_weight_to_premise_words():
    # the prediction hangs on "red" in the *premise*: LIME over both sentences must find it there
    def predict(premises, hypotheses):
        return np.array([[0.1, 0.1, 0.8] if "red" in p.split() else [0.8, 0.1, 0.1] for p in premises])

    label, w = spurious.lime_pair(predict, "four men in red outfits", "a band of women in red",
                                  num_samples=300, seed=0)
    assert label == 2
    top = w.iloc[0]
    assert (top["sentence"], top["word"], top["position"]) == ("premise", "red", 3)
    assert top["weight"] > 0.3
    # the hypothesis "red" (position 5 of the hypothesis) carries no weight of its own
    hyp_red = w[(w["sentence"] == "hypothesis") & (w["word"] == "red")]
    assert hyp_red.empty or abs(hyp_red["weight"].iloc[0]) < 0.05
    # deterministic under a seed
    assert w.equals(spurious.lime_pair(predict, "four men in red outfits", "a band of women in red",
                                       num_samples=300, seed=0)[1])


def test_lime_pair_never_shows_the_separator_to_the_model():
    seen = []

    def predict(premises, hypotheses):
        seen.extend(premises + hypotheses)
        return np.tile([0.5, 0.3, 0.2], (len(premises), 1))

    spurious.lime_pair(predict, "a dog runs", "an animal moves", num_samples=50)
    assert seen and not any("|" in s for s in seen)


@pytest.mark.parametrize("premise, error, words", [("", ValueError, "non-empty string"),
                                                   (None, TypeError, "premise must be a string"),
                                                   ("a ||| b", ValueError, r"without '\|\|\|'")])
def test_lime_pair_rejects_bad_text(premise, error, words):
    with pytest.raises(error, match=words):
        spurious.lime_pair(lambda p, h: np.ones((len(p), 3)) / 3, premise, "x", num_samples=10)


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "snli_cad").exists(), reason="no CAD data")
def test_not_readings_match_the_papers_37_and_60_percent_on_the_cad_training_files():
    from nbhelpers import data

    key = "P(contradiction | 'not' in premise or hypothesis)"
    orig = spurious.not_readings(data.load_nli("cad-original", "train")).loc[key]
    aug = spurious.not_readings(data.load_nli("cad-augmented", "train")).loc[key]
    assert (orig["count"], orig["n"]) == (3, 8)      # 37.5%
    assert (aug["count"], aug["n"]) == (58, 97)      # 59.8%


def test_pooled_slice_change_pools_each_seeds_pair_of_models_on_the_slice():
    df = pd.DataFrame({"premise": ["a"] * 6, "hypothesis": ["not b", "never c", "d", "not e", "no f", "g"],
                       "label": [0, 0, 0, 2, 0, 0]})
    before = np.array([[0, 0, 0, 2, 0, 0], [0, 1, 0, 2, 0, 0]])  # seed 1's original model misses pair 1
    after = np.array([[1, 0, 0, 2, 1, 0], [1, 1, 0, 2, 0, 0]])
    r = spurious.pooled_slice_change(df, "negation", before, after, label=0, fields=("hypothesis",))
    # the slice: entailment pairs 0, 1, 4; seed 0: 3/3 -> 1/3, seed 1: 2/3 -> 1/3
    assert (r["n"], r["n_seeds"]) == (3, 2)
    assert r["before"] == pytest.approx(5 / 6) and r["after"] == pytest.approx(1 / 3)
    assert r["diff"] == pytest.approx(-0.5) and r["lo"] <= -0.5 <= r["hi"] <= 0
    assert (r["a_only"], r["b_only"]) == ([2, 1], [0, 0])
    with pytest.raises(ValueError, match=r"shape \(n_seeds, 6\)"):
        spurious.pooled_slice_change(df, "negation", before[:, :5], after[:, :5], label=0)
