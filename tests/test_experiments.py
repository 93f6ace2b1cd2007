"""The mislabel sweep: its statistics by hand, its conclusion rule, and one tiny real run."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbhelpers import experiments, mislabel


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
