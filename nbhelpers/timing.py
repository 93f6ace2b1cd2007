"""Where a chapter's time goes: fine-tuning, encoding, kNN, LIME, influence functions, the rest.

The expensive helpers of :mod:`nbhelpers` time themselves under one of :data:`SECTIONS`
(only real work: a cache hit costs nothing and adds nothing). Sections do not nest: time
spent inside a section is charged to the outermost one (the forward passes LIME makes
count as LIME, not as encoding). A chapter saves the totals with its results::

    started = time.perf_counter()
    ...
    results["timing"] = timing.report(time.perf_counter() - started)
"""
from __future__ import annotations

import contextlib
import functools
import time
from collections import defaultdict

SECTIONS = ("fine-tuning", "encoding", "kNN", "LIME", "influence functions", "t-SNE")
"""The named parts of a chapter's time; everything else is reported as ``other``."""

_totals: dict = defaultdict(float)
_depth = 0


@contextlib.contextmanager
def section(name: str):
    """Charge the time spent inside the block to ``name`` (unless already inside a section).

    Example
    -------
    >>> reset()
    >>> with section("kNN"):
    ...     with section("encoding"):  # nested: charged to kNN
    ...         pass
    >>> sorted(totals())
    ['kNN']
    """
    global _depth
    if name not in SECTIONS:
        raise ValueError(f"unknown section {name!r}; expected one of {SECTIONS}")
    if _depth:
        yield
        return
    _depth += 1
    start = time.perf_counter()
    try:
        yield
    finally:
        _totals[name] += time.perf_counter() - start
        _depth -= 1


def timed(name: str):
    """Decorator: the function's time goes to section ``name``."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with section(name):
                return fn(*args, **kwargs)
        return inner
    return wrap


def totals() -> dict:
    """Seconds per section so far in this process (sections never entered are left out)."""
    return {k: v for k, v in _totals.items() if v > 0}


def reset() -> None:
    """Forget the totals (a chapter's kernel starts at zero anyway)."""
    _totals.clear()


def report(total_seconds: float) -> dict:
    """Seconds per section, ``other`` (the rest of ``total_seconds``) and ``total``.

    Example
    -------
    >>> reset(); _totals["fine-tuning"] = 30.0; _totals["kNN"] = 2.5
    >>> report(40.0)
    {'fine-tuning': 30.0, 'encoding': 0.0, 'kNN': 2.5, 'LIME': 0.0, 'influence functions': 0.0, 't-SNE': 0.0, 'other': 7.5, 'total': 40.0}
    >>> reset()
    """
    out = {name: round(float(_totals.get(name, 0.0)), 3) for name in SECTIONS}
    out["other"] = round(max(0.0, float(total_seconds) - sum(out.values())), 3)
    out["total"] = round(float(total_seconds), 3)
    return out
