"""Plots for the chapters. Each takes ``ax=None``, draws on it (or on a new figure),
and returns the Axes; none calls ``plt.show()``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

POOLING_COLOURS = {"cls": "#1f77b4", "mean": "#ff7f0e", "max": "#2ca02c"}


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_training_loss(histories: dict, ax=None):
    """Mean training loss per epoch, one line per run.

    Parameters
    ----------
    histories : dict
        ``{run name: [loss of epoch 1, loss of epoch 2, ...]}``.

    Example
    -------
    >>> ax = plot_training_loss({"a": [1.1, 0.9], "b": [1.1, 1.0, 0.8]})
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['a', 'b']
    >>> plt.close("all")
    """
    ax = _axes(ax)
    for name, losses in histories.items():
        epochs = np.arange(1, len(losses) + 1)
        ax.plot(epochs, losses, marker="o", label=name)
    ax.axhline(np.log(3), color="grey", ls=":", lw=1)
    ax.annotate("chance (ln 3)", (1, np.log(3)), xytext=(0, 3), textcoords="offset points",
                fontsize=8, color="grey")
    ax.set(xlabel="epoch", ylabel="mean training loss (cross-entropy)",
           title="Fine-tuning: training loss per epoch")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return ax


def plot_layer_accuracy(grid: pd.DataFrame, model_acc: float | None = None, ax=None):
    """kNN accuracy by layer: one line per pooling, solid with normalisation, dashed without.

    Parameters
    ----------
    grid : DataFrame
        As returned by :func:`nbhelpers.representations.knn_accuracy_grid`.
    model_acc : float, optional
        Drawn as a horizontal reference line (the fine-tuned model's own accuracy).

    Example
    -------
    >>> g = pd.DataFrame({"pooling": ["cls", "cls"], "layer": [0, 1],
    ...                   "normalize": [True, True], "knn_acc": [0.4, 0.6]})
    >>> len(plot_layer_accuracy(g, model_acc=0.7).get_lines())  # cls line + model line
    2
    >>> plt.close("all")
    """
    ax = _axes(ax, (7, 4.5))
    for (pooling, norm), part in grid.groupby(["pooling", "normalize"], sort=True):
        part = part.sort_values("layer")
        ax.plot(part["layer"], part["knn_acc"], marker="o" if norm else "x",
                ls="-" if norm else "--", color=POOLING_COLOURS.get(pooling),
                label=f"{pooling}, {'normalised' if norm else 'raw'}")
    if model_acc is not None:
        ax.axhline(model_acc, color="black", lw=1)
        ax.annotate(f"fine-tuned model: {model_acc:.1%}", (grid["layer"].min(), model_acc),
                    xytext=(0, 4), textcoords="offset points", fontsize=8)
    ax.set(xlabel="layer (0 = embeddings)", ylabel="kNN accuracy",
           title="kNN accuracy by layer, pooling and normalisation")
    ax.set_xticks(sorted(grid["layer"].unique()))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.legend(fontsize=8, ncol=2)
    return ax


def plot_accuracy_heatmap(grid: pd.DataFrame, normalize: bool = True, ax=None):
    """Heatmap of kNN accuracy, pooling by layer, for one normalisation setting.

    Example
    -------
    >>> g = pd.DataFrame({"pooling": ["cls", "mean"], "layer": [1, 1],
    ...                   "normalize": [True, True], "knn_acc": [0.5, 0.6]})
    >>> plot_accuracy_heatmap(g).get_title()
    'kNN accuracy (normalised representations)'
    >>> plt.close("all")
    """
    ax = _axes(ax, (7, 2.6))
    table = (grid[grid["normalize"] == normalize]
             .pivot(index="pooling", columns="layer", values="knn_acc"))
    sns.heatmap(table * 100, annot=True, fmt=".1f", cmap="viridis", ax=ax,
                cbar_kws={"label": "accuracy (%)"})
    ax.set(xlabel="layer (0 = embeddings)", ylabel="pooling",
           title=f"kNN accuracy ({'normalised' if normalize else 'raw'} representations)")
    return ax


def plot_recipe_accuracy(table: pd.DataFrame, paper_acc: float | None = None, ax=None):
    """Bar chart of validation accuracy per fine-tuning recipe.

    Parameters
    ----------
    table : DataFrame
        Columns ``recipe`` and ``val_acc``.
    paper_acc : float, optional
        The paper's reference number, drawn as a dashed line.

    Example
    -------
    >>> t = pd.DataFrame({"recipe": ["a", "b"], "val_acc": [0.5, 0.7]})
    >>> len(plot_recipe_accuracy(t, paper_acc=0.757).patches)
    2
    >>> plt.close("all")
    """
    ax = _axes(ax, (6, 3.5))
    ax.bar(table["recipe"], table["val_acc"], color="#4c72b0")
    for i, acc in enumerate(table["val_acc"]):
        ax.annotate(f"{acc:.1%}", (i, acc), ha="center", xytext=(0, 3), textcoords="offset points")
    ax.axhline(1 / 3, color="grey", ls=":", lw=1, label="chance")
    if paper_acc is not None:
        ax.axhline(paper_acc, color="black", ls="--", lw=1, label=f"paper, BERT-base, SNLI test ({paper_acc:.1%})")
    ax.set(ylim=(0, 1), ylabel="SNLI validation accuracy",
           title="Fine-tuned models: accuracy per recipe")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.legend(fontsize=8, loc="upper left")
    return ax
