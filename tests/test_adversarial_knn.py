"""Adversarial cases for nbhelpers.knn and nbhelpers.evaluation (issue 18): degenerate
representations (class 5) and probability arguments (class 6)."""
import numpy as np
import pytest

from nbhelpers import evaluation, knn
from nbhelpers.knn import KNN, backoff, interpolate, tune, tune_interpolation

# ---------------------------------------------------------------------------------------
# class 5: degenerate representations
# ---------------------------------------------------------------------------------------
TRAIN = np.array([[0.0, 5.0], [1.0, 5.0], [10.0, 5.0]])  # the 2nd feature never varies


def test_a_constant_feature_gets_scale_one_like_standard_scaler():
    from sklearn.preprocessing import StandardScaler

    knn = KNN(k=1, eps=0.0).fit(TRAIN, [0, 1, 2])
    assert knn.scale_.tolist()[1] == 1.0 and knn.sigma_[1] == 0.0
    query = [[0.1, 5.001], [9.0, 4.0]]
    np.testing.assert_allclose(knn.transform(query),
                               StandardScaler().fit(TRAIN).transform(query), rtol=1e-6, atol=1e-6)


def test_a_tiny_change_in_a_constant_feature_no_longer_decides_the_neighbours():
    knn = KNN(k=1).fit(TRAIN, [0, 1, 2])
    d, i = knn.kneighbors([[0.1, 5.001], [9.9, 4.999]])
    assert i.ravel().tolist() == [0, 2]  # by the first feature, as they should be
    assert d.max() < 1.0  # not ~1e6 from dividing 0.001 by eps


def test_rounding_noise_in_a_constant_float32_feature_is_still_constant():
    X = np.column_stack([np.arange(6.0), np.full(6, 0.1, np.float32)]).astype(np.float32)
    knn = KNN(k=1).fit(X, [0, 1, 2, 0, 1, 2])
    assert knn.scale_[1] == 1.0


def test_non_constant_features_are_scaled_as_before():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 8)).astype(np.float32)
    knn = KNN(k=3).fit(X, rng.integers(0, 3, 50))
    X64 = X.astype(np.float64)
    expected = (X64 - X64.mean(0)) / (X64.std(0) + 1e-6)
    np.testing.assert_allclose(knn.transform(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(knn.scale_, knn.sigma_ + 1e-6)


def test_all_features_constant_still_works():
    knn = KNN(k=2).fit(np.ones((4, 3)), [0, 0, 1, 1])
    d, _ = knn.kneighbors([[1.0, 1.0, 1.0]])
    assert d.tolist() == [[0.0, 0.0]]


@pytest.mark.parametrize("query", [[[1e30, 5.0]], [[0.0, 3e38]]])
def test_values_out_of_range_after_normalisation_are_caught_before_faiss(query):
    knn = KNN(k=1, eps=1e-6).fit(TRAIN, [0, 1, 2])
    with pytest.raises(ValueError, match="out of float32 range after normalisation") as err:
        knn.kneighbors(query)
    assert "FAISS returned fewer" not in str(err.value)


def test_huge_training_values_without_normalisation_are_caught():
    with pytest.raises(ValueError, match=r"rows \[1\]\) are out of float32 range after normalisation"):
        KNN(k=1, normalize=False).fit([[0.0, 0.0], [1e20, 1e20]], [0, 1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_queries_are_named(bad):
    knn = KNN(k=1).fit(TRAIN, [0, 1, 2])
    with pytest.raises(ValueError, match="reps contains (NaN|infinity)"):
        knn.kneighbors([[0.0, bad]])


# ---------------------------------------------------------------------------------------
# class 6: probability arguments
# ---------------------------------------------------------------------------------------
PM = np.array([[0.6, 0.4, 0.0], [0.2, 0.7, 0.1]])
PK = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("bad, row, total", [
    ([[0.5, 0.2, 0.1], [0.2, 0.7, 0.1]], 0, "0.8"),
    ([[0.6, 0.4, 0.0], [0.5, 0.5, 0.5]], 1, "1.5"),
    ([[0.0, 0.0, 0.0], [0.2, 0.7, 0.1]], 0, "0"),
])
def test_backoff_refuses_rows_that_do_not_sum_to_one(bad, row, total):
    with pytest.raises(ValueError, match=rf"p_model rows must each sum to 1.*row {row} sums to {total}"):
        backoff(bad, PK, 0.5)
    with pytest.raises(ValueError, match=rf"p_knn rows must each sum to 1.*row {row} sums to {total}"):
        backoff(PM, bad, 0.5)


def test_float32_rounding_is_within_tolerance():
    p = np.array([[0.3333333, 0.3333333, 0.3333334]], np.float32) * (1 + 3e-7)
    assert backoff(p, p, 0.5).tolist() == [2]


def test_interpolate_refuses_unnormalised_rows():
    with pytest.raises(ValueError, match="p_model rows must each sum to 1"):
        interpolate([[2.0, 0.0, 0.0]] * 0 + [[0.5, 0.6, 0.0]], PK[:1], 0.5)


def test_tune_refuses_unnormalised_validation_probabilities():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    p = np.full((20, 3), 0.5)
    with pytest.raises(ValueError, match="p_model_val rows must each sum to 1.*row 0 sums to 1.5"):
        tune(X, y, X, y, p, ks=[1], temperatures=[1.0], taus=[0.5])
    with pytest.raises(ValueError, match="p_model_val rows must each sum to 1"):
        tune_interpolation(p, np.full((20, 3), 1 / 3), y)


@pytest.mark.parametrize("call", [
    lambda p: evaluation.confidence_bins(p, PK, [0, 1]),
    lambda p: knn.slice_backoff(p, PK, ["a", "b"], {"a": 0.5, "b": 0.5}),
    lambda p: knn.tune_slice_taus(p, PK, [0, 1], ["a", "b"]),
])
def test_evaluation_refuses_unnormalised_rows(call):
    with pytest.raises(ValueError, match="rows must each sum to 1"):
        call(np.array([[0.9, 0.9, 0.0], [0.2, 0.7, 0.1]]))
