"""The book's one verdict rule, :func:`verdict`, and how a list of verdicts is shown. The claims,
read from the chapters' records, are in :mod:`nbhelpers.claims`.
"""
from __future__ import annotations

import html
import json

from .cache import write_atomic
from .checks import check_dict, check_positive, check_real, check_records

VERDICTS = ("reproduced", "opposite", "ruled out", "inconclusive", "untested", "not comparable")
"""The six verdicts, in the order the results page explains them."""
ROW_KEYS = ("claim", "paper", "ours", "test", "n", "verdict")
"""What :func:`sentence` reads from a row; :func:`to_html` also ``link`` and ``effect``."""


def verdict(estimate, low=None, high=None, *, paper_effect, null: float = 0.0, margin=None,
            stand_in: str | None = None) -> str:
    """The verdict on one claim of the paper by the book's one rule: one of :data:`VERDICTS`.

    ``estimate`` and its 95% interval ``low``, ``high`` (None: no spread measured) are on the scale of
    ``paper_effect``. A *directional* claim (``paper_effect != null``) puts the effect on one side of the
    null; a claim of *no effect* (``paper_effect == null``) within ``null +- margin``, declared beforehand.

    - not comparable: a ``stand_in`` (why our setting cannot be compared) is given; untested: no interval;
    - reproduced: the interval excludes the null on the paper's side (no effect: lies inside the margin);
    - opposite: the interval excludes the null on the other side;
    - ruled out: it holds the null but excludes the paper's effect (no effect: lies wholly outside);
    - inconclusive: anything else, e.g. an interval holding both the null and the paper's effect.
    """
    if stand_in is not None:  # no estimate is needed: the paper's setting was not run
        if not isinstance(stand_in, str) or not stand_in.strip():
            raise ValueError(f"stand_in={stand_in!r} but expected a non-empty reason")
        return "not comparable"
    est, ref = check_real(estimate, "estimate"), check_real(paper_effect, "paper_effect")
    null = check_real(null, "null")
    margin = None if margin is None else check_positive(margin, "margin")
    if ref == null and margin is None:
        raise ValueError(f"paper_effect={ref} equals the null: a claim of no effect needs a margin")
    if (low is None) != (high is None):
        raise ValueError(f"give both low and high or neither, got low={low!r}, high={high!r}")
    if low is None:
        return "untested"
    lo, hi = check_real(low, "low"), check_real(high, "high")
    if not lo <= est <= hi:
        raise ValueError(f"expected low <= estimate <= high, got {lo} <= {est} <= {hi}")
    if ref == null:
        if null - margin <= lo and hi <= null + margin:
            return "reproduced"
        return "ruled out" if hi < null - margin or lo > null + margin else "inconclusive"
    if lo > null or hi < null:
        return "reproduced" if (lo > null) == (ref > null) else "opposite"
    return "inconclusive" if lo <= ref <= hi else "ruled out"


def sentence(row) -> str:
    """One Markdown sentence for a claim (a row of :mod:`nbhelpers.claims`): paper, ours, test, verdict."""
    why = f" ({row['reason']})" if check_dict(row, "row", ROW_KEYS).get("reason") else ""
    return (f"{row['claim']}: paper {row['paper']}; ours {row['ours']} ({row['test']}; {row['n']}): "
            f"**{row['verdict']}**{why}.")


def save(rows, path) -> None:
    """Write the scorecard as JSON (``{"verdicts": VERDICTS, "claims": rows}``), atomically."""
    rows = check_records(rows, "rows", allow_empty=True)  # no claims yet: claims.build on an empty folder
    text = json.dumps({"verdicts": list(VERDICTS), "claims": rows}, indent=1, allow_nan=False)
    write_atomic(path, text.encode("utf-8"), mode=0o644)


def to_html(rows) -> str:
    """The scorecard as an escaped HTML table; ``reader.css`` colours each ``verdict-<name>`` cell."""
    rows, e = check_records(rows, "rows", ROW_KEYS + ("link", "effect"), allow_empty=True), html.escape
    yes_no = {True: "yes", False: "no", None: "-"}
    head = "".join(f"<th scope=\"col\">{c}</th>" for c in ("claim", "paper", "ours", "test and n", "verdict",
                                                           "paper in our interval", "what would decide it"))
    body = []
    for r in rows:
        why = f"<br><small>{e(r['reason'])}</small>" if r.get("reason") else ""
        slug = r["verdict"].replace(" ", "-")
        body.append(
            f"<tr><td><a href=\"{e(r['link'], quote=True)}\">{e(r['claim'])}</a>"
            f"<br><small>{e(r['effect'])}</small></td><td>{e(str(r['paper']))}</td>"
            f"<td>{e(str(r['ours']))}</td><td><small>{e(str(r['test']))}; {e(str(r['n']))}</small></td>"
            f"<td class=\"verdict verdict-{slug}\"><b>{e(r['verdict'])}</b>{why}</td>"
            f"<td>{yes_no[r.get('paper_in_interval')]}</td>"
            f"<td><small>{e(r.get('to_decide') or '-')}</small></td></tr>")
    return (f"<div class=\"scorecard-wrap\"><table class=\"scorecard\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def counts_sentence(rows, missing=()) -> str:
    """How many claims got each verdict, and which chapters' results were absent."""
    rows = check_records(rows, "rows", ("verdict",), allow_empty=True)
    counts = ", ".join(f"{sum(r['verdict'] == v for r in rows)} {v}" for v in VERDICTS)
    absent = f". Not run, so absent: {', '.join(missing)}" if missing else ""
    return f"{len(rows)} claims: {counts}{absent}."
