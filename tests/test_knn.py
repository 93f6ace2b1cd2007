"""Unit tests for nbhelpers.knn on arrays small enough to check by hand."""
import math

import numpy as np
import pandas as pd
import pytest

from nbhelpers.knn import (
    DEFAULT_TAUS,
    KNN,
    NotFittedError,
    backoff,
    interpolate,
    knn_proba,
    tune,
    tune_interpolation,
)

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
SQUARE_LABELS = np.array([0, 0, 1, 2])


def brute_force_sq_dists(Q, X):
    return ((Q[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1)


# ---------------------------------------------------------------------------------------------
# knn_proba
# ---------------------------------------------------------------------------------------------
def test_knn_proba_matches_hand_computation():
    p = knn_proba([[0.0, 1.0, 2.0]], [[0, 1, 0]], temperature=1.0)
    z = 1 + math.exp(-1) + math.exp(-2)
    assert p.shape == (1, 3)
    assert p[0, 0] == pytest.approx((1 + math.exp(-2)) / z)
    assert p[0, 1] == pytest.approx(math.exp(-1) / z)
    assert p[0, 2] == 0.0


def test_knn_proba_temperature_limits():
    d, lab = [[0.0, 1.0, 2.0]], [[0, 1, 1]]
    # tiny T: all weight on the nearest neighbour; huge T: a vote (1/3 vs 2/3)
    np.testing.assert_allclose(knn_proba(d, lab, temperature=1e-3), [[1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(knn_proba(d, lab, temperature=1e9), [[1 / 3, 2 / 3, 0.0]], atol=1e-6)


def test_knn_proba_is_stable_for_large_distances():
    p = knn_proba([[1000.0, 1001.0], [5e5, 5e5]], [[2, 0], [0, 1]], temperature=0.01)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], atol=1e-12)


def test_knn_proba_rows_sum_to_one_and_n_classes():
    rng = np.random.default_rng(0)
    d = np.sort(rng.uniform(0, 50, size=(20, 5)), axis=1)
    lab = rng.integers(0, 2, size=(20, 5))
    p = knn_proba(d, lab, temperature=3.0, n_classes=2)
    assert p.shape == (20, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("T", [0, 0.0, -1.0])
def test_knn_proba_rejects_nonpositive_temperature(T):
    with pytest.raises(ValueError, match=r"temperature == .*, must be > 0"):
        knn_proba([[0.0]], [[0]], temperature=T)


def test_knn_proba_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"distances has shape \(1, 2\) and neighbor_labels has shape \(1, 3\)"):
        knn_proba([[0.0, 1.0]], [[0, 1, 0]], temperature=1.0)
    with pytest.raises(ValueError, match=r"neighbor_labels must be integers in 0..2.*\[3\]"):
        knn_proba([[0.0, 1.0]], [[0, 3]], temperature=1.0)
    with pytest.raises(ValueError, match=r"distances contains NaN"):
        knn_proba([[0.0, np.nan]], [[0, 1]], temperature=1.0)
    with pytest.raises(ValueError, match="distances: Expected 2D array, got 1D"):
        knn_proba([0.0, 1.0], [0, 1], temperature=1.0)


# ---------------------------------------------------------------------------------------------
# KNN: fitting, normalisation, neighbours
# ---------------------------------------------------------------------------------------------
def test_init_only_stores_arguments():
    knn = KNN(k=0, temperature=-1, normalize="yes", n_classes=3)  # builds; fit would raise
    assert (knn.k, knn.temperature, knn.normalize) == (0, -1, "yes")
    assert not hasattr(knn, "index_")
    assert "k=0" in repr(knn)


def test_fit_sets_attributes_and_returns_self():
    knn = KNN(k=2)
    assert knn.fit(SQUARE, SQUARE_LABELS) is knn
    np.testing.assert_allclose(knn.mu_, [0.5, 0.5])
    np.testing.assert_allclose(knn.sigma_, [0.5, 0.5])  # population std
    assert knn.index_.ntotal == 4 and knn.index_.d == 2
    np.testing.assert_array_equal(knn.labels_, SQUARE_LABELS)
    np.testing.assert_array_equal(knn.classes_, [0, 1, 2])
    assert (knn.n_samples_fit_, knn.n_features_in_) == (4, 2)


def test_fit_without_normalisation_has_identity_statistics():
    knn = KNN(k=1, normalize=False).fit(SQUARE * 7, SQUARE_LABELS)
    np.testing.assert_array_equal(knn.mu_, [0.0, 0.0])
    np.testing.assert_array_equal(knn.sigma_, [1.0, 1.0])
    np.testing.assert_array_equal(knn.transform([[3.0, 4.0]]), np.float32([[3.0, 4.0]]))


def test_k1_predicts_the_label_of_the_nearest_point():
    knn = KNN(k=1).fit(SQUARE, SQUARE_LABELS)
    queries = [[0.1, 0.1], [0.9, 0.2], [0.1, 0.8], [0.8, 0.9]]
    np.testing.assert_array_equal(knn.predict(queries), [0, 0, 1, 2])
    np.testing.assert_array_equal(knn.predict_proba(queries), np.eye(3)[[0, 0, 1, 2]])


def test_predict_breaks_ties_toward_smaller_label():
    # the query is equidistant from a label-2 and a label-1 point: p = [0, 0.5, 0.5]
    knn = KNN(k=2, normalize=False).fit([[-1.0], [1.0], [5.0]], [2, 1, 0])
    np.testing.assert_allclose(knn.predict_proba([[0.0]]), [[0.0, 0.5, 0.5]])
    np.testing.assert_array_equal(knn.predict([[0.0]]), [1])


def test_transform_uses_training_statistics_by_hand():
    # training mean (1, 2), population std (1, 2)
    knn = KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 1])
    np.testing.assert_allclose(knn.mu_, [1.0, 2.0])
    np.testing.assert_allclose(knn.sigma_, [1.0, 2.0])
    z = knn.transform([[3.0, 2.0], [1.0, 10.0]])
    assert z.dtype == np.float32
    eps = 1e-6
    np.testing.assert_allclose(z, [[2 / (1 + eps), 0.0], [0.0, 8 / (2 + eps)]], rtol=1e-6)
    # the query statistics are NOT used: a single query is not mapped to zero
    assert np.abs(knn.transform([[5.0, 5.0]])).sum() > 0


def test_normalize_true_equals_manual_normalisation():
    rng = np.random.default_rng(1)
    scales = np.array([1.0, 100.0, 0.01, 10.0])
    X = rng.normal(size=(40, 4)) * scales + 3.0
    y = rng.integers(0, 3, size=40)
    Q = rng.normal(size=(7, 4)) * scales + 3.0
    mu, sigma = X.mean(axis=0), X.std(axis=0)
    manual = KNN(k=5, normalize=False).fit((X - mu) / (sigma + 1e-6), y)
    auto = KNN(k=5, normalize=True).fit(X, y)
    d_auto, i_auto = auto.kneighbors(Q)
    d_man, i_man = manual.kneighbors((Q - mu) / (sigma + 1e-6))
    np.testing.assert_array_equal(i_auto, i_man)
    np.testing.assert_allclose(d_auto, d_man, rtol=1e-4)
    # and the normalised neighbours differ from the raw ones on these badly scaled features
    _, i_raw = KNN(k=5, normalize=False).fit(X, y).kneighbors(Q)
    assert not np.array_equal(i_raw, i_auto)


def test_squared_distances_match_numpy_brute_force():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 6))
    Q = rng.normal(size=(5, 6))
    knn = KNN(k=4).fit(X, rng.integers(0, 3, size=30))
    D, I = knn.kneighbors(Q)
    assert D.shape == I.shape == (5, 4)
    full = brute_force_sq_dists(knn.transform(Q).astype(np.float64), knn.transform(X).astype(np.float64))
    np.testing.assert_array_equal(I, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(D, np.sort(full, axis=1)[:, :4], rtol=1e-4)
    assert (np.diff(D, axis=1) >= 0).all()  # nearest first


def test_kneighbors_hand_example():
    knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
    D, I = knn.kneighbors([[2.5]], k=2)
    np.testing.assert_allclose(D, [[0.25, 2.25]])
    np.testing.assert_array_equal(I, [[2, 1]])


def test_kneighbors_none_leaves_each_point_out():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 3))
    knn = KNN(k=3).fit(X, rng.integers(0, 3, size=25))
    D, I = knn.kneighbors()
    assert D.shape == I.shape == (25, 3)
    assert not (I == np.arange(25)[:, None]).any()
    Z = knn.transform(X).astype(np.float64)
    full = brute_force_sq_dists(Z, Z)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_array_equal(I, np.argsort(full, axis=1)[:, :3])
    np.testing.assert_allclose(D, np.sort(full, axis=1)[:, :3], rtol=1e-4, atol=1e-5)
    # exclude_self=True with the training reps passed explicitly is the same query
    D2, I2 = knn.kneighbors(X, exclude_self=True)
    np.testing.assert_array_equal(I, I2)
    np.testing.assert_array_equal(D, D2)
    # predict_proba(None) uses the leave-one-out neighbours
    np.testing.assert_allclose(
        knn.predict_proba(), knn_proba(D, knn.labels_[I], temperature=knn.temperature)
    )


def test_kneighbors_none_with_exact_duplicates():
    # three identical points (distance 0 to each other) and one far away
    X = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]
    knn = KNN(k=2, normalize=False).fit(X, [0, 1, 2, 0])
    D, I = knn.kneighbors()
    assert D.shape == (4, 2)
    assert not (I == np.arange(4)[:, None]).any()
    np.testing.assert_array_equal(D[:3], 0.0)  # each duplicate finds the two others
    for i in range(3):
        assert set(I[i]) == {0, 1, 2} - {i}
    np.testing.assert_allclose(D[3], [50.0, 50.0])


def test_kneighbors_k_limits():
    knn = KNN(k=1).fit(SQUARE, SQUARE_LABELS)
    assert knn.kneighbors([[0.0, 0.0]], k=4)[0].shape == (1, 4)
    with pytest.raises(ValueError, match=r"k=5 but only 4 training representations"):
        knn.kneighbors([[0.0, 0.0]], k=5)
    with pytest.raises(ValueError, match=r"k=4 but only 3 other training representations"):
        knn.kneighbors(k=4)
    with pytest.raises(ValueError, match=r"k == 0, must be >= 1"):
        knn.kneighbors([[0.0, 0.0]], k=0)
    with pytest.raises(ValueError, match=r"exclude_self=True needs the 4 training representations.*got 1 rows"):
        knn.kneighbors([[0.0, 0.0]], exclude_self=True)


def test_query_uses_current_k_and_temperature():
    knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
    knn.k, knn.temperature = 2, 1.0
    np.testing.assert_allclose(
        knn.predict_proba([[0.0]]), [[1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1)), 0.0]]
    )


def test_determinism():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 8))
    y = rng.integers(0, 3, size=50)
    Q = rng.normal(size=(10, 8))
    a = KNN(k=7, temperature=3.0).fit(X, y)
    b = KNN(k=7, temperature=3.0).fit(X.copy(), y.copy())
    for first, second in [(a.kneighbors(Q), b.kneighbors(Q)), (a.kneighbors(), a.kneighbors())]:
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(a.predict_proba(Q), b.predict_proba(Q))
    yq, pq = rng.integers(0, 3, size=10), rng.dirichlet(np.ones(3), size=10)
    best_a, grid_a = tune(X, y, Q, yq, pq, ks=[1, 4])
    best_b, grid_b = tune(X, y, Q, yq, pq, ks=[1, 4])
    assert best_a == best_b
    pd.testing.assert_frame_equal(grid_a, grid_b)


def test_accepts_lists_and_float64_and_integral_float_labels():
    knn = KNN(k=1).fit(SQUARE.tolist(), [0.0, 0.0, 1.0, 2.0])
    assert knn.labels_.dtype == np.int64
    np.testing.assert_array_equal(knn.predict(SQUARE), [0, 0, 1, 2])


# ---------------------------------------------------------------------------------------------
# KNN: bad inputs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, -2])
def test_fit_rejects_k_below_one(k):
    with pytest.raises(ValueError, match=rf"k={k} but expected k >= 1"):
        KNN(k=k).fit(SQUARE, SQUARE_LABELS)


def test_fit_rejects_k_above_n():
    X = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.raises(ValueError, match=r"k=64 but only 50 training representations"):
        KNN(k=64).fit(X, np.zeros(50, dtype=int))


def test_fit_rejects_non_integer_k():
    with pytest.raises(ValueError, match=r"k must be an integer; got 2.5"):
        KNN(k=2.5).fit(SQUARE, SQUARE_LABELS)


@pytest.mark.parametrize("T", [0, 0.0, -0.5])
def test_fit_rejects_nonpositive_temperature(T):
    with pytest.raises(ValueError, match=r"temperature == .*, must be > 0"):
        KNN(k=1, temperature=T).fit(SQUARE, SQUARE_LABELS)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_rejects_non_finite_reps(bad):
    X = SQUARE.copy()
    X[1, 0] = bad
    X[2, 1] = bad
    with pytest.raises(ValueError, match=r"reps contains (NaN|infinity)"):
        KNN(k=1).fit(X, SQUARE_LABELS)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_query_rejects_non_finite_reps(bad):
    knn = KNN(k=1).fit(SQUARE, SQUARE_LABELS)
    for method in (knn.kneighbors, knn.predict, knn.predict_proba, knn.transform):
        with pytest.raises(ValueError, match=r"reps contains (NaN|infinity)"):
            method([[0.0, bad]])


def test_query_rejects_dimension_mismatch():
    rng = np.random.default_rng(0)
    knn = KNN(k=1).fit(rng.normal(size=(5, 384)), [0, 1, 2, 0, 1])
    for method in (knn.kneighbors, knn.predict, knn.predict_proba, knn.transform):
        with pytest.raises(ValueError, match=r"reps have 128 features but KNN was fitted with 384"):
            method(rng.normal(size=(2, 128)))


def test_fit_rejects_length_mismatch():
    with pytest.raises(ValueError, match=r"reps is length 4 and labels is length 3"):
        KNN(k=1).fit(SQUARE, [0, 1, 2])


@pytest.mark.parametrize("bad_label", [3, -1])
def test_fit_rejects_labels_out_of_range(bad_label):
    labels = [0, 1, bad_label, bad_label]
    with pytest.raises(ValueError, match=rf"labels must be integers in 0..2.*\[{bad_label}\]"):
        KNN(k=1, n_classes=3).fit(SQUARE, labels)


def test_fit_rejects_non_integer_labels():
    with pytest.raises(ValueError, match=r"labels must be integers in 0..2; got dtype float64"):
        KNN(k=1).fit(SQUARE, [0.0, 0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"labels must be integers in 0..2; got dtype <U"):
        KNN(k=1).fit(SQUARE, ["a", "b", "c", "d"])


def test_labels_may_use_more_classes():
    knn = KNN(k=1, n_classes=5).fit(SQUARE, [0, 4, 3, 2])
    assert knn.predict_proba([[1.0, 0.0]]).shape == (1, 5)
    np.testing.assert_array_equal(knn.predict([[1.0, 0.0]]), [4])


@pytest.mark.parametrize(
    "reps, match",
    [
        (np.zeros((0, 4)), r"reps: Found array with 0 sample\(s\) \(shape=\(0, 4\)\)"),
        ([], r"reps: Expected 2D array, got 1D array instead:\narray=\[\]"),
        ([1.0, 2.0], r"reps: Expected 2D array, got 1D array"),
        (np.zeros((2, 2, 2)), r"reps: Found array with dim 3, while dim <= 2 is required"),
        ([["a", "b"]], r"reps: could not convert string to float: 'a'"),
    ],
)
def test_fit_rejects_bad_reps(reps, match):
    with pytest.raises(ValueError, match=match):
        KNN(k=1).fit(reps, [0] * max(len(reps), 1))


def test_fit_rejects_empty_labels():
    with pytest.raises(ValueError, match=r"labels is empty"):
        KNN(k=1).fit(SQUARE, [])


def test_query_rejects_empty_reps():
    knn = KNN(k=1).fit(SQUARE, SQUARE_LABELS)
    with pytest.raises(ValueError, match=r"reps: Found array with 0 sample\(s\) \(shape=\(0, 2\)\)"):
        knn.predict(np.zeros((0, 2)))


def test_not_fitted():
    knn = KNN(k=1)
    for call in (
        lambda: knn.kneighbors([[0.0, 0.0]]),
        lambda: knn.kneighbors(),
        lambda: knn.predict([[0.0, 0.0]]),
        lambda: knn.predict_proba([[0.0, 0.0]]),
        lambda: knn.transform([[0.0, 0.0]]),
    ):
        with pytest.raises(NotFittedError, match=r"This KNN is not fitted yet; call fit\(reps, labels\) first"):
            call()
    assert issubclass(NotFittedError, ValueError)


def test_fit_rejects_bad_options():
    with pytest.raises(ValueError, match=r"normalize must be True or False; got 'yes'"):
        KNN(k=1, normalize="yes").fit(SQUARE, SQUARE_LABELS)
    with pytest.raises(ValueError, match=r"eps=-1.0 but expected eps >= 0"):
        KNN(k=1, eps=-1.0).fit(SQUARE, SQUARE_LABELS)
    with pytest.raises(ValueError, match=r"n_classes == 0, must be >= 1"):
        KNN(k=1, n_classes=0).fit(SQUARE, SQUARE_LABELS)


# ---------------------------------------------------------------------------------------------
# backoff and interpolate
# ---------------------------------------------------------------------------------------------
P_MODEL = np.array([[0.6, 0.4, 0.0], [0.2, 0.7, 0.1], [1 / 3, 1 / 3, 1 / 3]])
P_KNN = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_backoff_rule():
    # confidences 0.6, 0.7, 1/3; model says 0, 1, 0; kNN says 2, 0, 1
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.5), [0, 1, 1])
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.65), [2, 1, 1])


def test_backoff_is_strict_at_tau():
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.6), [2, 1, 1])  # 0.6 is not > 0.6
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.59), [0, 1, 1])


def test_backoff_extremes():
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.0), [0, 1, 0])  # always the model
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 1.0), [2, 0, 1])  # always kNN
    # even a fully confident model backs off at tau = 1
    np.testing.assert_array_equal(backoff([[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], 1.0), [1])


@pytest.mark.parametrize("tau", [-0.1, 1.5, np.nan])
def test_backoff_rejects_tau_outside_unit_interval(tau):
    with pytest.raises(ValueError, match=r"tau"):
        backoff(P_MODEL, P_KNN, tau)


def test_backoff_tau_messages():
    with pytest.raises(ValueError, match=r"tau == -0.1, must be >= 0"):
        backoff(P_MODEL, P_KNN, -0.1)
    with pytest.raises(ValueError, match=r"tau == 1.5, must be <= 1"):
        backoff(P_MODEL, P_KNN, 1.5)


def test_backoff_rejects_bad_arrays():
    with pytest.raises(ValueError, match=r"p_model has shape \(3, 3\) and p_knn has shape \(2, 3\)"):
        backoff(P_MODEL, P_KNN[:2], 0.5)
    with pytest.raises(ValueError, match=r"p_model: Expected 2D array, got 1D"):
        backoff(P_MODEL[0], P_KNN[0], 0.5)
    bad = P_MODEL.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"p_model contains NaN"):
        backoff(bad, P_KNN, 0.5)
    bad_knn = P_KNN.copy()
    bad_knn[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"p_knn contains infinity"):
        backoff(P_MODEL, bad_knn, 0.5)
    with pytest.raises(ValueError, match=r"not logits"):
        backoff(P_MODEL * 5, P_KNN, 0.5)


def test_interpolate():
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 0.0), P_MODEL)
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 1.0), P_KNN)
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 0.5), (P_MODEL + P_KNN) / 2)
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 0.3).sum(axis=1), 1.0)


@pytest.mark.parametrize("lam", [-0.1, 1.5])
def test_interpolate_rejects_lambda_outside_unit_interval(lam):
    with pytest.raises(ValueError, match=rf"lam == {lam}, must be [<>]= [01]"):
        interpolate(P_MODEL, P_KNN, lam)


def test_interpolate_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"p_model has shape \(3, 3\) and p_knn has shape \(3, 2\)"):
        interpolate(P_MODEL, np.full((len(P_KNN), 2), 0.5), 0.5)


# ---------------------------------------------------------------------------------------------
# tune and tune_interpolation
# ---------------------------------------------------------------------------------------------
def planted_problem(seed=0, n_per_class=20, n_val_per_class=10, d=5):
    """Three well separated clusters (kNN is perfect); the model is right exactly when its
    confidence is 0.9 and wrong whenever its confidence is 0.5."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, d) * 20.0
    train_labels = np.repeat(np.arange(3), n_per_class)
    train = centres[train_labels] + rng.normal(size=(len(train_labels), d))
    val_labels = np.repeat(np.arange(3), n_val_per_class)
    val = centres[val_labels] + rng.normal(size=(len(val_labels), d))
    p_model = np.zeros((len(val_labels), 3))
    unsure = np.arange(len(val_labels)) % 2 == 1
    p_model[~unsure, val_labels[~unsure]] = 0.9
    p_model[~unsure, (val_labels[~unsure] + 1) % 3] = 0.1
    p_model[unsure, (val_labels[unsure] + 1) % 3] = 0.5  # wrong, unconfident
    p_model[unsure, val_labels[unsure]] = 0.3
    p_model[unsure, (val_labels[unsure] + 2) % 3] = 0.2
    return train, train_labels, val, val_labels, p_model


def test_tune_finds_planted_best():
    train, ytr, val, yv, pm = planted_problem()
    ks, temps = (1, 4, 16), (0.1, 10.0)
    best, grid = tune(train, ytr, val, yv, pm, ks=ks, temperatures=temps)
    assert isinstance(grid, pd.DataFrame)
    assert len(grid) == len(ks) * len(temps) * len(DEFAULT_TAUS)
    assert list(grid.columns[:6]) == ["k", "temperature", "tau", "model_acc", "knn_acc", "backoff_acc"]
    assert (grid["model_acc"] == 0.5).all()
    assert (grid["knn_acc"] == 1.0).all()
    assert best["backoff_acc"] == 1.0 and best["knn_acc"] == 1.0 and best["model_acc"] == 0.5
    # tie-break: smallest k, smallest T, smallest tau reaching 1.0 (0.5 is not > 0.5)
    assert (best["k"], best["temperature"], best["tau"]) == (1, 0.1, 0.5)
    assert best["knn_fraction"] == 0.5
    # tau = 0 keeps the model everywhere; tau = 1 is kNN everywhere
    at = grid.set_index(["k", "temperature", "tau"])["backoff_acc"]
    assert at[(1, 0.1, 0.0)] == 0.5 and at[(1, 0.1, 1.0)] == 1.0 and at[(1, 0.1, 0.9)] == 1.0
    assert at[(1, 0.1, 0.49)] == 0.5


def test_tune_grid_is_sorted_and_deduplicated():
    train, ytr, val, yv, pm = planted_problem()
    best, grid = tune(train, ytr, val, yv, pm, ks=[4, 1, 4], temperatures=[10.0, 1.0], taus=[0.9, 0.2])
    assert len(grid) == 2 * 2 * 2
    assert grid[["k", "temperature", "tau"]].values.tolist() == [
        [1, 1.0, 0.2], [1, 1.0, 0.9], [1, 10.0, 0.2], [1, 10.0, 0.9],
        [4, 1.0, 0.2], [4, 1.0, 0.9], [4, 10.0, 0.2], [4, 10.0, 0.9],
    ]
    assert (best["k"], best["temperature"], best["tau"]) == (1, 1.0, 0.9)


def test_tune_matches_knn_and_backoff():
    rng = np.random.default_rng(5)
    train, ytr = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    val, yv = rng.normal(size=(15, 4)), rng.integers(0, 3, 15)
    pm = rng.dirichlet(np.ones(3), size=15)
    best, grid = tune(train, ytr, val, yv, pm, ks=[3, 8], temperatures=[0.5, 5.0], taus=[0.4, 0.6])
    for row in grid.itertuples():
        p_knn = KNN(k=row.k, temperature=row.temperature).fit(train, ytr).predict_proba(val)
        assert row.knn_acc == pytest.approx((p_knn.argmax(1) == yv).mean())
        assert row.backoff_acc == pytest.approx((backoff(pm, p_knn, row.tau) == yv).mean())
    assert best["backoff_acc"] == grid["backoff_acc"].max()


def test_tune_clips_ks_to_n_train_with_warning():
    train, ytr, val, yv, pm = planted_problem(n_per_class=2)  # 6 training points
    with pytest.warns(UserWarning, match=r"ks \[8, 64\] exceed the 6 training representations"):
        best, grid = tune(train, ytr, val, yv, pm, ks=[1, 8, 64], temperatures=[1.0], taus=[0.5])
    assert sorted(grid["k"].unique()) == [1, 6]


def test_tune_rejects_bad_inputs():
    train, ytr, val, yv, pm = planted_problem()
    small = dict(ks=(1, 4), temperatures=(1.0,))
    with pytest.raises(ValueError, match=r"tau == 1.5, must be <= 1"):
        tune(train, ytr, val, yv, pm, taus=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"temperature == 0.0, must be > 0"):
        tune(train, ytr, val, yv, pm, temperatures=[0.0, 1.0])
    with pytest.raises(ValueError, match=r"k == 0, must be >= 1"):
        tune(train, ytr, val, yv, pm, ks=[0, 1])
    with pytest.raises(ValueError, match=r"val_reps is length 30 and val_labels is length 29"):
        tune(train, ytr, val, yv[:-1], pm, **small)
    with pytest.raises(ValueError, match=r"p_model_val is length 29 and val_labels is length 30"):
        tune(train, ytr, val, yv, pm[:-1], **small)
    with pytest.raises(ValueError, match=r"p_model_val has 2 columns but n_classes=3"):
        tune(train, ytr, val, yv, pm[:, :2], **small)
    with pytest.raises(ValueError, match=r"reps have 4 features but KNN was fitted with 5"):
        tune(train, ytr, val[:, :4], yv, pm, **small)
    with pytest.raises(ValueError, match=r"ks is empty"):
        tune(train, ytr, val, yv, pm, ks=[])


def test_tune_interpolation():
    pm = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.1, 0.0, 0.9]])
    pk = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    y = [1, 0, 2]
    lam, table = tune_interpolation(pm, pk, y, lambdas=[1.0, 0.0, 0.5, 0.25])
    # lam 0: [0, 0, 2] -> 2/3; 0.25: row 1 is 0.45 vs 0.55 -> [1, 0, 2] -> 1; 0.5 and 1.0 -> 1
    assert table["lam"].tolist() == [0.0, 0.25, 0.5, 1.0]
    np.testing.assert_allclose(table["accuracy"], [2 / 3, 1.0, 1.0, 1.0])
    assert lam == 0.25  # ties go to the smallest lambda
    lam_default, table_default = tune_interpolation(pm, pk, y)
    assert len(table_default) == 21 and lam_default == 0.2


def test_tune_interpolation_rejects_bad_inputs():
    pm = np.array([[0.6, 0.4, 0.0]])
    with pytest.raises(ValueError, match=r"lam == 2.0, must be <= 1"):
        tune_interpolation(pm, pm, [0], lambdas=[0.0, 2.0])
    with pytest.raises(ValueError, match=r"val_labels must be integers in 0..2.*\[3\]"):
        tune_interpolation(pm, pm, [3])
    with pytest.raises(ValueError, match=r"p_model_val is length 1 and val_labels is length 2"):
        tune_interpolation(pm, pm, [0, 1])


def test_tune_with_label_map_scores_collapsed_predictions():
    # HANS-style: labels 0 entailment / 1 non-entailment, a 3-class model and kNN.
    train = [[0.0], [0.1], [10.0], [10.1]]
    train_labels = [0, 0, 2, 2]  # contradiction neighbours
    val = [[0.05], [10.05]]
    val_labels = [0, 1]
    p_model = [[0.9, 0.1, 0.0], [0.2, 0.1, 0.7]]  # contradiction for the 2nd: non-entailment
    best, grid = tune(train, train_labels, val, val_labels, p_model, ks=[1],
                          temperatures=[1.0], taus=[0.0, 1.0], label_map=[0, 1, 1])
    assert best["model_acc"] == 1.0  # contradiction counts as non-entailment
    assert grid["knn_acc"].iloc[0] == 1.0  # contradiction neighbour counts too
    plain, _ = tune(train, train_labels, val, val_labels, p_model, ks=[1],
                        temperatures=[1.0], taus=[0.0, 1.0])
    assert plain["model_acc"] == 0.5
    lam, table = tune_interpolation(p_model, [[1, 0, 0], [0, 0, 1.0]], val_labels,
                                        lambdas=[0, 1], label_map=[0, 1, 1])
    assert table["accuracy"].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="label_map must be 3 non-negative integers"):
        tune(train, train_labels, val, val_labels, p_model, ks=[1], label_map=[0, 1])
