"""nbhelpers.checks: each message names the argument, the value found and the rule."""
import numpy as np
import pandas as pd
import pytest

from nbhelpers import checks, explorer


# ---------------------------------------------------------------------------
# scalars: check_scalar's rule and message; bools and non-numbers refused by value
# ---------------------------------------------------------------------------
def test_scalars_pass_through_as_python_numbers():
    assert checks.check_int(np.int64(3), "k", low=1, high=3) == 3 and type(checks.check_int(3, "k")) is int
    assert checks.check_real(np.float32(0.5), "lr") == 0.5
    assert checks.check_positive(2, "temperature") == 2.0
    assert checks.check_unit_interval(1, "tau") == 1.0 and checks.check_unit_interval(0.0, "tau") == 0.0


@pytest.mark.parametrize("call, words", [
    (lambda: checks.check_int(0, "k", low=1), r"k == 0, must be >= 1"),
    (lambda: checks.check_int(5, "k", low=1, high=4), r"k == 5, must be <= 4"),
    (lambda: checks.check_int(64, "k", high=50, high_msg="k=64 but only 50 training representations"),
     r"k=64 but only 50 training representations"),
    (lambda: checks.check_int(2.5, "k"), r"k must be an integer; got 2.5 \(float\)"),
    (lambda: checks.check_int(True, "k"), r"k must be an integer; got True \(bool\)"),
    (lambda: checks.check_real("0.1", "lr"), r"lr must be a real number; got '0.1' \(str\)"),
    (lambda: checks.check_real(float("nan"), "lr"), r"lr=nan but expected a finite number"),
    (lambda: checks.check_real(-1.0, "weight_decay", low=0.0), r"weight_decay == -1.0, must be >= 0.0"),
    (lambda: checks.check_positive(0.0, "temperature"), r"temperature == 0.0, must be > 0"),
    (lambda: checks.check_positive(float("inf"), "temperature"), r"temperature=inf.*finite"),
    (lambda: checks.check_unit_interval(-0.1, "tau"), r"tau == -0.1, must be >= 0"),
    (lambda: checks.check_unit_interval(1.5, "tau"), r"tau == 1.5, must be <= 1"),
    (lambda: checks.check_choice("CLS", "pooling", ["cls", "mean"]), r"pooling='CLS'.*one of 'cls', 'mean'"),
])
def test_scalar_errors_name_the_argument_and_value(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# ---------------------------------------------------------------------------
# arrays: check_array, with the argument's name in front
# ---------------------------------------------------------------------------
def test_reps_are_float32_c_contiguous():
    x = checks.check_reps(np.arange(6, dtype=np.float64).reshape(3, 2).T)
    assert x.dtype == np.float32 and x.flags.c_contiguous and x.tolist() == [[0, 2, 4], [1, 3, 5]]
    assert checks.check_matrix([[1, 2]], "distances").dtype == np.float64


@pytest.mark.parametrize("a, words", [
    ([1.0, 2.0], r"^train_reps: Expected 2D array, got 1D"),
    (np.zeros((0, 3)), r"^train_reps: Found array with 0 sample\(s\) \(shape=\(0, 3\)\)"),
    (np.zeros((3, 0)), r"^train_reps: Found array with 0 feature\(s\)"),
    ([[0.0, np.nan]], r"train_reps contains NaN"),
    ([[0.0, np.inf]], r"train_reps contains infinity"),
    ([["a", "b"]], r"^train_reps: could not convert string to float: 'a'"),
])
def test_array_errors_name_the_argument(a, words):
    with pytest.raises(ValueError, match=words):
        checks.check_reps(a, "train_reps")


# ---------------------------------------------------------------------------
# probability rows: by hand (sklearn.utils has no such check)
# ---------------------------------------------------------------------------
def test_probability_rows():
    p = checks.check_proba([[0.25, 0.75], [1.0, 0.0]], "p_model", n_classes=2)
    assert p.dtype == np.float64 and p.shape == (2, 2)
    checks.check_proba([[0.5, 0.49995]], "p_model")  # within atol=1e-4
    checks.check_proba([[0.5, 0.2]], "pred_probs", atol=None)  # rows need not sum to 1
    with pytest.raises(ValueError, match=r"p_model rows must each sum to 1 \(within 0.0001\); row 1 sums to"
                                         r" 0.9"):
        checks.check_proba([[0.5, 0.5], [0.5, 0.4]], "p_model")
    with pytest.raises(ValueError, match=r"p_knn must hold probabilities in \[0, 1\]; found min=-1, max=2"):
        checks.check_proba([[-1.0, 2.0]], "p_knn")
    with pytest.raises(ValueError, match=r"p_model has 2 columns but n_classes=3"):
        checks.check_proba([[0.5, 0.5]], "p_model", n_classes=3)
    with pytest.raises(ValueError, match=r"p_model contains NaN"):
        checks.check_proba([[np.nan, 1.0]], "p_model")


# ---------------------------------------------------------------------------
# integer labels, indices and label maps
# ---------------------------------------------------------------------------
def test_labels_and_indices():
    assert checks.check_labels([0, 2.0, 1], 3).tolist() == [0, 2, 1]
    assert checks.check_labels(np.array([5, 0], dtype=object)).dtype == np.int64
    assert checks.check_indices([[0, 2]], 3, ndim=2).tolist() == [[0, 2]]
    with pytest.raises(ValueError, match=r"labels must be integers in 0..2; found 1 outside that range:"
                                         r" \[3\]"):
        checks.check_labels([0, 3], 3)
    with pytest.raises(ValueError, match=r"val_labels must be integers in 0..2; got dtype bool"):
        checks.check_labels([True, False], 3, "val_labels")
    with pytest.raises(ValueError, match=r"labels must be non-negative integers; got dtype float64 .*\[0.5"):
        checks.check_labels([0.5])
    with pytest.raises(ValueError, match=r"labels must be 1-D; got 2-D with shape \(1, 2\)"):
        checks.check_labels([[0, 1]])
    with pytest.raises(ValueError, match=r"labels is empty: shape \(0,\)"):
        checks.check_labels([])
    with pytest.raises(ValueError, match=r"neighbor_indices must be integers in 0..2 \(indices into 3 "
                                         r"examples\).*\[-1\] \(-1 is FAISS's mark for a missing neighbour"):
        checks.check_indices([[0, -1]], 3, "neighbor_indices", ndim=2)


def test_correct_is_booleans_or_0_1_as_float():
    assert checks.check_correct([True, False], "correct").tolist() == [1.0, 0.0]
    assert checks.check_correct([0, 1, 1], "correct").dtype == np.float64
    with pytest.raises(ValueError, match=r"correct_raw must be integers in 0..1; found 1 outside that range"):
        checks.check_correct([0, 2], "correct_raw")


def test_label_map():
    assert checks.check_label_map(None, 3).tolist() == [0, 1, 2]
    assert checks.check_label_map([0, 1, 1], 3, n_labels=2).tolist() == [0, 1, 1]
    for bad in ([0, 1, 7], [0.0, 1.0, 1.0], [0, 1], [0, -1, 1], [True, False, True]):
        with pytest.raises(ValueError, match=r"label_map must be 3 integers in 0..1 \(one task label per"
                                             r" model class\)"):
            checks.check_label_map(bad, 3, n_labels=2)
    with pytest.raises(ValueError, match=r"label_map must be 3 non-negative integers.*got \[0.0, 1.0, 1.0\]"):
        checks.check_label_map([0.0, 1.0, 1.0], 3)


QUERIES = pd.DataFrame({"premise": ["a", "b"], "hypothesis": ["c", "d"], "label": [0, 1]})
TRAIN = pd.DataFrame({"premise": ["x", "y", "z"], "hypothesis": ["u", "v", "w"], "label": [0, 1, 2]})


@pytest.mark.parametrize("label_map", [[0, 1, 7], [0.0, 1.0, 1.0], [0, 1, 2]])
def test_explorer_refuses_label_maps_outside_the_gold_labels(label_map):
    # a label map sends each model class to a gold label: an integer in 0..len(gold_names)-1
    with pytest.raises(ValueError, match=r"label_map must be 3 integers in 0..1"):
        explorer.explorer_records(QUERIES, TRAIN, [[0.5, 0.3, 0.2]] * 2, [[0.0, 1.0]] * 2, [[0, 1]] * 2,
                                  temperature=1.0, tau=0.5, name="h", title="H", label_map=label_map,
                                  gold_names=["entailment", "non-entailment"])


# ---------------------------------------------------------------------------
# the rest by hand: shapes, lengths, masks, computed arrays, texts and pairs
# ---------------------------------------------------------------------------
def test_shapes_lengths_and_masks():
    checks.check_same_shape(np.zeros(2), np.ones(2), "a", "b")
    with pytest.raises(ValueError, match=r"p_model has shape \(3,\) and p_knn has shape \(2,\)"):
        checks.check_same_shape(np.zeros(3), np.zeros(2), "p_model", "p_knn")
    with pytest.raises(ValueError, match=r"reps is length 4 and labels is length 3"):
        checks.check_same_length(4, 3, "reps", "labels")
    assert checks.check_mask([True, False], "mask").dtype == bool
    with pytest.raises(ValueError, match=r"flagged must be a 1-D boolean array, got dtype int"):
        checks.check_mask([1, 0], "flagged")


def test_computed_arrays_are_vetted_before_caching():
    ok = np.full((2, 3), 1 / 3)
    assert checks.check_computed(ok, "probabilities", (2, 3), proba=True) is ok
    with pytest.raises(ValueError, match=r"computed reps has .* 1 rows unfilled or not finite"
                                         r" \[1\].*Nothing was cached"):
        checks.check_computed(np.array([[0.0], [np.nan]]), "reps", (2, 1))
    with pytest.raises(ValueError, match=r"computed reps has shape \(2, 1\).*expected shape \(3,"
                                         r" 1\).*Nothing"):
        checks.check_computed(np.zeros((2, 1)), "reps", (3, 1))
    with pytest.raises(ValueError, match=r"computed reps has shape \(2,\), dtype int64.*expected .*floats"):
        checks.check_computed(np.zeros(2, dtype=int), "reps")
    with pytest.raises(ValueError, match=r"computed probabilities rows must each sum to 1"):
        checks.check_computed(np.zeros((2, 3)), "probabilities", proba=True)


def test_texts_and_pairs():
    assert checks.check_texts(pd.Series(["a", "b"]), "premises") == ["a", "b"]
    with pytest.raises(TypeError, match=r"premises must be a list of strings.*a single 'A dog runs.'"
                                        r" \(str\)"):
        checks.check_texts("A dog runs.", "premises")
    with pytest.raises(TypeError, match=r"premises must be a list of strings, one per pair; got dict"):
        checks.check_texts({"a": 1}, "premises")
    with pytest.raises(ValueError, match=r"hypotheses\[1\] must be a string; got NaN \(float\)"):
        checks.check_texts(["a", float("nan")], "hypotheses")
    checks.check_pairs(QUERIES, need_label=True, n_classes=2)
    with pytest.raises(ValueError, match=r"train_df lacks columns \['label'\]"):
        checks.check_pairs(QUERIES.drop(columns="label"), need_label=True, name="train_df")
    with pytest.raises(ValueError, match=r"column 'hypothesis' must hold strings; row 1 \(position 1\)"
                                         r" holds (None|NaN)"):
        checks.check_pairs(QUERIES.assign(hypothesis=["c", None]), need_label=False)
    with pytest.raises(ValueError, match=r"labels must be integers in 0..1; found 1 outside that range:"
                                         r" \[2\]"):
        checks.check_pairs(QUERIES.assign(label=[0, 2]), need_label=True, n_classes=2)
