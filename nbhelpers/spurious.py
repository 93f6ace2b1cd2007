"""Spurious associations: patterns in the data, slices, neighbours, LIME, and a miner.

A *pattern* is a regular expression over the text (colour words, negation). The
functions here take DataFrames with ``premise``, ``hypothesis``, ``label`` and arrays of
predictions or neighbour indices; none of them loads a model or a file. The LIME helper
takes a plain ``predict(premises, hypotheses) -> (n, 3)`` function.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from typing import Callable

import numpy as np
import pandas as pd

from . import LABELS
from .validation import check_labels

COLOURS = ("red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink",
           "brown", "gray", "grey")
NEGATION = ("not", "n't", "no", "never", "nothing", "nobody")

PATTERNS = {
    "colour": r"\b(?:" + "|".join(COLOURS) + r")\b",
    "negation": r"(?:\b(?:not|no|never|nothing|nobody)\b|n't\b)",
    "not": r"\bnot\b",
}
"""Named patterns (case-insensitive regular expressions)."""

FIELDS = ("premise", "hypothesis")
_TOKEN = re.compile(r"n't|[a-z]+")


def pattern_mask(texts, pattern: str) -> np.ndarray:
    """True for every text that matches ``pattern`` (a regex or a key of :data:`PATTERNS`).

    Example
    -------
    >>> pattern_mask(["A red car.", "He isn't here.", "Nothing.", "Notable"], "negation").tolist()
    [False, True, True, False]
    """
    regex = re.compile(PATTERNS.get(pattern, pattern), re.IGNORECASE)
    return np.array([bool(regex.search(str(t))) for t in texts], dtype=bool)


def _where_mask(df: pd.DataFrame, where, fields=FIELDS) -> np.ndarray:
    if callable(where):
        mask = np.asarray(where(df), dtype=bool)
    elif isinstance(where, str):
        mask = np.zeros(len(df), dtype=bool)
        for f in fields:
            mask |= pattern_mask(df[f], where)
    else:
        mask = np.asarray(where, dtype=bool)
    if mask.shape != (len(df),):
        raise ValueError(f"the slice selects {mask.shape} values for a DataFrame of {len(df)} rows")
    return mask


def pattern_stats(df: pd.DataFrame, patterns=("colour", "negation", "not")) -> pd.DataFrame:
    """How often each pattern occurs in premise and hypothesis, and the labels given it.

    Returns
    -------
    DataFrame
        One row per (pattern, field): ``n`` (examples matching), ``share`` (of all
        examples), and the label distribution among matches (``entailment``,
        ``neutral``, ``contradiction``, summing to 1).

    Example
    -------
    >>> df = pd.DataFrame({"premise": ["A red car", "A dog"], "hypothesis": ["not red", "a dog"],
    ...                    "label": [2, 0]})
    >>> pattern_stats(df, ["not"]).loc[("not", "hypothesis"), ["n", "share", "contradiction"]].tolist()
    [1.0, 0.5, 1.0]
    """
    rows = []
    for p in patterns:
        for f in FIELDS + ("either",):
            mask = (_where_mask(df, p) if f == "either" else pattern_mask(df[f], p))
            dist = df.loc[mask, "label"].value_counts(normalize=True).reindex(range(3), fill_value=0.0)
            rows.append({"pattern": p, "field": f, "n": float(mask.sum()), "share": float(mask.mean()),
                         **{LABELS[i]: float(dist[i]) for i in range(3)}})
    return pd.DataFrame(rows).set_index(["pattern", "field"])


def slice_report(df: pd.DataFrame, where, predictions: dict, *, fields=FIELDS) -> pd.DataFrame:
    """Counts, label distribution and each model's accuracy on a slice, per gold label.

    Parameters
    ----------
    df : DataFrame with ``label``
    where : str, callable or boolean array
        A regex (or :data:`PATTERNS` key) searched in ``fields``, a predicate
        ``df -> mask``, or the mask itself.
    predictions : dict
        ``{model name: (n,) predicted labels}`` for the rows of ``df``.

    Returns
    -------
    DataFrame
        Rows: each gold label present in the slice, then ``all``; columns ``n``,
        ``share of slice`` and ``<model> acc`` for each model.

    Example
    -------
    >>> df = pd.DataFrame({"premise": ["a", "a", "a"], "hypothesis": ["not x", "not y", "z"],
    ...                    "label": [2, 0, 0]})
    >>> r = slice_report(df, "not", {"m": np.array([2, 2, 0])})
    >>> r[["n", "m acc"]].to_dict("index")
    {'entailment': {'n': 1, 'm acc': 0.0}, 'contradiction': {'n': 1, 'm acc': 1.0}, 'all': {'n': 2, 'm acc': 0.5}}
    """
    mask = _where_mask(df, where, fields)
    y = df["label"].to_numpy()
    rows = {}
    for lab in sorted(set(y[mask].tolist())) + ["all"]:
        m = mask & (y == lab) if lab != "all" else mask
        row = {"n": int(m.sum()), "share of slice": float(m.sum() / max(mask.sum(), 1))}
        for name, pred in predictions.items():
            pred = np.asarray(pred)
            if pred.shape != y.shape:
                raise ValueError(f"predictions[{name!r}] has {len(pred)} entries for {len(y)} rows")
            row[f"{name} acc"] = float((pred[m] == y[m]).mean()) if m.any() else float("nan")
        rows[LABELS[lab] if lab != "all" else "all"] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def highlight(text: str, pattern: str) -> str:
    """HTML-escape ``text`` and put the matches of ``pattern`` in bold.

    Example
    -------
    >>> highlight("A <b>red</b> car is not blue", "colour")
    'A &lt;b&gt;<b>red</b>&lt;/b&gt; car is not <b>blue</b>'
    """
    regex = re.compile(PATTERNS.get(pattern, pattern), re.IGNORECASE)
    out, last = [], 0
    for m in regex.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        out.append(f"<b>{html.escape(m.group(0))}</b>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def neighbour_html(query: pd.Series, neighbours: pd.DataFrame, pattern: str, *, caption: str = "") -> str:
    """An HTML table of a query and its training neighbours, pattern words in bold.

    All text is escaped: a premise containing ``<script>`` shows as text. Labels must be
    0, 1 or 2 (a -1 would otherwise show as the last name, "contradiction").
    """
    check_labels([query["label"]], len(LABELS), "query['label']")
    if len(neighbours):
        check_labels(neighbours["label"].to_numpy(), len(LABELS), "neighbours['label']")
    cells = lambda r: "".join(f"<td>{highlight(str(r[f]), pattern)}</td>" for f in FIELDS)
    rows = [f"<tr style='background:#eef'><td><i>query</i></td>{cells(query)}"
            f"<td>{html.escape(LABELS[int(query['label'])])}</td><td></td></tr>"]
    for rank, (_, r) in enumerate(neighbours.iterrows(), start=1):
        rows.append(f"<tr><td>{rank}</td>{cells(r)}<td>{html.escape(LABELS[int(r['label'])])}</td>"
                    f"<td>{r.get('distance', float('nan')):.0f}</td></tr>")
    head = "<tr><th></th><th>premise</th><th>hypothesis</th><th>label</th><th>distance</th></tr>"
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}{head}{''.join(rows)}</table>"


def tokens(text: str) -> set:
    """Lower-cased word tokens of ``text``; ``n't`` is split off as a token of its own.

    Example
    -------
    >>> sorted(tokens("The dog isn't red."))
    ['dog', 'is', "n't", 'red', 'the']
    """
    return set(_TOKEN.findall(str(text).lower().replace("n't", " n't")))


def token_enrichment(neighbour_indices, train_df: pd.DataFrame, *, field: str = "hypothesis",
                     min_count: int = 5) -> pd.DataFrame:
    """Tokens over-represented among retrieved training neighbours (the artifact miner).

    Every retrieval of a training example counts once. For each token, ``x`` of the
    ``R`` retrievals contain it, against a base rate ``p0`` (the share of all training
    examples that contain it). The score is the binomial z-score
    ``(x - R p0) / sqrt(R p0 (1 - p0))``; ``ratio`` is ``(x / R) / p0``.

    Parameters
    ----------
    neighbour_indices : array-like of int, any shape
        Training indices retrieved, e.g. the (n_errors, k) neighbours of the
        misclassified validation examples.
    train_df : DataFrame
    field : {"hypothesis", "premise"}
    min_count : int
        Tokens retrieved fewer times are left out.

    Returns
    -------
    DataFrame sorted by ``z`` descending: ``token``, ``retrieved`` (x), ``expected``
    (R p0), ``ratio``, ``z``, ``base_rate``.

    Example
    -------
    >>> train = pd.DataFrame({"hypothesis": ["a red car", "a dog", "a cat", "a bird"]})
    >>> token_enrichment([0, 0, 0, 1], train, min_count=2)[["token", "retrieved", "ratio"]].values.tolist()
    [['car', 3, 3.0], ['red', 3, 3.0], ['a', 4, 1.0]]
    """
    idx = np.asarray(neighbour_indices).ravel()
    if idx.size == 0:
        raise ValueError("no neighbour indices given")
    if idx.min() < 0 or idx.max() >= len(train_df):
        raise ValueError(f"neighbour indices must be in 0..{len(train_df) - 1}, got {idx.min()}..{idx.max()}")
    token_sets = [tokens(t) for t in train_df[field]]
    base = Counter(t for s in token_sets for t in s)
    retrieved = Counter(t for i in idx for t in token_sets[i])
    R, N = len(idx), len(train_df)
    rows = []
    for tok, x in retrieved.items():
        if x < min_count:
            continue
        p0 = base[tok] / N
        expected = R * p0
        var = R * p0 * (1 - p0)
        z = (x - expected) / np.sqrt(var) if var > 0 else 0.0
        rows.append({"token": tok, "retrieved": x, "expected": expected, "ratio": x / expected,
                     "z": z, "base_rate": p0})
    out = pd.DataFrame(rows, columns=["token", "retrieved", "expected", "ratio", "z", "base_rate"])
    return out.sort_values(["z", "token"], ascending=[False, True], kind="stable").reset_index(drop=True)


def lime_hypothesis(predict: Callable, premise: str, hypothesis: str, *, num_features: int = 8,
                    num_samples: int = 500, seed: int = 0, label: int | None = None):
    """LIME word weights for the hypothesis, with the premise held fixed.

    Parameters
    ----------
    predict : callable
        ``predict(premises: list[str], hypotheses: list[str]) -> (n, 3)`` probabilities;
        called once with all perturbed hypotheses (batched).
    premise, hypothesis : str
    label : int, optional
        The class to explain; defaults to the predicted class of the unperturbed pair.

    Returns
    -------
    (label, weights) : (int, list of (word, weight))
        Weights towards ``label``, largest magnitude first.
    """
    from lime.lime_text import LimeTextExplainer

    def classifier_fn(texts):
        return np.asarray(predict([premise] * len(texts), list(texts)))

    if label is None:
        label = int(np.argmax(classifier_fn([hypothesis])[0]))
    explainer = LimeTextExplainer(class_names=list(LABELS), random_state=seed)
    exp = explainer.explain_instance(hypothesis, classifier_fn, labels=(label,),
                                     num_features=num_features, num_samples=num_samples)
    return label, exp.as_list(label=label)
