"""Where a chapter's time goes: helpers charge work (not cache hits) to the outermost :data:`SECTIONS`."""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict

from .checks import check_choice, check_real

SECTIONS = ("fine-tuning", "encoding", "kNN", "LIME", "influence functions", "t-SNE")  # the rest: "other"
_totals: dict = defaultdict(float)
_fine_tunes: list = []  # one entry per fine-tune that ran (not a cache hit): see :func:`log_fine_tune`
_depth = 0


@contextlib.contextmanager
def section(name: str):
    """Charge the time spent inside the block to ``name`` (unless already inside a section).

    >>> _totals.clear()
    >>> with section("kNN"):
    ...     with section("encoding"):  # nested: charged to kNN
    ...         pass
    >>> sorted(_totals)
    ['kNN']
    """
    global _depth
    check_choice(name, "name", SECTIONS)
    outer, start = not _depth, time.perf_counter()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if outer:
            _totals[name] += time.perf_counter() - start


timed = section  # a decorator too (contextlib's ContextDecorator): the function's time goes to ``name``


def log_fine_tune(n_train: int, epochs: int, seconds: float, continued: bool = False) -> None:
    """Note one fine-tune that ran (cache hits are not noted), for :func:`report`'s ``fine_tunes``."""
    _fine_tunes.append({"n_train": int(n_train), "epochs": int(epochs), "seconds": round(float(seconds), 1),
                        "continued": bool(continued)})


def report(total_seconds: float) -> dict:
    """Seconds per section, ``other`` (the rest of ``total_seconds``), ``total``; ``fine_tunes``: those run.

    >>> _totals.clear(); _fine_tunes.clear(); _totals["fine-tuning"] = 30.0; _totals["kNN"] = 2.5
    >>> r = report(40.0)
    >>> r["fine-tuning"], r["kNN"], r["LIME"], r["other"], r["total"], r["fine_tunes"]
    (30.0, 2.5, 0.0, 7.5, 40.0, [])
    >>> _totals.clear()
    """
    total_seconds = check_real(total_seconds, "total_seconds", low=0.0)
    out = {name: round(float(_totals.get(name, 0.0)), 3) for name in SECTIONS}
    out["other"] = round(max(0.0, total_seconds - sum(out.values())), 3)
    out["total"] = round(total_seconds, 3)
    return out | {"fine_tunes": list(_fine_tunes)}
