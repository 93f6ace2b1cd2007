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
backoff gain of 0.0 points), the verdict is "not beyond noise" whatever we measure: the
paper's claim has no direction to reproduce, and showing "no effect" would need an
equivalence margin that neither the paper nor we set.

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
from .stats import accuracy_difference, proportion_difference, t_interval

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
    if not excludes or ref == null:  # a null effect cannot be shown without an equivalence margin
        return "not beyond noise"
    return "reproduced" if (lo > null) == (ref > null) else "opposite"


def split_seed_gain(per_seed, test: str = "anli") -> tuple[float, float | None, float | None, str]:
    """The backoff gain (points) of a split-seed experiment, with the interval its seeds allow.

    ``per_seed`` holds the lists ``test``, ``backoff_gain`` (a fraction) and, for one seed,
    ``gain_lo``/``gain_hi`` (its paired-bootstrap interval). Over two or more seeds the
    interval is :func:`mean_interval`'s t-interval (test sampling *and* the split and
    fine-tune); with one seed only the paired bootstrap is left, which covers test sampling
    alone, and ``how`` says so.

    Returns
    -------
    mean, low, high : float (low and high None only when one seed lacks a bootstrap)
    how : str
        ``"N split seeds, t-interval over seeds"`` or ``"1 split seed, paired bootstrap (test sampling only)"``.

    Example
    -------
    >>> split_seed_gain({"test": ["anli", "hans"], "backoff_gain": [0.01, 0.02],
    ...                  "gain_lo": [-0.005, 0.0], "gain_hi": [0.025, 0.04]})
    (1.0, -0.5, 2.5, '1 split seed, paired bootstrap (test sampling only)')
    """
    rows = [i for i, t in enumerate(per_seed["test"]) if t == test]
    if not rows:
        raise ValueError(f"per_seed has no rows for test {test!r}; its tests: {sorted(set(per_seed['test']))}")
    gains = [100 * float(per_seed["backoff_gain"][i]) for i in rows]
    if len(gains) > 1:
        mean, lo, hi = t_interval(gains)
        return mean, lo, hi, f"{len(gains)} split seeds, t-interval over seeds"
    (i,) = rows
    lo, hi = (per_seed.get(key, [None] * len(per_seed["test"]))[i] for key in ("gain_lo", "gain_hi"))
    lo, hi = (None, None) if lo is None or hi is None else (100 * float(lo), 100 * float(hi))
    return gains[0], lo, hi, "1 split seed, paired bootstrap (test sampling only)"


# ---------------------------------------------------------------------------------------
# The claims, read from the chapters' results files
# ---------------------------------------------------------------------------------------

STAND_IN_ANLI = ("offline, MNLI dev-matched stands in for ANLI train, so the model never saw "
                 "adversarial pairs")
"""Why the ANLI and HANS rows are not comparable with the paper's."""


def _points(x):
    return None if x is None else 100.0 * float(x)


def _row(claim, chapter, anchor, *, paper_text, paper_effect, effect, estimate, low=None, high=None,
         n="", ours_text=None, null=0.0, stand_in=None, unit="points"):
    v = verdict(estimate, low, high, paper_effect=paper_effect, null=null, stand_in=stand_in)
    if ours_text is None:
        interval = "" if low is None else f" [{low:+.1f}, {high:+.1f}]"
        ours_text = f"{estimate:+.1f}{interval} {unit}".strip()
    return {"claim": claim, "effect": effect, "paper": paper_text, "paper_effect": float(paper_effect),
            "ours": ours_text, "estimate": float(estimate),
            "low": None if low is None else float(low), "high": None if high is None else float(high),
            "null": float(null), "n": n, "verdict": v, "reason": stand_in,
            "chapter": chapter, "link": f"{chapter}.html#{anchor}"}


def representation_claims(rep):
    """The claims of chapter 1 (``results/representations.json``); rows as in :func:`build`."""
    accs = rep["knn_acc"]
    cls_norm = {int(k.split("-")[1].removeprefix("layer")): k for k in accs
                if k.startswith("cls-layer") and k.endswith("-norm")}
    mine = cls_norm[max(cls_norm)]
    others = {k: v for k, v in accs.items() if k != mine}
    best_other = max(others, key=others.get)
    d, lo, hi = accuracy_difference(others[best_other], accs[mine], int(rep["n_val"]))
    return [_row(
        "The last layer's normalised [CLS] state is the best representation for kNN",
        "01_representations", "every-layer-every-pooling",
        paper_text="chosen as the best representation", paper_effect=1.0,
        effect=f"kNN accuracy of [CLS], last layer, normalised minus the best of the other "
               f"{len(others)} variants ({best_other})",
        estimate=100 * d, low=100 * lo, high=100 * hi,
        n=f"{rep['n_val']:,} validation pairs, one seed; unpaired interval (conservative); the best "
          f"of {len(others)} others is picked on the same data, which biases the test against the paper's choice")]


_BACKOFF_PAPER = {s: 100 * (paper.TABLE4.loc[("BERT", "kNN backoff"), s] - paper.TABLE4.loc[("BERT", "model"), s])
                  for s in paper.TABLE4.columns}


def backoff_claims(bo):
    """The claims of chapter 2 (``results/backoff.json``): the gain per setting and where tau is highest; rows as in :func:`build`."""
    rows = []
    for setting, r in bo.items():
        if setting not in _BACKOFF_PAPER:  # "timing" and anything else that is not a setting
            continue
        lo, hi = r.get("backoff_gain_ci95", (None, None))
        stand_in = STAND_IN_ANLI if r.get("train", "").startswith("mnli") else None
        gain = _BACKOFF_PAPER.get(setting)
        if gain is None:
            continue
        rows.append(_row(
            f"kNN backoff improves test accuracy: {setting}", "02_knn_backoff", "gain-or-noise",
            paper_text=f"{gain:+.1f} points (BERT)", paper_effect=round(gain, 6),
            effect="backoff accuracy minus model accuracy on test",
            estimate=_points(r["backoff_gain"]), low=_points(lo), high=_points(hi),
            n=f"{r['n_test']:,} test pairs, seed {r.get('seed', 0)}; paired bootstrap 95% interval",
            stand_in=stand_in))
    adv = bo.get("anli-adversarial")
    if adv and "per_seed" in adv:
        mean, lo, hi, how = split_seed_gain(adv["per_seed"], "anli")
        gain = _BACKOFF_PAPER["anli"]
        rows.append(_row(
            "kNN backoff improves test accuracy: anli, adversarial datastore", "02_knn_backoff",
            "why-anli-backoff-fails-here-an-adversarial-datastore",
            paper_text=f"{gain:+.1f} points (BERT)", paper_effect=round(gain, 6),
            effect="backoff accuracy minus model accuracy on ANLI test, datastore of adversarial pairs",
            estimate=mean, low=lo, high=hi,
            n=f"{adv['n_test']:,} test pairs, {how}; datastore 2/3 of "
              "ANLI dev (ours), model MNLI-trained then fine-tuned on it",
            stand_in=None))
    if {"snli-original", "snli-augmented", "anli", "hans"} <= set(bo):
        order = ["snli-original", "snli-augmented", "anli", "hans"]
        ours = stats.spearmanr([bo[s]["tau"] for s in order], [-bo[s]["model_acc"] for s in order])[0]
        ref = stats.spearmanr(paper.TABLE5.loc["BERT", order],
                              [-paper.TABLE4.loc[("BERT", "model"), s] for s in order])[0]
        ours = 0.0 if not np.isfinite(ours) else float(ours)
        rows.append(_row(
            "The tuned threshold tau is highest where the model is weakest", "02_knn_backoff",
            "where-the-threshold-comes-from",
            paper_text=f"Spearman {ref:+.2f} (BERT, 4 settings)", paper_effect=ref,
            effect="Spearman correlation of tau with the model's test error over the 4 settings",
            estimate=ours, ours_text=f"Spearman {ours:+.2f}", n="4 settings, one seed",
            stand_in=STAND_IN_ANLI if bo["anli"].get("train", "").startswith("mnli") else None,
            unit=""))
    return rows


def removal_claims(inf):
    """The claims of chapter 3's removal test (``results/influence.json``); rows as in :func:`build`.

    At 10% the paper prints total drops (``paper.REMOVAL["top"]`` vs ``["random"]``); at 30% it prints only the
    increment over the 10% drop ("a further 6% vs 4%"), so the 30% claim is tested on the
    per-seed increments, not on totals the paper never printed.
    """
    rem = inf.get("removal", {})
    drops, incs = rem.get("drops"), rem.get("increments")
    if not drops:
        return []
    R, inc = paper.REMOVAL, paper.REMOVAL["increment"]
    comparisons = [  # (per-seed values by condition, claim, paper's text, paper's gap, effect)
        (drops.get("0.1"),
         "Removing the most retrieved 10% of the training data hurts more than removing a random 10%",
         f"{R['top'][0.1]:.1f} vs {R['random'][0.1]:.1f} points", R["top"][0.1] - R["random"][0.1],
         "accuracy drop after removing the top 10% minus after removing a random 10%"),
        (incs,
         "Going from 10% to 30% removed costs more for the most retrieved pairs than for random ones",
         f"a further {inc['top']:.0f} vs {inc['random']:.0f} points", inc["top"] - inc["random"],
         "increment of the drop from 10% to 30% removed: top minus random"),
    ]
    rows = []
    for per_condition, claim, paper_text, ref, effect in comparisons:
        if not (per_condition and per_condition.get("top") and per_condition.get("random")):
            continue
        gaps = np.asarray(per_condition["top"], float) - np.asarray(per_condition["random"], float)
        m, lo, hi = t_interval(gaps)
        rows.append(_row(claim, "03_influence", "the-removal-test", paper_text=f"{paper_text} (gap {ref:+.1f})",
                         paper_effect=ref, effect=effect, estimate=m, low=lo, high=hi,
                         n=_seeds_text(len(gaps))))
    return rows


def _seeds_text(n):
    return f"{n} seed{'s' if n != 1 else ''}" + ("; 95% t-interval" if n > 1 else "; no spread")


def speed_claims(inf):
    """The claims of chapter 3's timing of kNN against influence functions; rows as in :func:`build`."""
    sp = inf.get("speed")
    if not sp:
        return []
    ref = math.log10(paper.SPEEDUP["factor"])
    knn_t, inf_t = sp.get("knn_query_times_s"), sp.get("influence_query_times_s")
    if knn_t and inf_t and len(knn_t) == len(inf_t) and len(knn_t) > 1:
        m, lo, hi = t_interval(np.log10(np.asarray(inf_t) / np.asarray(knn_t)))
        n = f"{len(knn_t)} queries timed one by one; 95% t-interval of log10(ratio)"
    else:
        m, lo, hi = math.log10(sp["speedup_per_query"]), None, None
        n = f"{sp.get('n_timed', 1)} queries, mean time only"
    text = f"{10 ** m:,.0f}x" + ("" if lo is None else f" [{10 ** lo:,.0f}x, {10 ** hi:,.0f}x]")
    return [_row(
        "kNN explains a prediction far faster than influence functions", "03_influence",
        "knn-against-influence-functions",
        paper_text=f"about {paper.SPEEDUP['factor']}x (< {paper.SPEEDUP['n_train_below']:,} training pairs)",
        paper_effect=ref, effect="log10 of influence-function time over kNN time per query (set-up excluded)",
        estimate=m, low=lo, high=hi, ours_text=text, n=f"{sp['n_train']:,} training pairs; {n}", unit="")]


def spurious_claims(sp):
    """The claims of chapter 4 (``results/spurious.json``); rows as in :func:`build`."""
    rows = []
    readings = sp.get("not_claim", {}).get("readings", {})
    key = "P(contradiction | 'not' in premise or hypothesis)"
    if key in readings.get("original", {}) and key in readings.get("augmented", {}):
        o, a = readings["original"][key], readings["augmented"][key]
        ref = 100 * (paper.NOT_STATISTIC["augmented"] - paper.NOT_STATISTIC["original"])
        if o["n"] > 0 and a["n"] > 0:
            d, lo, hi = proportion_difference(int(o["count"]), int(o["n"]), int(a["count"]), int(a["n"]))
            rows.append(_row(
                "'not' is tied to contradiction far more in the augmented data (37% vs 60%)",
                "04_spurious", "what-the-training-data-says-about-the-patterns",
                paper_text=f"{paper.NOT_STATISTIC['original']:.0%} -> {paper.NOT_STATISTIC['augmented']:.0%} "
                           f"({ref:+.0f} points)",
                paper_effect=ref, effect="P(contradiction | 'not' in premise or hypothesis): augmented minus original",
                estimate=100 * d, low=100 * lo, high=100 * hi,
                ours_text=f"{o['count']}/{o['n']} -> {a['count']}/{a['n']} ({100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points)",
                n=f"{o['n']} and {a['n']} training pairs; parametric bootstrap"))
    ch = sp.get("negation_entailment_change", {}).get("SNLI test")
    if ch and ch.get("n") and ch.get("diff") is not None:
        rows.append(_row(
            "Augmentation costs entailment pairs with negation about 10 points", "04_spurious", "slice-accuracy",
            paper_text=f"about {100 * paper.NEGATION_ENTAILMENT_CHANGE:+.0f} points",
            paper_effect=100 * paper.NEGATION_ENTAILMENT_CHANGE,
            effect="accuracy of the augmented model minus the original one, SNLI test entailment pairs "
                   "with negation in the hypothesis",
            estimate=_points(ch["diff"]), low=_points(ch["lo"]), high=_points(ch["hi"]),
            n=f"{int(ch['n'])} test pairs; paired bootstrap"))
    return rows


def mislabel_claims(ml):
    """The claims of chapter 5 (``results/mislabel.json``); rows as in :func:`build`.

    Precision, recall and F1 of the kNN candidates are each tested against what flagging
    the same number of training examples *at random* gives: precision = the noise rate,
    recall = the share of the data flagged, F1 from those two. The share of the data the
    loss ranking needs is tested against kNN's own flagged share.
    """
    per = ml.get("per_seed")
    if not per:
        return []
    P = paper.MISLABEL
    r = float(ml.get("setup", {}).get("noise_rate", P["noise_rate"]))
    budget = np.asarray(per["kNN budget share"], float)
    chance = {"precision": np.full_like(budget, r), "recall": budget, "f1": 2 * r * budget / (r + budget)}
    paper_budget = P["noise_rate"] * P["recall"] / P["precision"]
    paper_chance = {"precision": P["noise_rate"], "recall": paper_budget,
                    "f1": 2 * P["noise_rate"] * paper_budget / (P["noise_rate"] + paper_budget)}
    rows = []
    for metric, col in (("precision", "kNN precision"), ("recall", "kNN recall"), ("f1", "kNN f1")):
        ours = np.asarray(per[col], float)
        m, lo, hi = t_interval(100 * (ours - chance[metric]))
        name = "F1" if metric == "f1" else metric
        rows.append(_row(
            f"Mislabeled examples: the kNN candidates' {name} beats flagging at random", "05_mislabeled",
            "does-the-paper-s-protocol-recover-the-flips",
            paper_text=f"{P[metric]:.2f} (random: {paper_chance[metric]:.2f})",
            paper_effect=100 * (P[metric] - paper_chance[metric]),
            effect=f"kNN {name} minus the {name} of flagging as many examples at random (points)",
            estimate=m, low=lo, high=hi,
            ours_text=f"{ours.mean():.2f} (random: {chance[metric].mean():.2f}); {m:+.1f}"
                      + ("" if lo is None else f" [{lo:+.1f}, {hi:+.1f}]") + " points",
            n=_seeds_text(len(ours))))
    share = np.asarray(per["loss: data for kNN recall"], float) - np.asarray(per["kNN budget share"], float)
    m, lo, hi = t_interval(100 * share)
    ref = 100 * (P["loss_fraction_for_knn_recall"] - P["noise_rate"] * P["recall"] / P["precision"])
    loss_share = np.asarray(per["loss: data for kNN recall"], float).mean()
    rows.append(_row(
        "The loss ranking needs far more of the data than kNN to reach kNN's recall", "05_mislabeled",
        "does-the-paper-s-protocol-recover-the-flips",
        paper_text=f"{P['loss_fraction_for_knn_recall']:.0%} of the data (kNN flags about "
                   f"{P['noise_rate'] * P['recall'] / P['precision']:.0%})",
        paper_effect=ref, effect="share of the data the loss ranking inspects to reach kNN's recall, minus "
                                 "the share kNN flags (points)",
        estimate=m, low=lo, high=hi,
        ours_text=f"{loss_share:.1%} of the data; {m:+.1f}" + ("" if lo is None else f" [{lo:+.1f}, {hi:+.1f}]")
                  + " points vs kNN",
        n=_seeds_text(len(share))))
    return rows


def hans_claims(hans, bo):
    """The claims of chapter 6 (``results/hans.json``; the backoff results say which model ran); rows as in :func:`build`."""
    c = hans.get("constituent", {}).get("non-entailment")
    if not c:
        return []
    ref = 100 * (paper.TABLE6.loc["constituent", "kNN-BERT"] - paper.TABLE6.loc["constituent", "BERT"])
    d, lo, hi = accuracy_difference(c["model_acc"], c["backoff_acc"], int(c["n"]))
    train = hans.get("setting", {}).get("train") or (bo or {}).get("hans", {}).get("train", "mnli")
    stand_in = STAND_IN_ANLI if train.startswith("mnli") else None
    return [_row(
        "Backoff helps HANS constituent non-entailment pairs most", "06_hans_tsne",
        "accuracy-per-heuristic-and-label-table-6",
        paper_text=f"{100 * paper.TABLE6.loc['constituent', 'BERT']:.1f} -> "
                   f"{100 * paper.TABLE6.loc['constituent', 'kNN-BERT']:.1f} ({ref:+.1f} points, BERT)",
        paper_effect=ref, effect="backoff minus model accuracy, constituent non-entailment test pairs",
        estimate=100 * d, low=100 * lo, high=100 * hi,
        n=f"{int(c['n']):,} test pairs; unpaired interval (conservative)", stand_in=stand_in)]


CHAPTER_FILES = ("representations", "backoff", "influence", "spurious", "mislabel", "hans")
"""The results files the scorecard reads (``results/<name>.json``)."""


def build(results_dir) -> tuple[list[dict], list[str]]:
    """One row per claim of the paper, from the chapters' results files.

    Parameters
    ----------
    results_dir : path
        Folder with the chapters' ``<name>.json`` (:data:`CHAPTER_FILES`).

    Returns
    -------
    rows : list of dict
        ``claim``, ``effect`` (what is compared), ``paper`` and ``paper_effect``, ``ours``,
        ``estimate``, ``low``, ``high``, ``null``, ``n`` (what the spread rests on),
        ``verdict`` (:func:`verdict`), ``reason`` (why not comparable), ``chapter`` and
        ``link`` (the section that shows it).
    missing : list of str
        Results files not found (their chapters have not run): their claims are absent.
    """
    folder = Path(results_dir)
    res, missing = {}, []
    for name in CHAPTER_FILES:
        path = folder / f"{name}.json"
        if path.exists():
            res[name] = json.loads(path.read_text())
        else:
            missing.append(path.name)
    rows = []
    if "representations" in res:
        rows += representation_claims(res["representations"])
    if "backoff" in res:
        rows += backoff_claims(res["backoff"])
    if "influence" in res:
        rows += removal_claims(res["influence"]) + speed_claims(res["influence"])
    if "spurious" in res:
        rows += spurious_claims(res["spurious"])
    if "mislabel" in res:
        rows += mislabel_claims(res["mislabel"])
    if "hans" in res:
        rows += hans_claims(res["hans"], res.get("backoff"))
    return rows, missing


def sentence(row) -> str:
    """One Markdown sentence for a claim: the paper's number, ours, what it rests on, the verdict.

    Example
    -------
    >>> sentence({"claim": "Backoff helps", "paper": "+1.3 points", "ours": "+0.4 [-0.7, +1.5] points",
    ...           "n": "3,200 test pairs", "verdict": "not comparable", "reason": "a stand-in"})
    'Backoff helps: paper +1.3 points; ours +0.4 [-0.7, +1.5] points (3,200 test pairs): **not comparable** (a stand-in).'
    """
    why = f" ({row['reason']})" if row.get("reason") else ""
    return (f"{row['claim']}: paper {row['paper']}; ours {row['ours']} ({row['n']}): "
            f"**{row['verdict']}**{why}.")


def save(rows, path) -> None:
    """Write the scorecard as JSON (``{"claims": rows}``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"verdicts": list(VERDICTS), "claims": rows}, indent=1))
    tmp.replace(path)


_COLOURS = {"reproduced": "#d4edda", "not beyond noise": "#fff3cd", "opposite": "#f8d7da",
            "not comparable": "#e2e3e5"}


def to_html(rows) -> str:
    """The scorecard as an HTML table: claim (linked to its section), paper, ours, n, verdict.

    All text is escaped; the verdict cell is coloured by verdict.

    Example
    -------
    >>> row = {"claim": "a <b>claim</b>", "link": "01.html#x", "paper": "+1", "ours": "+2 [1, 3]",
    ...        "n": "3 seeds", "verdict": "reproduced", "reason": None, "effect": "gain"}
    >>> "a &lt;b&gt;claim&lt;/b&gt;" in to_html([row])
    True
    """
    import html

    e = html.escape
    head = ("<tr><th>claim</th><th>paper</th><th>ours</th><th>what the spread rests on</th>"
            "<th>verdict</th></tr>")
    body = []
    for r in rows:
        why = f"<br><small>{e(r['reason'])}</small>" if r.get("reason") else ""
        body.append(
            f"<tr><td><a href=\"{e(r['link'], quote=True)}\">{e(r['claim'])}</a>"
            f"<br><small>{e(r['effect'])}</small></td><td>{e(str(r['paper']))}</td>"
            f"<td>{e(str(r['ours']))}</td><td><small>{e(str(r['n']))}</small></td>"
            f"<td style=\"background:{_COLOURS[r['verdict']]}\"><b>{e(r['verdict'])}</b>{why}</td></tr>")
    return f"<table class=\"scorecard\">{head}{''.join(body)}</table>"


def counts_sentence(rows, missing=()) -> str:
    """How many claims got each verdict, and which chapters' results were absent.

    Example
    -------
    >>> counts_sentence([{"verdict": "reproduced"}, {"verdict": "opposite"}], ["hans"])
    '2 claims: 1 reproduced, 0 not beyond noise, 1 opposite, 0 not comparable. Not run, so absent: hans.'
    """
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    return (f"{len(rows)} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items())
            + (f". Not run, so absent: {', '.join(missing)}." if missing else "."))
