"""Spurious associations in NLI pairs: patterns (regular expressions), slices, neighbours, LIME, a miner."""
from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from typing import Callable

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from . import timing
from .data import NLI_LABELS as LABELS, pair_groups
from .stats import hierarchical_bootstrap, mcnemar, paired_bootstrap
from .checks import (check_choice, check_dict, check_frame, check_indices, check_int, check_labels,
                     check_matrix, check_pairs, check_same_length, check_str, check_texts)

COLOURS = ("red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink",
           "brown", "gray", "grey")
NEGATION = ("not", "n't", "no", "never", "nothing", "nobody")

PATTERNS = {"colour": r"\b(?:" + "|".join(COLOURS) + r")\b",
            "negation": r"(?:\b(?:not|no|never|nothing|nobody)\b|n't\b)", "not": r"\bnot\b"}
"""Named patterns (case-insensitive regular expressions)."""

FIELDS = ("premise", "hypothesis")
_TOKEN = re.compile(r"n't|[a-z]+")


def _regex(pattern: str, name: str = "pattern"):
    return re.compile(PATTERNS.get(check_str(pattern, name), pattern), re.IGNORECASE)


def _where_mask(df: pd.DataFrame, where, fields=FIELDS, name="where") -> np.ndarray:
    """The rows a slice selects: ``where`` a regex or :data:`PATTERNS` key found in ``fields``, or a mask."""
    if isinstance(where, str):
        regex = _regex(where, name)
        mask = np.logical_or.reduce([[bool(regex.search(text)) for text in df[f]] for f in fields])
    else:
        mask = np.asarray(where, dtype=bool)
    if mask.shape != (len(df),):
        raise ValueError(f"{name}: the slice selects {mask.shape} values for a DataFrame of {len(df)} rows")
    return mask


def pattern_stats(df: pd.DataFrame, patterns=("colour", "negation", "not")) -> pd.DataFrame:
    """A row per (pattern, field or "either"): ``n``, ``share`` of all examples, the matches' label mix."""
    check_pairs(df, True, name="df")
    if not (patterns := check_texts(patterns, "patterns")):
        raise ValueError("patterns is empty; expected at least one string")
    rows = []
    for p in patterns:
        for f in FIELDS + ("either",):
            mask = _where_mask(df, p, FIELDS if f == "either" else (f,), "patterns")
            dist = df.loc[mask, "label"].value_counts(normalize=True).reindex(range(3), fill_value=0.0)
            rows.append({"pattern": p, "field": f, "n": float(mask.sum()), "share": float(mask.mean()),
                         **{LABELS[i]: float(dist[i]) for i in range(3)}})
    return pd.DataFrame(rows).set_index(["pattern", "field"])


def slice_report(df: pd.DataFrame, where, predictions: dict, *, fields=FIELDS) -> pd.DataFrame:
    """Per gold label in a slice, then ``all``: ``n``, ``share of slice`` and ``<name> acc`` per entry of
    ``predictions`` (name -> (n,) labels). ``where``: a regex or :data:`PATTERNS` key, or an (n,) mask."""
    check_pairs(df, True, name="df")
    mask, y, rows = _where_mask(df, where, fields), df["label"].to_numpy(), {}
    predictions = {name: np.asarray(p) for name, p in check_dict(predictions, "predictions").items()}
    for name, pred in predictions.items():
        check_same_length(len(pred), len(y), f"predictions[{name!r}]", "df")
    for lab in sorted(set(y[mask].tolist())) + ["all"]:
        m = mask & (y == lab) if lab != "all" else mask
        row = {"n": int(m.sum()), "share of slice": float(m.sum() / max(mask.sum(), 1))}
        for name, pred in predictions.items():
            row[f"{name} acc"] = float((pred[m] == y[m]).mean()) if m.any() else float("nan")
        rows[LABELS[lab] if lab != "all" else "all"] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def highlight(text: str, pattern: str) -> str:
    """HTML-escape ``text`` and put the matches of ``pattern`` in bold."""
    cuts = [0, *(i for m in _regex(pattern).finditer(check_str(text, "text")) for i in m.span()), len(text)]
    return "".join(f"<b>{html.escape(text[a:b])}</b>" if j % 2 else html.escape(text[a:b])
                   for j, (a, b) in enumerate(zip(cuts, cuts[1:])))


def neighbor_html(query: pd.Series, neighbours: pd.DataFrame, pattern: str, *, caption: str = "") -> str:
    """An HTML table (text escaped) of a query (tinted) and its training neighbours, pattern words in bold."""
    check_labels([query["label"]], len(LABELS), "query['label']")
    check_pairs(neighbours, True, name="neighbours")
    table = pd.concat([query.to_frame().T, neighbours], ignore_index=True)
    table = table.reindex(columns=[*FIELDS, "label", "distance"]).set_axis(["query", *range(1, len(table))])
    table["label"] = [LABELS[int(y)] for y in table["label"]]
    bold = dict.fromkeys(FIELDS, lambda text: highlight(text, pattern))
    uuid = hashlib.sha1(repr((table.to_numpy().tolist(), pattern, caption)).encode()).hexdigest()[:8]
    styled = Styler(table, uuid=uuid).format(bold | {"distance": "{:.0f}"}, na_rep="")  # same input, same ids
    styled.set_table_styles([{"selector": "tbody tr:first-child", "props": "background-color: #eef"}])
    return styled.set_caption(html.escape(caption)).to_html()


def tokens(text: str) -> set:
    """Lower-cased word tokens of ``text``; ``n't`` is split off as a token of its own.

    >>> sorted(tokens("The dog isn't red."))
    ['dog', 'is', "n't", 'red', 'the']
    """
    return set(_TOKEN.findall(check_str(text, "text").lower().replace("n't", " n't")))


def token_enrichment(neighbor_indices, train_df: pd.DataFrame, *, field: str = "hypothesis",
                     min_count: int = 5) -> pd.DataFrame:
    """Tokens over-represented among retrieved training neighbours (the artifact miner), by ``z`` descending.

    ``x`` of the ``R`` retrievals contain a token of base rate ``p0``: ``z = (x - R p0) / sqrt(R p0
    (1 - p0))``; tokens retrieved under ``min_count`` times are left out."""
    check_frame(train_df, "train_df", [field]), check_int(min_count, "min_count", 1)
    idx = check_indices(np.asarray(neighbor_indices).ravel(), len(train_df), "neighbor_indices")
    token_sets = [tokens(t) for t in check_texts(train_df[field], f"train_df[{field!r}]")]
    base = Counter(t for s in token_sets for t in s)
    retrieved = Counter(t for i in idx for t in token_sets[i])
    toks = [t for t, x in retrieved.items() if x >= min_count]
    x, p0 = np.array([retrieved[t] for t in toks]), np.array([base[t] for t in toks]) / len(train_df)
    expected = len(idx) * p0
    var = expected * (1 - p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (x - expected) / np.sqrt(var), 0.0)
    out = pd.DataFrame({"token": toks, "retrieved": x, "expected": expected, "ratio": x / expected, "z": z,
                        "base_rate": p0})
    return out.sort_values(["z", "token"], ascending=[False, True], kind="stable").reset_index(drop=True)


PAPER_EXAMPLE_RULE = {"colour": "original-wrong-augmented-right", "negation": "neutral-to-contradiction"}
"""The direction of change each of the paper's example tables shows (Table 1: colour, Table 2: negation)."""
EXAMPLE_RULES = tuple(PAPER_EXAMPLE_RULE.values())


def choose_examples(df: pd.DataFrame, p_original, p_augmented, *, pattern: str, rule: str,
                    n: int = 2, fields=FIELDS):
    """The paper's rule for Tables 1 and 2: the positions of the ``n`` queries with ``pattern`` whose
    predictions change as ``rule`` says, largest change in p(gold) first, and how many pass each step."""
    check_pairs(df, True, name="df")
    po, pa = check_matrix(p_original, "p_original"), check_matrix(p_augmented, "p_augmented")
    if po.shape != (len(df), 3) or pa.shape != (len(df), 3):
        raise ValueError(f"p_original and p_augmented must have shape ({len(df)}, 3), "
                         f"got {po.shape} and {pa.shape}")
    n, rule = check_int(n, "n", low=0), check_choice(rule, "rule", EXAMPLE_RULES)
    gold, pred_o, pred_a = df["label"].to_numpy(), po.argmax(1), pa.argmax(1)
    has = _where_mask(df, pattern, fields, "pattern")
    changed = has & (pred_o != pred_a)
    keep = changed & ((pred_o != gold) & (pred_a == gold) if rule == "original-wrong-augmented-right"
                      else (gold == 1) & (pred_o == 1) & (pred_a == 2))
    rows, cand = np.arange(len(gold)), np.flatnonzero(keep)
    shift = np.abs(pa[rows, gold] - po[rows, gold])
    chosen = cand[np.argsort(-shift[cand], kind="stable")][:n]
    counts = {"with pattern": has, "changed prediction": changed, "paper direction": keep}
    return [int(i) for i in chosen], {step: int(m.sum()) for step, m in counts.items()}


PAIR_SEPARATOR = " ||| "  #: joins a pair for LIME; it has no word characters, so LIME never removes it


@timing.timed('LIME')
def lime_pair(predict: Callable, premise: str, hypothesis: str, *, num_samples: int = 5000,
              seed: int = 0) -> tuple[int, pd.DataFrame]:
    """LIME word weights over *both* sentences of a pair, on one scale (the paper perturbs the hypothesis).

    LIME deletes word positions of the pair joined by :data:`PAIR_SEPARATOR`; ``predict(premises,
    hypotheses) -> (n, 3)``. Returns the predicted class and its 10 largest absolute weights."""
    from lime.lime_text import IndexedString, LimeTextExplainer

    sep = PAIR_SEPARATOR.strip()
    for name, text in (("premise", premise), ("hypothesis", hypothesis)):
        if not check_str(text, name).strip() or sep in text:
            raise ValueError(f"{name} must be a non-empty string without {sep!r}, got {text!r}")
    check_int(num_samples, "num_samples", low=2)

    def classifier_fn(texts):
        parts = [t.split(sep, 1) for t in texts]
        return np.asarray(predict([p.strip() for p, _ in parts], [h.strip() for _, h in parts]))

    joined = premise + PAIR_SEPARATOR + hypothesis
    label = int(np.argmax(classifier_fn([joined])[0]))
    explainer = LimeTextExplainer(class_names=list(LABELS), bow=False, mask_string="", random_state=seed)
    exp = explainer.explain_instance(joined, classifier_fn, labels=(label,),
                                     num_features=10, num_samples=num_samples)
    n_premise = IndexedString(premise, bow=False).num_words()
    words = exp.domain_mapper.indexed_string  # as_map lists the features by decreasing |weight|
    return label, pd.DataFrame([{"sentence": "premise" if f < n_premise else "hypothesis",
                                 "position": int(f if f < n_premise else f - n_premise),
                                 "word": words.word(f), "weight": float(w)} for f, w in exp.as_map()[label]],
                               columns=["sentence", "position", "word", "weight"])


def not_readings(df: pd.DataFrame) -> pd.DataFrame:
    """Readings of the paper's "'not' occurs in approximately 37% and 60%" of the training data: a row
    per reading with ``count``, ``n`` and ``share`` (NaN when n = 0).

    >>> df = pd.DataFrame({"premise": ["not a", "b", "c"], "hypothesis": ["x", "not y", "z"],
    ...                    "label": [2, 0, 2]})
    >>> not_readings(df).loc["P(contradiction | 'not' in premise or hypothesis)", ["count", "n"]].tolist()
    [1, 2]
    """
    check_pairs(df, True, name="df")
    hyp, either = _where_mask(df, "not", ("hypothesis",)), _where_mask(df, "not", FIELDS)
    contra, w = df["label"].to_numpy() == 2, "'not'"
    parts = {
        f"examples with {w} in the hypothesis": (hyp.sum(), len(df)),
        f"examples with {w} in premise or hypothesis": (either.sum(), len(df)),
        f"P(contradiction | {w} in the hypothesis)": ((contra & hyp).sum(), hyp.sum()),
        f"P(contradiction | {w} in premise or hypothesis)": ((contra & either).sum(), either.sum()),
        f"examples with {w} in the hypothesis, among contradictions": ((hyp & contra).sum(), contra.sum())}
    rows = {k: {"count": int(c), "n": int(n), "share": float(c / n) if n else float("nan")}
            for k, (c, n) in parts.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def slice_change(df: pd.DataFrame, where, pred_before, pred_after, *, label: int | None = None,
                 fields=FIELDS) -> dict:
    """Accuracy change on a slice (``where`` as in :func:`slice_report`, only gold ``label`` if given):
    ``diff`` with a paired bootstrap (``lo``, ``hi``) that draws pairs sharing a text together
    (:func:`~nbhelpers.data.pair_groups`) and an exact McNemar test (``mcnemar_*``).

    >>> df = pd.DataFrame({"premise": ["a"] * 4, "hypothesis": ["not b", "not c", "d", "not e"],
    ...                    "label": [0, 0, 0, 2]})
    >>> r = slice_change(df, "not", [0, 0, 0, 2], [0, 1, 0, 2], label=0)
    >>> r["n"], r["before"], r["after"], r["diff"]
    (2, 1.0, 0.5, -0.5)
    """
    check_pairs(df, True, name="df")
    before, after = check_labels(pred_before, 3, "pred_before"), check_labels(pred_after, 3, "pred_after")
    check_same_length(len(before), len(df), "pred_before", "df")
    check_same_length(len(after), len(df), "pred_after", "df")
    mask, y = _where_mask(df, where, fields), df["label"].to_numpy()
    if label is not None:
        mask = mask & (y == check_int(label, "label", 0, len(LABELS) - 1))
    keys = ("n", "before", "after", "diff", "lo", "hi", "a_only", "b_only", "mcnemar_p", "mcnemar_lo",
            "mcnemar_hi")
    if not mask.any():
        return {**dict.fromkeys(keys, float("nan")), "n": 0, "a_only": 0, "b_only": 0}
    a, b = before[mask] == y[mask], after[mask] == y[mask]
    ci, exact = paired_bootstrap(a, b, groups=pair_groups(df)[mask]), mcnemar(a, b)
    return dict(zip(keys, (int(mask.sum()), float(a.mean()), float(b.mean()), ci["diff"], ci["lo"], ci["hi"],
                           exact["a_only"], exact["b_only"], exact["p"], exact["lo"], exact["hi"])))


def pooled_slice_change(df: pd.DataFrame, where, preds_before, preds_after, *, label: int | None = None,
                        fields=FIELDS) -> dict:
    """:func:`slice_change` pooled over seeds (``preds_*``: (n_seeds, len(df)), a row per seed): the mean
    ``before``, ``after``, ``diff`` with a 95% :func:`~nbhelpers.stats.hierarchical_bootstrap` interval
    (seeds, then the groups of :func:`~nbhelpers.data.pair_groups`), and per seed the exact McNemar
    ``a_only``, ``b_only``, ``mcnemar_p``.

    >>> df = pd.DataFrame({"premise": ["a"] * 3, "hypothesis": ["not b", "not c", "d"], "label": [0, 0, 0]})
    >>> r = pooled_slice_change(df, "not", [[0, 0, 0], [0, 1, 0]], [[0, 1, 0], [1, 1, 0]], label=0)
    >>> r["n"], r["n_seeds"], r["before"], r["after"], r["a_only"], r["b_only"]
    (2, 2, 0.75, 0.25, [1, 1], [0, 0])
    """
    check_pairs(df, True, name="df")
    before, after = (check_labels(np.atleast_2d(preds), len(LABELS), name, ndim=2)  # a row per seed
                     for preds, name in ((preds_before, "preds_before"), (preds_after, "preds_after")))
    if before.shape != after.shape or before.shape[1] != len(df):
        raise ValueError(f"preds_before and preds_after must both have shape (n_seeds, {len(df)}), a row per "
                         f"seed; got shapes {before.shape} and {after.shape}")
    per_seed = [slice_change(df, where, b, a, label=label, fields=fields) for b, a in zip(before, after)]
    mask, y = _where_mask(df, where, fields), df["label"].to_numpy()
    if label is not None:  # checked by slice_change
        mask &= y == label
    out = {"n": int(mask.sum()), "n_seeds": len(per_seed),
           **{key: [r[key] for r in per_seed] for key in ("a_only", "b_only", "mcnemar_p")}}
    if not mask.any():
        return {**out, **dict.fromkeys(("before", "after", "diff", "lo", "hi"), float("nan"))}
    boot = hierarchical_bootstrap(before[:, mask] == y[mask], after[:, mask] == y[mask],
                                  groups=pair_groups(df)[mask])
    means = {key: float(np.mean([r[key] for r in per_seed])) for key in ("before", "after")}
    return {**out, **means, **{key: boot[key] for key in ("diff", "lo", "hi")}}
