"""Intervals and tests for accuracies over examples and seeds, on :mod:`scipy.stats`; seeded bootstraps."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.utils import check_scalar

from .checks import check_correct, check_int, check_real, check_same_length, check_vector


def _level(ci):
    return check_scalar(check_real(ci, "ci"), "ci", float, min_val=0.0, max_val=1.0,
                        include_boundaries="neither")


def _pair(correct_a, correct_b):
    a, b = check_correct(correct_a, "correct_a"), check_correct(correct_b, "correct_b")
    check_same_length(a.size, b.size, "correct_a", "correct_b")
    return a, b


def _group_ids(groups, n):
    """Group numbers 0, 1, ... in order of first appearance (``None``: each of the ``n`` examples alone)."""
    ids = np.arange(n) if groups is None else pd.factorize(np.ravel(groups), use_na_sentinel=False)[0]
    check_same_length(ids.size, n, "groups", "the examples")
    return ids


def _bootstrap(values, n_resamples, seed, ci, groups=None):
    """Means of resampled ``values`` and their percentile interval; ``groups``: whole groups are drawn."""
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    n = check_int(n_resamples, "n_resamples", low=1)
    ids = _group_ids(groups, len(values))
    sums, sizes = np.bincount(ids, values), np.bincount(ids)
    draw = rng.integers(0, sizes.size, size=(n, sizes.size))
    means = sums[draw].sum(1) / sizes[draw].sum(1)
    alpha = (1 - _level(ci)) / 2
    return means, float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def t_interval(values, *, ci: float = 0.95) -> tuple[float, float | None, float | None]:
    """Mean of per-seed ``values`` (n_seeds,) and its t-interval: ``(mean, low, high)``, no interval for 1.

    >>> t_interval([1.0, 2.0, 3.0]), t_interval([1.5])  # doctest: +ELLIPSIS
    ((2.0, -0.484..., 4.484...), (1.5, None, None))
    """
    x = check_vector(values, "values")
    if x.size == 1:
        return float(x[0]), None, None
    return t_interval_from(float(x.mean()), float(x.std(ddof=1)), x.size, ci=ci)


def t_interval_from(mean: float, sd: float, n: int, *, ci: float = 0.95) -> tuple[float, float, float]:
    """:func:`t_interval` from the mean, the sample sd (ddof=1) and n >= 2 values.

    >>> [round(v, 3) for v in t_interval_from(2.0, 1.0, 3)]
    [2.0, -0.484, 4.484]
    """
    n, mean = check_int(n, "n", low=2), check_real(mean, "mean")
    sd = check_scalar(check_real(sd, "sd"), "sd", float, min_val=0.0)
    half = float(stats.t.ppf(0.5 + _level(ci) / 2, n - 1) * sd / math.sqrt(n))
    return float(mean), mean - half, mean + half


def bootstrap_ci(correct, *, n_resamples: int = 2000, seed: int = 0, ci: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap ``(low, high)`` for an accuracy, from per-example ``correct`` (n,) 0/1.

    >>> [round(v, 2) for v in bootstrap_ci([1, 1, 1, 0] * 100)]
    [0.71, 0.79]
    """
    return _bootstrap(check_correct(correct, "correct"), n_resamples, seed, ci)[1:]


def paired_bootstrap(correct_a, correct_b, *, n_resamples: int = 2000, seed: int = 0,
                     ci: float = 0.95, groups=None) -> dict:
    """Accuracy difference ``b - a`` on the same examples (``correct_a``, ``correct_b``: (n,) 0/1):
    ``diff``, ``lo``, ``hi`` and ``p_better`` (share of resamples where b beats a).

    ``groups`` (n,), any labels: a cluster bootstrap that draws whole groups, for examples that are not
    independent, such as the pairs that share a premise (:func:`nbhelpers.data.pair_groups`).

    >>> paired_bootstrap([1, 0, 0, 1] * 50, [1, 1, 0, 1] * 50)["diff"]
    0.25
    """
    a, b = _pair(correct_a, correct_b)
    means, lo, hi = _bootstrap(b - a, n_resamples, seed, ci, groups)
    return {"diff": float((b - a).mean()), "lo": lo, "hi": hi, "p_better": float((means > 0).mean())}


def hierarchical_bootstrap(correct_a, correct_b, *, n_resamples: int = 2000, seed: int = 0,
                           ci: float = 0.95, groups=None) -> dict:
    """Accuracy difference ``b - a`` pooled over seeds: ``correct_a`` and ``correct_b`` are (n_seeds, n) 0/1,
    a row per seed (its pair of models) on the same n examples.

    Each resample draws the seeds, then the examples (whole ``groups``, as in :func:`paired_bootstrap`),
    so the interval holds seed and test-sampling noise. Returns ``diff`` (the mean), ``lo``, ``hi``,
    ``n_seeds``, ``n``.

    >>> hierarchical_bootstrap([[1, 0] * 50, [1, 1] * 50], [[1, 1] * 50, [1, 1] * 50])["diff"]
    0.25
    """
    a, b = np.atleast_2d(np.asarray(correct_a)), np.atleast_2d(np.asarray(correct_b))
    if a.ndim != 2 or a.shape != b.shape or not a.size:
        raise ValueError(f"correct_a and correct_b must be non-empty (n_seeds, n) arrays of one shape; got "
                         f"shapes {a.shape} and {b.shape}")
    d = np.stack([check_correct(y, "correct_b") - check_correct(x, "correct_a") for x, y in zip(a, b)])
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    n_seeds, n = d.shape
    ids = _group_ids(groups, n)
    sums, sizes = np.stack([np.bincount(ids, row) for row in d]), np.bincount(ids)
    means = []
    for _ in range(check_int(n_resamples, "n_resamples", low=1)):  # the seeds, then the groups
        s, g = rng.integers(0, n_seeds, n_seeds), rng.integers(0, sizes.size, sizes.size)
        means.append(sums[s][:, g].sum() / (n_seeds * sizes[g].sum()))
    alpha = (1 - _level(ci)) / 2
    return {"diff": float(d.mean()), "lo": float(np.quantile(means, alpha)),
            "hi": float(np.quantile(means, 1 - alpha)), "n_seeds": n_seeds, "n": n}


def mcnemar(correct_a, correct_b, *, ci: float = 0.95) -> dict:
    """Exact McNemar test: do two methods differ on the same examples ``correct_a``, ``correct_b`` (n,) 0/1?

    ``p``: two-sided binomial test of ``b_only`` (b right, a wrong) among the m discordant pairs; ``lo``,
    ``hi``: the Clopper-Pearson interval [L, U] for ``b_only / m``, as ``m / n * (2L - 1, 2U - 1)``.

    >>> {k: round(v, 3) for k, v in mcnemar([1, 1, 1, 1, 0], [0, 0, 0, 0, 0]).items()}
    {'n': 5, 'a_only': 4, 'b_only': 0, 'p': 0.125, 'diff': -0.8, 'lo': -0.8, 'hi': 0.164}
    """
    a, b = _pair(correct_a, correct_b)
    a_only, b_only = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    m, n = a_only + b_only, int(a.size)
    if m == 0:  # no pair differs; the discordant share is at most the exact bound for 0 of n
        u = float(stats.binomtest(0, n).proportion_ci(_level(ci), method="exact").high)
        return {"n": n, "a_only": 0, "b_only": 0, "p": 1.0, "diff": 0.0, "lo": -u, "hi": u}
    test = stats.binomtest(b_only, m, 0.5)
    low, high = test.proportion_ci(_level(ci), method="exact")
    return {"n": n, "a_only": a_only, "b_only": b_only, "p": float(test.pvalue),
            "diff": (b_only - a_only) / n, "lo": m / n * (2 * low - 1), "hi": m / n * (2 * high - 1)}


def newcombe(count_a: int, n_a: int, count_b: int, n_b: int, *,
             ci: float = 0.95) -> tuple[float, float, float]:
    """``count_b / n_b - count_a / n_a`` with Newcombe's hybrid score interval: ``(diff, low, high)``.

    >>> [round(v, 3) for v in newcombe(3, 8, 58, 97)]
    [0.223, -0.111, 0.478]
    """
    na, nb = check_int(n_a, "n_a", low=1), check_int(n_b, "n_b", low=1)
    ka, kb = check_int(count_a, "count_a", 0, na), check_int(count_b, "count_b", 0, nb)
    level = _level(ci)
    pa, pb = ka / na, kb / nb
    la, ua = stats.binomtest(ka, na).proportion_ci(level, method="wilson")
    lb, ub = stats.binomtest(kb, nb).proportion_ci(level, method="wilson")
    d = pb - pa
    return d, d - math.hypot(pb - lb, ua - pa), d + math.hypot(ub - pb, pa - la)


def tokenisation_cost(correct_raw, correct_tokenised, *, n_resamples: int = 2000,
                      seed: int = 0, ci: float = 0.95) -> dict:
    """One model's accuracy on the raw and tokenised copies of the same pairs: ``diff`` (tokenised minus
    raw), its paired bootstrap ``ci`` and ``beyond_noise`` (the interval excludes 0).

    >>> r = tokenisation_cost([1, 1, 0, 1] * 50, [1, 0, 0, 1] * 50)
    >>> r["n_matched"], r["raw_acc"], r["tokenised_acc"], r["diff"], r["beyond_noise"]
    (200, 0.75, 0.5, -0.25, True)
    """
    raw = check_correct(correct_raw, "correct_raw")
    tok = check_correct(correct_tokenised, "correct_tokenised")
    check_same_length(len(raw), len(tok), "correct_raw", "correct_tokenised")
    boot = paired_bootstrap(raw, tok, n_resamples=n_resamples, seed=seed, ci=ci)
    return {"n_matched": int(len(raw)), "raw_acc": float(raw.mean()),
            "tokenised_acc": float(tok.mean()), "diff": float(tok.mean() - raw.mean()),
            "ci": [boot["lo"], boot["hi"]], "beyond_noise": bool(boot["lo"] > 0 or boot["hi"] < 0)}
