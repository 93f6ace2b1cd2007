"""Plots for the chapters: each draws on ``ax`` (or a new figure) and returns it; none calls plt.show()."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .checks import (check_dict, check_frame, check_labels, check_mask, check_matrix, check_records,
                     check_same_length, check_unit_interval)

POOLING_COLOURS = {"cls": "#1f77b4", "mean": "#ff7f0e", "max": "#2ca02c"}
RANKING_COLOURS = {"loss": "#7f7f7f", "cleanlab": "#1f77b4", "ranked kNN": "#d62728", "kNN only": "#ff7f0e"}
REMOVAL = {"top": ("#d62728", "most retrieved removed"), "random": ("#7f7f7f", "random removed"),
           "matched": ("#1f77b4", "random, label mix of the top set, removed")}  # colour, legend
LAYER_COLUMNS = ("pooling", "layer", "normalize", "knn_acc")  # representations.knn_accuracy_grid's


def _axes(ax, figsize=(6, 4), ncols=1, **kwargs):
    return plt.subplots(1, ncols, figsize=figsize, **kwargs)[1] if ax is None else ax


def _note(ax, text, xy, offset=(0, 3), **kwargs):
    return ax.annotate(text, xy, xytext=offset, textcoords="offset points", **kwargs)


def _finish(ax, percent: str = "", legend: dict | None = None, **settings):
    ax.set(**settings)
    if percent:
        getattr(ax, f"{percent}axis").set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    if legend is not None:
        ax.legend(**{"fontsize": 8, **legend})
    return ax


def plot_training_loss(histories: dict, ax=None):
    """Mean training loss per epoch, one line per run; ``histories`` maps run name to its losses."""
    ax = _axes(ax)
    for name, losses in check_dict(histories, "histories").items():
        ax.plot(np.arange(1, len(losses) + 1), losses, marker="o", label=name)
    ax.axhline(np.log(3), color="grey", ls=":", lw=1)
    _note(ax, "chance (ln 3)", (1, np.log(3)), fontsize=8, color="grey")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    return _finish(ax, legend={}, xlabel="epoch", ylabel="mean training loss (cross-entropy)",
                   title="Fine-tuning: training loss per epoch")


def plot_layer_accuracy(grid: pd.DataFrame, model_acc: float | None = None, ax=None):
    """kNN accuracy by layer (``knn_accuracy_grid``), a line per pooling, dashed unnormalised."""
    check_frame(grid, "grid", LAYER_COLUMNS), model_acc is None or check_unit_interval(model_acc, "model_acc")
    ax = _axes(ax, (7, 4.5))
    for (pooling, norm), part in grid.sort_values("layer").groupby(["pooling", "normalize"], sort=True):
        ax.plot(part["layer"], part["knn_acc"], marker="o" if norm else "x",
                ls="-" if norm else "--", color=POOLING_COLOURS.get(pooling),
                label=f"{pooling}, {'normalised' if norm else 'raw'}")
    if model_acc is not None:
        ax.axhline(model_acc, color="black", lw=1)
        _note(ax, f"fine-tuned model: {model_acc:.1%}", (grid["layer"].min(), model_acc), (0, 4), fontsize=8)
    ax.set_xticks(sorted(grid["layer"].unique()))
    return _finish(ax, "y", {"ncol": 2}, xlabel="layer (0 = embeddings)",
                   ylabel="kNN accuracy", title="kNN accuracy by layer, pooling and normalisation")


def plot_accuracy_heatmap(grid: pd.DataFrame, normalize: bool = True, ax=None):
    """Heatmap of kNN accuracy (``grid`` as in :func:`plot_layer_accuracy`), pooling by layer."""
    check_frame(grid, "grid", LAYER_COLUMNS)
    ax = _axes(ax, (7, 2.6))
    table = grid[grid["normalize"] == normalize].pivot(index="pooling", columns="layer", values="knn_acc")
    sns.heatmap(table * 100, annot=True, fmt=".1f", cmap="viridis", ax=ax, cbar_kws={"label": "accuracy (%)"})
    return _finish(ax, xlabel="layer (0 = embeddings)", ylabel="pooling",
                   title=f"kNN accuracy ({'normalised' if normalize else 'raw'} representations)")


def plot_recipe_accuracy(table: pd.DataFrame, ax=None):
    """Bar chart of validation accuracy (``table["val_acc"]``) per fine-tuning ``recipe``."""
    check_frame(table, "table", ("recipe", "val_acc"))
    ax = _axes(ax, (6, 3.5))
    ax.bar_label(ax.bar(table["recipe"], table["val_acc"], color="#4c72b0"), fmt="{:.1%}", padding=3)
    ax.axhline(1 / 3, color="grey", ls=":", lw=1, label="chance")
    return _finish(ax, "y", {"loc": "upper left"}, ylim=(0, 1),
                   ylabel="accuracy (bars: SNLI validation)", title="Fine-tuned models: accuracy per recipe")


def plot_memorisation_sweep(points, paper: dict | None = None, base_rate: float | None = None, axes=None):
    """Each ranking's AP against flips memorised (left); kNN's F1 and the loss ranking's data need (right)."""
    check_records(points, "points", ("lr", "epochs", "flips_memorised", "ap", "knn_f1",
                                     "loss_fraction_for_knn_recall"))
    ax, right = axes = _axes(axes, (11, 4), ncols=2)
    ap = pd.DataFrame([p["ap"] for p in points])
    df = pd.DataFrame(points).drop(columns=["ap", "ap_vs"], errors="ignore").join(ap)
    regime = [f"{lr:.0e}/{ep}ep" for lr, ep in zip(df["lr"], df["epochs"])]
    means = df.groupby(regime, sort=False).mean(numeric_only=True).sort_values("flips_memorised")
    x = means["flips_memorised"]
    for m in ap.columns:
        colour = RANKING_COLOURS.get(m)
        if len(df) > len(means):  # several seeds: each point faint, the regime's mean solid
            ax.scatter(df["flips_memorised"], df[m], color=colour, s=14, alpha=0.4)
        # no line between regimes: memorisation is not a knob the regimes turn in order
        ax.scatter(x, means[m], color=colour, marker="o", label=m)
    if base_rate is not None:
        ax.axhline(base_rate, color="#bbbbbb", ls=":", lw=1, label="random ranking")
    _finish(ax, "x", {}, xlabel="flipped labels memorised by the noisy model",
            ylabel="average precision (finding flips)", title="Rankings of all training examples")
    right.scatter(x, means["knn_f1"], marker="o", color="black", label="kNN protocol F1")
    right.scatter(x, means["loss_fraction_for_knn_recall"], marker="s", color="#7f7f7f",
                  label="data the loss ranking needs for kNN's recall")
    for regime, row in means.iterrows():
        _note(ax, regime, (row["flips_memorised"], ax.get_ylim()[0]), (2, 2), fontsize=6, rotation=90,
              color="#555555")
        _note(right, regime, (row["flips_memorised"], row["knn_f1"]), (3, 3), fontsize=6, color="#555555")
    if paper:
        right.axhline(paper["f1"], color="black", ls="--", lw=1, label=f"paper: kNN F1 {paper['f1']:.2f}")
        right.axhline(paper["loss_fraction_for_knn_recall"], color="#7f7f7f", ls="--", lw=1,
                      label=f"paper: loss needs {paper['loss_fraction_for_knn_recall']:.0%}")
    _finish(right, "x", {"fontsize": 7}, xlabel="flipped labels memorised by the noisy model", ylim=(0, 1),
            title="The paper's two numbers")
    return axes


def plot_tuning_surface(grid: pd.DataFrame, k: int | None = None, ax=None):
    """Validation backoff accuracy of ``knn.tune``'s ``grid`` over tau and T at ``k`` (default: the best)."""
    check_frame(grid, "grid", ("k", "temperature", "tau", "backoff_acc"))
    ax = _axes(ax, (7, 3.6))
    k = int(grid.loc[grid["backoff_acc"].idxmax(), "k"]) if k is None else k
    part = grid[grid["k"] == k]
    table = part.pivot(index="temperature", columns="tau", values="backoff_acc").sort_index()
    cells = table.rename(index="{:g}".format, columns="{:.1f}".format) * 100  # labelled as the ticks show
    sns.heatmap(cells, cmap="viridis", ax=ax, xticklabels=max(1, len(cells.columns) // 10), yticklabels=True,
                cbar_kws={"label": "accuracy (%)"}).invert_yaxis()
    ax.tick_params("x", labelrotation=0)
    best = part.loc[part["backoff_acc"].idxmax()]
    ax.plot(table.columns.get_loc(best["tau"]) + 0.5, table.index.get_loc(best["temperature"]) + 0.5,
            marker="*", color="red", ms=14, mec="white",
            label=f"best: tau={best['tau']:.2f}, T={best['temperature']:g} ({best['backoff_acc']:.1%})")
    return _finish(ax, legend={"loc": "lower left"},
                   xlabel="backoff threshold tau (back off when max p_model <= tau)",
                   ylabel="temperature T", title=f"Validation accuracy of kNN backoff (k = {k})")


def plot_confidence_bins(bins: pd.DataFrame, tau: float | None = None, title: str | None = None, ax=None):
    """Model vs kNN accuracy per ``confidence_bins`` bin (bars: share of examples), ``tau`` as a line."""
    check_frame(bins, "bins", ("lo", "hi", "n", "model_acc", "knn_acc"))
    tau is None or check_unit_interval(tau, "tau")
    ax = _axes(ax, (6, 4))
    centre, share = (bins["lo"] + bins["hi"]) / 2, bins["n"] / bins["n"].sum()
    ax.bar(centre, share, width=(bins["hi"] - bins["lo"]) * 0.9, color="lightgrey", label="share of examples")
    ax.plot(centre, bins["model_acc"], marker="o", color="#1f77b4", label="model")
    ax.plot(centre, bins["knn_acc"], marker="s", color="#d62728", label="kNN")
    if tau is not None:
        ax.axvline(tau, color="black", ls="--", lw=1, label=f"tuned tau = {tau:.2f}")
    ax.set_xlim(min(bins["lo"].min(), 1 / 3) - 0.01, 1.01)
    return _finish(ax, "y", {"loc": "upper left"}, ylim=(0, 1.02),
                   xlabel="model confidence (max probability)", ylabel="accuracy / share",
                   title=title or "Model vs kNN accuracy by model confidence")


def plot_method_accuracy(table: pd.DataFrame, ax=None):
    """Grouped bars of ``table`` (accuracies, settings by methods): setting on x, method by colour."""
    ax = _axes(ax, (9, 4))
    check_frame(table, "table").plot.bar(ax=ax, rot=0, width=0.8)  # as plot_slice_accuracy
    for container in ax.containers:
        ax.bar_label(container, fmt="{:.1%}", padding=2, fontsize=7, rotation=90)
    return _finish(ax, "y", {"ncol": len(table.columns), "loc": "upper right"}, ylim=(0, 1.1), xlabel="",
                   ylabel="test accuracy", title="Test accuracy per setting and method")


def plot_backoff_gains(table: pd.DataFrame, ax=None):
    """Backoff gain with its 95% interval (``lo``, ``hi``; NaN: none) per row, coloured by ``group``."""
    check_frame(table, "table", ("gain", "group", "hi", "label", "lo"))
    ax = _axes(ax, (7, 0.45 * len(table) + 1.2))
    colours = dict(zip(table["group"].unique(), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    y = np.arange(len(table))[::-1]
    for yi, row in zip(y, table.itertuples()):  # NaN lo and hi: the point alone
        ax.errorbar(row.gain, yi, xerr=[[row.gain - row.lo], [row.hi - row.gain]], color=colours[row.group],
                    fmt="D" if row.group == "paper" else "o", lw=2)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, table["label"])
    return _finish(ax, xlabel="backoff minus model (accuracy points)",
                   title="kNN backoff gain, 95% intervals")


def plot_tsne(embedding, labels, *, fixed=None, broken=None, label_names=None, title=None, ax=None):
    """An (n, 2) embedding coloured by gold label; masks ``fixed`` (green) and ``broken`` (orange) ringed."""
    palette = ["#1f77b4", "#9467bd", "#7f7f7f"]  # kept clear of the green and orange rings
    emb = check_matrix(embedding, "embedding")
    labels = check_labels(labels, len(palette) if label_names is None else len(label_names))
    if emb.shape != (len(labels), 2):
        raise ValueError(f"expected an (n, 2) embedding and n labels, got {emb.shape} and {len(labels)}")
    ax = _axes(ax, (7, 6))
    for i, lab in enumerate(np.unique(labels)):
        ax.scatter(emb[labels == lab, 0], emb[labels == lab, 1], s=8, alpha=0.5, color=palette[i],
                   label=str(lab) if label_names is None else label_names[lab])
    for mask, colour, what in ((fixed, "#2ca02c", "fixed"), (broken, "#ff7f0e", "broken")):
        if mask is not None:
            check_same_length(len(mask := check_mask(mask, what)), len(labels), what, "labels")
            ax.scatter(emb[mask, 0], emb[mask, 1], s=60, facecolors="none", edgecolors=colour,
                       linewidths=1.8, label=f"{what} by backoff ({int(mask.sum())})")
    return _finish(ax, legend={"markerscale": 1.5}, xticks=[], yticks=[], xlabel="t-SNE 1",
                   ylabel="t-SNE 2", title=title or "t-SNE of the representations")


def plot_slice_accuracy(table: pd.DataFrame, ax=None):
    """Bars of accuracy per slice (rows, e.g. HANS heuristics) for several methods (columns)."""
    ax = _axes(ax, (8, 4))
    check_frame(table, "table").plot.bar(ax=ax, rot=0, width=0.8)
    for container in ax.containers:
        ax.bar_label(container, fmt="{:.0%}", fontsize=7)
    return _finish(ax, "y", {}, ylim=(0, 1.08), ylabel="accuracy", xlabel="")


def plot_word_weights(weights, title: str = "", ax=None):
    """Horizontal bars of LIME ``(word, weight)`` pairs (positive: for the explained class), first on top."""
    if not isinstance(weights, (list, tuple)) or not weights:
        raise TypeError(f"weights must be a non-empty list of (word, weight) pairs; got {weights!r:.60}")
    ax = _axes(ax, (4, 3))
    words, values = [w for w, _ in weights][::-1], [v for _, v in weights][::-1]
    ax.barh(words, values, color=["#d62728" if v > 0 else "#1f77b4" for v in values])
    ax.axvline(0, color="black", lw=0.8)
    ax.xaxis.set_major_locator(plt.MaxNLocator(4))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    _finish(ax, xlabel="LIME weight", title=title).title.set_fontsize(9)
    return ax


def plot_retrieval_counts(counts: dict, k: int | None = None, ax=None):
    """How often training examples are retrieved (``retrieval_counts``): a step histogram per query set."""
    ax = _axes(ax, (7, 4))
    top = max(int(np.max(c)) for c in check_dict(counts, "counts").values())
    bins = np.arange(0, top + 2) - 0.5 if top < 60 else np.linspace(-0.5, top + 0.5, 60)
    for name, c in counts.items():
        ax.hist(c, bins=bins, histtype="step", lw=1.5, label=f"{name} (max {int(np.max(c))})")
    return _finish(ax, legend={"title": "queries", "title_fontsize": 8}, yscale="log",
                   xlabel="times retrieved as a neighbour", ylabel="training examples (log scale)",
                   title="How often each training example is retrieved" + (f" (k = {k})" if k else ""))


def plot_removal_totals_increments(record: dict, paper: dict | None = None, axes=None):
    """Removal-test drops (``removal_record``), total (left) and increment (right), beside ``paper``'s."""
    check_dict(record, "record", ("n_seeds", "drops"))
    axes = _axes(axes, (10, 4), ncols=2, gridspec_kw={"width_ratios": [2, 1]}, sharey=True)
    paper, n = paper or {}, record["n_seeds"]
    conditions = [c for c in REMOVAL if any(c in d for d in record["drops"].values())]
    width = 0.8 / (2 * len(conditions))

    def bars(ax, x, ours: dict, theirs: dict):
        for j, cond in enumerate(conditions):
            if cond not in ours:
                continue
            values, xo = np.asarray(ours[cond], dtype=float), x - 0.4 + width * (2 * j + 0.5)
            colour = REMOVAL[cond][0]
            sd = values.std(ddof=1) if len(values) > 1 else 0.0
            ax.bar(xo, values.mean(), width, color=colour, alpha=0.85, yerr=sd or None, capsize=3)
            ax.plot(np.full(len(values), xo), values, "o", ms=3, color="black", alpha=0.6)
            _note(ax, f"{values.mean():.1f}", (xo, max(values.mean() + sd, values.max(), 0)), ha="center",
                  fontsize=7)
            if theirs.get(cond) is not None:
                ax.bar_label(ax.bar(xo + width, theirs[cond], width, facecolor="none", edgecolor=colour,
                                    hatch="//"), fmt="{:.1f}", padding=3, fontsize=7, color=colour)

    for i, (f, drops) in enumerate(record["drops"].items()):
        bars(axes[0], i, drops, {c: paper[c].get(float(f)) for c in conditions
                                 if isinstance(paper.get(c), dict)})
    axes[0].set_xticks(range(len(record["drops"])), [f"{float(f):.0%} removed" for f in record["drops"]])
    axes[0].set(title="Total drop", ylabel="SNLI test accuracy drop (points)")
    if record.get("increments"):
        span = " to ".join(f"{float(f):.0%}" for f in record["increment_fractions"])
        bars(axes[1], 0, record["increments"], paper.get("increment", {}))
        axes[1].set_xticks([0], [span])
        axes[1].set_title(f"Increment, {span} removed")
    else:
        axes[1].set_axis_off()
        axes[1].set_title("Increment (needs two fractions)")
    for ax in axes:
        ax.axhline(0, color="black", lw=0.8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=REMOVAL[c][0], alpha=0.85) for c in conditions]
    labels = [f"{REMOVAL[c][1]} (ours, {n} seed{'s' if n != 1 else ''})" for c in conditions]
    if paper:
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="none", edgecolor="black", hatch="//"))
        source = f", {paper['source']}" if paper.get("source") else ""
        labels.append(f"paper ({paper.get('model', 'BERT')}{source})")
    axes[0].figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    axes[0].figure.subplots_adjust(bottom=0.24, wspace=0.08)
    return axes[0].figure, axes
