"""nbhelpers.viz: the plots draw what their legends, labels and titles say."""
import numpy as np

from nbhelpers import viz


def test_tsne_legend_names_labels_and_counts_the_rings():
    emb = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    ax = viz.plot_tsne(emb, [0, 1, 1], fixed=[True, False, False], broken=[False, False, True])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "0", "1", "fixed by backoff (1)", "broken by backoff (1)"]


def test_word_weights_put_the_first_word_on_top():
    ax = viz.plot_word_weights([("not", 0.4), ("dog", -0.1)], title="contradiction")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dog", "not"]


def test_retrieval_counts_legend_gives_each_sets_maximum():
    ax = viz.plot_retrieval_counts({"train": np.array([0, 1, 1, 5]), "test": np.array([2, 0, 0, 9])})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train (max 5)", "test (max 9)"]


def test_removal_plot_titles_the_total_and_the_increment():
    rec = {"n_seeds": 1, "drops": {"0.1": {"top": [3.0]}, "0.3": {"top": [8.0]}},
           "increments": {"top": [5.0]}, "increment_fractions": ["0.1", "0.3"]}
    _, axes = viz.plot_removal_totals_increments(rec, {"top": {0.1: 4.6}, "increment": {"top": 6.0}})
    assert [ax.get_title() for ax in axes] == ["Total drop", "Increment, 10% to 30% removed"]
