"""The confound measurements of chapter 1: linear probe, kNN + probe with intervals, bootstrap_ci."""
import numpy as np
import pytest

from nbhelpers.stats import bootstrap_ci
from nbhelpers.representations import knn_accuracy_grid, knn_and_probe


def _blobs(n_per_class=10, seed=0, spread=0.1):
    """Three well-separated clusters in 2-D, labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    reps = np.concatenate([c + spread * rng.standard_normal((n_per_class, 2)) for c in centres])
    return reps.astype(np.float32), np.repeat([0, 1, 2], n_per_class)


# ---- the linear probe of knn_and_probe -----------------------------------------------------
def test_linear_probe_separates_separable_data():
    tr, y = _blobs(seed=0)
    va, yv = _blobs(n_per_class=4, seed=1)
    r = knn_and_probe(tr, y, va, yv, k=3)
    assert r["probe_acc"] == 1.0
    assert r["probe_correct"].dtype == bool and r["probe_correct"].all()


def test_linear_probe_counts_wrong_predictions():
    tr = np.array([[0.0], [0.1], [5.0], [5.1]])
    va = np.array([[0.05], [5.05], [5.0]])
    r = knn_and_probe(tr, [0, 0, 1, 1], va, [0, 1, 0], k=1)  # the last label disagrees with its side
    assert r["probe_correct"].tolist() == [True, True, False]
    assert r["probe_acc"] == pytest.approx(2 / 3)


def test_linear_probe_is_deterministic():
    tr, y = _blobs(seed=0, spread=3.0)  # overlapping clusters: the fit matters
    va, yv = _blobs(n_per_class=5, seed=2, spread=3.0)
    a, b = knn_and_probe(tr, y, va, yv, seed=0), knn_and_probe(tr, y, va, yv, seed=0)
    assert a["probe_correct"].tolist() == b["probe_correct"].tolist()


def test_linear_probe_errors_name_the_argument():
    tr, y = _blobs()
    with pytest.raises(ValueError, match=r"train_reps is length 30 and train_labels is length 29"):
        knn_and_probe(tr, y[:-1], tr, y)
    with pytest.raises(ValueError, match=r"train_reps has 2 dimensions but val_reps has 3"):
        knn_and_probe(tr, y, np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match=r"train_labels must hold at least 2 classes.*\[0\]"):
        knn_and_probe(tr, np.zeros(30, int), tr, y)
    with pytest.raises(ValueError, match=r"val_reps: Expected 2D array, got 1D array"):
        knn_and_probe(tr, y, np.zeros(3), [0, 1, 2])


# ---- knn_and_probe -------------------------------------------------------------------------
def test_knn_and_probe_on_separable_data():
    tr, y = _blobs(seed=0)
    va, yv = _blobs(n_per_class=4, seed=1)
    r = knn_and_probe(tr, y, va, yv, k=3)
    assert (r["knn_acc"], r["probe_acc"], r["n_train"], r["n_val"]) == (1.0, 1.0, 30, 12)
    assert r["knn_ci"] == [1.0, 1.0] and r["probe_ci"] == [1.0, 1.0]
    assert r["knn_correct"].shape == (12,) and r["probe_correct"].shape == (12,)


def test_knn_and_probe_matches_the_grid_and_gives_intervals_around_the_accuracy():
    tr, y = _blobs(n_per_class=20, seed=0, spread=2.5)
    va, yv = _blobs(n_per_class=30, seed=3, spread=2.5)
    r = knn_and_probe(tr, y, va, yv, k=5)
    grid = knn_accuracy_grid({("x", 0): tr}, y, {("x", 0): va}, yv, k=5, normalize=(True,))
    assert r["knn_acc"] == pytest.approx(grid["knn_acc"].iloc[0])
    assert r["temperature"] == grid["temperature"].iloc[0]
    assert r["knn_acc"] == pytest.approx(r["knn_correct"].mean())
    for name in ("knn", "probe"):
        lo, hi = r[f"{name}_ci"]
        assert lo <= r[f"{name}_acc"] <= hi and lo < hi


def test_knn_and_probe_rejects_mismatched_labels():
    tr, y = _blobs()
    with pytest.raises(ValueError, match=r"val_reps is length 30 and val_labels is length 2"):
        knn_and_probe(tr, y, tr, [0, 1], k=3)


# ---- bootstrap_ci -------------------------------------------------------------------------
def test_bootstrap_ci_is_a_point_when_every_answer_is_the_same():
    assert bootstrap_ci([True] * 20) == (1.0, 1.0)
    assert bootstrap_ci([0] * 20) == (0.0, 0.0)


def test_bootstrap_ci_covers_the_accuracy_and_narrows_with_n():
    small = bootstrap_ci([1, 1, 1, 0] * 25, seed=0)
    large = bootstrap_ci([1, 1, 1, 0] * 2500, seed=0)
    assert small[0] < 0.75 < small[1] and large[0] < 0.75 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    # the binomial standard error at n = 100 is 0.043, so the 95% interval is about +-0.085
    assert small[1] - small[0] == pytest.approx(2 * 1.96 * np.sqrt(0.75 * 0.25 / 100), abs=0.03)


def test_bootstrap_ci_is_deterministic_per_seed():
    c = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    assert bootstrap_ci(c, seed=4) == bootstrap_ci(c, seed=4)


@pytest.mark.parametrize("kwargs, message", [
    ({"correct": []}, r"correct is empty"),
    ({"correct": [[1, 0]]}, r"correct must be 1-D; got 2-D"),
    ({"correct": [0, 2]}, r"correct must be integers in 0\.\.1; found 1 outside that range: \[2\]"),
    ({"correct": [0, 1], "ci": 1.0}, r"ci == 1.0, must be < 1"),
    ({"correct": [0, 1], "n_resamples": 0}, r"n_resamples == 0, must be >= 1"),
])
def test_bootstrap_ci_errors(kwargs, message):
    correct = kwargs.pop("correct")
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(correct, **kwargs)


# ---- held_out_comparison -------------------------------------------------------------------
def _noise_variants(seed=0, n_train=60, n_val=200, n_noise=8):
    rng = np.random.default_rng(seed)
    y_tr, y_va = rng.integers(0, 3, n_train), rng.integers(0, 3, n_val)
    centres = rng.normal(0, 3, (3, 4))
    # the label lives in 4 dimensions; a fifth, 1,000 times wider, swamps raw distances
    # but not normalised ones: only the reference (normalised) carries the label
    wide = lambda n: rng.normal(0, 1000, (n, 1))
    tr = {("cls", 6): np.hstack([centres[y_tr] + rng.normal(size=(n_train, 4)), wide(n_train)])}
    va = {("cls", 6): np.hstack([centres[y_va] + rng.normal(size=(n_val, 4)), wide(n_val)])}
    for i in range(n_noise):  # variants that carry no label information at all
        tr["mean", i] = rng.normal(size=(n_train, 5))
        va["mean", i] = rng.normal(size=(n_val, 5))
    return tr, y_tr, va, y_va


def test_held_out_comparison_chooses_and_scores_on_different_halves():
    from nbhelpers.representations import held_out_comparison

    tr, y_tr, va, y_va = _noise_variants()
    r = held_out_comparison(tr, y_tr, va, y_va, reference=("cls", 6, True), k=5, seed=1)
    assert (r["n_choose"], r["n_score"]) == (100, 100)
    assert r["reference"] == "cls-layer6-norm" and r["best_other"] != r["reference"]
    # the informative reference beats the best of the noise variants on the held-out half
    assert r["diff"] == pytest.approx(r["reference_acc"] - r["best_other_acc"]) and r["lo"] > 0
    assert r["a_only"] + r["b_only"] > 0 and r["mcnemar_p"] < 0.05
    assert r == held_out_comparison(tr, y_tr, va, y_va, reference=("cls", 6, True), k=5, seed=1)


def test_held_out_comparison_keeps_each_group_in_one_half():
    from nbhelpers.representations import held_out_comparison

    tr, y_tr, va, y_va = _noise_variants()
    args = (tr, y_tr, va, y_va)
    plain = held_out_comparison(*args, reference=("cls", 6, True), k=5, seed=1)
    assert held_out_comparison(*args, reference=("cls", 6, True), k=5, seed=1, groups=np.arange(200)) == plain
    r = held_out_comparison(*args, reference=("cls", 6, True), k=5, seed=1, groups=np.arange(200) // 3)
    assert r["n_choose"] in (98, 99) and r["n_choose"] + r["n_score"] == 200  # 33 of 67 whole groups
    with pytest.raises(ValueError, match="n_samples=1"):
        held_out_comparison(*args, reference=("cls", 6, True), k=5, groups=np.zeros(200))
    with pytest.raises(ValueError, match="groups"):
        held_out_comparison(*args, reference=("cls", 6, True), k=5, groups=np.arange(10))


def test_held_out_comparison_names_a_missing_reference():
    from nbhelpers.representations import held_out_comparison

    tr, y_tr, va, y_va = _noise_variants(n_noise=1)
    with pytest.raises(ValueError, match="reference"):
        held_out_comparison(tr, y_tr, va, y_va, reference=("max", 6, True))
