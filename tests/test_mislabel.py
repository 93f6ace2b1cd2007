"""nbhelpers.mislabel on arrays small enough to check by hand, and its index and probability checks."""
import re

import numpy as np
import pytest

from nbhelpers import mislabel


def test_inject_label_noise_flips_exactly_and_never_to_the_same_class():
    y = np.arange(1000) % 3
    noisy, flipped = mislabel.inject_label_noise(y, 0.1, n_classes=3, seed=4)
    assert flipped.sum() == 100 and (noisy[flipped] != y[flipped]).all()
    assert (noisy[~flipped] == y[~flipped]).all() and set(noisy.tolist()) <= {0, 1, 2}
    again, _ = mislabel.inject_label_noise(y, 0.1, n_classes=3, seed=4)
    other, _ = mislabel.inject_label_noise(y, 0.1, n_classes=3, seed=5)
    assert np.array_equal(noisy, again) and not np.array_equal(noisy, other)
    # both other classes are used
    assert len(set(((noisy[flipped] - y[flipped]) % 3).tolist())) == 2
    assert mislabel.inject_label_noise(y[:7], 0.5)[1].sum() == 4  # round(3.5) = 4


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_inject_label_noise_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match=r"rate(=nan| == -0.1| == 1.5)"):
        mislabel.inject_label_noise([0, 1, 2], rate)


@pytest.mark.parametrize("labels, shown", [([0, 1, 3], "[3]"), ([0, 1, -1], "[-1]"), ([True, False, True], "")])
def test_inject_label_noise_rejects_bad_labels(labels, shown):
    with pytest.raises(ValueError, match=r"labels must be integers in 0..2.*" + re.escape(shown)):
        mislabel.inject_label_noise(labels, 0.1)


def test_inject_label_noise_rejects_no_labels():
    with pytest.raises(ValueError, match="labels is empty"):
        mislabel.inject_label_noise([], 0.1)


def test_knn_candidates_by_hand():
    # query 0 predicts 0, its neighbour 2 is labelled 0: agree -> not flagged
    # query 1 predicts 1, its neighbour 0 is labelled 1: agree
    # query 2 predicts 2, its neighbour 3 is labelled 0: flag 3
    mask = mislabel.knn_candidates([0, 1, 2], [2, 0, 3], [1, 2, 0, 0])
    assert mask.tolist() == [False, False, False, True]
    assert mislabel.knn_candidates([0, 1, 1], [2, 0, 2], [1, 1, 0, 2]).tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="query_predictions is length 2 and nearest_train_index is length 1"):
        mislabel.knn_candidates([0, 1], [0], [1, 2, 0, 0])


@pytest.mark.parametrize("nn, bad", [([2, -1, 3], "[-1]"), ([-1, -1, 0], "[-1]"), ([0, 4, 1], "[4]"),
                                     ([0, -2, 1], "[-2]"), ([0, 9, 1], "[9]")])
def test_knn_candidates_refuses_out_of_range_neighbours(nn, bad):
    with pytest.raises(ValueError, match=r"nearest_train_index must be integers in 0..3 .*" + re.escape(bad)):
        mislabel.knn_candidates([0, 1, 2], nn, [1, 2, 0, 0])


def test_minus_one_is_explained_as_faiss_missing_neighbour_not_the_last_example():
    # NumPy would read -1 as the last training example and flag it
    with pytest.raises(ValueError, match="-1 is FAISS's mark for a missing neighbour"):
        mislabel.knn_candidates([1], [-1], [0, 0, 0, 0])


def test_scores_metrics_and_curves():
    truth = np.array([True, False, False, True, False])
    scores = np.array([0.9, 0.8, 0.1, 0.7, 0.2])
    f, r = mislabel.recall_curve(scores, truth)
    assert f.tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] and r.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    # AP: hits at ranks 1 and 3 -> (1/1 + 2/3) / 2
    assert mislabel.average_precision(scores, truth) == pytest.approx((1 + 2 / 3) / 2)
    np.testing.assert_allclose(mislabel.loss_scores([1, 1], [[0.5, 0.5], [1.0, 0.0]]),
                               [np.log(2), -np.log(1e-12)])
    with pytest.raises(ValueError, match="pred_probs"):  # swapped arguments: a 1-D pred_probs
        mislabel.loss_scores([[0.5, 0.5], [1.0, 0.0]], [1, 1])
    with pytest.raises(ValueError, match="labels is length 1 and pred_probs is length 2"):
        mislabel.loss_scores([1], [[0.5, 0.5], [1.0, 0.0]])


def test_knn_label_scores_with_and_without_model():
    d = np.zeros((3, 2))
    i = np.array([[1, 2], [0, 2], [0, 1]])
    assert mislabel.knn_label_scores(d, i, [0, 0, 1], temperature=1.0).tolist() == [0.5, 0.5, 1.0]
    p = np.array([[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]])
    s = mislabel.knn_label_scores(d, i, [0, 0, 1], temperature=1.0, pred_probs=p)
    np.testing.assert_allclose(s, [0.25, 0.25, 1.0])
    with pytest.raises(ValueError, match="pred_probs is length 2 and labels is length 3"):
        mislabel.knn_label_scores(d, i, [0, 0, 1], temperature=1.0, pred_probs=p[:2])
    with pytest.raises(ValueError, match="pred_probs rows must each sum to 1.*row 1"):
        mislabel.knn_label_scores(d, i, [0, 0, 1], temperature=1.0,
                                  pred_probs=[[1, 0, 0], [1, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize("bad, words", [([[1, -1], [0, 2], [0, 1]], "integers in 0..2"),
                                        ([[1, 2], [0, 3], [0, 1]], "integers in 0..2"),
                                        ([[True, False]] * 3, "integers"), ([[0.5, 1.0]] * 3, "integers")])
def test_knn_label_scores_refuses_bad_neighbor_indices(bad, words):
    with pytest.raises(ValueError, match="neighbor_indices must be " + words):
        mislabel.knn_label_scores(np.zeros((3, 2)), bad, [0, 0, 1], temperature=1.0)
