"""nbhelpers.scorecard: the one verdict rule, each claim of the paper read from the chapters' results
files and judged by it, and how verdicts are shown."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nbhelpers import paper, results, scorecard


@pytest.mark.parametrize("estimate, low, high, paper_effect, null, margin, stand_in, expected", [
    # directional claims
    (2.9, 0.8, 5.0, 5.4, 0.0, None, None, "reproduced"),          # beyond the null, the paper's side
    (-2.0, -3.0, -1.0, -10.0, 0.0, None, None, "reproduced"),     # a negative claim, reproduced
    (1.0, 0.5, 1.5, 5.4, 0.0, None, None, "reproduced"),          # smaller than the paper's: still its side
    (-3.0, -5.0, -1.0, 3.4, 0.0, None, None, "opposite"),
    (3.0, 1.0, 5.0, -10.0, 0.0, None, None, "opposite"),
    (-0.8, -2.4, 0.8, 3.4, 0.0, None, None, "ruled out"),         # holds 0, excludes the paper's 3.4
    (0.0, 0.0, 1.0, 3.4, 0.0, None, None, "ruled out"),           # touching the null is not beyond it
    (0.4, -0.7, 1.5, 1.3, 0.0, None, None, "inconclusive"),       # holds 0 and the paper's 1.3
    (0.4, -0.7, 1.3, 1.3, 0.0, None, None, "inconclusive"),       # the paper's value on the edge is held
    (2.5, 2.1, 2.9, 5.0, 2.0, None, None, "reproduced"),          # a null other than 0
    (2.5, 1.9, 2.9, 5.0, 2.0, None, None, "ruled out"),
    # claims of no effect (paper_effect == null) need a margin
    (0.1, -0.2, 0.3, 0.0, 0.0, 0.5, None, "reproduced"),          # inside +-0.5
    (-0.15, -0.29, -0.03, 0.0, 0.0, 0.5, None, "reproduced"),     # a clear but tiny loss: inside the margin
    (1.0, 0.6, 1.4, 0.0, 0.0, 0.5, None, "ruled out"),            # wholly outside the margin
    (-1.0, -1.4, -0.6, 0.0, 0.0, 0.5, None, "ruled out"),
    (0.5, 0.2, 0.8, 0.0, 0.0, 0.5, None, "inconclusive"),         # straddles the margin
    # no interval, or not comparable
    (5.0, None, None, 3.4, 0.0, None, None, "untested"),
    (5.0, None, None, 0.0, 0.0, 0.5, None, "untested"),
    (9.0, 8.0, 10.0, 1.3, 0.0, None, "a stand-in", "not comparable"),
    (None, None, None, 1.3, 0.0, None, "a stand-in", "not comparable"),   # no run of ours at all
])
def test_verdict_rule(estimate, low, high, paper_effect, null, margin, stand_in, expected):
    assert scorecard.verdict(estimate, low, high, paper_effect=paper_effect, null=null, margin=margin,
                             stand_in=stand_in) == expected


@pytest.mark.parametrize("kwargs, error, words", [
    ({"estimate": 1.0, "low": 2.0, "high": 3.0}, ValueError, "low <= estimate <= high"),
    ({"estimate": 1.0, "low": 0.0, "high": None}, ValueError, "both low and high"),
    ({"estimate": float("nan"), "low": 0.0, "high": 1.0}, ValueError, "estimate.*finite"),
    ({"estimate": "1", "low": 0.0, "high": 2.0}, ValueError, "estimate must be a real number; got '1'"),
    ({"estimate": 1.0, "low": 0.0, "high": 2.0, "stand_in": ""}, ValueError, "stand_in"),
    ({"estimate": True, "low": 0.0, "high": 2.0}, ValueError, "real number; got True"),
    ({"estimate": 0.1, "low": 0.0, "high": 0.2, "paper_effect": 0.0}, ValueError, "no effect needs a margin"),
    ({"estimate": 0.1, "low": 0.0, "high": 0.2, "margin": -1.0}, ValueError, "margin == -1.0, must be > 0"),
])
def test_verdict_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        scorecard.verdict(**{"paper_effect": 1.0, **kwargs})


def test_random_intervals_reach_every_numeric_verdict():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(400):
        lo, hi = np.sort(rng.normal(size=2))
        seen.add(scorecard.verdict((lo + hi) / 2, lo, hi, paper_effect=float(rng.normal())))
    assert seen == {"reproduced", "opposite", "ruled out", "inconclusive"}


def test_sentence_and_html_show_each_row_escaped():
    row = dict(claim="a <b>claim</b>", link="#x", paper="+1.3", ours="+0.4 [-0.7, +1.5]", test="t",
               n="3 seeds", verdict="inconclusive", reason=None, effect="gain", paper_in_interval=True,
               to_decide=None)
    sentence = "a <b>claim</b>: paper +1.3; ours +0.4 [-0.7, +1.5] (t; 3 seeds): **inconclusive**."
    assert scorecard.sentence(row) == sentence
    assert scorecard.sentence(row | {"reason": "a stand-in"}).endswith("**inconclusive** (a stand-in).")
    page = scorecard.to_html([row])
    assert "a &lt;b&gt;claim&lt;/b&gt;" in page and 'class="verdict verdict-inconclusive"' in page


def test_counts_sentence_lists_every_verdict():
    text = scorecard.counts_sentence([{"verdict": "ruled out"}], ["hans.json"])
    assert text.startswith("1 claims: 0 reproduced, 0 opposite, 1 ruled out") and text.endswith("absent: hans.json.")



def _write(folder, name, obj):
    (folder / f"{name}.json").write_text(json.dumps(obj))


def _build(folder):
    """scorecard.build on partial records: the rows of each file's dict, unchecked (build checks whole records)."""
    records = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem in results.RECORDS}
    return scorecard.rows(records), [f"{n}.json" for n in results.RECORDS if n not in records]


def test_build_reads_the_results_and_decides_each_claim(tmp_path):
    settings = {s: {"train": "mnli-matched/validation" if s in ("anli", "hans") else "cad/train", "n_test": 1000,
                    "backoff_gain": g, "backoff_gain_ci95": ci, "tau": 0.5, "model_acc": 0.6, "seed": 0}
                for s, g, ci in [("snli-original", 0.02, [0.01, 0.03]), ("snli-augmented", -0.001, [-0.004, 0.002]),
                                 ("anli", 0.004, [-0.007, 0.015]), ("hans", 0.0, [-0.001, 0.001])]}
    # SNLI original ran 3 seeds: gains 1, 2, 3 points -> mean 2, sd 1, t-interval 2 +- 2.484
    settings["snli-original"]["seeds"] = {"seeds": [0, 1, 2], "backoff_gain_mean": 0.02, "backoff_gain_std": 0.01}
    _write(tmp_path, "backoff", settings)
    _write(tmp_path, "influence", {"removal": {"drops": {
        "0.1": {"top": [0.0, 1.0, 2.0], "random": [1.0, 2.0, 3.0]},      # gap -1 each seed
        "0.3": {"top": [6.0, 5.0, 7.0], "random": [2.0, 3.0, 2.0]}},
        "increments": {"top": [6.0, 4.0, 5.0], "random": [1.0, 1.0, -1.0]}}})  # increments: gaps 5, 3, 6
    _write(tmp_path, "spurious", {"not_claim": {"readings": {
        "original": {"P(contradiction | 'not' in premise or hypothesis)": {"count": 3, "n": 8}},
        "augmented": {"P(contradiction | 'not' in premise or hypothesis)": {"count": 58, "n": 97}}}},
        "negation_entailment_change": {"SNLI test": {
            "n": 26, "before": 0.8, "after": 0.646, "diff": -4 / 26, "lo": -0.308, "hi": -0.038,
            "a_only": 4, "b_only": 0, "mcnemar_p": 0.125, "mcnemar_lo": -4 / 26, "mcnemar_hi": 0.0315}}})
    rows, missing = _build(tmp_path)
    assert missing == ["representations.json", "mislabel.json", "hans.json"]
    by = {r["claim"]: r for r in rows}
    # the paper's +0.1 is below the 0.5-point margin: a claim of no effect, and 2 [-0.5, +4.5] is inconclusive
    orig = by["kNN backoff changes nothing: snli-original"]
    t = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert (orig["low"], orig["high"]) == (pytest.approx(2 - t), pytest.approx(2 + t))
    assert (orig["paper_effect"], orig["margin"]) == (0.0, paper.BACKOFF_MARGIN)
    assert orig["verdict"] == "inconclusive" and orig["paper_in_interval"] is True
    assert orig["test"] == "t-interval over 3 seeds" and orig["to_decide"].startswith("about ")
    # one seed: a test-sampling interval that excludes the paper's +0.5 cannot decide: seeds matter
    aug = by["kNN backoff improves test accuracy: snli-augmented"]
    assert aug["verdict"] == "untested" and "seed" in aug["to_decide"]
    assert by["kNN backoff improves test accuracy: anli"]["verdict"] == "not comparable"
    assert "MNLI" in by["kNN backoff improves test accuracy: anli"]["reason"]
    # BERT's HANS gain is 0.0: a claim of no effect, with the margin declared in paper.py
    assert by["kNN backoff changes nothing: hans"]["margin"] == paper.BACKOFF_MARGIN
    roberta = [r for r in rows if "(RoBERTa)" in r["claim"]]
    assert len(roberta) == 4 and {r["verdict"] for r in roberta} == {"not comparable"}
    assert "changes nothing (RoBERTa): snli-original" in " ".join(r["claim"] for r in roberta)  # 82.8 -> 82.8
    ten = [r for r in rows if "10% of the training" in r["claim"]][0]
    thirty = [r for r in rows if "from 10% to 30%" in r["claim"]][0]
    assert (ten["estimate"], ten["verdict"]) == (-1.0, "opposite")      # sd 0: -1 is beyond noise
    assert thirty["estimate"] == pytest.approx(14 / 3) and thirty["verdict"] == "reproduced"
    assert thirty["paper_effect"] == pytest.approx(2.0)
    not_row = [r for r in rows if "'not'" in r["claim"]][0]
    assert not_row["verdict"] == "inconclusive" and "3/8 -> 58/97" in not_row["ours"]
    assert "Newcombe" in not_row["test"] and not_row["low"] == pytest.approx(-11.1, abs=0.1)
    # 4 discordant pairs, all one way: the exact interval holds 0 and the paper's -10
    neg = [r for r in rows if "negation" in r["claim"]][0]
    assert neg["verdict"] == "inconclusive" and "exact McNemar" in neg["test"] and neg["high"] > 0
    for r in rows:
        assert {"paper", "ours", "test", "n", "verdict", "paper_in_interval", "to_decide", "link"} <= set(r)
        assert r["verdict"] in scorecard.VERDICTS and r["link"].startswith(r["chapter"] + ".html#")
    scorecard.save(rows, tmp_path / "scorecard.json")
    saved = json.loads((tmp_path / "scorecard.json").read_text())
    assert len(saved["claims"]) == len(rows) and saved["verdicts"] == list(scorecard.VERDICTS)
    html = scorecard.to_html(rows)
    assert html.count("<tr>") == len(rows) + 1 and "verdict-not-comparable" in html


def test_build_on_an_empty_folder_lists_every_file_as_missing(tmp_path):
    rows, missing = scorecard.build(tmp_path)
    assert rows == [] and len(missing) == len(results.RECORDS)


def test_build_reads_checked_records_and_names_a_malformed_file(tmp_path):
    import shutil
    for p in (Path(__file__).parent / "data" / "results").glob("*.json"):
        shutil.copy(p, tmp_path)
    rows, missing = scorecard.build(tmp_path)
    assert missing == ["backoff.json", "mislabel.json"]
    assert {r["chapter"] for r in rows} >= {"01_representations", "03_influence", "06_hans_tsne"}
    records = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert rows == scorecard.rows(records)  # the checked record reads as the file does
    (tmp_path / "hans.json").write_text('{"constituent": {"non-entailment": {"n": "many"}}}')
    with pytest.raises(ValueError, match="hans.json"):
        scorecard.build(tmp_path)


def test_mislabel_rows_test_knn_against_the_loss_ranking_at_its_budget(tmp_path):
    per = {"kNN precision": [0.30, 0.32, 0.31], "loss P@budget": [0.50, 0.52, 0.49],
           "kNN recall": [0.46, 0.45, 0.47], "loss R@budget": [0.70, 0.72, 0.69],
           "kNN f1": [0.37, 0.36, 0.38], "loss F1@budget": [0.58, 0.60, 0.57],
           "loss: data for kNN recall": [0.11, 0.12, 0.12], "kNN budget share": [0.15, 0.15, 0.16]}
    _write(tmp_path, "mislabel", {"per_seed": per})
    rows, _ = _build(tmp_path)
    f1, share = rows
    # kNN's F1 is 21 points below the loss ranking's at the same budget, beyond noise: opposite
    assert f1["estimate"] == pytest.approx(100 * (0.37 - np.mean([0.58, 0.60, 0.57]))) and f1["verdict"] == "opposite"
    assert f1["paper_effect"] == pytest.approx(100 * (0.78 - paper.MISLABEL_LOSS_F1_AT_BUDGET))
    assert "is not in our F1 interval" in f1["ours"]
    # ... and the loss ranking reaches kNN's recall with less data than kNN flags: opposite
    assert share["estimate"] == pytest.approx(100 * np.mean([-0.04, -0.03, -0.04]))
    assert share["paper_effect"] == pytest.approx(100 * (0.65 - 0.1 * 0.73 / 0.84))
    assert share["verdict"] == "opposite" and share["paper_in_interval"] is False
    # a loss ranking that needs as much data as kNN, give or take: holds 0, excludes 56 points: ruled out
    _write(tmp_path, "mislabel", {"per_seed": {**per, "loss: data for kNN recall": [0.13, 0.17, 0.16]}})
    assert _build(tmp_path)[0][1]["verdict"] == "ruled out"


def test_paper_numbers_are_flat_for_glue():
    n = paper.numbers()
    assert (n["t4_bert_model_anli"], n["t5_bert_anli"], n["removal_top_10"]) == (47.2, 0.95, 4.6)
    assert n["mislabel_f1"] == 0.78
    assert (n["t6_knn_bert_constituent"], n["removal_increment_top"], n["speedup"]) == (24.6, 6.0, 300)


def test_paper_mislabel_loss_f1_is_derived_by_hand():
    budget = 0.1 * 0.73 / 0.84                      # share of the data kNN flags
    recall = 0.73 * budget / 0.65                   # the loss curve read as a straight line to (0.65, 0.73)
    precision = recall * 0.1 / budget
    assert paper.MISLABEL_LOSS_F1_AT_BUDGET == pytest.approx(2 * precision * recall / (precision + recall))


def test_adversarial_anli_row_pools_the_split_seeds(tmp_path):
    adv = {"n_test": 3200, "per_seed": {"test": ["anli", "hans", "anli", "hans", "anli", "hans"],
                                        "seed": [0, 0, 1, 1, 2, 2],
                                        "backoff_gain": [0.02, 0.5, 0.03, 0.5, 0.025, 0.5]}}
    _write(tmp_path, "backoff", {"anli-adversarial": adv})
    rows, _ = _build(tmp_path)
    (row,) = [r for r in rows if "adversarial" in r["claim"]]
    assert row["estimate"] == pytest.approx(2.5)  # mean of 2, 3, 2.5 points; HANS rows ignored
    t = stats.t.ppf(0.975, 2) * 0.5 / np.sqrt(3)  # sd 0.5 over 3 seeds
    assert row["low"] == pytest.approx(2.5 - t) and row["high"] == pytest.approx(2.5 + t)
    assert row["verdict"] == "reproduced" and "3 split seeds" in row["test"]
    _write(tmp_path, "backoff", {"anli-adversarial": {**adv, "per_seed": {**adv["per_seed"],
                                                                          "backoff_gain": [0.01, 0, -0.01, 0, 0.0, 0]}}})
    (row,) = [r for r in _build(tmp_path)[0] if "adversarial" in r["claim"]]
    assert row["verdict"] == "inconclusive" and row["to_decide"]   # holds 0 and the paper's +1.3


def test_adversarial_anli_row_with_one_seed_is_untested_unless_inconclusive(tmp_path):
    one = {"test": ["anli", "hans"], "seed": [0, 0], "backoff_gain": [0.012, 0.5],
           "gain_lo": [0.004, 0.3], "gain_hi": [0.02, 0.7]}
    _write(tmp_path, "backoff", {"anli-adversarial": {"n_test": 3200, "per_seed": one}})
    (row,) = [r for r in _build(tmp_path)[0] if "adversarial" in r["claim"]]
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((1.2, 0.4, 2.0))
    assert row["verdict"] == "untested" and "1 split seed, paired bootstrap" in row["test"]
    # an interval that holds both 0 and +1.3 stays inconclusive: seed noise can only widen it
    _write(tmp_path, "backoff", {"anli-adversarial": {"n_test": 3200, "per_seed": {**one, "gain_lo": [-0.004, 0.3]}}})
    (row,) = [r for r in _build(tmp_path)[0] if "adversarial" in r["claim"]]
    assert row["verdict"] == "inconclusive" and row["low"] == pytest.approx(-0.4)
    with pytest.raises(ValueError, match="no rows for test 'anli'"):
        scorecard.adversarial_claim({"n_test": 10, "per_seed": {"test": ["hans"], "backoff_gain": [0.1]}})
    with pytest.raises(ValueError, match="per_seed lacks keys"):
        scorecard.adversarial_claim({"n_test": 10, "per_seed": {"test": ["anli"]}})


def test_n_to_decide_by_hand():
    # pairs: half-width 0.2 at n=400 must shrink to 0.1 -> 4x the pairs
    assert scorecard._n_to_decide(0.1, -0.1, 0.3, 400, paper_effect=0.2, null=0.0, margin=None, unit="pairs") == 1600
    # an estimate on the null and on the paper's effect at once can never decide
    assert scorecard._n_to_decide(0.0, -1.0, 1.0, 3, paper_effect=0.0, null=0.0, margin=None, unit="seeds") is None
    # no-effect claim, margin 1: estimate 0.2 +- 1.5 decides once it fits inside [-1, 1]
    n = scorecard._n_to_decide(0.2, -1.3, 1.7, 100, paper_effect=0.0, null=0.0, margin=1.0, unit="pairs")
    assert n == math.ceil(100 * (1.5 / 0.8) ** 2)
    # 3 seeds, 1 [-1, 3]: a fourth seed's t quantile would exclude 0 (the paper's effect 4 is held)
    assert scorecard._n_to_decide(1.0, -1.0, 3.0, 3, paper_effect=4.0, null=0.0, margin=None, unit="seeds") == 4


def test_representation_row_uses_the_held_out_half(tmp_path):
    held = {"reference": "cls-layer6-norm", "best_other": "max-layer5-norm", "n_choose": 4921, "n_score": 4921,
            "reference_acc": 0.70, "best_other_acc": 0.71, "diff": -0.01, "lo": -0.02, "hi": 0.004,
            "a_only": 150, "b_only": 101, "mcnemar_p": 0.002}
    _write(tmp_path, "representations", {"knn_acc": {"cls-layer6-norm": 0.7}, "n_val": 9842, "held_out": held})
    (row,) = _build(tmp_path)[0]
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((-1.0, -2.0, 0.4))
    # holds 0, excludes the +1 point read into "best": ruled out on test sampling, but one seed
    assert scorecard.verdict(row["estimate"], row["low"], row["high"], paper_effect=row["paper_effect"]) == "ruled out"
    assert row["verdict"] == "untested" and "held-out half" in row["test"] and "max-layer5-norm" in row["effect"]


def _found_row(claim, verdict, chapter="02_knn_backoff"):
    return {"claim": claim, "paper": "+1", "ours": "+0 [-1, +1]", "test": "t", "n": "3 seeds",
            "verdict": verdict, "reason": None, "chapter": chapter}


def test_found_counts_the_chapters_verdicts_and_leads_with_the_most_telling():
    rows = [_found_row("A", "inconclusive"), _found_row("B", "reproduced"), _found_row("C", "ruled out"),
            _found_row("D", "opposite", chapter="05_mislabeled")]
    text = scorecard.found(rows, "02_knn_backoff")
    head, *bullets = text.splitlines()
    assert head == ("Of the paper's claims tested here, 1 reproduced, 1 ruled out, 1 inconclusive. "
                    "Most telling: **C** (ruled out).")
    assert [b.split(":")[0] for b in bullets] == ["- A", "- B", "- C"]  # D is another chapter's
    assert "Most telling: **B** (reproduced)." in scorecard.found(rows[:2], "02_knn_backoff")


def test_found_lists_a_single_row():
    rows = [{"claim": "A", "paper": "+1", "ours": "-2 [-3, -1]", "test": "t", "n": "3 seeds",
             "verdict": "opposite", "reason": None, "chapter": "x"}]
    assert scorecard.found(rows, "x").splitlines() == [
        "Of the paper's claims tested here, 1 opposite. Most telling: **A** (opposite).",
        "- A: paper +1; ours -2 [-3, -1] (t; 3 seeds): **opposite**."]


def test_found_says_so_when_the_chapter_tested_nothing():
    assert scorecard.found([_found_row("A", "reproduced")], "07_explorer").startswith("This run tested none")


def test_found_folds_not_comparable_rows_into_one_line_when_others_are_listed():
    rows = [_found_row("A", "inconclusive"), _found_row("R1", "not comparable"), _found_row("R2", "not comparable")]
    lines = scorecard.found(rows, "02_knn_backoff").splitlines()
    assert lines[0].startswith("Of the paper's claims tested here, 1 inconclusive, 2 not comparable.")
    assert [b.split(":")[0] for b in lines[1:-1]] == ["- A"] and lines[-1].startswith("- 2 more not comparable")
    only = scorecard.found(rows[1:], "02_knn_backoff").splitlines()  # nothing else: the rows themselves
    assert [b.split(":")[0] for b in only[1:]] == ["- R1", "- R2"]


def test_hans_row_is_paired_and_exact_where_few_pairs_differ():
    cell = {"model_acc": 0.30, "backoff_acc": 0.34, "n": 1000,
            "paired": {"diff": 0.04, "lo": 0.02, "hi": 0.06, "p_better": 1.0, "a_only": 10, "b_only": 50,
                       "p": 1e-7, "mcnemar_lo": 0.015, "mcnemar_hi": 0.065}}
    hans = {"constituent": {"non-entailment": cell}, "setting": {"train": "anli/train"}}
    (row,) = scorecard.hans_claims(hans)
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((4.0, 2.0, 6.0))
    assert row["test"].startswith("paired bootstrap") and "10 right only without backoff" in row["test"]
    few = {**cell, "paired": {**cell["paired"], "a_only": 2, "b_only": 6}}  # 8 discordant: the exact interval
    (row,) = scorecard.hans_claims({**hans, "constituent": {"non-entailment": few}})
    assert (row["low"], row["high"]) == pytest.approx((1.5, 6.5)) and row["test"].startswith("exact McNemar")


def test_slice_rows_read_the_colour_and_knn_alone_changes_with_the_declared_direction(tmp_path):
    def change(n, a_only, b_only, lo, hi):
        return {"n": n, "before": 0.5, "after": 0.5 + (b_only - a_only) / n, "diff": (b_only - a_only) / n,
                "lo": lo, "hi": hi, "a_only": a_only, "b_only": b_only, "mcnemar_p": 0.5,
                "mcnemar_lo": lo - 0.01, "mcnemar_hi": hi + 0.01}
    _write(tmp_path, "spurious", {
        "colour_change": change(400, 10, 40, 0.03, 0.12),              # 50 discordant: the bootstrap interval
        "knn_alone": {"original/colour": change(400, 30, 25, -0.05, 0.02),   # holds 0 and +1 point
                      "augmented/negation": change(200, 8, 1, -0.07, 0.0),   # 9 discordant: exact interval
                      "original/negation": change(200, 1, 1, -0.01, 0.01)}})  # not a declared pairing
    rows, _ = _build(tmp_path)
    by = {r["claim"]: r for r in rows}
    assert len(rows) == 3 and all(r["paper_effect"] == paper.SLICE_EFFECT for r in rows)
    colour = by["Augmentation fixes the colour shortcut of the original model (Table 1)"]
    assert (colour["estimate"], colour["low"], colour["high"]) == (7.5, 3.0, 12.0)
    assert "paired bootstrap" in colour["test"] and colour["verdict"] == "untested"  # one seed: no "reproduced"
    knn_colour = by["kNN alone is more robust than the model to the colour shortcut"]
    # "at least 1 point" is our reading, not the paper's number: whether it is in the interval says nothing
    assert knn_colour["verdict"] == "inconclusive" and knn_colour["paper_in_interval"] is None
    knn_neg = by["kNN alone is more robust than the model to the negation shortcut"]
    assert "exact McNemar" in knn_neg["test"] and knn_neg["low"] == pytest.approx(-8.0)
    assert knn_neg["high"] == pytest.approx(1.0) and knn_neg["verdict"] == "inconclusive"


def test_a_backoff_setting_without_a_gain_is_untested_not_a_crash(tmp_path):
    _write(tmp_path, "backoff", {"snli-augmented": {"train": "cad/train", "n_test": 100, "backoff_gain": None}})
    (row,) = [r for r in _build(tmp_path)[0] if "RoBERTa" not in r["claim"]]
    assert row["verdict"] == "untested" and row["ours"] == "not run"


def test_the_speed_row_asks_for_far_faster_not_merely_faster(tmp_path):
    def speed(ratio):
        knn = [0.01, 0.012, 0.011, 0.009]
        return {"speed": {"n_train": 1666, "knn_query_times_s": knn, "speedup_per_query": ratio,
                          "influence_query_times_s": [ratio * t * f for t, f in zip(knn, (0.9, 1.1, 1.0, 1.05))]}}
    rows = {}
    for ratio in (3, 1000):
        _write(tmp_path, "influence", speed(ratio))
        rows[ratio] = [r for r in _build(tmp_path)[0] if "far faster" in r["claim"]][0]
    assert rows[1000]["null"] == 1.0 and rows[1000]["verdict"] == "reproduced"   # above 10x: far faster
    assert rows[3]["verdict"] == "opposite" and rows[3]["high"] < 1.0            # 3x: faster, not far faster
    _write(tmp_path, "influence", {"speed": {"n_train": 10, "knn_query_times_s": [0.0, 0.01],
                                             "influence_query_times_s": [1.0, 1.0], "speedup_per_query": 200.0}})
    assert [r for r in _build(tmp_path)[0] if "far faster" in r["claim"]][0]["verdict"] == "untested"


def test_the_negation_row_is_pooled_over_seeds_where_the_chapter_ran_several(tmp_path):
    one_seed = {"n": 26, "before": 0.8, "after": 0.65, "diff": -0.154, "lo": -0.308, "hi": -0.038, "a_only": 4,
                "b_only": 0, "mcnemar_p": 0.125, "mcnemar_lo": -0.35, "mcnemar_hi": 0.02}
    pooled = {"n": 26, "n_seeds": 3, "seeds": [0, 1, 2], "before": 0.8, "after": 0.7, "diff": -0.1,
              "lo": -0.2, "hi": -0.02, "a_only": [4, 3, 2], "b_only": [0, 1, 1], "mcnemar_p": [0.125, 0.625, 1.0]}
    claim = "Augmentation costs entailment pairs with negation about 10 points"
    _write(tmp_path, "spurious", {"negation_entailment_change": {"SNLI test": one_seed},
                                  "negation_over_seeds": pooled})
    row = {r["claim"]: r for r in _build(tmp_path)[0]}[claim]
    # the pooled interval excludes 0 on the paper's side, over 3 seeds: a verdict one seed could not give
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((-10.0, -20.0, -2.0))
    assert row["verdict"] == "reproduced" and row["paper_in_interval"] is True
    assert "two-level bootstrap" in row["test"] and "4 right -> wrong, 0 wrong -> right (p = 0.125)" in row["test"]
    assert row["n"] == "26 test pairs x 3 seeds" and row["link"].endswith("#the-declared-slice-over-seeds")
    # one seed pooled is no pooling: the single-seed row (at most inconclusive) stands
    _write(tmp_path, "spurious", {"negation_entailment_change": {"SNLI test": one_seed},
                                  "negation_over_seeds": {**pooled, "n_seeds": 1, "seeds": [0]}})
    row = {r["claim"]: r for r in _build(tmp_path)[0]}[claim]
    assert row["verdict"] == "inconclusive" and "exact McNemar interval" in row["test"]


def test_the_colour_row_is_pooled_over_seeds_too(tmp_path):
    one_seed = {"n": 400, "before": 0.5, "after": 0.6, "diff": 0.1, "lo": 0.05, "hi": 0.15, "a_only": 10,
                "b_only": 50, "mcnemar_p": 1e-8, "mcnemar_lo": 0.05, "mcnemar_hi": 0.15}
    pooled = {"n": 400, "n_seeds": 3, "seeds": [0, 1, 2], "before": 0.5, "after": 0.52, "diff": 0.02,
              "lo": -0.01, "hi": 0.05, "a_only": [10, 30, 30], "b_only": [50, 20, 28],
              "mcnemar_p": [0.0, 0.2, 0.9]}
    _write(tmp_path, "spurious", {"colour_change": one_seed, "colour_over_seeds": pooled})
    claim = "Augmentation fixes the colour shortcut of the original model (Table 1)"
    row = {r["claim"]: r for r in _build(tmp_path)[0]}[claim]
    # not seed 0's +10 points: the pooled +2 [-1, +5] holds both 0 and the paper's least effect (+1 point)
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((2.0, -1.0, 5.0))
    assert row["verdict"] == "inconclusive" and row["n"] == "400 test pairs x 3 seeds"
    assert row["paper_in_interval"] is None  # the paper reads "at least +1 point": no value to hold
