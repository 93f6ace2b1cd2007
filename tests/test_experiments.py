"""Backoff on one setting (its evaluation, confidence bins, tables over seeds), and the mislabel sweep:
its statistics by hand, its conclusion rule, and one tiny real run."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbhelpers import experiments, knn, mislabel, paper, settings, stats
from nbhelpers.settings import HANS_LABEL_MAP, SETTINGS


def test_precision_recall_f1_by_hand():
    truth = np.array([True, False, False, True, False])
    prf = experiments._precision_recall_f1(np.array([True, True, False, True, False]), truth)
    assert prf == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8), "n_flagged": 3}
    assert experiments._precision_recall_f1(np.zeros(5, bool), truth)["f1"] == 0.0


def test_diagnostics_by_hand():
    # 6 training examples, flips at 0, 2 and 5; 5 is never anyone's nearest neighbour
    y = np.array([1, 0, 2, 1, 0, 2])
    flipped = np.array([True, False, True, False, False, True])
    memorised = np.array([False, True, True, True, True, True])
    pred = np.array([0, 0, 1, 1, 0, 1])          # queries' predictions
    nn = np.array([0, 0, 2, 3, 1, 2])            # their nearest training examples
    d = experiments._diagnostics(pred, nn, y, flipped, memorised, mislabel.knn_candidates(pred, nn, y))
    # flagging queries: 0, 1 (-> 0), 2 (-> 2), 5 (-> 2): flagged {0, 2}, both flips
    assert (d["n_flagging_queries"], d["n_flagged"], d["n_flips"]) == (4, 2, 3)
    assert d["precision_per_flagged"] == 1.0 and d["precision_per_query"] == 1.0
    assert d["recall_ceiling"] == pytest.approx(2 / 3)             # flip 5 is never retrieved
    assert d["memorised_recalled"] == 0.5 and d["memorised_missed"] == 1.0


def test_average_precision_difference_by_hand_and_paired():
    truth = np.array([True, False, True, False, False])
    good = np.array([0.9, 0.1, 0.8, 0.2, 0.3])  # both flips first: AP 1
    bad = np.array([0.1, 0.9, 0.2, 0.8, 0.7])   # both flips last: precision 1/4 at rank 4, 2/5 at rank 5
    d = experiments._average_precision_difference(good, bad, truth, n_boot=300, seed=0)
    assert d["diff"] == pytest.approx(1.0 - (0.25 + 0.4) / 2)
    assert d["lo"] > 0 and d["hi"] <= 1.0 and d["n"] == 5
    same = experiments._average_precision_difference(good, good, truth, n_boot=50, seed=0)
    assert same["diff"] == same["lo"] == same["hi"] == 0.0
    assert experiments._average_precision_difference(good, bad, truth, n_boot=100, seed=3) == \
        experiments._average_precision_difference(good, bad, truth, n_boot=100, seed=3)
    with pytest.raises(ValueError, match="both flipped and clean"):
        experiments._average_precision_difference(good, bad, np.ones(5, bool), n_boot=10, seed=0)


def _point(lr, epochs, mem, knn_f1, loss_f1, loss_frac, ap, seed=0, beats=False):
    lo = 0.05 if beats else -0.05
    return {"lr": lr, "epochs": epochs, "seed": seed, "flips_memorised": mem, "knn_f1": knn_f1,
            "loss_f1_at_budget": loss_f1, "loss_fraction_for_knn_recall": loss_frac, "ap": ap,
            "ap_vs": {"ranked kNN": {"loss": {"lo": lo}, "cleanlab": {"lo": lo}},
                      "kNN only": {"loss": {"lo": -0.1}, "cleanlab": {"lo": -0.1}}}}


AP = {"ranked kNN": 0.3, "kNN only": 0.2, "loss": 0.5, "cleanlab": 0.4}


def test_sweep_conclusion_finds_the_regime_with_the_papers_pattern():
    points = [_point(1e-4, 1, 0.1, 0.30, 0.50, 0.10, AP),
              _point(1e-4, 10, 0.95, 0.70, 0.20, 0.70, {**AP, "ranked kNN": 0.6}, beats=True)]
    c = mislabel.sweep_conclusion(points)
    assert c["explanation"] == "b" and c["pattern_regimes"] == ["lr 1e-04, 10 ep"]
    assert c["best"] == {"method": "ranked kNN", "regime": "lr 1e-04, 10 ep", "ap": 0.6}
    assert c["knn_beats_both"] == ["lr 1e-04, 10 ep"]
    assert c["memorisation_range"] == [0.1, 0.95]
    q = mislabel.sweep_quotes(c)
    assert (q["sweep_memorised_low"], q["sweep_memorised_high"], q["sweep_n_regimes"]) == (0.1, 0.95, 2)
    assert q["sweep_pattern_regimes"] == "lr 1e-04, 10 ep" and q["sweep_loss_regime"] == "lr 1e-04, 10 ep"


def test_sweep_conclusion_without_the_pattern_says_c_and_averages_seeds():
    points = [_point(1e-4, 5, 0.6, 0.35, 0.50, 0.10, AP, seed=0),
              _point(1e-4, 5, 0.7, 0.39, 0.50, 0.14, AP, seed=1)]
    c = mislabel.sweep_conclusion(points)
    assert c["explanation"] == "c" and c["pattern_regimes"] == [] and c["knn_beats_both"] == []
    assert c["n_seeds"] == 2 and c["by_regime"]["lr 1e-04, 5 ep"]["flips_memorised"] == pytest.approx(0.65)
    q = mislabel.sweep_quotes(c)
    assert q["sweep_pattern_regimes"] == "none" and q["sweep_loss_fraction"] == pytest.approx(0.12)
    assert mislabel.sweep_quotes(None)["sweep_n_regimes"] == 0  # no sweep ran: the text still has its values
    with pytest.raises(ValueError, match="empty"):
        mislabel.sweep_conclusion([])


def test_paper_pattern_needs_every_field():
    with pytest.raises(ValueError, match="knn_f1"):
        mislabel.paper_pattern({"loss_fraction_for_knn_recall": 0.7, "loss_f1_at_budget": 0.2})


def test_memorisation_sweep_rejects_bad_regimes(tiny_pairs):
    with pytest.raises(ValueError, match="regime"):
        experiments.memorisation_sweep(tiny_pairs, tiny_pairs, regimes=[(1e-4, 0)], base_recipe={})
    with pytest.raises(ValueError, match="regime"):
        experiments.memorisation_sweep(tiny_pairs, tiny_pairs, regimes=[(1e-4, 1.5)], base_recipe={})
    with pytest.raises(ValueError, match="seeds"):
        experiments.memorisation_sweep(tiny_pairs, tiny_pairs, regimes=[(1e-4, 1)], seeds=[], base_recipe={})
    with pytest.raises(ValueError, match="n_boot == 0, must be >= 1"):
        experiments.memorisation_sweep(tiny_pairs, tiny_pairs, regimes=[(1e-4, 1)], base_recipe={}, n_boot=0)
    with pytest.raises(TypeError, match="recipe"):
        experiments.noisy_label_run(tiny_pairs, tiny_pairs, recipe=None)
    with pytest.raises(ValueError, match="cleanlab_folds == 1, must be >= 2"):
        experiments.noisy_label_run(tiny_pairs, tiny_pairs, recipe={}, cleanlab_folds=1)
    with pytest.raises(ValueError, match="ranked_k == 0, must be >= 1"):
        experiments.noisy_label_run(tiny_pairs, tiny_pairs, recipe={}, ranked_k=0)


def test_memorisation_sweep_runs_end_to_end_on_tiny_data(tiny_pairs, session_cache):
    train = pd.concat([tiny_pairs] * 2, ignore_index=True)  # 24 pairs, so 10% flips 2 labels
    recipe = {"epochs": 1, "batch_size": 8}
    points = experiments.memorisation_sweep(train, tiny_pairs, regimes=[(1e-4, 1), (3e-5, 1)], seeds=[0],
                                            base_recipe=recipe, cleanlab_folds=2, ranked_k=4, n_boot=20,
                                            cache=session_cache, progress=False)
    assert [(p["lr"], p["epochs"]) for p in points] == [(1e-4, 1), (3e-5, 1)]
    for p in points:
        assert set(p["ap"]) == set(experiments.RANKINGS)
        assert 0 <= p["flips_memorised"] <= 1 and 0 <= p["loss_fraction_for_knn_recall"] <= 1
        assert set(p["ap_vs"]) == {"ranked kNN", "kNN only"}
    again = experiments.memorisation_sweep(train, tiny_pairs, regimes=[(1e-4, 1)], seeds=[0], base_recipe=recipe,
                                           cleanlab_folds=2, ranked_k=4, n_boot=20, cache=session_cache,
                                           progress=False)
    assert {k: v for k, v in again[0].items() if k != "seconds"} == \
        {k: v for k, v in points[0].items() if k != "seconds"}  # deterministic (and cached)
    table = experiments.sweep_table(points)
    assert len(table) == 2 and "AP kNN only" in table.columns
    assert mislabel.sweep_conclusion(points)["explanation"] in ("b", "c")


TRAIN = np.array([[0.0], [0.2], [5.0], [5.2], [10.0], [10.2]])
TRAIN_Y = np.array([0, 0, 1, 1, 2, 2])
QUERY = np.array([[0.1], [5.1], [10.1]])
QUERY_Y = np.array([0, 1, 2])


def test_backoff_fixes_the_unconfident_mistake_only():
    # confident and right, unsure and wrong, confident and wrong
    p = np.array([[0.9, 0.05, 0.05], [0.5, 0.3, 0.2], [0.8, 0.1, 0.1]])
    out = experiments.evaluate_backoff(TRAIN, TRAIN_Y, QUERY, QUERY_Y, p, QUERY, QUERY_Y, p,
                                       ks=[1], temperatures=[1.0], taus=[0.0, 0.6, 0.85, 1.0],
                                       lambdas=[0.0, 1.0])
    s = out["summary"]
    assert s["model_acc"] == pytest.approx(1 / 3)
    assert s["knn_acc"] == 1.0
    # tau=0.85 and 1.0 both score 1.0 on validation; ties go to the smaller tau
    assert s["tau"] == 0.85 and s["backoff_acc"] == 1.0
    assert s["knn_fraction_test"] == pytest.approx(2 / 3)
    assert s["lambda"] == 1.0 and s["interp_acc"] == 1.0
    assert s["n_test"] == 3 and list(out["correct"].columns) == ["model", "knn", "backoff", "interpolation"]
    assert out["correct"]["backoff"].tolist() == [True, True, True]


def test_tau_is_tuned_on_validation_not_test():
    p_val = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])  # all right
    p_test = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])  # unsure; 2 wrong
    out = experiments.evaluate_backoff(TRAIN, TRAIN_Y, QUERY, QUERY_Y, p_val, QUERY, QUERY_Y, p_test,
                                       ks=[1], temperatures=[1.0], taus=[0.0, 1.0])
    # on validation model and kNN are both perfect, so the smallest tau (no backoff) wins,
    # even though backing off would have fixed the test set
    assert out["summary"]["tau"] == 0.0
    assert out["summary"]["backoff_acc"] == pytest.approx(1 / 3)


def test_hans_label_map_counts_neutral_and_contradiction_as_non_entailment():
    p = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])
    y = np.array([1, 1, 0])
    train_y = np.array([0, 0, 1, 1, 2, 2])
    out = experiments.evaluate_backoff(TRAIN, train_y, QUERY, y, p, QUERY, y, p, ks=[1],
                                       temperatures=[1.0], taus=[0.0], label_map=HANS_LABEL_MAP)
    assert out["summary"]["model_acc"] == 1.0
    # kNN: query 0 -> label 0 (wrong), query 1 -> 1 (right), query 2 -> 2 -> 1 (wrong)
    assert out["summary"]["knn_acc"] == pytest.approx(1 / 3)
    assert SETTINGS["hans"].label_map == (0, 1, 1)


def test_confidence_bins_by_hand():
    pm = np.array([[0.35, 0.33, 0.32], [0.9, 0.05, 0.05], [0.95, 0.05, 0.0], [0.5, 0.5, 0.0]])
    pk = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, 0], [1.0, 0, 0]])
    bins = experiments.confidence_bins(pm, pk, [0, 0, 0, 1], n_bins=2)
    # edges 1/3, 2/3, 1: [0.35, 0.5] in the first bin, [0.9, 0.95] in the second
    assert bins["n"].tolist() == [2, 2]
    assert bins["model_acc"].tolist() == [0.5, 1.0]
    assert bins["knn_acc"].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"n_bins == 0.*>= 1"):
        experiments.confidence_bins(pm, pk, [0, 0, 0, 1], n_bins=0)
    with pytest.raises(ValueError, match="labels is length 3 and p_model is length 4"):
        experiments.confidence_bins(pm, pk, [0, 0, 0])


def test_paper_tables_have_every_setting():
    assert list(paper.TABLE4.columns) == list(SETTINGS)
    assert paper.TABLE4.loc[("BERT", "model"), "snli-original"] == pytest.approx(0.757)
    assert paper.TABLE5.loc["RoBERTa", "anli"] == 0.96


def test_run_setting_end_to_end(tiny_model, tiny_pairs, cache):
    out = experiments.run_setting(tiny_model, tiny_pairs, tiny_pairs, tiny_pairs, ks=[1, 2],
                                 temperatures=[1.0], cache=cache, progress=False)
    s = out["summary"]
    assert s["n_test"] == 12 and out["p_model_test"].shape == (12, 3)
    # querying the training set itself with k=1 finds each pair at distance 0
    assert s["knn_acc"] == 1.0


def test_slice_taus_are_tuned_per_slice_and_applied_per_example():
    # slice "a": the model is unsure and wrong, kNN right -> back off; slice "b": model right
    pm = np.array([[0.6, 0.4, 0.0], [0.55, 0.45, 0.0], [0.6, 0.4, 0.0], [0.9, 0.1, 0.0]])
    pk = np.array([[0, 1.0, 0], [0, 1.0, 0], [0, 1.0, 0], [0, 1.0, 0]])
    y = np.array([1, 1, 0, 0])
    t = knn.tune_slice_taus(pm, pk, y, ["a", "a", "b", "b"], taus=[0.0, 0.5, 0.7, 1.0])
    assert t.loc["a", "tau"] == 0.7 and t.loc["a", "val_acc"] == 1.0  # smallest tau that fixes both
    assert t.loc["b", "tau"] == 0.0 and t.loc["b", "val_acc"] == 1.0
    assert t["n"].tolist() == [2, 2]
    pred = knn.slice_backoff(pm, pk, ["a", "a", "b", "b"], t["tau"].to_dict())
    assert pred.tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match=r"no tau for slices \['c'\]"):
        knn.slice_backoff(pm, pk, ["a", "a", "b", "c"], t["tau"].to_dict())
    with pytest.raises(ValueError, match=r"taus\[0\] == 1.5, must be <= 1"):
        knn.tune_slice_taus(pm, pk, y, ["a"] * 4, taus=[1.5])


def test_load_setting_and_recipe():
    with pytest.raises(ValueError, match="name='snli' but expected one of 'snli-original'"):
        settings.load_setting("snli")
    s = settings.load_setting("snli-original", smoke=True)
    again = settings.load_setting("snli-original", smoke=True)
    assert s["train"].equals(again["train"])  # the smoke subset is fixed
    assert s["sources"] == {"train": "cad-original/train", "validation": "snli/validation",
                            "test": "snli/test"}
    assert settings.recipe_for(9815)["epochs"] == settings.LARGE_TRAIN_EPOCHS < settings.recipe_for(1666)["epochs"]
    assert settings.recipe_for(1666)["lr"] == 1e-4


def test_over_seeds_gives_each_seeds_gains_then_their_mean_and_sd():
    summary = pd.DataFrame({"seed": [2, 0], "model_acc": [0.5, 0.7], "knn_acc": [0.4, 0.6],
                            "backoff_acc": [0.6, 0.7], "interp_acc": [0.5, 0.9]})
    t = experiments.over_seeds(summary)
    assert list(t.index) == [2, 0, "mean", "std"]  # the seeds in the order they ran
    assert t.loc[2, "backoff gain"] == pytest.approx(0.1) and t.loc[0, "interpolation gain"] == pytest.approx(0.2)
    assert t.loc["mean", "backoff gain"] == pytest.approx(0.05)
    assert t.loc["std", "backoff gain"] == pytest.approx(np.std([0.1, 0.0], ddof=1))
    one = experiments.over_seeds(summary.head(1))
    assert one.loc["mean", "model_acc"] == 0.5 and one.loc["std"].isna().all()  # one seed: no spread
    with pytest.raises(ValueError, match=r"summary lacks columns \['interp_acc'\]"):
        experiments.over_seeds(summary.drop(columns="interp_acc"))


def test_paired_gains_are_the_paired_bootstrap_of_each_method_per_setting():
    c = pd.DataFrame({"model": [1, 0, 0, 1] * 5, "backoff": [1, 1, 0, 1] * 5, "interpolation": [1, 0, 0, 0] * 5})
    g = experiments.paired_gains({"a": c, "b": c[["model", "backoff", "interpolation"]][::-1]})
    assert list(g.index) == ["a", "b"]
    assert list(g.columns) == [(m, s) for m in ("backoff", "interpolation") for s in ("diff", "lo", "hi")]
    assert g.loc["a", ("backoff", "diff")] == 0.25 and g.loc["a", ("interpolation", "diff")] == -0.25
    boot = stats.paired_bootstrap(c["model"], c["backoff"], seed=0)
    assert g.loc["a", "backoff"].to_dict() == {key: boot[key] for key in ("diff", "lo", "hi")}


def test_evaluate_backoff_works_for_two_classes():
    """A two-class task (sentiment): tune sizes kNN from the model's columns, not from NLI's 3."""
    tr = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    ytr = np.array([0, 0, 1, 1])
    q = np.array([[0.05, 0.0], [5.05, 5.0]])
    yq = np.array([0, 1])
    p = np.array([[0.45, 0.55], [0.55, 0.45]])  # unsure and wrong on both
    out = experiments.evaluate_backoff(tr, ytr, q, yq, p, q, yq, p, ks=[1], temperatures=[1.0])
    assert out["summary"]["model_acc"] == 0.0 and out["summary"]["backoff_acc"] == 1.0
