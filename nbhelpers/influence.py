"""Influential training examples: nearest neighbours, retrieval counts, the removal test,
and influence functions (captum) for comparison.

Rajani et al. (2020, Section 4) explain a prediction by the k training examples nearest to
the query in the fine-tuned model's representation space, and measure how *influential* a
training example is by how often it is retrieved as a neighbour. Their evidence that the
neighbours are examples the model relies on is a **removal test**: retrain without the most
retrieved 10% (30%) of the training data and accuracy falls further than without a random
10% (30%).

This module holds the pieces, each small and checked:

- :func:`self_neighbors` - the k nearest *other* training examples of every training example;
- :func:`retrieval_counts` - how often each training example is among a set of neighbours;
- :func:`removal_sets` - what the removal test removes (the test itself, which retrains,
  is :func:`nbhelpers.experiments.removal_test`);
- :func:`matched_random_set` - a random control with the label mix of the removed top set;
- :func:`removal_record` and :func:`seeds_for_gap` - the results per seed with their
  spread, and how many seeds a gap of a given size needs;
- :func:`top_set_overlap` - whether two retrieval counts pick the same most retrieved examples;
- :func:`neighbor_table` - the paper's Tables 2 and 3 layout: a query and its neighbours;
- :class:`InfluenceExplainer` - Koh & Liang influence functions on the same model, through
  captum's :class:`~captum.influence.NaiveInfluenceFunction`;
- :func:`topk_overlap` - how much two methods' top-k training examples agree (timed against
  kNN by :func:`nbhelpers.experiments.explanation_speed`).
"""
from __future__ import annotations

import contextlib
import time
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from . import timing
from . import knn as knn_mod
from .data import NLI_LABELS as LABELS
from .stats import t_interval_from
from .checks import check_int, check_labels, check_real, check_reps

__all__ = [
    "self_neighbors",
    "retrieval_counts",
    "removal_sets",
    "matched_random_set",
    "summarise_removal",
    "removal_record",
    "format_stat",
    "removal_table",
    "describe_removal",
    "seeds_for_gap",
    "top_set_overlap",
    "neighbor_table",
    "InfluenceExplainer",
    "topk_overlap",
]


# ----------------------------------------------------------------------------------------------
# retrieval counts
# ----------------------------------------------------------------------------------------------
def self_neighbors(index: "knn_mod.KNN", train_reps, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest training neighbours of every training example, itself excluded.

    Parameters
    ----------
    index : KNN
        Fitted on ``train_reps`` (the same rows, in the same order).
    train_reps : array-like of shape (N, d)
    k : int, default=16
        Neighbours per example, ``1 <= k < N``.

    Returns
    -------
    distances, indices : ndarray of shape (N, k)
        Nearest first. Row i never contains i. (An exact duplicate of example i at
        distance 0 may come first; it is another example and is kept.)

    Example
    -------
    >>> idx = knn_mod.KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 2])
    >>> self_neighbors(idx, [[0.0], [1.0], [3.0]], k=1)[1].ravel().tolist()
    [1, 0, 1]
    """
    X = check_reps(train_reps, "train_reps")
    if not hasattr(index, "n_samples_fit_"):
        raise knn_mod.NotFittedError("index is not fitted; call index.fit(train_reps, labels) first")
    n = index.n_samples_fit_
    if len(X) != n:
        raise ValueError(f"train_reps has {len(X)} rows but the index holds {n}; "
                         "pass the representations the index was fitted on")
    k = check_int(k, "k", low=1, high=n - 1,
                  high_msg=f"k={k} but expected k <= N - 1 = {n - 1} (self excluded)")
    return index.kneighbors(X, k=k, exclude_self=True)


def retrieval_counts(neighbor_indices, n_train: int) -> np.ndarray:
    """How often each of the N training examples appears among the neighbours.

    Parameters
    ----------
    neighbor_indices : array-like of int, shape (n, k)
        Training indices of each query's neighbours (e.g. from :meth:`KNN.kneighbors` or
        :func:`self_neighbors`).
    n_train : int
        N, the size of the training set.

    Returns
    -------
    counts : ndarray of shape (N,), int64
        ``counts[j]`` = number of (query, rank) slots holding example j; sums to ``n * k``.

    Example
    -------
    >>> retrieval_counts([[0, 1], [0, 2], [0, 1]], n_train=4).tolist()
    [3, 2, 1, 0]
    """
    n_train = check_int(n_train, "n_train", low=1)
    a = np.asarray(neighbor_indices)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"neighbor_indices must be a non-empty 2-D array (n, k); got shape {a.shape}")
    if a.dtype.kind not in "iu":
        raise ValueError(f"neighbor_indices must be integers; got dtype {a.dtype}")
    if a.min() < 0 or a.max() >= n_train:
        raise ValueError(f"neighbor_indices must lie in 0..{n_train - 1}; "
                         f"found values from {a.min()} to {a.max()}")
    return np.bincount(a.ravel(), minlength=n_train).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# the removal test
# ----------------------------------------------------------------------------------------------
def removal_sets(counts, fraction: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``round(fraction * N)`` most retrieved examples, and as many chosen at random.

    Parameters
    ----------
    counts : array-like of shape (N,)
        Retrieval counts (:func:`retrieval_counts`).
    fraction : float
        Share of the training set to remove, ``0 < fraction < 1``.
    seed : int, default=0
        Breaks ties among equal counts (many examples share a count) and draws the random
        control, so neither depends on the data's order.

    Returns
    -------
    top, random : ndarray of int64, each of length ``round(fraction * N)``
        Training indices, sorted.

    Example
    -------
    >>> top, rnd = removal_sets([5, 0, 9, 1, 0, 0, 2, 0, 0, 0], 0.2, seed=0)
    >>> top.tolist(), len(rnd)
    ([0, 2], 2)
    """
    c = np.asarray(counts)
    if c.ndim != 1 or c.size < 2 or c.dtype.kind not in "iuf" or (c < 0).any():
        raise ValueError(f"counts must be a 1-D array of N >= 2 non-negative numbers; got shape {c.shape}")
    fraction = check_real(fraction, "fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction} but expected 0 < fraction < 1")
    n = len(c)
    size = int(round(fraction * n))
    if not 1 <= size < n:
        raise ValueError(f"fraction={fraction} of N={n} removes {size} examples; "
                         f"expected between 1 and {n - 1}")
    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(n)
    order = np.lexsort((tiebreak, -c))  # most retrieved first, ties in a seeded order
    top = np.sort(order[:size])
    random = np.sort(rng.choice(n, size=size, replace=False))
    return top.astype(np.int64), random.astype(np.int64)


def matched_random_set(labels, reference, *, seed: int = 0, exclude=None) -> np.ndarray:
    """A random set with the same number of examples per gold label as ``reference``.

    The control for the removal test that the label mix of the removed set cannot explain:
    the most retrieved examples need not share the training set's label mix, and removing
    a label's examples costs that label's accuracy whatever their retrieval counts. For
    every label, draw as many examples with that label as ``reference`` holds, uniformly
    at random without replacement.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        Gold label of every training example.
    reference : array-like of int, shape (m,)
        Training indices whose label counts are matched (e.g. the top set of
        :func:`removal_sets`); distinct, in ``0..N-1``.
    seed : int, default=0
        The draw is a function of ``seed`` only (same seed, same set).
    exclude : array-like of int, optional
        Training indices never drawn (e.g. ``reference`` itself, for a control disjoint
        from the top set). By default every example may be drawn, as in the uniform
        control of :func:`removal_sets`, so the control overlaps the top set by chance.

    Returns
    -------
    ndarray of int64, shape (m,)
        Training indices, sorted, distinct; ``np.bincount(labels[result])`` equals
        ``np.bincount(labels[reference])``.

    Raises
    ------
    ValueError
        If a label has fewer candidates (after ``exclude``) than ``reference`` holds.

    Example
    -------
    >>> labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    >>> picked = matched_random_set(labels, [0, 1, 4], seed=0)
    >>> np.bincount(np.asarray(labels)[picked], minlength=3).tolist()
    [2, 1, 0]
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be a non-empty 1-D integer array (N,); "
                         f"got shape {y.shape}, dtype {y.dtype}")
    n = len(y)

    def indices(value, name):
        a = np.asarray(value)
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise ValueError(f"{name} must be a 1-D integer array of training indices; "
                             f"got shape {a.shape}, dtype {a.dtype}")
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{name} must lie in 0..{n - 1} (N = {n} labels); "
                             f"found values from {a.min()} to {a.max()}")
        if len(np.unique(a)) != len(a):
            raise ValueError(f"{name} holds {len(a) - len(np.unique(a))} repeated indices; "
                             "expected distinct training indices")
        return a

    ref = indices(reference, "reference")
    if ref.size == 0:
        raise ValueError("reference is empty; expected at least one training index")
    blocked = np.zeros(n, dtype=bool)
    if exclude is not None:
        blocked[indices(exclude, "exclude")] = True
    rng = np.random.default_rng([int(seed), 2])  # its own stream, apart from removal_sets'
    picked = []
    for label, need in zip(*np.unique(y[ref], return_counts=True)):
        pool = np.flatnonzero((y == label) & ~blocked)
        if len(pool) < need:
            raise ValueError(f"label {label}: reference holds {need} examples but only {len(pool)} "
                             f"candidates{' outside exclude' if exclude is not None else ''} "
                             "carry that label; expected at least as many")
        picked.append(rng.choice(pool, size=need, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


CONDITIONS = ("top", "random", "matched")
"""What the removal test removes: the most retrieved examples, a uniform random set of the
same size, and a random set with the top set's label mix (:func:`matched_random_set`)."""


def summarise_removal(runs: pd.DataFrame) -> dict:
    """Mean and standard deviation (over seeds) of the accuracy drop, per fraction.

    Returns
    -------
    dict
        ``{"0.1": {"top_drop_mean", "top_drop_sd", "random_drop_mean", "random_drop_sd",
        "gap_mean", "gap_sd", "n_seeds"}, ...}`` in percentage points; ``gap`` is top minus
        random, paired by seed. Where ``runs`` holds the ``"matched"`` control too, also
        ``matched_drop_mean``, ``matched_drop_sd``, ``gap_matched_mean`` and
        ``gap_matched_sd`` (top minus matched). A standard deviation over one seed is NaN
        (None in JSON).

    Example
    -------
    >>> runs = pd.DataFrame({"seed": [0, 0, 1, 1], "fraction": [0.1] * 4,
    ...                      "condition": ["top", "random"] * 2, "drop": [3.0, 1.0, 5.0, 1.0]})
    >>> s = summarise_removal(runs)["0.1"]
    >>> s["top_drop_mean"], s["random_drop_mean"], s["gap_mean"], round(s["gap_sd"], 3)
    (4.0, 1.0, 3.0, 1.414)
    """
    out = {}
    removed = runs[runs["condition"].isin(CONDITIONS)]
    sd = (lambda s: float(s.std(ddof=1)) if len(s) > 1 else None)
    for fraction, grp in removed.groupby("fraction"):
        wide = grp.pivot(index="seed", columns="condition", values="drop")
        gap = wide["top"] - wide["random"]
        out[f"{fraction:g}"] = {
            "top_drop_mean": float(wide["top"].mean()), "top_drop_sd": sd(wide["top"]),
            "random_drop_mean": float(wide["random"].mean()), "random_drop_sd": sd(wide["random"]),
            "gap_mean": float(gap.mean()), "gap_sd": sd(gap), "n_seeds": int(len(wide)),
        }
        if "matched" in wide:
            gap_m = wide["top"] - wide["matched"]
            out[f"{fraction:g}"].update({
                "matched_drop_mean": float(wide["matched"].mean()), "matched_drop_sd": sd(wide["matched"]),
                "gap_matched_mean": float(gap_m.mean()), "gap_matched_sd": sd(gap_m)})
    return out


def _stat(values) -> dict:
    """``{"mean", "sd", "n"}`` of a list of numbers; ``sd`` (ddof=1) is None below 2 values."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()) if v.size else None,
            "sd": float(v.std(ddof=1)) if v.size > 1 else None, "n": int(v.size)}


def removal_record(runs: pd.DataFrame) -> dict:
    """The removal test per seed, with every summary number's mean, sd and seed count.

    Parameters
    ----------
    runs : DataFrame
        From :func:`nbhelpers.experiments.removal_test`: ``seed``, ``fraction``, ``condition`` (``"full"`` plus
        any of :data:`CONDITIONS`), ``accuracy`` and ``drop`` (points). Every seed needs
        its ``"full"`` row and the same removals.

    Returns
    -------
    dict
        JSON-ready, lists in the order of ``seeds``, all in percentage points:

        - ``n_seeds``, ``seeds``, ``full_acc`` (the full model's test accuracy per seed);
        - ``drops``: ``{"0.1": {"top": [...], "random": [...], "matched": [...]}, ...}``,
          the *total* drop after removing that share, per seed;
        - ``increments``: ``{"top": [...], ...}``, drop at the largest fraction minus drop at
          the smallest, per seed (what the paper's "a further 6% vs 4%" measures), and
          ``increment_fractions`` (``["0.1", "0.3"]``); empty with a single fraction;
        - ``summary``: ``{"full_acc": stat, "drops": {fraction: {condition: stat}},
          "increments": {condition: stat}, "gaps": {fraction or "increment":
          {"top_minus_random": stat, "top_minus_matched": stat}}}``, where a stat is
          ``{"mean", "sd", "n"}`` (``sd`` None with one seed) and gaps are paired by seed.

    Example
    -------
    >>> runs = pd.DataFrame({"seed": [0] * 3 + [1] * 3, "fraction": [0.0, 0.1, 0.1] * 2,
    ...     "condition": ["full", "top", "random"] * 2, "accuracy": [70, 66, 69, 72, 66, 71],
    ...     "drop": [0.0, 4.0, 1.0, 0.0, 6.0, 1.0]})
    >>> r = removal_record(runs)
    >>> r["drops"]["0.1"]["top"], r["summary"]["gaps"]["0.1"]["top_minus_random"]
    ([4.0, 6.0], {'mean': 4.0, 'sd': 1.4142135623730951, 'n': 2})
    """
    need = {"seed", "fraction", "condition", "accuracy", "drop"}
    if not isinstance(runs, pd.DataFrame) or not need <= set(runs.columns):
        got = sorted(runs.columns) if isinstance(runs, pd.DataFrame) else type(runs).__name__
        raise ValueError(f"runs must be a DataFrame with columns {sorted(need)}; got {got}")
    full = runs[runs["condition"] == "full"].set_index("seed")["accuracy"]
    seeds = sorted(int(s) for s in runs["seed"].unique())
    missing = [s for s in seeds if s not in full.index]
    if missing or full.index.duplicated().any():
        raise ValueError(f"every seed needs exactly one 'full' row; seeds {missing} have none"
                         if missing else "a seed has more than one 'full' row")
    removed = runs[runs["condition"].isin(CONDITIONS)]
    conditions = [c for c in CONDITIONS if c in set(removed["condition"])]
    fractions = sorted(float(f) for f in removed["fraction"].unique())
    drops = {}
    for fraction in fractions:
        grp = removed[removed["fraction"] == fraction]
        wide = grp.pivot(index="seed", columns="condition", values="drop").reindex(seeds)
        if wide.isna().any().any():
            raise ValueError(f"fraction {fraction:g}: every seed needs every condition {conditions}; "
                             f"missing {int(wide.isna().sum().sum())} runs")
        drops[f"{fraction:g}"] = {c: [float(v) for v in wide[c]] for c in conditions}
    increments, span = {}, []
    if len(fractions) > 1:
        lo, hi = f"{fractions[0]:g}", f"{fractions[-1]:g}"
        span = [lo, hi]
        increments = {c: [b - a for a, b in zip(drops[lo][c], drops[hi][c])] for c in conditions}

    def gaps(per_condition):
        return {f"top_minus_{c}": _stat([t - o for t, o in zip(per_condition["top"], per_condition[c])])
                for c in ("random", "matched") if "top" in per_condition and c in per_condition}

    summary = {
        "full_acc": _stat(full.reindex(seeds)),
        "drops": {f: {c: _stat(v) for c, v in d.items()} for f, d in drops.items()},
        "increments": {c: _stat(v) for c, v in increments.items()},
        "gaps": {**{f: gaps(d) for f, d in drops.items()},
                 **({"increment": gaps(increments)} if increments else {})},
    }
    return {"n_seeds": len(seeds), "seeds": seeds,
            "full_acc": [float(full[s]) for s in seeds], "fractions": [f"{f:g}" for f in fractions],
            "conditions": conditions, "drops": drops, "increments": increments,
            "increment_fractions": span, "summary": summary}


def format_stat(stat: dict, *, signed: bool = False, seeds: bool = True) -> str:
    """``{"mean", "sd", "n"}`` as text: ``"5.0 ± 1.4 (2 seeds)"``, ``"4.0 (1 seed)"``.

    Example
    -------
    >>> format_stat({"mean": 3.5, "sd": 0.71, "n": 2}, signed=True), format_stat({"mean": 4.0, "sd": None, "n": 1})
    ('+3.5 ± 0.7 (2 seeds)', '4.0 (1 seed)')
    """
    text = f"{stat['mean']:+.1f}" if signed else f"{stat['mean']:.1f}"
    if stat.get("sd") is not None:
        text += f" ± {stat['sd']:.1f}"
    if seeds:
        text += f" ({stat['n']} seed{'s' if stat['n'] != 1 else ''})"
    return text


def _paper_value(paper: dict | None, condition: str, fraction: str | None) -> str:
    """The paper's total at ``fraction`` (or its increment when None), as text; "-" if absent.

    A total that equals the smallest fraction's total plus the increment is shown as that sum,
    since the paper states the increment, not the total.
    """
    if not paper:
        return "-"
    if fraction is None:
        value = paper.get("increment", {}).get(condition)
        return "-" if value is None else f"{value:.1f}"
    totals = paper.get(condition, {})
    value = totals.get(float(fraction))
    if value is None:
        return "-"
    inc, lo = paper.get("increment", {}).get(condition), min(totals)
    if inc is not None and float(fraction) != lo and abs(totals[lo] + inc - value) < 1e-9:
        return f"{value:.1f} (= {totals[lo]:.1f} + {inc:.1f})"
    return f"{value:.1f}"


def removal_table(record: dict, paper: dict | None = None) -> pd.DataFrame:
    """Totals and increments, ours (mean ± sd) beside the paper's, one row each, labelled.

    Parameters
    ----------
    record : dict
        From :func:`removal_record`.
    paper : dict, optional
        Shaped like :data:`nbhelpers.paper.REMOVAL`.

    Returns
    -------
    DataFrame
        Rows ``"total drop, 10% removed"``, ..., ``"increment, 10% to 30% removed"``;
        columns per condition, ours and the paper's, the paired gaps, and ``seeds``.

    Example
    -------
    >>> rec = removal_record(pd.DataFrame({"seed": [0, 0, 0], "fraction": [0.0, 0.1, 0.1],
    ...     "condition": ["full", "top", "random"], "accuracy": [70, 66, 69], "drop": [0.0, 4.0, 1.0]}))
    >>> removal_table(rec, {"top": {0.1: 4.6}, "random": {0.1: 1.2}}).iloc[0, :-1].tolist()
    ['4.0', '4.6', '1.0', '1.2', '+3.0']
    """
    s = record["summary"]
    names = {"top": "most retrieved", "random": "random", "matched": "random, matched labels"}
    rows = {}
    parts = [(f"total drop, {float(f):.0%} removed", f, s["drops"][f], s["gaps"][f]) for f in s["drops"]]
    if s.get("increments"):
        lo, hi = record["increment_fractions"]
        parts.append((f"increment, {float(lo):.0%} to {float(hi):.0%} removed", None,
                      s["increments"], s["gaps"]["increment"]))
    for label, fraction, stats, gaps in parts:
        row = {}
        for cond in record["conditions"]:
            row[f"{names[cond]} (ours)"] = format_stat(stats[cond], seeds=False)
            if cond != "matched":
                row[f"{names[cond]} (paper)"] = _paper_value(paper, cond, fraction)
        for key, stat in gaps.items():
            row[key.replace("_minus_", " - ") + " (ours)"] = format_stat(stat, signed=True, seeds=False)
        row["seeds"] = record["n_seeds"]
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def describe_removal(record: dict, paper: dict | None = None) -> list[str]:
    """Markdown bullets: each total and increment, ours (mean ± sd, seeds) beside the paper's.

    Each bullet ends with the paired gaps (most retrieved minus each control) and their 95%
    t interval over seeds, saying whether it excludes 0 (no interval with one seed).

    Example
    -------
    >>> rec = removal_record(pd.DataFrame({"seed": [0, 0, 0], "fraction": [0.0, 0.1, 0.1],
    ...     "condition": ["full", "top", "random"], "accuracy": [70, 66, 69], "drop": [0.0, 4.0, 1.0]}))
    >>> describe_removal(rec, {"top": {0.1: 4.6}, "random": {0.1: 1.2}})[0][:60]
    '- **Total drop, 10% removed**: most retrieved 4.0 (1 seed), '
    """
    s = record["summary"]
    names = {"top": "most retrieved", "random": "random", "matched": "random with the top set's label mix"}
    parts = [(f"Total drop, {float(f):.0%} removed", f, s["drops"][f], s["gaps"][f]) for f in s["drops"]]
    if s.get("increments"):
        lo, hi = record["increment_fractions"]
        parts.append((f"Increment from {float(lo):.0%} to {float(hi):.0%} removed", None,
                      s["increments"], s["gaps"]["increment"]))
    lines = []
    for label, fraction, stats, gaps in parts:
        ours = ", ".join(f"{names[c]} {format_stat(stats[c])}" for c in record["conditions"])
        theirs = [f"{names[c]} {_paper_value(paper, c, fraction)}" for c in ("top", "random")
                  if _paper_value(paper, c, fraction) != "-"]
        text = f"- **{label}**: {ours}" + (f"; the paper (BERT): {', '.join(theirs)}" if theirs else "") + "."
        for key, stat in gaps.items():
            other = key.split("_minus_")[1]
            if stat["sd"] is None:
                judged = "one seed, so no interval"
            else:
                _, lo, hi = t_interval_from(stat["mean"], stat["sd"], stat["n"])
                judged = f"95% interval {lo:+.1f} to {hi:+.1f}, " + \
                         ("which excludes 0" if lo > 0 or hi < 0 else "which includes 0")
            text += f" Most retrieved minus {other}: {format_stat(stat, signed=True)}, {judged}."
        lines.append(text)
    return lines


def seeds_for_gap(sd: float, gap: float, *, alpha: float = 0.05, power: float = 0.8,
                  max_seeds: int = 1000) -> int:
    """Seeds per condition needed to tell two conditions ``gap`` points apart.

    The smallest n for which a two-sided two-sample t-test at level ``alpha``, with n seeds
    in each condition and the same seed-to-seed standard deviation ``sd`` in both, detects
    a true difference of ``gap`` with probability ``power`` (noncentral t; unpaired, which
    is conservative when the seeds pair the conditions).

    Parameters
    ----------
    sd : float
        Seed-to-seed standard deviation of one condition's result, > 0.
    gap : float
        The difference to detect, in the same units, != 0.
    alpha, power : float, default=0.05, 0.8
    max_seeds : int, default=1000
        Give up (ValueError) beyond this many.

    Returns
    -------
    int
        n >= 2.

    Example
    -------
    >>> seeds_for_gap(1.6, 3.0), seeds_for_gap(1.1, 3.0), seeds_for_gap(3.0, 3.0)
    (6, 4, 17)
    """
    from scipy import stats

    sd, gap = check_real(sd, "sd"), check_real(gap, "gap")
    if sd <= 0:
        raise ValueError(f"sd={sd} but expected sd > 0")
    if gap == 0:
        raise ValueError("gap=0.0 but expected a non-zero difference to detect")
    for name, value in (("alpha", alpha), ("power", power)):
        value = check_real(value, name)
        if not 0 < value < 1:
            raise ValueError(f"{name}={value} but expected 0 < {name} < 1")
    max_seeds = check_int(max_seeds, "max_seeds", low=2)
    effect = abs(gap) / sd
    for n in range(2, max_seeds + 1):
        df, ncp = 2 * n - 2, effect * np.sqrt(n / 2)
        t = stats.t.ppf(1 - alpha / 2, df)
        if stats.nct.sf(t, df, ncp) + stats.nct.cdf(-t, df, ncp) >= power:
            return n
    raise ValueError(f"a gap of {gap} with sd {sd} needs more than max_seeds={max_seeds} seeds")


def seeds_for_gap_from_accuracy_sd(accuracy_sd: float, gap: float, **options) -> dict:
    """Seeds per condition for a removal-test gap, from the seed spread of plain accuracy.

    A one-seed removal test measures no spread of its drops. What another run of the same
    recipe can measure is the seed-to-seed sd of the *accuracy* itself (chapter 2 repeats the
    SNLI-original fine-tune over a few seeds). This is a plug-in guide, not a bound: it takes
    ``accuracy_sd`` as each condition's seed sd (the gap between two conditions at one seed
    is a difference of two retrained models' accuracies; the full model cancels), and
    ``sqrt(2) * accuracy_sd`` as a rougher, larger guess (a drop's own sd, full model
    included, if the two fine-tunes were independent). Both rest on an sd estimated from a
    few seeds (with 3 seeds its 95% interval spans about 0.5x to 6x the estimate), and the
    retrained models, on 70-90% of the pairs and different removed sets, may vary more than
    the full one; only a multi-seed removal test measures the spread itself.

    Parameters
    ----------
    accuracy_sd : float
        Seed-to-seed sd of test accuracy, in points, > 0.
    gap : float
        The difference between two conditions' drops to detect, in points.
    **options
        ``alpha``, ``power``, ``max_seeds`` of :func:`seeds_for_gap`.

    Returns
    -------
    dict
        ``sd_low``, ``sd_high`` (points) and ``seeds_low``, ``seeds_high``.

    Example
    -------
    >>> r = seeds_for_gap_from_accuracy_sd(1.1, 3.0)
    >>> round(r["sd_high"], 2), r["seeds_low"], r["seeds_high"]
    (1.56, 4, 6)
    """
    sd = check_real(accuracy_sd, "accuracy_sd")
    if sd <= 0:
        raise ValueError(f"accuracy_sd={sd} but expected accuracy_sd > 0 (points)")
    low, high = sd, float(np.sqrt(2.0)) * sd
    return {"sd_low": low, "sd_high": high, "seeds_low": seeds_for_gap(low, gap, **options),
            "seeds_high": seeds_for_gap(high, gap, **options)}


def top_set_overlap(counts_a, counts_b, fraction: float = 0.1, *, seed: int = 0) -> dict:
    """Do two retrieval counts pick the same most retrieved ``fraction`` of the examples?

    Each top set is :func:`removal_sets`' top set (ties broken by ``seed``), e.g. counts
    from training queries (the removal test's) against counts from test queries (the
    paper's "across the whole test set").

    Parameters
    ----------
    counts_a, counts_b : array-like of shape (N,)
        Retrieval counts of the same N training examples.
    fraction : float, default=0.1
    seed : int, default=0

    Returns
    -------
    dict
        ``n_top`` (size of each set), ``n_shared``, ``overlap`` (``n_shared / n_top``) and
        ``chance`` (``n_top / N``, the expected overlap of two unrelated sets).

    Example
    -------
    >>> top_set_overlap([9, 8, 0, 0, 1, 0, 0, 0, 0, 0], [9, 0, 8, 0, 0, 0, 0, 0, 0, 0], 0.2)
    {'n_top': 2, 'n_shared': 1, 'overlap': 0.5, 'chance': 0.2}
    """
    a, b = np.asarray(counts_a), np.asarray(counts_b)
    if a.shape != b.shape:
        raise ValueError(f"counts_a and counts_b must have the same shape (N,); got {a.shape} and {b.shape}")
    top_a, _ = removal_sets(a, fraction, seed=seed)
    top_b, _ = removal_sets(b, fraction, seed=seed)
    shared = len(np.intersect1d(top_a, top_b))
    return {"n_top": len(top_a), "n_shared": int(shared), "overlap": shared / len(top_a),
            "chance": len(top_a) / len(a)}


# ----------------------------------------------------------------------------------------------
# explanation by example
# ----------------------------------------------------------------------------------------------
def neighbor_table(train_df: pd.DataFrame, indices, distances=None, weights=None) -> pd.DataFrame:
    """One query's neighbours as a table: rank, premise, hypothesis, gold label, distance, weight.

    Parameters
    ----------
    train_df : DataFrame with ``premise``, ``hypothesis``, ``label``
    indices : array-like of int, shape (k,)
        Training indices, nearest first.
    distances, weights : array-like of shape (k,), optional
        Squared distances and kNN weights (``softmax(-d / T)``) to show beside them.

    Returns
    -------
    DataFrame
        Indexed by rank (1 = nearest); the text is left as is (escape it before writing
        HTML yourself; pandas' Styler and ``to_html`` escape it by default).

    Example
    -------
    >>> tr = pd.DataFrame({"premise": ["a", "b"], "hypothesis": ["c", "d"], "label": [0, 2]})
    >>> neighbor_table(tr, [1, 0], distances=[0.5, 2.0])[["label", "distance"]].to_dict("list")
    {'label': ['contradiction', 'entailment'], 'distance': [0.5, 2.0]}
    """
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(f"indices must be a 1-D integer array (k,); got shape {idx.shape}, dtype {idx.dtype}")
    if len(idx) and (idx.min() < 0 or idx.max() >= len(train_df)):
        raise ValueError(f"indices must lie in 0..{len(train_df) - 1}")
    rows = train_df.iloc[idx]
    if len(idx):
        check_labels(rows["label"].to_numpy(), len(LABELS), "train_df['label'] of the neighbours")
    table = pd.DataFrame({
        "train index": idx,
        "premise": rows["premise"].to_numpy(),
        "hypothesis": rows["hypothesis"].to_numpy(),
        "label": [LABELS[int(y)] for y in rows["label"]],
    }, index=pd.RangeIndex(1, len(idx) + 1, name="rank"))
    for name, values in (("distance", distances), ("weight", weights)):
        if values is not None:
            v = np.asarray(values, dtype=float)
            if v.shape != idx.shape:
                raise ValueError(f"{name} has shape {v.shape}; expected {idx.shape} like indices")
            table[name] = v
    return table


# ----------------------------------------------------------------------------------------------
# influence functions (captum)
# ----------------------------------------------------------------------------------------------
def _pairs_loader(tokenizer, df: pd.DataFrame, labels, batch_size: int, max_length: int, device=None):
    """A DataLoader of ``(input_ids, attention_mask, token_type_ids, label)`` batches on ``device``."""
    import torch
    from torch.utils.data import DataLoader

    device = device if device is not None else torch.device("cpu")

    enc = tokenizer(df["premise"].tolist(), df["hypothesis"].tolist(), truncation=True,
                    max_length=max_length)
    ids = enc["input_ids"]
    types = enc["token_type_ids"] if "token_type_ids" in enc else [[0] * len(i) for i in ids]
    items = [(ids[i], types[i], int(labels[i])) for i in range(len(df))]
    pad = tokenizer.pad_token_id or 0

    def collate(batch):
        width = max(len(ids) for ids, _, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        types = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (i, t, _) in enumerate(batch):
            ids[row, :len(i)] = torch.tensor(i)
            mask[row, :len(i)] = 1
            types[row, :len(t)] = torch.tensor(t)
        out = ids, mask, types, torch.tensor([y for _, _, y in batch], dtype=torch.long)
        return tuple(t.to(device) for t in out)

    return DataLoader(items, batch_size=batch_size, shuffle=False, collate_fn=collate)


@contextlib.contextmanager
def _quiet():
    """captum warns, for every batch, that integer token ids cannot require gradients."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"[\s\S]*Gradients cannot be activated")
        yield


@contextlib.contextmanager
def _only_grad_for(module, layer_modules):
    """Gradients for ``layer_modules`` only, and no backward pass below their inputs.

    captum differentiates the loss with respect to the chosen layers, but with every
    parameter trainable autograd would also run the whole transformer backward (seconds
    per batch). Freezing the rest and making each chosen layer's input a leaf that
    requires grad (captum hooks it for per-example gradients) stops the backward pass at
    the head. Restored on exit.
    """
    keep = {id(p) for m in layer_modules for p in m.parameters()}
    saved = {p: p.requires_grad for p in module.parameters()}

    def leaf_input(mod, args):
        x = args[0]
        if x.is_floating_point() and not x.requires_grad:
            return (x.detach().requires_grad_(True), *args[1:])
        return None

    hooks = [m.register_forward_pre_hook(leaf_input) for m in layer_modules]
    try:
        for p in module.parameters():
            p.requires_grad_(id(p) in keep)
        yield
    finally:
        for h in hooks:
            h.remove()
        for p, flag in saved.items():
            p.requires_grad_(flag)


def _logits_module(model):
    """Wrap a Hugging Face classifier so that ``module(ids, mask, types)`` returns logits."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, hf):
            super().__init__()
            self.hf = hf

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.hf(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).logits

    return Logits(model).eval()


class InfluenceExplainer:
    """Koh & Liang (2017) influence of every training example on a prediction (captum).

    ``score(z, x) = grad L(x)^T  H^-1  grad L(z)`` (captum's convention): to first order, how
    much the loss of query x would rise if training example z were down-weighted and the
    model retrained, with the gradients and the Hessian H of the training loss restricted
    to ``layers``. captum's
    :class:`~captum.influence.NaiveInfluenceFunction` forms H explicitly, so ``layers``
    must be small: the classification head (``"classifier"``, 384 x 3 + 3 = 1,155
    parameters for MiniLM) is the usual choice in NLP (e.g. Han et al., 2020, also probe
    the top layer); influence over all 22M parameters needs a Hessian-vector-product
    approximation (LiSSA, Arnoldi), slower still.

    A query is explained at the model's *predicted* label (why did it say this?), as the
    kNN explanation is. Positive scores are *proponents* (removing them would hurt the
    prediction), negative ones *opponents*.

    Parameters
    ----------
    model : NLIModel
    layers : sequence of str, default=("classifier",)
        Module names inside the Hugging Face model.
    batch_size : int, default=64
    max_length : int, default=128
    projection_dim : int, default=50
        Rank of captum's low-rank inverse-Hessian approximation (its default).
    hessian_reg : float, default=1e-3
        Added to the Hessian's diagonal before it is inverted (H is singular when the
        training pairs are fewer than the parameters, and ill-conditioned otherwise).
    hessian_size : int, optional
        Estimate H on a random sample of this many training pairs (seeded) instead of all
        of them: captum's cost of forming H grows with the pairs (about 3 minutes for
        1,666 MiniLM pairs on 2 CPU cores), while the influence scores still cover every
        training pair. ``None`` (default) uses all.
    seed : int, default=0

    Attributes
    ----------
    n_train_ : int
        Training pairs scored (every pair given to :meth:`fit`).
    hessian_size_ : int
        Training pairs the Hessian was estimated on.
    setup_seconds_ : float
        Time :meth:`fit` took (captum forms and decomposes the Hessian there).

    Example
    -------
    ``InfluenceExplainer(model).fit(train_df).top_k(query_df, k=16)`` gives the 16 strongest
    proponents of each query's prediction (indices into ``train_df``, and their scores).
    """

    def __init__(self, model, *, layers: Sequence[str] = ("classifier",), batch_size: int = 64,
                 max_length: int = 128, projection_dim: int = 50, hessian_reg: float = 1e-3,
                 hessian_size: int | None = None, seed: int = 0):
        self.model = model
        self.layers = layers
        self.batch_size = batch_size
        self.max_length = max_length
        self.projection_dim = projection_dim
        self.hessian_reg = hessian_reg
        self.hessian_size = hessian_size
        self.seed = seed

    @timing.timed('influence functions')
    def fit(self, train_df: pd.DataFrame) -> "InfluenceExplainer":
        """Check the options, form and decompose the Hessian over ``layers``; returns ``self``."""
        import torch
        from captum.influence import NaiveInfluenceFunction

        start = time.perf_counter()
        model, layers, max_length = self.model, list(self.layers), self.max_length
        names = dict(model.model.named_modules())
        unknown = [name for name in layers if name not in names]
        if unknown:
            heads = [n for n in names if n and "." not in n]
            raise ValueError(f"unknown layers {unknown}; the model's top-level modules are {heads}")
        n_params = sum(p.numel() for name in layers for p in names[name].parameters())
        if n_params > 20_000:
            raise ValueError(f"layers {layers} hold {n_params:,} parameters: the explicit "
                             "Hessian would be too large; choose a smaller part (e.g. 'classifier')")
        projection_dim = min(int(self.projection_dim), n_params)
        self.module_ = _logits_module(model.model)
        device = next(model.model.parameters()).device
        train = _pairs_loader(model.tokenizer, train_df, train_df["label"].to_numpy(),
                              self.batch_size, max_length, device=device)
        # captum forms the Hessian batch by batch at a cost per batch of one backward pass
        # per parameter, so it gets one batch: all training pairs or a seeded sample of them
        if self.hessian_size is None:
            hessian_df = train_df
        else:
            size = check_int(self.hessian_size, "hessian_size", low=1, high=len(train_df))
            hessian_df = train_df.sample(size, random_state=self.seed)
        hessian = _pairs_loader(model.tokenizer, hessian_df, hessian_df["label"].to_numpy(),
                                len(hessian_df), max_length, device=device)
        torch.manual_seed(self.seed)
        self.layers_ = [names[name] for name in layers]
        with _quiet(), _only_grad_for(model.model, self.layers_):
            self.captum_ = NaiveInfluenceFunction(
                self.module_, train, checkpoint="(the loaded model)",
                checkpoints_load_func=lambda module, path: 1.0,  # the weights are already loaded
                layers=[f"hf.{name}" for name in layers],
                loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"),
                sample_wise_grads_per_batch=True, projection_dim=projection_dim, seed=self.seed,
                hessian_reg=self.hessian_reg, hessian_dataset=hessian)
        self.n_train_ = len(train_df)
        self.hessian_size_ = len(hessian_df)
        self.setup_seconds_ = time.perf_counter() - start
        return self

    def _check_is_fitted(self):
        if not hasattr(self, "captum_"):
            raise knn_mod.NotFittedError("this InfluenceExplainer is not fitted; call .fit(train_df) first")

    def _inputs(self, query_df: pd.DataFrame):
        import torch

        loader = _pairs_loader(self.model.tokenizer, query_df, np.zeros(len(query_df), int),
                               len(query_df), self.max_length, device=next(self.model.model.parameters()).device)
        ids, mask, types, _ = next(iter(loader))
        with torch.no_grad():
            predicted = self.module_(ids, mask, types).argmax(-1)
        return ids, mask, types, predicted

    @timing.timed('influence functions')
    def scores(self, query_df: pd.DataFrame) -> np.ndarray:
        """Influence of every training example on each query's prediction, shape (n, N)."""
        import torch

        self._check_is_fitted()
        inputs = self._inputs(query_df)
        with torch.enable_grad(), _quiet(), _only_grad_for(self.model.model, self.layers_):
            s = self.captum_.influence(inputs, k=None)
        return s.detach().cpu().numpy()

    def top_k(self, query_df: pd.DataFrame, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """The k strongest proponents of each query's prediction: (indices, scores), (n, k)."""
        self._check_is_fitted()
        k = check_int(k, "k", low=1, high=self.n_train_)
        s = self.scores(query_df)
        idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(s, idx, 1)


def topk_overlap(a, b) -> float:
    """Mean share of one method's top-k training examples that the other also lists.

    Parameters
    ----------
    a, b : array-like of int, shape (n, k)
        Per query, the k training indices each method ranks first (order ignored).

    Returns
    -------
    float
        ``mean_i |a_i & b_i| / k``; 0 = disjoint, 1 = the same sets. Two random k-subsets of
        N examples overlap by about k / N.

    Example
    -------
    >>> topk_overlap([[1, 2, 3, 4], [5, 6, 7, 8]], [[4, 3, 9, 10], [1, 2, 0, 11]])
    0.25
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError(f"a and b must be non-empty 2-D arrays of the same shape (n, k); "
                         f"got {a.shape} and {b.shape}")
    k = a.shape[1]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a.tolist(), b.tolist())]))

