"""Intervals and tests for the book's comparisons, on :mod:`scipy.stats`.

Each comparison gets the test its data need:

========================== ==================================================================
data                        test
========================== ==================================================================
two methods, same examples  :func:`paired_bootstrap` of the accuracy difference, and beside it
                            :func:`mcnemar` (exact, on the discordant pairs) where they are few
examples in groups          :func:`cluster_bootstrap` (HANS subcases; CAD originals with their
                            revisions): resample whole groups
per-seed results            :func:`t_interval` over the seeds
seeds *and* examples        :func:`hierarchical_bootstrap`: seeds, then examples within each
two proportions             :func:`newcombe` (Wilson score intervals combined)
========================== ==================================================================

:func:`n_to_decide` turns an inconclusive interval into the number of seeds or examples
that would decide it, if the spread stays as measured. Bootstraps are percentile intervals
with a fixed ``seed``, so every number is reproducible.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _level(ci):
    if isinstance(ci, bool) or not isinstance(ci, (int, float, np.floating)) or not 0 < ci < 1:
        raise ValueError(f"ci={ci!r} but expected a coverage strictly between 0 and 1")
    return float(ci)


def _resamples(n_resamples):
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples!r} but expected a positive integer")
    return int(n_resamples)


def _correct(values, name):
    """A non-empty 1-D array of 0/1 (or booleans) as float."""
    c = np.asarray(values)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {c.shape}")
    if c.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold booleans or 0/1, got dtype {c.dtype}")
    c = c.astype(float)
    if not np.isin(c, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold booleans or 0/1, got values {np.unique(c)[:5]}")
    return c


def _pair(correct_a, correct_b):
    a, b = _correct(correct_a, "correct_a"), _correct(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must have the same length, got {a.size} and {b.size}")
    return a, b


def _percentiles(draws, ci):
    alpha = (1 - ci) / 2
    return float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))


def t_interval(values, *, ci: float = 0.95) -> tuple[float, float | None, float | None]:
    """Mean of per-seed values with its Student-t interval.

    Parameters
    ----------
    values : (n_seeds,) array of float
        One result per seed (for example a backoff gain in points).
    ci : float, default=0.95

    Returns
    -------
    mean, low, high : float
        ``low`` and ``high`` are ``None`` for a single value: one seed measures no spread.

    Example
    -------
    >>> m, lo, hi = t_interval([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    >>> t_interval([1.5])
    (1.5, None, None)
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"expected one or more finite values, got {values!r}")
    if x.size == 1:
        return float(x[0]), None, None
    return t_interval_from(float(x.mean()), float(x.std(ddof=1)), x.size, ci=ci)


def t_interval_from(mean: float, sd: float, n: int, *, ci: float = 0.95) -> tuple[float, float, float]:
    """:func:`t_interval` from a summary: the mean, the sample sd (ddof=1) and n >= 2 values.

    Example
    -------
    >>> m, lo, hi = t_interval_from(2.0, 1.0, 3)
    >>> round(lo, 3), round(hi, 3)
    (-0.484, 4.484)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n={n!r} but expected at least 2 values for a t-interval")
    if not (math.isfinite(mean) and math.isfinite(sd) and sd >= 0):
        raise ValueError(f"expected a finite mean and sd >= 0, got mean={mean!r}, sd={sd!r}")
    half = float(stats.t.ppf(0.5 + _level(ci) / 2, n - 1) * sd / math.sqrt(n))
    return float(mean), mean - half, mean + half


def bootstrap_ci(correct, *, n_resamples: int = 2000, seed: int = 0,
                 ci: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval for an accuracy (the mean of per-example correctness).

    Parameters
    ----------
    correct : (n,) bool or 0/1
        Per-example correctness.
    n_resamples, seed, ci
        Resamples, their random seed, and the interval's coverage.

    Returns
    -------
    (low, high) : tuple of float

    Example
    -------
    >>> lo, hi = bootstrap_ci([1, 1, 1, 0] * 100)
    >>> lo < 0.75 < hi, round(hi - lo, 2) < 0.1
    (True, True)
    """
    c = _correct(correct, "correct")
    rng = np.random.default_rng(seed)
    means = c[rng.integers(0, len(c), size=(_resamples(n_resamples), len(c)))].mean(1)
    return _percentiles(means, _level(ci))


def paired_bootstrap(correct_a, correct_b, *, n_resamples: int = 2000, seed: int = 0,
                     ci: float = 0.95) -> dict:
    """Accuracy difference ``b - a`` on the same examples, with a percentile bootstrap interval.

    Examples are resampled one by one, both methods together. Where few examples differ
    between the two (a small slice), report :func:`mcnemar` beside it: a percentile
    interval can exclude 0 only because some resamples draw no discordant pair at all.

    Parameters
    ----------
    correct_a, correct_b : (n,) bool or 0/1
        Per-example correctness of two methods on the same examples.

    Returns
    -------
    dict
        ``diff`` (accuracy of b minus accuracy of a), ``lo``, ``hi`` and ``p_better`` (the
        share of resamples in which b beats a).

    Example
    -------
    >>> r = paired_bootstrap([1, 0, 0, 1] * 50, [1, 1, 0, 1] * 50)
    >>> r["diff"], r["lo"] > 0
    (0.25, True)
    """
    a, b = _pair(correct_a, correct_b)
    rng = np.random.default_rng(seed)
    d = b - a
    means = d[rng.integers(0, len(d), size=(_resamples(n_resamples), len(d)))].mean(1)
    lo, hi = _percentiles(means, _level(ci))
    return {"diff": float(d.mean()), "lo": lo, "hi": hi, "p_better": float((means > 0).mean())}


def mcnemar(correct_a, correct_b, *, ci: float = 0.95) -> dict:
    """Exact McNemar test: do two methods on the same examples differ?

    Only the discordant examples carry information: ``a_only`` (a right, b wrong) and
    ``b_only`` (b right, a wrong). Under no difference each discordant example is a fair
    coin, so the two-sided p-value is :func:`scipy.stats.binomtest` of ``b_only`` out of
    ``a_only + b_only`` at 1/2 (1.0 when nothing is discordant).

    The interval for the accuracy difference ``b - a = (b_only - a_only) / n`` that goes with
    it is exact and conditional on the number of discordant pairs ``m``: the Clopper-Pearson
    interval ``[L, U]`` for ``b_only / m``, mapped to ``m / n * (2L - 1, 2U - 1)``. It excludes
    0 exactly when ``p < 1 - ci`` (up to the two-sided test's convention).

    Parameters
    ----------
    correct_a, correct_b : (n,) bool or 0/1
    ci : float, default=0.95

    Returns
    -------
    dict
        ``n``, ``a_only``, ``b_only``, ``p`` (two-sided exact p-value), ``diff``, ``lo``, ``hi``.

    Example
    -------
    >>> r = mcnemar([1, 1, 1, 1, 0], [0, 0, 0, 0, 0])   # 4 pairs went right -> wrong, none back
    >>> r["a_only"], r["b_only"], r["p"], r["diff"], round(r["lo"], 3), round(r["hi"], 3)
    (4, 0, 0.125, -0.8, -0.8, 0.164)
    """
    a, b = _pair(correct_a, correct_b)
    a_only, b_only = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    m, n = a_only + b_only, int(a.size)
    if m == 0:
        return {"n": n, "a_only": 0, "b_only": 0, "p": 1.0, "diff": 0.0, "lo": 0.0, "hi": 0.0}
    test = stats.binomtest(b_only, m, 0.5)
    low, high = test.proportion_ci(_level(ci), method="exact")
    return {"n": n, "a_only": a_only, "b_only": b_only, "p": float(test.pvalue),
            "diff": (b_only - a_only) / n, "lo": m / n * (2 * low - 1), "hi": m / n * (2 * high - 1)}


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}={value!r} but expected an int >= 0")
    return int(value)


def newcombe(count_a: int, n_a: int, count_b: int, n_b: int, *,
             ci: float = 0.95) -> tuple[float, float, float]:
    """``count_b / n_b - count_a / n_a`` with Newcombe's hybrid score interval.

    Newcombe (1998, method 10) combines the two Wilson score intervals. Unlike the Wald
    interval it stays inside [-1, 1] and keeps its coverage with few counts (3 of 8).

    Parameters
    ----------
    count_a, n_a, count_b, n_b : int
        Successes and trials of the two independent proportions, ``0 <= count <= n``, ``n >= 1``.
    ci : float, default=0.95

    Returns
    -------
    diff, low, high : float

    Example
    -------
    >>> d, lo, hi = newcombe(3, 8, 58, 97)
    >>> round(d, 3), round(lo, 3), round(hi, 3)
    (0.223, -0.111, 0.478)
    """
    ka, na, kb, nb = (_count(v, k) for v, k in ((count_a, "count_a"), (n_a, "n_a"),
                                                 (count_b, "count_b"), (n_b, "n_b")))
    if na == 0 or nb == 0 or ka > na or kb > nb:
        raise ValueError(f"expected 0 <= count <= n and n >= 1, got {ka}/{na} and {kb}/{nb}")
    level = _level(ci)
    pa, pb = ka / na, kb / nb
    la, ua = stats.binomtest(ka, na).proportion_ci(level, method="wilson")
    lb, ub = stats.binomtest(kb, nb).proportion_ci(level, method="wilson")
    d = pb - pa
    return d, d - math.hypot(pb - lb, ua - pa), d + math.hypot(ub - pb, pa - la)


def cluster_bootstrap(correct_a, correct_b, groups, *, n_resamples: int = 2000, seed: int = 0,
                      ci: float = 0.95) -> dict:
    """Accuracy difference ``b - a`` on the same examples, resampling whole groups.

    Where examples come in groups that share a template or a source (HANS's 30 subcases, a
    CAD original with its revisions), examples in one group are not independent, and a
    bootstrap over single examples gives too narrow an interval. This one draws groups with
    replacement and takes the difference over all examples of the drawn groups.

    Parameters
    ----------
    correct_a, correct_b : (n,) bool or 0/1
        Per-example correctness of two methods on the same examples.
    groups : (n,) array
        The group of each example (any hashable labels).

    Returns
    -------
    dict
        ``diff``, ``lo``, ``hi``, ``n`` (examples) and ``n_groups``.

    Example
    -------
    >>> r = cluster_bootstrap([0, 0, 1, 1], [1, 1, 1, 1], ["x", "x", "y", "y"])
    >>> r["diff"], r["n_groups"], (r["lo"], r["hi"])
    (0.5, 2, (0.0, 1.0))
    """
    a, b = _pair(correct_a, correct_b)
    g = np.asarray(groups)
    if g.shape != a.shape:
        raise ValueError(f"groups must have one entry per example ({a.size}), got shape {g.shape}")
    _, which = np.unique(g, return_inverse=True)
    sums = np.bincount(which, weights=b - a)
    sizes = np.bincount(which).astype(float)
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, len(sizes), size=(_resamples(n_resamples), len(sizes)))
    lo, hi = _percentiles(sums[draw].sum(1) / sizes[draw].sum(1), _level(ci))
    return {"diff": float((b - a).mean()), "lo": lo, "hi": hi, "n": int(a.size), "n_groups": len(sizes)}


def hierarchical_bootstrap(correct_a, correct_b, *, n_resamples: int = 2000, seed: int = 0,
                           ci: float = 0.95) -> dict:
    """Accuracy difference ``b - a`` pooled over seeds: resample seeds, then examples.

    A row that pools several seeds (a slice evaluated with each seed's model) has two
    sources of noise: which seed was drawn, and which examples. Each resample draws the
    seeds with replacement, then within each drawn seed its examples with replacement, and
    averages the seeds' differences.

    Parameters
    ----------
    correct_a, correct_b : sequence of (n_s,) bool or 0/1, one array per seed
        Per-example correctness of the two methods under each seed (same examples within a
        seed; seeds may differ in n).

    Returns
    -------
    dict
        ``diff`` (mean over seeds of each seed's difference), ``lo``, ``hi``, ``n_seeds``, ``n``
        (examples summed over seeds).

    Example
    -------
    >>> r = hierarchical_bootstrap([[0, 1] * 20, [0, 1] * 20], [[1, 1] * 20, [0, 1] * 20])
    >>> round(r["diff"], 2), r["n_seeds"], r["lo"] >= 0
    (0.25, 2, True)
    """
    if len(correct_a) != len(correct_b) or len(correct_a) == 0:
        raise ValueError(f"expected one array per seed for both methods, got {len(correct_a)} and "
                         f"{len(correct_b)} seeds")
    diffs = [np.subtract(*_pair(a, b)[::-1]) for a, b in zip(correct_a, correct_b)]
    rng = np.random.default_rng(seed)
    R, S = _resamples(n_resamples), len(diffs)
    per_seed = np.stack([d[rng.integers(0, d.size, size=(R, d.size))].mean(1) for d in diffs], 1)
    draws = per_seed[np.arange(R)[:, None], rng.integers(0, S, size=(R, S))].mean(1)
    lo, hi = _percentiles(draws, _level(ci))
    return {"diff": float(np.mean([d.mean() for d in diffs])), "lo": lo, "hi": hi, "n_seeds": S,
            "n": int(sum(d.size for d in diffs))}


def n_to_decide(estimate, low, high, n, *, paper_effect, null=0.0, margin=None,
                unit="seeds") -> int | None:
    """How many seeds (or examples) would make an inconclusive interval decide, as measured.

    The interval ``[low, high]`` around ``estimate`` from ``n`` seeds or examples is taken to
    shrink as ``1/sqrt(n)`` (for seeds, also with the t quantile's degrees of freedom) while
    the estimate stays put. It decides once it excludes the null or the paper's effect
    (for a claim of no effect: once it lies inside or wholly outside ``null +- margin``).
    This is a plug-in guide from a measured spread, not a power analysis.

    Returns
    -------
    int or None
        The smallest such n (at least ``n + 1``), or ``None`` where no n can decide (the
        estimate sits exactly on the null or the paper's effect) or more than a million are needed.

    Example
    -------
    >>> n_to_decide(1.0, -1.0, 3.0, 3, paper_effect=4.0)   # 3 seeds; excludes 0 from 4 seeds
    4
    >>> n_to_decide(0.1, -0.1, 0.3, 400, paper_effect=0.2, unit="pairs")
    1600
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} but expected the number of seeds or pairs, an int >= 1")
    if not all(math.isfinite(float(v)) for v in (estimate, low, high)) or not low <= estimate <= high:
        raise ValueError(f"expected finite low <= estimate <= high, got {low} <= {estimate} <= {high}")
    half = (float(high) - float(low)) / 2
    if margin is None:
        targets = [abs(estimate - null), abs(estimate - paper_effect)]
    else:  # inside the margin, or wholly outside it
        targets = [min(null + margin - estimate, estimate - (null - margin)),
                   max(estimate - (null + margin), (null - margin) - estimate)]
    target = max(targets)
    if target <= 0 or half <= 0:
        return None
    if unit != "seeds":
        need = math.ceil(n * (half / target) ** 2 - 1e-9)
        return max(need, n + 1) if need <= 1_000_000 else None
    sd = half * math.sqrt(n) / stats.t.ppf(0.975, n - 1) if n > 1 else None
    if sd is None:
        return None
    for m in range(n + 1, 10_000):
        if stats.t.ppf(0.975, m - 1) * sd / math.sqrt(m) < target:
            return m
    return None


def accuracy_difference(acc_a: float, acc_b: float, n: int, *,
                        ci: float = 0.95) -> tuple[float, float, float]:
    """``acc_b - acc_a`` on the same ``n`` examples, with a conservative normal interval.

    The two accuracies come from the same examples, so their errors are positively
    correlated; treating them as independent (this function) gives an interval *wider*
    than a paired one. Use it where only the accuracies were kept.

    Example
    -------
    >>> d, lo, hi = accuracy_difference(0.729, 0.728, 9842)
    >>> round(d, 3), round(hi - d, 4)
    (-0.001, 0.0124)
    """
    a, b = float(acc_a), float(acc_b)
    if not (0 <= a <= 1 and 0 <= b <= 1):
        raise ValueError(f"accuracies must lie in [0, 1], got {a} and {b}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    z = float(stats.norm.ppf(0.5 + ci / 2))
    half = z * math.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    return b - a, b - a - half, b - a + half
