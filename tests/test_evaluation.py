"""The backoff evaluation of one setting, confidence bins, paired bootstrap, stand-ins."""
import numpy as np
import pandas as pd
import pytest

from nbhelpers import evaluation, experiments, knn, paper, settings, stats
from nbhelpers.settings import HANS_LABEL_MAP, SETTINGS

TRAIN = np.array([[0.0], [0.2], [5.0], [5.2], [10.0], [10.2]])
TRAIN_Y = np.array([0, 0, 1, 1, 2, 2])
QUERY = np.array([[0.1], [5.1], [10.1]])
QUERY_Y = np.array([0, 1, 2])


def test_backoff_fixes_the_unconfident_mistake_only():
    # confident and right, unsure and wrong, confident and wrong
    p = np.array([[0.9, 0.05, 0.05], [0.5, 0.3, 0.2], [0.8, 0.1, 0.1]])
    out = evaluation.evaluate_backoff(TRAIN, TRAIN_Y, QUERY, QUERY_Y, p, QUERY, QUERY_Y, p,
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
    out = evaluation.evaluate_backoff(TRAIN, TRAIN_Y, QUERY, QUERY_Y, p_val, QUERY, QUERY_Y, p_test,
                                      ks=[1], temperatures=[1.0], taus=[0.0, 1.0])
    # on validation model and kNN are both perfect, so the smallest tau (no backoff) wins,
    # even though backing off would have fixed the test set
    assert out["summary"]["tau"] == 0.0
    assert out["summary"]["backoff_acc"] == pytest.approx(1 / 3)


def test_hans_label_map_counts_neutral_and_contradiction_as_non_entailment():
    p = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])
    y = np.array([1, 1, 0])
    train_y = np.array([0, 0, 1, 1, 2, 2])
    out = evaluation.evaluate_backoff(TRAIN, train_y, QUERY, y, p, QUERY, y, p, ks=[1],
                                      temperatures=[1.0], taus=[0.0], label_map=HANS_LABEL_MAP)
    assert out["summary"]["model_acc"] == 1.0
    # kNN: query 0 -> label 0 (wrong), query 1 -> 1 (right), query 2 -> 2 -> 1 (wrong)
    assert out["summary"]["knn_acc"] == pytest.approx(1 / 3)
    assert SETTINGS["hans"].label_map == (0, 1, 1)


def test_confidence_bins_by_hand():
    pm = np.array([[0.35, 0.33, 0.32], [0.9, 0.05, 0.05], [0.95, 0.05, 0.0], [0.5, 0.5, 0.0]])
    pk = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, 0], [1.0, 0, 0]])
    bins = evaluation.confidence_bins(pm, pk, [0, 0, 0, 1], n_bins=2)
    # edges 1/3, 2/3, 1: [0.35, 0.5] in the first bin, [0.9, 0.95] in the second
    assert bins["n"].tolist() == [2, 2]
    assert bins["model_acc"].tolist() == [0.5, 1.0]
    assert bins["knn_acc"].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"n_bins == 0.*>= 1"):
        evaluation.confidence_bins(pm, pk, [0, 0, 0, 1], n_bins=0)
    with pytest.raises(ValueError, match="labels is length 3 and p_model is length 4"):
        evaluation.confidence_bins(pm, pk, [0, 0, 0])


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
    t = evaluation.over_seeds(summary)
    assert list(t.index) == [2, 0, "mean", "std"]  # the seeds in the order they ran
    assert t.loc[2, "backoff gain"] == pytest.approx(0.1) and t.loc[0, "interpolation gain"] == pytest.approx(0.2)
    assert t.loc["mean", "backoff gain"] == pytest.approx(0.05)
    assert t.loc["std", "backoff gain"] == pytest.approx(np.std([0.1, 0.0], ddof=1))
    one = evaluation.over_seeds(summary.head(1))
    assert one.loc["mean", "model_acc"] == 0.5 and one.loc["std"].isna().all()  # one seed: no spread
    with pytest.raises(ValueError, match=r"summary lacks columns \['interp_acc'\]"):
        evaluation.over_seeds(summary.drop(columns="interp_acc"))


def test_paired_gains_are_the_paired_bootstrap_of_each_method_per_setting():
    c = pd.DataFrame({"model": [1, 0, 0, 1] * 5, "backoff": [1, 1, 0, 1] * 5, "interpolation": [1, 0, 0, 0] * 5})
    g = evaluation.paired_gains({"a": c, "b": c[["model", "backoff", "interpolation"]][::-1]})
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
    out = evaluation.evaluate_backoff(tr, ytr, q, yq, p, q, yq, p, ks=[1], temperatures=[1.0])
    assert out["summary"]["model_acc"] == 0.0 and out["summary"]["backoff_acc"] == 1.0
