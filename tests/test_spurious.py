"""nbhelpers.spurious: patterns, slices, escaping, the miner, LIME batching."""
import numpy as np
import pandas as pd
import pytest

from nbhelpers import spurious


def test_patterns_match_words_not_substrings():
    texts = ["A red hat", "Fred sits", "He is not here", "knot", "Nobody came", "it isn't", "No way"]
    assert spurious.pattern_mask(texts, "colour").tolist() == [True, False, False, False, False, False, False]
    assert spurious.pattern_mask(texts, "negation").tolist() == [False, False, True, False, True, True, True]
    assert spurious.pattern_mask(["is n't"], "negation").tolist() == [True]  # tokenised SNLI form


def test_slice_report_with_regex_predicate_and_mask():
    df = pd.DataFrame({"premise": ["p"] * 4, "hypothesis": ["a red x", "b", "a red y", "c"],
                       "label": [0, 0, 2, 1]})
    preds = {"m1": np.array([0, 1, 1, 1]), "m2": np.array([1, 0, 2, 1])}
    by_regex = spurious.slice_report(df, r"\bred\b", preds)
    by_pred = spurious.slice_report(df, lambda d: d["hypothesis"].str.contains("red"), preds)
    by_mask = spurious.slice_report(df, np.array([True, False, True, False]), preds)
    assert by_regex.equals(by_pred) and by_regex.equals(by_mask)
    assert by_regex.loc["all", "n"] == 2 and by_regex.loc["all", "m1 acc"] == 0.5
    assert by_regex.loc["contradiction", "m2 acc"] == 1.0 and by_regex.loc["entailment", "m2 acc"] == 0.0
    with pytest.raises(ValueError, match="selects"):
        spurious.slice_report(df, np.array([True]), preds)
    with pytest.raises(ValueError, match=r"predictions\['bad'\] has 3 entries for 4 rows"):
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
    table = spurious.neighbour_html(q, nb, "colour", caption="<i>cap</i>")
    assert "<img" not in table and "&lt;img" in table and "&lt;b&gt;bold" in table
    assert "&lt;i&gt;cap" in table and "<b>red</b>" in table


def test_token_enrichment_ranks_the_planted_artifact_first():
    rng = np.random.default_rng(0)
    words = ["dog", "cat", "man", "woman", "park", "street"]
    hyps = [" ".join(rng.choice(words, 3)) for _ in range(200)]
    hyps[:20] = [h + " purple" for h in hyps[:20]]
    train = pd.DataFrame({"hypothesis": hyps})
    retrieved = np.r_[np.arange(20).repeat(3), rng.integers(20, 200, 40)]
    mined = spurious.token_enrichment(retrieved, train, min_count=5)
    assert mined.iloc[0]["token"] == "purple" and mined.iloc[0]["z"] > 5
    with pytest.raises(ValueError, match="must be in 0..199"):
        spurious.token_enrichment([200], train)


def test_lime_batches_the_perturbations_and_is_seeded():
    calls = []

    def predict(premises, hypotheses):
        calls.append(len(hypotheses))
        neg = np.array(["not" in h.split() for h in hypotheses], dtype=float)
        return np.c_[1 - neg, np.zeros_like(neg), neg] * 0.9 + 0.1 / 3

    label, weights = spurious.lime_hypothesis(predict, "A man sleeps.", "The man is not awake",
                                              num_samples=100, seed=0)
    assert label == 2 and weights[0][0] == "not" and weights[0][1] > 0
    assert max(calls) == 100  # all perturbations in one call
    again = spurious.lime_hypothesis(predict, "A man sleeps.", "The man is not awake", num_samples=100, seed=0)
    assert again == (label, weights)
