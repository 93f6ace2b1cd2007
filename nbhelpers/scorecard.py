"""Claim-by-claim verdicts: one rule decides whether a run reproduces a claim of the paper.

Every claim is written as an *effect* whose sign is what the paper asserts: a backoff gain
(> 0 means backoff helps), a gap between removing the most retrieved and random training
pairs (> 0 means the retrieved ones matter more), and so on. The paper gives the effect's
direction (and usually its size); the run gives an estimate with an interval from its own
spread (seeds or a bootstrap). :func:`verdict` then applies one rule:

=================== ======================================================================
verdict             when
=================== ======================================================================
not comparable      our setting stands in for the paper's (the reason is given)
reproduced          the interval excludes the null, on the paper's side
opposite            the interval excludes the null, on the other side
not beyond noise    the interval contains the null, or the run measured no spread
=================== ======================================================================

Where the paper reports *no* effect (its estimate equals the null, e.g. BERT's HANS
backoff gain of 0.0 points), an interval that contains the null reproduces it and one
that excludes it is the opposite.

:func:`build` reads the chapters' ``results/*.json`` and returns one row per claim;
the results page shows them and saves ``results/scorecard.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from . import paper

VERDICTS = ("reproduced", "not beyond noise", "opposite", "not comparable")
"""The four verdicts, in the order the results page explains them."""


def _real(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def verdict(estimate, low=None, high=None, *, paper_effect, null: float = 0.0,
            stand_in: str | None = None) -> str:
    """The verdict on one claim, by the module's one rule.

    Parameters
    ----------
    estimate : float
        Our effect (for example a backoff gain in points).
    low, high : float or None
        Our interval for the effect (95%). ``None`` when the run measured no spread
        (one seed): then nothing is beyond noise.
    paper_effect : float
        The paper's effect, on the same scale; only its side of ``null`` matters.
    null : float, default=0.0
        The value meaning "no effect".
    stand_in : str, optional
        Why our setting cannot be compared (a stand-in data set or model); gives
        ``"not comparable"`` whatever the numbers.

    Returns
    -------
    str
        One of :data:`VERDICTS`.

    Examples
    --------
    >>> verdict(2.9, 0.8, 5.0, paper_effect=5.4)
    'reproduced'
    >>> verdict(-0.8, -2.4, 0.8, paper_effect=3.4)
    'not beyond noise'
    >>> verdict(-3.0, -5.0, -1.0, paper_effect=3.4)
    'opposite'
    >>> verdict(0.4, -0.7, 1.5, paper_effect=1.3, stand_in="MNLI stands in for ANLI train")
    'not comparable'
    """
    est = _real(estimate, "estimate")
    ref = _real(paper_effect, "paper_effect")
    null = _real(null, "null")
    if stand_in is not None:
        if not isinstance(stand_in, str) or not stand_in.strip():
            raise ValueError(f"stand_in must be a non-empty reason, got {stand_in!r}")
        return "not comparable"
    if (low is None) != (high is None):
        raise ValueError(f"give both low and high or neither, got low={low!r}, high={high!r}")
    if low is None:
        return "not beyond noise"
    lo, hi = _real(low, "low"), _real(high, "high")
    if not lo <= est <= hi:
        raise ValueError(f"expected low <= estimate <= high, got {lo} <= {est} <= {hi}")
    excludes = lo > null or hi < null
    if ref == null:  # the paper reports no effect
        return "opposite" if excludes else "reproduced"
    if not excludes:
        return "not beyond noise"
    return "reproduced" if (lo > null) == (ref > null) else "opposite"


def mean_interval(values, *, ci: float = 0.95) -> tuple[float, float | None, float | None]:
    """Mean of per-seed values with a Student-t interval; ``(mean, None, None)`` for one value.

    Example
    -------
    >>> m, lo, hi = mean_interval([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    >>> mean_interval([1.5])
    (1.5, None, None)
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"expected one or more finite values, got {values!r}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, None, None
    half = float(stats.t.ppf(0.5 + ci / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def proportion_difference(count_a: int, n_a: int, count_b: int, n_b: int, *, ci: float = 0.95,
                          n_resamples: int = 20000, seed: int = 0) -> tuple[float, float, float]:
    """``count_b / n_b - count_a / n_a`` with a parametric bootstrap interval (two binomials).

    Example
    -------
    >>> d, lo, hi = proportion_difference(3, 8, 58, 97)
    >>> round(d, 3), lo < 0 < hi
    (0.223, True)
    """
    for name, v in (("count_a", count_a), ("n_a", n_a), ("count_b", count_b), ("n_b", n_b)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    if n_a == 0 or n_b == 0 or count_a > n_a or count_b > n_b:
        raise ValueError(f"expected 0 <= count <= n and n > 0, got {count_a}/{n_a} and {count_b}/{n_b}")
    pa, pb = count_a / n_a, count_b / n_b
    rng = np.random.default_rng(seed)
    diffs = rng.binomial(n_b, pb, n_resamples) / n_b - rng.binomial(n_a, pa, n_resamples) / n_a
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return pb - pa, float(min(lo, pb - pa)), float(max(hi, pb - pa))


def accuracy_difference(acc_a: float, acc_b: float, n: int, *, ci: float = 0.95) -> tuple[float, float, float]:
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
    a, b = _real(acc_a, "acc_a"), _real(acc_b, "acc_b")
    if not (0 <= a <= 1 and 0 <= b <= 1):
        raise ValueError(f"accuracies must lie in [0, 1], got {a} and {b}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    z = float(stats.norm.ppf(0.5 + ci / 2))
    half = z * math.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    return b - a, b - a - half, b - a + half
