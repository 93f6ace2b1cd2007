"""Adversarial cases for nbhelpers.mislabel (issue 18, class 6: index and probability arguments)."""
import numpy as np
import pytest

from nbhelpers import mislabel


@pytest.mark.parametrize("nn, bad", [([2, -1, 3], "[-1]"), ([-1, -1, 0], "[-1]"), ([0, 4, 1], "[4]"),
                                     ([0, -2, 1], "[-2]")])
def test_knn_candidates_refuses_out_of_range_neighbours(nn, bad):
    with pytest.raises(ValueError, match=rf"nearest_train_index must be integers in 0..3 .*{re_escape(bad)}"):
        mislabel.knn_candidates([0, 1, 2], nn, [1, 2, 0, 0])


def re_escape(s):
    import re
    return re.escape(s)


def test_minus_one_is_explained_as_faiss_missing_neighbour():
    with pytest.raises(ValueError, match="-1 is FAISS's mark for a missing neighbour"):
        mislabel.knn_candidates([0], [-1], [1, 2, 0, 0])


def test_minus_one_no_longer_flags_the_last_training_example():
    # before issue 18 the -1 wrapped round and flagged example 3
    with pytest.raises(ValueError):
        mislabel.knn_candidates([1], [-1], [0, 0, 0, 0])


@pytest.mark.parametrize("bad", [[[1, -1], [0, 2], [0, 1]], [[1, 2], [0, 3], [0, 1]]])
def test_knn_label_scores_refuses_out_of_range_neighbours(bad):
    d = np.zeros((3, 2))
    with pytest.raises(ValueError, match="neighbor_indices must be integers in 0..2"):
        mislabel.knn_label_scores(d, bad, [0, 0, 1], temperature=1.0)


def test_knn_label_scores_refuses_float_or_bool_indices():
    d = np.zeros((3, 2))
    with pytest.raises(ValueError, match="neighbor_indices must be integers"):
        mislabel.knn_label_scores(d, [[True, False]] * 3, [0, 0, 1], temperature=1.0)
    with pytest.raises(ValueError, match="neighbor_indices must be integers"):
        mislabel.knn_label_scores(d, [[0.5, 1.0]] * 3, [0, 0, 1], temperature=1.0)


def test_knn_label_scores_refuses_unnormalised_pred_probs():
    d, i = np.zeros((3, 2)), np.array([[1, 2], [0, 2], [0, 1]])
    with pytest.raises(ValueError, match="pred_probs rows must each sum to 1.*row 1 sums to 2"):
        mislabel.knn_label_scores(d, i, [0, 0, 1], temperature=1.0,
                                  pred_probs=[[1, 0, 0], [1, 1, 0], [0, 0, 1]])


def test_valid_inputs_still_give_the_hand_checked_result():
    d, i = np.zeros((3, 2)), np.array([[1, 2], [0, 2], [0, 1]])
    assert mislabel.knn_label_scores(d, i, [0, 0, 1], temperature=1.0).tolist() == [0.5, 0.5, 1.0]
    assert mislabel.knn_candidates([0, 1, 1], [2, 0, 2], [1, 1, 0, 2]).tolist() == [False, False, True, False]


@pytest.mark.parametrize("labels", [[0, 1, -1], [True, False, True], [0, 1, 3]])
def test_noise_injection_refuses_odd_labels(labels):
    with pytest.raises(ValueError, match="labels must be integers in 0..2"):
        mislabel.inject_label_noise(labels, 0.5)
