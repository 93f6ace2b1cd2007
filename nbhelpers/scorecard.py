"""The book's one verdict rule, :func:`verdict`, and the scorecard: a row per claim of the paper."""
from __future__ import annotations

import html
import json
import math

import numpy as np
from scipy import stats

from . import paper, results
from .cache import write_atomic
from .checks import check_dict, check_positive, check_real, check_records, check_str
from .stats import newcombe, t_interval, t_interval_from

VERDICTS = ("reproduced", "opposite", "ruled out", "inconclusive", "untested", "not comparable")
"""The six verdicts, in the order the results page explains them."""
ROW_KEYS = ("claim", "paper", "ours", "test", "n", "verdict")
"""What :func:`sentence` reads from a row; :func:`to_html` also ``link`` and ``effect``."""
STAND_IN_ANLI = ("offline, MNLI dev-matched stands in for ANLI train, so the model never saw "
                 "adversarial pairs")
NO_ROBERTA = ("no RoBERTa backbone offline; the book's backbone is all-MiniLM-L6-v2 (the BERT-sized "
              "rows above are the comparison it allows)")
FEW_DISCORDANT = 25  # below this many discordant pairs, the exact McNemar interval, not the bootstrap
TELLING = ("opposite", "ruled out", "reproduced", "inconclusive", "untested", "not comparable")


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
    - inconclusive: anything else, e.g. an interval holding both the null and the paper's effect."""
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
    """One Markdown sentence for a claim (a row of :func:`rows`): paper, ours, test, verdict."""
    why = f" ({row['reason']})" if check_dict(row, "row", ROW_KEYS).get("reason") else ""
    return (f"{row['claim']}: paper {row['paper']}; ours {row['ours']} ({row['test']}; {row['n']}): "
            f"**{row['verdict']}**{why}.")


def save(rows, path) -> None:
    """Write the scorecard as JSON (``{"verdicts": VERDICTS, "claims": rows}``), atomically."""
    rows = check_records(rows, "rows", allow_empty=True)  # no claims yet: build on an empty folder
    text = json.dumps({"verdicts": list(VERDICTS), "claims": rows}, indent=1, allow_nan=False)
    write_atomic(path, text.encode("utf-8"))


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


def _p(p):  # records keep six decimals, so a p-value below 5e-7 reads 0
    return "< 1e-6" if p < 1e-6 else f"{p:.3g}"


def _paired(change, unit="test pairs"):
    """A paired change (points): the exact McNemar interval where few pairs differ, else the bootstrap's."""
    if int(change["a_only"]) + int(change["b_only"]) < FEW_DISCORDANT:
        return _points(change["diff"], change["mcnemar_lo"], change["mcnemar_hi"]), "exact McNemar interval"
    return _points(change["diff"], change["lo"], change["hi"]), f"paired bootstrap over {unit}"


def _points(*xs):
    return [None if x is None else 100.0 * float(x) for x in xs]


def _interval_text(estimate, low, high):
    if estimate is None:
        return "not run"
    return f"{estimate:+.1f}" + ("" if low is None else f" [{low:+.1f}, {high:+.1f}]") + " points"


def _seeds(n):
    return dict(n_units=n, test="t-interval over seeds" if n > 1 else "one seed: no interval",
                n=f"{n} seed{'s' * (n != 1)}")


def _n_to_decide(estimate, low, high, n, *, paper_effect, null, margin, unit) -> int | None:
    """How many seeds (or pairs) would make an inconclusive interval decide, taking ``[low, high]`` from ``n``
    to shrink as ``1/sqrt(n)`` (seeds: with the t quantile) around a fixed ``estimate`` until it excludes the
    null or ``paper_effect`` (``margin``: lies inside or outside it); None if none would (or > 1e6)."""
    half = (high - low) / 2
    if margin is None:  # the half-width that would exclude the null or the paper's effect
        target = max(abs(estimate - null), abs(estimate - paper_effect))
    else:  # the half-width that would lie inside the margin, or wholly outside it
        target = abs(margin - abs(estimate - null))
    if target <= 0 or half <= 0:
        return None
    if unit != "seeds":
        need = math.ceil(n * (half / target) ** 2 - 1e-9)
        return max(need, n + 1) if need <= 1_000_000 else None
    sd = half * math.sqrt(n) / stats.t.ppf(0.975, n - 1)
    return next((m for m in range(n + 1, 10_000)
                 if stats.t.ppf(0.975, m - 1) * sd / math.sqrt(m) < target), None)


def _row(claim, where, ours=(None, None, None), *, paper_text, paper_effect, effect, test, n, ours_text=None,
         margin=None, null=0.0, stand_in=None, n_units=None, decide_unit="seeds", to_decide=None,
         threshold=False):
    """One scorecard row (``where``: ``"<chapter>#<anchor>"``; ``ours``: estimate, low, high). One seed: only
    inconclusive stands (seed noise can only widen the interval). ``threshold``: no ``paper_in_interval``."""
    estimate, low, high = ours
    one_seed = n_units == 1
    v = "untested" if paper_effect is None else verdict(estimate, low, high, paper_effect=paper_effect,
                                                        null=null, margin=margin, stand_in=stand_in)
    if one_seed and v not in ("inconclusive", "not comparable"):
        v = "untested"
    if v == "inconclusive" and n_units and not one_seed:
        need = _n_to_decide(estimate, low, high, n_units, paper_effect=paper_effect, null=null, margin=margin,
                            unit=decide_unit)
        to_decide = (f"about {need:,} {decide_unit}, if the spread stays as measured" if need
                     else "no number of repeats, as measured")
    elif v == "inconclusive" and one_seed:
        to_decide = "more test pairs, and seeds (their spread was not measured)"
    elif v == "untested":
        to_decide = to_decide or f"{decide_unit}: the run measured no spread over them"
    chapter, anchor = where.split("#")
    return {"claim": claim, "effect": effect, "paper": paper_text,
            "paper_effect": None if paper_effect is None else float(paper_effect),
            "ours": ours_text if ours_text is not None else _interval_text(*ours),
            **{key: None if x is None else float(x) for key, x in zip(("estimate", "low", "high"), ours)},
            "null": null, "margin": margin, "test": test, "n": n, "verdict": v,
            "paper_in_interval": None if stand_in is not None or threshold or low is None
            else bool(low <= paper_effect <= high),
            "to_decide": to_decide, "reason": stand_in, "chapter": chapter,
            "link": f"{chapter}.html#{anchor}"}


def representation_claims(rep):
    """Chapter 1's claim: the paper's representation against the best other, on held-out validation."""
    held = rep["held_out"]
    return [_row(
        "The last layer's normalised [CLS] state is the best representation for kNN",
        "01_representations#every-layer-every-pooling", _points(held["diff"], held["lo"], held["hi"]),
        paper_text="chosen as the best representation", paper_effect=paper.REPRESENTATION["effect"],
        effect=f"kNN accuracy of {held['reference']} minus the best other variant ({held['best_other']}, "
               "chosen on the other half)", n_units=1, threshold=True,
        test=f"paired bootstrap on the held-out half ({_BY_TEXT}); {held['a_only']} vs {held['b_only']} "
             f"discordant pairs, exact McNemar p = {held['mcnemar_p']:.3g}",
        n=f"{held['n_score']:,} validation pairs scored, {held['n_choose']:,} others to choose; one seed")]


def _backoff_gain(backbone, setting):
    """The paper's gain (points), whether it is below :data:`paper.BACKOFF_MARGIN`, its text, the claim."""
    t4 = paper.TABLE4[setting]
    gain = 100 * (t4[backbone, "kNN backoff"] - t4[backbone, "model"])
    none = abs(gain) < paper.BACKOFF_MARGIN
    what = "changes nothing" if none else "improves test accuracy"
    return gain, none, f"{gain:+.1f} points ({backbone})", f"kNN backoff {what}"


def backoff_claims(bo):
    """Chapter 2's claims: the backoff gain per setting (t over seeds, else a bootstrap), then RoBERTa's."""
    rows, where = [], "02_knn_backoff#gain-or-noise"
    for setting in [s for s in paper.TABLE4.columns if bo.get(s)]:
        r, (gain, none, paper_text, claim) = bo[setting], _backoff_gain("BERT", setting)
        seeds = r.get("seeds") or {}
        n_seeds = len(seeds.get("seeds", []))
        if n_seeds > 1:
            ours = t_interval_from(100 * seeds["backoff_gain_mean"], 100 * seeds["backoff_gain_std"], n_seeds)
            test = f"t-interval over {n_seeds} seeds"
        else:
            ours = _points(r["backoff_gain"], *(r.get("backoff_gain_ci95") or (None, None)))
            test, n_seeds = "paired bootstrap over test pairs (seed noise not measured)", 1
        rows.append(_row(
            f"{claim}: {setting}", where, ours, paper_text=paper_text,
            paper_effect=None if ours[0] is None else 0.0 if none else round(gain, 6),
            margin=paper.BACKOFF_MARGIN if none else None,
            effect="backoff accuracy minus model accuracy on test", test=test,
            n_units=n_seeds, n=f"{r['n_test']:,} test pairs, {n_seeds} seed{'s' if n_seeds > 1 else ''}",
            stand_in=STAND_IN_ANLI if r["train"].startswith("mnli") else None))
    if "per_seed" in (bo.get("anli-adversarial") or {}):
        rows.append(adversarial_claim(bo["anli-adversarial"]))
    for setting in paper.TABLE4.columns:
        gain, _, paper_text, claim = _backoff_gain("RoBERTa", setting)
        rows.append(_row(f"{claim} (RoBERTa): {setting}", where, paper_text=paper_text,
                         paper_effect=round(gain, 6), effect="as above, RoBERTa", test="-", n="-",
                         stand_in=NO_ROBERTA))
    return rows


def adversarial_claim(adv) -> dict:
    """Chapter 2's ANLI row, adversarial datastore: a t-interval over split seeds, or one seed's bootstrap."""
    per = check_dict(adv["per_seed"], "per_seed", ("test", "backoff_gain"))
    anli = [i for i, t in enumerate(per["test"]) if t == "anli"]
    if not anli:
        raise ValueError(f"per_seed has no rows for test 'anli'; its tests: {sorted(set(per['test']))}")
    if len(anli) > 1:
        ours = t_interval([100 * float(per["backoff_gain"][i]) for i in anli])
        test = f"{len(anli)} split seeds, t-interval over seeds"
    else:
        ours = _points(*(per[key][anli[0]] for key in ("backoff_gain", "gain_lo", "gain_hi")))
        test = "1 split seed, paired bootstrap (test sampling only)"
    gain, _, paper_text, _ = _backoff_gain("BERT", "anli")
    return _row(
        "kNN backoff improves test accuracy: anli, adversarial datastore",
        "02_knn_backoff#why-anli-backoff-fails-here-an-adversarial-datastore", ours, paper_text=paper_text,
        paper_effect=round(gain, 6), test=test, n_units=len(anli),
        effect="backoff accuracy minus model accuracy on ANLI test, datastore of adversarial pairs",
        n=f"{adv['n_test']:,} test pairs; datastore 2/3 of ANLI dev, model MNLI-trained then "
          "fine-tuned on it")


def removal_claims(inf):
    """Chapter 3's removal claims on the per-seed gaps: total drops at 10%, the increment from 10% to 30%."""
    rem = inf.get("removal", {})
    drops = rem.get("drops")
    if not drops:
        return []
    R, inc = paper.REMOVAL, paper.REMOVAL["increment"]
    comparisons = [  # (per-seed values by condition, claim, paper's text, paper's gap, effect)
        (drops.get("0.1"),
         "Removing the most retrieved 10% of the training data hurts more than removing a random 10%",
         f"{R['top'][0.1]:.1f} vs {R['random'][0.1]:.1f} points", R["top"][0.1] - R["random"][0.1],
         "accuracy drop after removing the top 10% minus after removing a random 10%"),
        (rem.get("increments"),
         "Going from 10% to 30% removed costs more for the most retrieved pairs than for random ones",
         f"a further {inc['top']:.0f} vs {inc['random']:.0f} points", inc["top"] - inc["random"],
         "increment of the drop from 10% to 30% removed: top minus random")]
    rows = []
    for per, claim, paper_text, ref, effect in comparisons:
        if not (per and per.get("top") and per.get("random")):
            continue
        top = np.asarray(per["top"], float)
        gaps = top - np.asarray(per["random"], float)
        ours = t_interval(gaps)
        control = (f"; label-matched control: top minus matched {np.mean(top - per['matched']):+.1f}"
                   if per.get("matched") else "")
        rows.append(_row(claim, "03_influence#the-removal-test", ours, paper_effect=ref, effect=effect,
                         paper_text=f"{paper_text} (gap {ref:+.1f})", **_seeds(len(gaps)),
                         ours_text=_interval_text(*ours) + control))
    return rows


def speed_claims(inf):
    """Chapter 3's claims on timing kNN against influence functions (``influence.json``)."""
    sp, S = inf.get("speed"), paper.SPEEDUP
    if not sp:
        return []
    knn_t, inf_t = sp["knn_query_times_s"], sp["influence_query_times_s"]
    if len(knn_t) > 1 and min(knn_t + inf_t) > 0:  # one query, or one timed as 0 s: no interval
        m, lo, hi = t_interval(np.log10(np.asarray(inf_t) / np.asarray(knn_t)))
        test = f"t-interval of log10(ratio) over {len(knn_t)} queries timed one by one"
    else:
        m, lo, hi = math.log10(sp["speedup_per_query"]), None, None
        test = "mean time only: no interval"
    text = f"{10 ** m:,.0f}x" + ("" if lo is None else f" [{10 ** lo:,.0f}x, {10 ** hi:,.0f}x]")
    if sp.get("speedup"):
        text += f" per query; {sp['speedup']:,.0f}x with set-up included"
    where = "03_influence#knn-against-influence-functions"
    return [
        _row("kNN explains a prediction far faster than influence functions", where, (m, lo, hi),
             paper_text=f"about {S['factor']}x (< {S['n_train_below']:,} training pairs)",
             paper_effect=math.log10(S["factor"]), null=math.log10(S["far"]),
             effect=f"log10 of influence-function time over kNN time per query (set-up excluded); the null: "
                    f"{S['far']}x, the least we read as far faster",
             ours_text=text, test=test, n_units=len(knn_t) if lo is not None else None,
             decide_unit="queries timed one by one", n=f"{sp['n_train']:,} training pairs"),
        _row("The speed-up grows with the size of the training data", where, paper_text="grows (no number)",
             paper_effect=None, ours_text="one training-set size timed in the run", test="-",
             effect="speed-up (set-up included) at a larger training set minus at this one",
             n=f"{sp['n_train']:,} training pairs only",
             to_decide="time two training-set sizes (benchmarks/bench_influence.py)")]


_BY_TEXT = "pairs sharing a premise or hypothesis drawn together"
_NO_NUMBER = f"examples, no number (read as at least {paper.SLICE_EFFECT:+.0f} point)"
_ENTAILMENT = "SNLI test entailment pairs with {} in the hypothesis"
_SLICES = [  # (claim, where in spurious.json, paper's text, paper's effect, effect)
    ("Augmentation costs entailment pairs with negation about 10 points",
     ("negation_entailment_change", "SNLI test"),
     f"about {100 * paper.NEGATION_ENTAILMENT_CHANGE:+.0f} points", 100 * paper.NEGATION_ENTAILMENT_CHANGE,
     "accuracy of the augmented model minus the original one, " + _ENTAILMENT.format("negation")),
    ("Augmentation fixes the colour shortcut of the original model (Table 1)", ("colour_change",), _NO_NUMBER,
     paper.SLICE_EFFECT, "accuracy of the augmented model minus the original one, "
     + _ENTAILMENT.format("a colour word") + " (against the shortcut)"),
    ("kNN alone is more robust than the model to the colour shortcut", ("knn_alone", "original/colour"),
     _NO_NUMBER, paper.SLICE_EFFECT,
     "kNN alone minus the model trained on the original split, " + _ENTAILMENT.format("a colour word")),
    ("kNN alone is more robust than the model to the negation shortcut", ("knn_alone", "augmented/negation"),
     _NO_NUMBER, paper.SLICE_EFFECT,
     "kNN alone minus the model trained on the augmented split, " + _ENTAILMENT.format("negation"))]


def spurious_claims(sp):
    """Chapter 4's claims: the 'not' statistic and the slices (negation pooled over seeds if several ran)."""
    rows, N = [], paper.NOT_STATISTIC
    readings = sp.get("not_claim", {}).get("readings", {})
    key = "P(contradiction | 'not' in premise or hypothesis)"
    o, a = readings.get("original", {}).get(key), readings.get("augmented", {}).get(key)
    if o and a and o["n"] > 0 and a["n"] > 0:
        ref = 100 * (N["augmented"] - N["original"])
        ours = _points(*newcombe(int(o["count"]), int(o["n"]), int(a["count"]), int(a["n"])))
        rows.append(_row(
            "'not' is tied to contradiction far more in the augmented data (37% vs 60%)",
            "04_spurious#what-the-training-data-says-about-the-patterns", ours,
            paper_text=f"{N['original']:.0%} -> {N['augmented']:.0%} ({ref:+.0f} points)",
            paper_effect=ref, effect=f"{key}: augmented minus original",
            n_units=int(o["n"]) + int(a["n"]), decide_unit="pairs",
            ours_text=f"{o['count']}/{o['n']} -> {a['count']}/{a['n']} ({_interval_text(*ours)})",
            test="Newcombe (Wilson score) interval for a difference of two proportions (approximate: the "
                 "augmented split contains the original pairs)", n=f"{o['n']} and {a['n']} training pairs"))
    for claim, (field, *item), paper_text, paper_effect, effect in _SLICES:
        ch, shared = (sp.get(field) or {}).get(item[0]) if item else sp.get(field), dict(
            paper_text=paper_text, paper_effect=paper_effect, threshold=paper_effect == paper.SLICE_EFFECT)
        p = sp.get(field.split("_")[0] + "_over_seeds")  # negation_ or colour_over_seeds, if pooled
        if p and p["n_seeds"] > 1 and p["diff"] is not None:  # spurious.pooled_slice_change over the seeds
            per_seed = "; ".join(f"{a} right -> wrong, {b} wrong -> right (p = {_p(q)})"
                                 for a, b, q in zip(p["a_only"], p["b_only"], p["mcnemar_p"]))
            rows.append(_row(
                claim, "04_spurious#the-declared-slice-over-seeds", _points(p["diff"], p["lo"], p["hi"]),
                effect=f"{effect}, mean over seeds", n_units=p["n_seeds"], **shared,
                test=f"two-level bootstrap (seeds, then pairs, {_BY_TEXT}); per seed: {per_seed}, "
                     "exact McNemar", n=f"{p['n']} test pairs x {p['n_seeds']} seeds"))
        elif ch and ch.get("n") and ch.get("diff") is not None:
            ours, how = _paired(ch, f"test pairs, {_BY_TEXT}")
            test = (f"{how}; {ch['a_only']} pairs right -> wrong, {ch['b_only']} wrong -> right, "
                    f"exact McNemar p = {_p(ch['mcnemar_p'])} (one seed per model)")
            rows.append(_row(claim, "04_spurious#slice-accuracy", ours, test=test, effect=effect,
                             n=f"{int(ch['n'])} test pairs", n_units=1, **shared))
    return rows


def mislabel_claims(ml):
    """Chapter 5's claims (t over seeds): kNN's F1 against the loss ranking's, and the data the loss needs."""
    per = ml.get("per_seed")
    if not per:
        return []
    P, budget = paper.MISLABEL, paper.MISLABEL_KNN_BUDGET
    knn_f1, loss_f1 = np.asarray(per["kNN f1"], float), np.asarray(per["loss F1@budget"], float)
    f1, f1_lo, f1_hi = t_interval(knn_f1)
    holds = ""
    if f1_lo is not None:
        inside = "" if f1_lo <= P["f1"] <= f1_hi else "not "
        holds = f"; the paper's {P['f1']:.2f} is {inside}in our F1 interval [{f1_lo:.2f}, {f1_hi:.2f}]"
    need = np.asarray(per["loss: data for kNN recall"], float)
    share = np.asarray(per["kNN budget share"], float)
    gain, extra = t_interval(100 * (knn_f1 - loss_f1)), t_interval(100 * (need - share))
    where, seeds = "05_mislabeled#does-the-paper-s-protocol-recover-the-flips", _seeds(len(knn_f1))
    return [
        _row("Mislabeled examples: the kNN candidates beat the loss ranking at the same budget", where, gain,
             paper_text=f"kNN F1 {P['f1']:.2f} (P {P['precision']:.2f}, R {P['recall']:.2f}); loss at that "
                        f"budget about {paper.MISLABEL_LOSS_F1_AT_BUDGET:.2f}",
             paper_effect=100 * (P["f1"] - paper.MISLABEL_LOSS_F1_AT_BUDGET),
             effect="F1 of the kNN candidates minus F1 of the loss ranking flagging as many examples "
                    "(points)", **seeds,
             ours_text=f"kNN F1 {f1:.2f} (P {np.mean(per['kNN precision']):.2f}, "
                       f"R {np.mean(per['kNN recall']):.2f}), loss {loss_f1.mean():.2f}; "
                       f"{_interval_text(*gain)}{holds}"),
        _row("The loss ranking needs far more of the data than kNN to reach kNN's recall", where, extra,
             paper_text=f"{P['loss_fraction_for_knn_recall']:.0%} of the data (kNN flags about {budget:.0%})",
             paper_effect=100 * (P["loss_fraction_for_knn_recall"] - budget),
             effect="share of the data the loss ranking inspects to reach kNN's recall, minus the share kNN "
                    "flags (points)", **seeds,
             ours_text=f"{need.mean():.1%} of the data vs kNN's {share.mean():.1%}; "
                       f"{_interval_text(*extra)}")]


def hans_claims(hans):
    """Chapter 6's claim (``hans.json``): backoff against the model on the same constituent pairs."""
    c = hans.get("constituent", {}).get("non-entailment")
    if not c:
        return []
    bert, knn_bert = paper.TABLE6.loc["constituent", "BERT"], paper.TABLE6.loc["constituent", "kNN-BERT"]
    ref, pr = 100 * (knn_bert - bert), c["paired"]
    ours, test = _paired(pr)
    test += (f"; {pr['a_only']} right only without backoff, {pr['b_only']} only with it, exact McNemar "
             f"p = {_p(pr['p'])}; pairs resampled one by one (the local HANS file has no subcase column to "
             "cluster on)")
    return [_row(
        "Backoff helps HANS constituent non-entailment pairs",
        "06_hans_tsne#accuracy-per-heuristic-and-label-table-6", ours,
        paper_text=f"{100 * bert:.1f} -> {100 * knn_bert:.1f} ({ref:+.1f} points, BERT)",
        paper_effect=ref, effect="backoff minus model accuracy, constituent non-entailment test pairs",
        test=test, n=f"{int(c['n']):,} test pairs, one seed", n_units=1,
        stand_in=STAND_IN_ANLI if hans["setting"]["train"].startswith("mnli") else None)]


def rows(records: dict) -> list[dict]:
    """One row per claim from the chapters' records, ``{name: record dict}``; absent names give no rows."""
    claims_of = {"representations": representation_claims, "backoff": backoff_claims,
                 "influence": lambda r: removal_claims(r) + speed_claims(r), "spurious": spurious_claims,
                 "mislabel": mislabel_claims, "hans": hans_claims}
    return [row for name in results.RECORDS if name in records for row in claims_of[name](records[name])]


def build(results_dir) -> tuple[list[dict], list[str]]:
    """``(rows, missing)``: a row per claim from the records in ``results_dir``, and the files not found."""
    records = {name: r.to_dict() for name, r in results.load_all(results_dir).items() if r is not None}
    return rows(records), [f"{name}.json" for name in results.RECORDS if name not in records]


def found(rows, chapter: str) -> str:
    """The "What we found" Markdown of ``chapter``: verdict counts, the most telling row, then every row."""
    chapter = check_str(chapter, "chapter")
    mine = [r for r in check_records(rows, "rows", allow_empty=True) if r["chapter"] == chapter]
    if not mine:
        return "This run tested none of the paper's claims in this chapter (see the results page)."
    n = {v: sum(r["verdict"] == v for r in mine) for v in VERDICTS}
    lead = min(mine, key=lambda r: TELLING.index(r["verdict"]))
    head = ("Of the paper's claims tested here, " + ", ".join(f"{k} {v}" for v, k in n.items() if k)
            + f". Most telling: **{lead['claim']}** ({lead['verdict']}).")
    shown = [r for r in mine if r["verdict"] != "not comparable"] or mine  # all not comparable: list them
    rest = len(mine) - len(shown)
    tail = [f"- {rest} more not comparable here (a stand-in setting or backbone; reasons on the results "
            "page)."] if rest else []
    return "\n".join([head] + [f"- {sentence(r)}" for r in shown] + tail)
