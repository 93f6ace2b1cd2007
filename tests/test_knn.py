"""Tests of nbhelpers.knn on arrays small enough to check by hand (3 points, k=1 where possible)."""
import math
import pickle

import faiss
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nbhelpers import experiments, knn
from nbhelpers.knn import DEFAULT_TAUS, KNN, backoff, interpolate, knn_proba, tune, tune_interpolation

LINE = np.array([[0.0], [1.0], [3.0]])  # 3 points on a line; unnormalised distances by eye
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
    np.testing.assert_allclose(p, [[(1 + math.exp(-2)) / z, math.exp(-1) / z, 0.0]])


def test_knn_proba_temperature_limits():
    d, lab = [[0.0, 1.0, 2.0]], [[0, 1, 1]]
    # tiny T: all weight on the nearest neighbor; huge T: a vote (1/3 vs 2/3)
    np.testing.assert_allclose(knn_proba(d, lab, temperature=1e-3), [[1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(knn_proba(d, lab, temperature=1e9), [[1 / 3, 2 / 3, 0.0]], atol=1e-6)


def test_knn_proba_is_stable_for_large_distances():
    p = knn_proba([[1000.0, 1001.0], [5e5, 5e5]], [[2, 0], [0, 1]], temperature=0.01)
    np.testing.assert_allclose(p, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], atol=1e-12)


def test_knn_proba_rows_sum_to_one_and_n_classes():
    rng = np.random.default_rng(0)
    d = np.sort(rng.uniform(0, 50, size=(20, 5)), axis=1)
    p = knn_proba(d, rng.integers(0, 2, size=(20, 5)), temperature=3.0, n_classes=2)
    assert p.shape == (20, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


@pytest.mark.parametrize("T", [0, 0.0, -1.0, np.nan])
def test_knn_proba_rejects_nonpositive_temperature(T):
    with pytest.raises(ValueError, match=r"temperature"):
        knn_proba([[0.0]], [[0]], temperature=T)


@pytest.mark.parametrize("distances, labels, match", [
    ([[0.0, 1.0]], [[0, 1, 0]], r"distances has shape \(1, 2\) and neighbor_labels has shape \(1, 3\)"),
    ([[0.0, 1.0]], [[0, 3]], r"neighbor_labels must be integers in 0..2.*\[3\]"),
    ([[0.0, np.nan]], [[0, 1]], r"distances contains (NaN|1 non-finite)"),
    ([0.0, 1.0], [0, 1], r"distances.*(2-D|2D)"),
])
def test_knn_proba_rejects_bad_inputs(distances, labels, match):
    with pytest.raises(ValueError, match=match):
        knn_proba(distances, labels, temperature=1.0)


# ---------------------------------------------------------------------------------------------
# KNN: a scikit-learn estimator
# ---------------------------------------------------------------------------------------------
TOO_SMALL = "k=16 needs at least 16 training points; this check fits on {} (KNN(k=1) passes it)"
EXPECTED_FAILED_CHECKS = {
    "check_fit2d_1feature": TOO_SMALL.format(10),
    "check_classifiers_one_label": TOO_SMALL.format(10),
    "check_estimators_nan_inf": TOO_SMALL.format(10),
    "check_classifier_data_not_an_array": TOO_SMALL.format(12),
    "check_n_features_in_after_fitting": TOO_SMALL.format(15),
}


@parametrize_with_checks(
    [KNN(), KNN(k=1)], expected_failed_checks=lambda e: EXPECTED_FAILED_CHECKS if e.k > 10 else {})
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(["cat", "dog", "eel"], 30)
    X = np.eye(3, 4)[np.searchsorted(["cat", "dog", "eel"], y)] * 5 + rng.normal(size=(90, 4))
    return X, y


def test_pipeline_clone_and_grid_search(blobs):
    X, y = blobs
    pipe = make_pipeline(StandardScaler(), KNN(k=3, classes=["cat", "dog", "eel", "fox"]))
    assert pipe.fit(X, y).score(X, y) > 0.9
    assert pipe.predict_proba(X[:2]).shape == (2, 4)  # "fox" has a column, never any weight
    copy = clone(pipe)
    assert copy.get_params()["knn__classes"] == ["cat", "dog", "eel", "fox"]
    assert not hasattr(copy[-1], "index_")
    search = GridSearchCV(KNN(), {"k": [1, 5], "temperature": [0.1, 10.0]}, cv=3).fit(X, y)
    assert search.best_params_["k"] in (1, 5) and search.best_score_ > 0.9
    np.testing.assert_array_equal(search.best_estimator_.classes_, ["cat", "dog", "eel"])
    again = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(again.kneighbors(X[:5])[1], search.best_estimator_.kneighbors(X[:5])[1])


def test_init_only_stores_arguments():
    model = KNN(k=0, temperature=-1, normalize="yes")  # builds; fit raises
    assert (model.k, model.temperature, model.normalize) == (0, -1, "yes")
    assert not hasattr(model, "index_") and "k=0" in repr(model)


def test_fit_sets_attributes_and_returns_self():
    model = KNN(k=2)
    assert model.fit(SQUARE, SQUARE_LABELS) is model
    np.testing.assert_allclose(model.mean_, [0.5, 0.5])
    np.testing.assert_allclose(model.scale_, [0.5 + 1e-6, 0.5 + 1e-6])  # population std + eps
    assert model.index_.ntotal == 4 and model.index_.d == 2
    np.testing.assert_array_equal(model.labels_, SQUARE_LABELS)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert (model.n_samples_fit_, model.n_features_in_) == (4, 2)


def test_classes_are_learned_from_any_labels():
    model = KNN(k=1, normalize=False).fit(LINE, ["dog", "cat", "cat"])
    np.testing.assert_array_equal(model.classes_, ["cat", "dog"])
    np.testing.assert_array_equal(model.predict_proba([[0.1], [2.9]]), [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(model.predict([[0.1], [2.9]]), ["dog", "cat"])
    five = KNN(k=1).fit(SQUARE, [0, 4, 3, 2])  # any number of classes, not 0..C-1
    np.testing.assert_array_equal(five.classes_, [0, 2, 3, 4])
    np.testing.assert_array_equal(five.predict([[1.0, 0.0]]), [4])


def test_classes_give_columns_to_labels_missing_from_y():
    # NLI: three columns for backoff even when the training set lacks neutral (1)
    model = KNN(k=1, normalize=False, classes=[0, 1, 2]).fit(LINE, [0, 2, 2])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    np.testing.assert_array_equal(model.predict_proba([[0.1], [2.9]]), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(model.predict([[0.1], [2.9]]), [0, 2])
    with pytest.raises(ValueError, match=r"labels \[3\].*not in classes"):
        KNN(k=1, classes=[0, 1, 2]).fit(LINE, [0, 1, 3])


def test_integral_float_labels_and_lists():
    model = KNN(k=1).fit(SQUARE.tolist(), [0.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(model.predict(SQUARE), [0, 0, 1, 2])


def test_fit_without_normalisation_has_identity_statistics():
    model = KNN(k=1, normalize=False).fit(SQUARE * 7, SQUARE_LABELS)
    np.testing.assert_array_equal(model.mean_, [0.0, 0.0])
    np.testing.assert_array_equal(model.scale_, [1.0, 1.0])
    np.testing.assert_array_equal(model.transform([[3.0, 4.0]]), np.float32([[3.0, 4.0]]))


def test_k1_predicts_the_label_of_the_nearest_point():
    model = KNN(k=1).fit(SQUARE, SQUARE_LABELS)
    queries = [[0.1, 0.1], [0.9, 0.2], [0.1, 0.8], [0.8, 0.9]]
    np.testing.assert_array_equal(model.predict(queries), [0, 0, 1, 2])
    np.testing.assert_array_equal(model.predict_proba(queries), np.eye(3)[[0, 0, 1, 2]])


def test_predict_breaks_ties_toward_the_first_class():
    # the query is equidistant from a label-2 and a label-1 point: p = [0, 0.5, 0.5]
    model = KNN(k=2, normalize=False).fit([[-1.0], [1.0], [5.0]], [2, 1, 0])
    np.testing.assert_allclose(model.predict_proba([[0.0]]), [[0.0, 0.5, 0.5]])
    np.testing.assert_array_equal(model.predict([[0.0]]), [1])


def test_transform_uses_training_statistics_by_hand():
    model = KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 1])  # mean (1, 2), population std (1, 2)
    z = model.transform([[3.0, 2.0], [1.0, 10.0]])
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, [[2 / (1 + 1e-6), 0.0], [0.0, 8 / (2 + 1e-6)]], rtol=1e-6)
    assert np.abs(model.transform([[5.0, 5.0]])).sum() > 0  # not the query's own statistics


def test_normalize_true_equals_manual_normalisation():
    rng = np.random.default_rng(1)
    scales = np.array([1.0, 100.0, 0.01, 10.0])
    X, Q = rng.normal(size=(40, 4)) * scales + 3.0, rng.normal(size=(7, 4)) * scales + 3.0
    y = rng.integers(0, 3, size=40)
    by_hand = lambda A: (A - X.mean(axis=0)) / (X.std(axis=0) + 1e-6)  # noqa: E731
    d_auto, i_auto = KNN(k=5).fit(X, y).kneighbors(Q)
    d_man, i_man = KNN(k=5, normalize=False).fit(by_hand(X), y).kneighbors(by_hand(Q))
    np.testing.assert_array_equal(i_auto, i_man)
    np.testing.assert_allclose(d_auto, d_man, rtol=1e-4)
    # and the normalised neighbors differ from the raw ones on these badly scaled features
    assert not np.array_equal(KNN(k=5, normalize=False).fit(X, y).kneighbors(Q)[1], i_auto)


def test_a_large_common_offset_costs_no_precision():
    # float32 cannot tell 1e8, 1e8 + 1 and 1e8 + 3 apart; centring in float64 first can
    model = KNN(k=1).fit(LINE + 1e8, [0, 1, 2])
    np.testing.assert_allclose(model.mean_, [1e8 + 4 / 3])
    d, i = model.kneighbors([[1e8 + 2.4]])
    assert i.tolist() == [[2]]
    np.testing.assert_allclose(d, (0.6 / np.sqrt(42 / 27)) ** 2, rtol=1e-4)
    rng = np.random.default_rng(0)
    X, Q, y = rng.normal(size=(500, 16)), rng.normal(size=(50, 16)), rng.integers(0, 3, 500)
    np.testing.assert_array_equal(KNN(k=5).fit(X + 1e8, y).kneighbors(Q + 1e8)[1],
                                  KNN(k=5).fit(X, y).kneighbors(Q)[1])


# ---------------------------------------------------------------------------------------------
# KNN: neighbors, leave-one-out and exclude_self
# ---------------------------------------------------------------------------------------------
def test_kneighbors_hand_example():
    model = KNN(k=1, normalize=False).fit(LINE, [0, 1, 1])
    D, I = model.kneighbors([[2.5]], k=2)
    np.testing.assert_array_equal(D, np.float32([[0.25, 2.25]]))
    np.testing.assert_array_equal(I, [[2, 1]])
    assert I.dtype == np.int64


def test_squared_distances_are_faiss_flat_untouched():
    rng = np.random.default_rng(2)
    X, Q = rng.normal(size=(30, 6)), rng.normal(size=(5, 6))
    model = KNN(k=4).fit(X, rng.integers(0, 3, size=30))
    assert model.index == "Flat" and type(model.index_) is faiss.IndexFlat
    flat = faiss.IndexFlatL2(6)
    flat.add(model.transform(X))
    D, I = model.kneighbors(Q)
    D_faiss, I_faiss = flat.search(model.transform(Q), 4)
    np.testing.assert_array_equal(D, D_faiss)
    np.testing.assert_array_equal(I, I_faiss)
    full = brute_force_sq_dists(model.transform(Q).astype(np.float64), model.transform(X).astype(np.float64))
    np.testing.assert_array_equal(I, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(D, np.sort(full, axis=1)[:, :4], rtol=1e-4)


def test_kneighbors_none_leaves_each_point_out():
    model = KNN(k=1, normalize=False).fit(LINE, [0, 1, 1])
    D, I = model.kneighbors()  # each point's nearest *other* point
    np.testing.assert_array_equal(I, [[1], [0], [1]])
    np.testing.assert_array_equal(D, [[1.0], [1.0], [4.0]])
    np.testing.assert_array_equal(model.kneighbors(LINE, exclude_self=True)[1], I)
    # predict_proba(None) uses the leave-one-out neighbors: 0's neighbor is 1 (label 1), ...
    np.testing.assert_array_equal(model.predict_proba(), [[0, 1], [1, 0], [0, 1]])


def test_kneighbors_none_matches_brute_force():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 3))
    model = KNN(k=3).fit(X, rng.integers(0, 3, size=25))
    D, I = model.kneighbors()
    Z = model.transform(X).astype(np.float64)
    full = brute_force_sq_dists(Z, Z)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_array_equal(I, np.argsort(full, axis=1)[:, :3])
    np.testing.assert_allclose(D, np.sort(full, axis=1)[:, :3], rtol=1e-4, atol=1e-5)
    D2, I2 = model.kneighbors(X, exclude_self=True)
    np.testing.assert_array_equal(D, D2)
    np.testing.assert_array_equal(I, I2)
    np.testing.assert_allclose(model.predict_proba(), knn_proba(D, model.labels_[I], temperature=1.0))


@pytest.mark.parametrize("rows", [[3, 0, 2, 1], [2], [0, 1, 2, 3, 3]])
def test_exclude_self_takes_only_the_training_set_in_fit_order(rows):
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    model = KNN(k=1, normalize=False).fit(X, [0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"exclude_self=True but X .* not the training set.*4 rows"):
        model.kneighbors(X[rows], exclude_self=True)


def test_exact_duplicates_stay_neighbors_of_each_other():
    X = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]
    model = KNN(k=2, normalize=False).fit(X, [0, 1, 2, 0])
    for D, I in (model.kneighbors(), model.kneighbors(X, exclude_self=True)):
        assert D.shape == (4, 2)
        np.testing.assert_array_equal(D[:3], 0.0)  # each copy finds the two others
        np.testing.assert_allclose(D[3], [50.0, 50.0])
    D, I = model.kneighbors()
    for i in range(3):
        assert set(I[i]) == {0, 1, 2} - {i}


def test_kneighbors_k_limits():
    model = KNN(k=1).fit(SQUARE, SQUARE_LABELS)
    assert model.kneighbors([[0.0, 0.0]], k=4)[0].shape == (1, 4)
    with pytest.raises(ValueError, match=r"k <= n_samples_fit, but n_samples_fit = 4, k = 5"):
        model.kneighbors([[0.0, 0.0]], k=5)
    with pytest.raises(ValueError, match=r"k <= n_samples_fit - 1.*left out.*k = 4"):
        model.kneighbors(k=4)
    with pytest.raises(ValueError, match=r"k <= n_samples_fit - 1.*k = 4"):
        model.kneighbors(SQUARE, k=4, exclude_self=True)
    with pytest.raises(ValueError, match=r"k == 0.*>= 1"):
        model.kneighbors([[0.0, 0.0]], k=0)
    with pytest.raises(TypeError, match=r"exclude_self.*bool"):
        model.kneighbors(SQUARE, exclude_self="yes")


def test_query_uses_current_k_and_temperature():
    model = KNN(k=1, normalize=False).fit(LINE, [0, 1, 1])
    model.k, model.temperature = 2, 1.0
    np.testing.assert_allclose(model.predict_proba([[0.0]]), [[1 / (1 + math.exp(-1)), 1 / (1 + math.e)]])


def test_determinism():
    rng = np.random.default_rng(4)
    X, y, Q = rng.normal(size=(50, 8)), rng.integers(0, 3, size=50), rng.normal(size=(10, 8))
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


# ---------------------------------------------------------------------------------------------
# KNN: degenerate representations
# ---------------------------------------------------------------------------------------------
CONSTANT = np.array([[0.0, 5.0], [1.0, 5.0], [10.0, 5.0]])  # the 2nd feature never varies


def test_a_constant_feature_gets_scale_one_like_standard_scaler():
    model = KNN(k=1).fit(CONSTANT, [0, 1, 2])
    assert model.scale_[1] == 1.0
    query = [[0.1, 5.001], [9.0, 4.0]]
    np.testing.assert_allclose(model.transform(query), StandardScaler().fit(CONSTANT).transform(query),
                               rtol=1e-6, atol=1e-6)


def test_a_tiny_change_in_a_constant_feature_does_not_decide_the_neighbors():
    d, i = KNN(k=1).fit(CONSTANT, [0, 1, 2]).kneighbors([[0.1, 5.001], [9.9, 4.999]])
    assert i.ravel().tolist() == [0, 2]  # by the first feature, as they should be
    assert d.max() < 1.0  # not ~1e6 from dividing 0.001 by eps


def test_rounding_noise_in_a_constant_float32_feature_is_still_constant():
    X = np.column_stack([np.arange(6.0), np.full(6, 0.1, np.float32)]).astype(np.float32)
    assert KNN(k=1).fit(X, [0, 1, 2, 0, 1, 2]).scale_[1] == 1.0


def test_non_constant_features_are_scaled_by_std_plus_eps():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 8)).astype(np.float32)
    model = KNN(k=3).fit(X, rng.integers(0, 3, 50))
    X64 = X.astype(np.float64)
    np.testing.assert_array_equal(model.scale_, X64.std(0) + 1e-6)
    np.testing.assert_allclose(model.transform(X), (X64 - X64.mean(0)) / (X64.std(0) + 1e-6), rtol=1e-5,
                               atol=1e-6)


def test_all_features_constant_still_works():
    d, _ = KNN(k=2).fit(np.ones((4, 3)), [0, 0, 1, 1]).kneighbors([[1.0, 1.0, 1.0]])
    assert d.tolist() == [[0.0, 0.0]]


@pytest.mark.parametrize("query", [[[1e30, 5.0]], [[0.0, 3e38]]])
def test_values_out_of_float32_range_are_caught_before_faiss(query):
    model = KNN(k=1).fit(CONSTANT, [0, 1, 2])
    with pytest.raises(ValueError, match="out of float32 range after normalisation") as err:
        model.kneighbors(query)
    assert "FAISS returned fewer" not in str(err.value)


def test_huge_training_values_without_normalisation_are_caught():
    with pytest.raises(ValueError, match=r"rows \[1\]\) are out of float32 range"):
        KNN(k=1, normalize=False).fit([[0.0, 0.0], [1e20, 1e20]], [0, 1])


# ---------------------------------------------------------------------------------------------
# KNN: bad arguments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, match", [
    ({"k": 0}, r"'k' parameter.*range \[1, inf\)"),
    ({"k": -2}, r"'k' parameter.*range \[1, inf\)"),
    ({"k": 2.5}, r"'k' parameter.*int"),
    ({"temperature": 0}, r"'temperature' parameter.*range \(0"),
    ({"temperature": -0.5}, r"'temperature' parameter.*range \(0"),
    ({"normalize": "yes"}, r"'normalize' parameter.*bool"),
    ({"classes": 3}, r"'classes' parameter.*array-like"),
    ({"index": "annoy"}, r"index='annoy'.*index_factory"),
])
def test_fit_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        KNN(**{"k": 1, **options}).fit(SQUARE, SQUARE_LABELS)


def test_fit_rejects_k_above_n():
    with pytest.raises(ValueError, match=r"k <= n_samples, but n_samples = 3, k = 4"):
        KNN(k=4).fit(LINE, [0, 1, 2])


@pytest.mark.parametrize("X, y, match", [
    (np.zeros((0, 4)), [], r"0 sample"),
    ([], [0], r"2D array"),
    ([1.0, 2.0], [0, 1], r"2D array"),
    (np.zeros((2, 2, 2)), [0, 1], r"dim 3"),
    ([["a", "b"]], [0], r"convert string to float"),
    (SQUARE, [0, 1, 2], r"inconsistent numbers of samples: \[4, 3\]"),
    (SQUARE, [], r"inconsistent numbers of samples: \[4, 0\]"),
    (SQUARE, [0.0, 0.5, 1.0, 2.0], r"Unknown label type: continuous"),
    (SQUARE, None, r"requires y"),
])
def test_fit_rejects_bad_data(X, y, match):
    with pytest.raises(ValueError, match=match):
        KNN(k=1).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_rejects_non_finite_reps(bad):
    X = SQUARE.copy()
    X[1, 0] = bad
    with pytest.raises(ValueError, match=r"X contains (NaN|infinity)"):
        KNN(k=1).fit(X, SQUARE_LABELS)


@pytest.mark.parametrize("method", ["kneighbors", "predict", "predict_proba", "transform"])
def test_queries_reject_bad_reps(method):
    rng = np.random.default_rng(0)
    query = getattr(KNN(k=1).fit(rng.normal(size=(5, 384)), [0, 1, 2, 0, 1]), method)
    with pytest.raises(ValueError, match=r"128 features.*expecting 384"):
        query(rng.normal(size=(2, 128)))
    for bad, match in ((np.nan, "NaN"), (np.inf, "infinity")):
        with pytest.raises(ValueError, match=rf"X contains {match}"):
            query(np.full((1, 384), bad))
    with pytest.raises(ValueError, match=r"0 sample"):
        query(np.zeros((0, 384)))
    with pytest.raises(NotFittedError, match=r"not fitted"):
        getattr(KNN(k=1), method)(np.zeros((1, 384)))


def test_leave_one_out_before_fit_is_not_fitted_error():
    with pytest.raises(NotFittedError, match=r"not fitted"):
        KNN(k=1).kneighbors()


# ---------------------------------------------------------------------------------------------
# KNN: approximate faiss.index_factory indexes
# ---------------------------------------------------------------------------------------------
K = 10


@pytest.fixture(scope="module")
def clustered():
    """3,000 training and 300 query points in 32-d around 30 well-separated centres."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 32)) * 4
    X = centres[rng.integers(0, 30, 3000)] + rng.normal(size=(3000, 32))
    Q = centres[rng.integers(0, 30, 300)] + rng.normal(size=(300, 32))
    return X.astype(np.float32), rng.integers(0, 3, 3000), Q.astype(np.float32)


@pytest.fixture(scope="module")
def exact(clustered):
    X, y, Q = clustered
    return KNN(k=K).fit(X, y).kneighbors(Q)


def recall(I, I_exact):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(I, I_exact)])


def fit_index(clustered, index, params=""):
    model = KNN(k=K, temperature=10.0, index=index).fit(*clustered[:2])
    if params:
        faiss.ParameterSpace().set_index_parameters(model.index_, params)
    return model


@pytest.mark.parametrize("index, params", [("IVF40,Flat", "nprobe=8"), ("HNSW32", "efSearch=64")])
def test_approximate_indexes_have_high_recall(clustered, exact, index, params):
    model = fit_index(clustered, index, params)
    D, I = model.kneighbors(clustered[2])
    assert recall(I, exact[1]) >= 0.95
    assert (np.diff(D, axis=1) >= 0).all()  # still nearest first
    for p in (model.predict_proba(clustered[2]), model.predict_proba()):
        assert p.shape[1] == 3 and (p >= 0).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    again = fit_index(clustered, index, params)  # the same data give the same index
    np.testing.assert_array_equal(again.kneighbors(clustered[2])[1], I)


def test_ivf_scanning_every_cell_is_exact(clustered, exact):
    model = fit_index(clustered, "IVF40,Flat", "nprobe=40")
    D, I = model.kneighbors(clustered[2])
    np.testing.assert_array_equal(I, exact[1])
    np.testing.assert_allclose(D, exact[0], rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(model.kneighbors()[1], KNN(k=K).fit(*clustered[:2]).kneighbors()[1])


def test_a_search_that_finds_too_few_neighbors_says_which_parameter_to_raise(clustered):
    # FAISS marks missing results -1; numpy would read it as the last training point
    with pytest.raises(ValueError, match=r"fewer than 1000 neighbors.*nprobe"):
        fit_index(clustered, "IVF40,Flat", "nprobe=1").kneighbors(clustered[2], k=1000)
    with pytest.raises(ValueError, match=r"fewer than 50 neighbors.*efSearch"):
        fit_index(clustered, "HNSW32", "efSearch=1").kneighbors(clustered[2], k=50)
    _, I = fit_index(clustered, "HNSW32", "efSearch=64").kneighbors(clustered[2], k=50)
    assert I.shape == (300, 50) and (I >= 0).all()


# ---------------------------------------------------------------------------------------------
# backoff and interpolate
# ---------------------------------------------------------------------------------------------
P_MODEL = np.array([[0.6, 0.4, 0.0], [0.2, 0.7, 0.1], [1 / 3, 1 / 3, 1 / 3]])
P_KNN = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_backoff_rule():
    # confidences 0.6, 0.7, 1/3; model says 0, 1, 0; kNN says 2, 0, 1
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.5), [0, 1, 1])
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.65), [2, 1, 1])
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.6), [2, 1, 1])  # 0.6 is not > 0.6
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.59), [0, 1, 1])


def test_backoff_extremes():
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 0.0), [0, 1, 0])  # always the model
    np.testing.assert_array_equal(backoff(P_MODEL, P_KNN, 1.0), [2, 0, 1])  # always kNN
    np.testing.assert_array_equal(backoff([[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], 1.0), [1])


@pytest.mark.parametrize("tau, match", [(-0.1, r"tau\W+-0.1.*(0 <= tau <= 1|<= 1|>= 0)"), (1.5, r"tau\W+1.5.*(0 <= tau <= 1|<= 1|>= 0)"),
                                        (np.nan, r"tau=nan")])
def test_backoff_rejects_tau_outside_unit_interval(tau, match):
    with pytest.raises(ValueError, match=match):
        backoff(P_MODEL, P_KNN, tau)


def test_backoff_rejects_bad_arrays():
    with pytest.raises(ValueError, match=r"p_model has shape \(3, 3\) and p_knn has shape \(2, 3\)"):
        backoff(P_MODEL, P_KNN[:2], 0.5)
    with pytest.raises(ValueError, match=r"p_model: Expected 2D array, got 1D"):
        backoff(P_MODEL[0], P_KNN[0], 0.5)
    bad = P_MODEL.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"p_model contains (NaN|1 non-finite)"):
        backoff(bad, P_KNN, 0.5)
    bad_knn = P_KNN.copy()
    bad_knn[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"p_knn contains infinity"):
        backoff(P_MODEL, bad_knn, 0.5)
    with pytest.raises(ValueError, match=r"not logits"):
        backoff(P_MODEL * 5, P_KNN, 0.5)


@pytest.mark.parametrize("bad, row, total", [
    ([[0.5, 0.2, 0.1], [0.2, 0.7, 0.1]], 0, "0.8"),
    ([[0.6, 0.4, 0.0], [0.5, 0.5, 0.5]], 1, "1.5"),
    ([[0.0, 0.0, 0.0], [0.2, 0.7, 0.1]], 0, "0"),
])
def test_backoff_refuses_rows_that_do_not_sum_to_one(bad, row, total):
    with pytest.raises(ValueError, match=rf"p_model rows must each sum to 1.*row {row} sums to {total}"):
        backoff(bad, P_KNN[:2], 0.5)
    with pytest.raises(ValueError, match=rf"p_knn rows must each sum to 1.*row {row} sums to {total}"):
        backoff(P_MODEL[:2], bad, 0.5)


def test_float32_rounding_is_within_tolerance():
    p = np.array([[0.3333333, 0.3333333, 0.3333334]], np.float32) * (1 + 3e-7)
    assert backoff(p, p, 0.5).tolist() == [2]


def test_interpolate():
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 0.0), P_MODEL)
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 1.0), P_KNN)
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 0.5), (P_MODEL + P_KNN) / 2)
    np.testing.assert_allclose(interpolate(P_MODEL, P_KNN, 0.3).sum(axis=1), 1.0)


@pytest.mark.parametrize("p_model, p_knn, lam, match", [
    (P_MODEL, P_KNN, -0.1, r"lam\W+-0.1.*(0 <= lam <= 1|<= 1|>= 0)"),
    (P_MODEL, P_KNN, 1.5, r"lam\W+1.5.*(0 <= lam <= 1|<= 1|>= 0)"),
    (P_MODEL, np.full((3, 2), 0.5), 0.5, r"p_model has shape \(3, 3\) and p_knn has shape \(3, 2\)"),
    ([[0.5, 0.6, 0.0]], P_KNN[:1], 0.5, r"p_model rows must each sum to 1"),
])
def test_interpolate_rejects_bad_inputs(p_model, p_knn, lam, match):
    with pytest.raises(ValueError, match=match):
        interpolate(p_model, p_knn, lam)


@pytest.mark.parametrize("call", [
    lambda p: experiments.confidence_bins(p, P_KNN[:2], [0, 1]),
    lambda p: knn.slice_backoff(p, P_KNN[:2], ["a", "b"], {"a": 0.5, "b": 0.5}),
    lambda p: knn.tune_slice_taus(p, P_KNN[:2], [0, 1], ["a", "b"]),
])
def test_per_slice_and_binned_evaluation_refuse_unnormalised_rows(call):
    with pytest.raises(ValueError, match="rows must each sum to 1"):
        call(np.array([[0.9, 0.9, 0.0], [0.2, 0.7, 0.1]]))


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
    assert len(grid) == len(ks) * len(temps) * len(DEFAULT_TAUS)
    assert list(grid.columns) == ["k", "temperature", "tau", "model_acc", "knn_acc", "backoff_acc",
                                  "knn_fraction"]
    assert (grid["model_acc"] == 0.5).all() and (grid["knn_acc"] == 1.0).all()
    assert best["backoff_acc"] == 1.0 and best["knn_acc"] == 1.0 and best["model_acc"] == 0.5
    # tie-break: smallest k, smallest T, smallest tau reaching 1.0 (0.5 is not > 0.5)
    assert (best["k"], best["temperature"], best["tau"], best["knn_fraction"]) == (1, 0.1, 0.5, 0.5)
    assert type(best["k"]) is int and type(best["tau"]) is float
    at = grid.set_index(["k", "temperature", "tau"])["backoff_acc"]
    assert at[(1, 0.1, 0.0)] == 0.5 and at[(1, 0.1, 1.0)] == 1.0 and at[(1, 0.1, 0.9)] == 1.0
    assert at[(1, 0.1, 0.49)] == 0.5


def test_tune_grid_is_sorted_and_deduplicated():
    train, ytr, val, yv, pm = planted_problem()
    best, grid = tune(train, ytr, val, yv, pm, ks=[4, 1, 4], temperatures=[10.0, 1.0], taus=[0.9, 0.2])
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


def test_tune_scores_a_training_set_that_lacks_a_class():
    # no neutral (1) among the training labels: p_knn still has 3 columns, as p_model does
    best, grid = tune(LINE, [0, 2, 2], [[0.1], [2.9]], [0, 2], [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]],
                      ks=[1], temperatures=[1.0], taus=[0.0, 1.0])
    assert grid["knn_acc"].tolist() == [1.0, 1.0] and best["tau"] == 1.0


def test_tune_clips_ks_to_n_train_with_warning():
    train, ytr, val, yv, pm = planted_problem(n_per_class=2)  # 6 training points
    with pytest.warns(UserWarning, match=r"ks \[8, 64\] exceed the 6 training representations"):
        best, grid = tune(train, ytr, val, yv, pm, ks=[1, 8, 64], temperatures=[1.0], taus=[0.5])
    assert sorted(grid["k"].unique()) == [1, 6]


@pytest.mark.parametrize("change, match", [
    ({"taus": [0.5, 1.5]}, r"taus\[1\] == 1.5.*<= 1"),
    ({"temperatures": [0.0, 1.0]}, r"temperatures\[0\] == 0.0.*> 0"),
    ({"ks": [0, 1]}, r"ks\[0\] == 0.*>= 1"),
    ({"ks": []}, r"ks must be a non-empty sequence; got \[\]"),
    ({"ks": 16}, r"ks must be a non-empty sequence; got 16"),
    ({"val_labels": "drop one"}, r"val_reps is length 30 and val_labels is length 29"),
    ({"p_model_val": "drop one"}, r"p_model_val is length 29 and val_labels is length 30"),
    ({"p_model_val": "two columns"}, r"p_model_val has 2 columns but n_classes=3"),
    ({"p_model_val": "unnormalised"}, r"p_model_val rows must each sum to 1.*row 0 sums to 1.5"),
    ({"val_reps": "four features"}, r"4 features.*expecting 5"),
    ({"label_map": [0, 1]}, r"label_map must be 3 non-negative integers"),
    ({"train_labels": "label 3"}, r"train_labels must be integers in 0\.\.2.*\[3\]"),
])
def test_tune_rejects_bad_inputs(change, match):
    train, ytr, val, yv, pm = planted_problem()
    args = {"train_reps": train, "train_labels": ytr, "val_reps": val, "val_labels": yv, "p_model_val": pm,
            "ks": (1, 4), "temperatures": (1.0,)}
    edits = {"drop one": lambda a: a[:-1], "two columns": lambda a: a[:, :2],
             "four features": lambda a: a[:, :4], "unnormalised": lambda a: np.full(a.shape, 0.5),
             "label 3": lambda a: np.where(a == 2, 3, a)}
    for key, value in change.items():
        args[key] = edits[value](args[key]) if isinstance(value, str) else value
    with pytest.raises(ValueError, match=match):
        tune(**args)


def test_tune_interpolation():
    pm = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.1, 0.0, 0.9]])
    pk = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    lam, table = tune_interpolation(pm, pk, [1, 0, 2], lambdas=[1.0, 0.0, 0.5, 0.25])
    # lam 0: [0, 0, 2] -> 2/3; 0.25: row 1 is 0.45 vs 0.55 -> [1, 0, 2] -> 1; 0.5 and 1.0 -> 1
    assert table["lam"].tolist() == [0.0, 0.25, 0.5, 1.0]
    np.testing.assert_allclose(table["accuracy"], [2 / 3, 1.0, 1.0, 1.0])
    assert lam == 0.25  # ties go to the smallest lambda
    lam_default, table_default = tune_interpolation(pm, pk, [1, 0, 2])
    assert len(table_default) == 21 and lam_default == 0.2


@pytest.mark.parametrize("p, labels, lambdas, match", [
    ([[0.6, 0.4, 0.0]], [0], [0.0, 2.0], r"lambdas\[1\] == 2.0.*<= 1"),
    ([[0.6, 0.4, 0.0]], [3], (0.5,), r"val_labels must be integers in 0..2.*\[3\]"),
    ([[0.6, 0.4, 0.0]], [0, 1], (0.5,), r"p_model_val is length 1 and val_labels is length 2"),
    ([[0.5, 0.5, 0.5]], [0], (0.5,), r"p_model_val rows must each sum to 1"),
])
def test_tune_interpolation_rejects_bad_inputs(p, labels, lambdas, match):
    with pytest.raises(ValueError, match=match):
        tune_interpolation(p, [[0.0, 1.0, 0.0]], labels, lambdas=lambdas)


def test_tune_with_label_map_scores_collapsed_predictions():
    # HANS-style: labels 0 entailment / 1 non-entailment, a 3-class model and kNN.
    train, train_labels = [[0.0], [0.1], [10.0], [10.1]], [0, 0, 2, 2]  # contradiction neighbors
    val, val_labels = [[0.05], [10.05]], [0, 1]
    p_model = [[0.9, 0.1, 0.0], [0.2, 0.1, 0.7]]  # contradiction for the 2nd: non-entailment
    best, grid = tune(train, train_labels, val, val_labels, p_model, ks=[1], temperatures=[1.0],
                      taus=[0.0, 1.0], label_map=[0, 1, 1])
    assert best["model_acc"] == 1.0  # contradiction counts as non-entailment
    assert grid["knn_acc"].iloc[0] == 1.0  # a contradiction neighbor counts too
    plain, _ = tune(train, train_labels, val, val_labels, p_model, ks=[1], temperatures=[1.0],
                    taus=[0.0, 1.0])
    assert plain["model_acc"] == 0.5
    _, table = tune_interpolation(p_model, [[1, 0, 0], [0, 0, 1.0]], val_labels, lambdas=[0, 1],
                                  label_map=[0, 1, 1])
    assert table["accuracy"].tolist() == [1.0, 1.0]
