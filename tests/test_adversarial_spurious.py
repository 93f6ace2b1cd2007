"""Adversarial cases for the HTML neighbour tables (issue 18, class 6: labels out of range)."""
import pandas as pd
import pytest

from nbhelpers import influence, spurious

TRAIN = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["d", "e", "f"], "label": [0, 1, 2]})


@pytest.mark.parametrize("label", [-1, 3, 1.5])
def test_neighbour_html_refuses_a_bad_neighbour_label(label):
    neighbours = TRAIN.assign(label=[0, label, 2], distance=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"neighbours\['label'\] must be integers in 0..2"):
        spurious.neighbor_html(TRAIN.iloc[0], neighbours, "not")


@pytest.mark.parametrize("label", [-1, 5])
def test_neighbour_html_refuses_a_bad_query_label(label):
    query = TRAIN.iloc[0].copy()
    query["label"] = label
    with pytest.raises(ValueError, match=r"query\['label'\] must be integers in 0..2"):
        spurious.neighbor_html(query, TRAIN.assign(distance=1.0), "not")


def test_neighbour_html_still_renders_good_labels():
    html = spurious.neighbor_html(TRAIN.iloc[0], TRAIN.assign(distance=1.0), "a")
    assert html.count("contradiction") == 1 and "<b>a</b>" in html


@pytest.mark.parametrize("label", [-1, 3])
def test_neighbour_table_refuses_a_bad_label(label):
    with pytest.raises(ValueError, match=r"train_df\['label'\] of the neighbours must be integers in 0..2"):
        influence.neighbor_table(TRAIN.assign(label=[0, label, 2]), [1, 0])


def test_neighbour_table_refuses_index_minus_one():
    with pytest.raises(ValueError, match=r"indices must lie in 0..2"):
        influence.neighbor_table(TRAIN, [-1, 0])
