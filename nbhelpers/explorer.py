"""The neighbour explorer's data: compact, JSON-ready records for the static page.

The explorer chapter lets a reader pick a test example and read why the model decided
what it did: its probabilities, the kNN probabilities, whether backoff handed it to kNN,
and its k nearest training pairs. Everything here is arrays in, plain Python out; the
chapter computes the arrays (model, kNN, tuning) and this module only packs them.

Notation: n shown examples, k neighbours per example (the run's tuned k), C = 3 classes,
N training pairs. Numbers are rounded (probabilities and weights to 3 decimals, squared
distances to 1) and each neighbour is an index into ONE compact training table per set,
which holds only the training pairs that some shown example retrieves.

The page itself is not here: its controls are raw HTML in chapter 7's markdown, its
script and style are ``book/_static/explorer.js`` and ``explorer.css`` (served by Sphinx
through ``html_static_path``). This module writes only the data the page reads:
``window.EXPLORER_DATA`` in a script file (:func:`write_explorer_data`), not a JSON file
read with ``fetch()``, so the page also works when the site is opened from ``file://``.
The page inserts every text with ``textContent``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .data import NLI_LABELS
from .knn import backoff, knn_proba, neighbor_weights
from .checks import check_label_map, check_positive, check_proba, check_unit_interval, shape_str

__all__ = ["NLI_LABELS", "DATA_FILE", "INDEX_FILE", "sample_indices", "stable_sample",
           "explorer_records", "explorer_data", "write_explorer_data", "explorer_index",
           "write_explorer_index"]

DATA_FILE = "explorer-data.js"
"""The file the page loads, next to the page in the built site."""

INDEX_FILE = "explorer-index.js"
"""A small file beside :data:`DATA_FILE`: which examples the explorer holds, by set. Pages with
interactive figures load it to link a point to the explorer only where its example is there."""

PROB_DIGITS, DIST_DIGITS = 3, 1


def sample_indices(n_total: int, n: int, *, seed: int = 0, groups=None) -> np.ndarray:
    """A fixed random sample of ``n`` row indices out of ``n_total``, sorted.

    Parameters
    ----------
    n_total : int
        Number of rows to draw from.
    n : int
        Sample size; all rows when ``n >= n_total``.
    seed : int, default=0
    groups : array-like of shape (n_total,), optional
        Group of each row (e.g. a HANS heuristic). The sample then takes ``n // G`` rows
        from each of the G groups (fewer where a group is smaller), plus one more from
        the first ``n % G`` groups in sorted order.

    Returns
    -------
    ndarray of int64, sorted ascending, without repeats.

    Example
    -------
    >>> idx = sample_indices(6, 4, groups=["a", "a", "a", "b", "b", "b"])
    >>> len(idx), int((idx < 3).sum()), int((idx >= 3).sum())  # two from each group
    (4, 2, 2)
    """
    if not isinstance(n_total, (int, np.integer)) or n_total < 0:
        raise ValueError(f"n_total must be a non-negative integer; got {n_total!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    rng = np.random.default_rng(seed)
    if groups is None:
        return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False)).astype(np.int64)
    groups = np.asarray(groups)
    if groups.shape != (n_total,):
        raise ValueError(f"groups must have shape ({n_total},) like the rows; "
                         f"got shape {shape_str(np.shape(groups))}")
    names = np.unique(groups)
    per, extra = divmod(n, len(names))
    picked = []
    for i, name in enumerate(names):
        rows = np.flatnonzero(groups == name)
        take = min(len(rows), per + int(i < extra))
        picked.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _rank(ids, seed: int) -> np.ndarray:
    """A seeded pseudo-random rank per integer id (splitmix64), independent of the other ids."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids, dtype=np.int64).astype(np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def stable_sample(ids, n: int, *, seed: int = 0) -> np.ndarray:
    """Positions of the (up to) ``n`` ids ranked first by a seeded hash of each id, sorted.

    Each id's rank depends only on the id and the seed, never on which other ids are
    present. So two chapters that draw from the same rows agree (chapter 6's t-SNE and the
    explorer take the same HANS validation pairs; chapter 1's map and the explorer the same
    SNLI validation pairs); a smaller ``n`` gives a subset of a larger one's sample; and a
    sample of some of the rows holds every row of the full sample of the same size that lies
    among them (chapter 1's smoke run uses a few hundred validation rows).

    Parameters
    ----------
    ids : array-like of int, shape (m,)
        Row ids in the full split (e.g. ``df.index`` of a frame from ``load_nli``).
    n : int
        Sample size; all when ``n >= m``.
    seed : int, default=0

    Returns
    -------
    ndarray of int64: positions into ``ids``, ascending.

    Example
    -------
    >>> full = stable_sample(range(100), 10, seed=0)        # ids 0..99: positions are ids
    >>> evens = stable_sample(range(0, 100, 2), 10, seed=0)  # the even ids only
    >>> bool(set(full[full % 2 == 0]) <= set(2 * evens)), len(stable_sample(range(5), 10))
    (True, 5)
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D array of integer row ids; got shape {shape_str(np.shape(ids))}, "
                         f"dtype {ids.dtype}")
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be non-negative row ids; got minimum {ids.min()}")
    order = np.argsort(_rank(ids, seed), kind="stable")
    return np.sort(order[:n]).astype(np.int64)


def _proba(p, name, n):
    a = check_proba(p, name, n_classes=len(NLI_LABELS), atol=1e-3)
    if len(a) != n:
        raise ValueError(f"{name} must have shape ({n}, 3), one row per example; "
                         f"got shape {shape_str(a.shape)}")
    return a


def _number(x: float):
    """A rounded value for JSON: an int where it is whole (``0`` is shorter than ``0.0``)."""
    return int(x) if x == int(x) else float(x)


def _round(a, digits):
    out = np.round(np.asarray(a, dtype=np.float64), digits) + 0.0  # -0.0 -> 0.0
    return [[_number(x) for x in row] for row in out] if out.ndim == 2 else [_number(x) for x in out]


def explorer_records(queries: pd.DataFrame, train: pd.DataFrame, p_model, distances, indices, *,
                     temperature: float, tau: float, name: str, title: str, n_shown=None,
                     label_map=None, gold_names=NLI_LABELS, train_source: str = "",
                     query_ids=None) -> dict:
    """Pack one set of explored examples (e.g. SNLI test) into compact, JSON-ready data.

    Parameters
    ----------
    queries : DataFrame with n rows
        ``premise``, ``hypothesis``, ``label`` (gold, in ``gold_names`` order) and, where it
        has one, ``heuristic`` (HANS).
    train : DataFrame with N rows
        The kNN datastore: ``premise``, ``hypothesis``, ``label`` in 0..2.
    p_model : array-like of shape (n, 3)
        The model's probabilities.
    distances : array-like of shape (n, k)
        Squared distances of each example to its k nearest training pairs, ascending
        (:meth:`nbhelpers.knn.KNN.kneighbors` with the tuned k).
    indices : array-like of int, shape (n, k)
        Their rows in ``train``.
    temperature, tau : float
        The run's tuned T (weights ``softmax(-d / T)`` over the k) and backoff threshold.
    name, title : str
        A short id (``"snli"``) and the set's heading on the page.
    n_shown : int, optional
        List only the nearest ``n_shown`` neighbours (default: all k). The weights and
        ``p_knn`` still come from all k.
    label_map : array-like of int (3,), optional
        The gold label of each predicted class, in 0..len(gold_names)-1 (HANS: ``[0, 1, 1]``).
    gold_names : sequence of str
        Names of the gold labels.
    train_source : str
        Where the training pairs come from, shown on the page.
    query_ids : array-like (n,), optional
        Each example's row in its full split (default ``queries.index``).

    Returns
    -------
    dict
        ``name``, ``title``, ``train_source``, ``k``, ``n_shown``, ``T``, ``tau``,
        ``class_names``, ``gold_names``, ``label_map``, ``train`` (compact table:
        ``premise``, ``hypothesis``, ``label``, ``row`` = row in the full training set)
        and ``examples``, column-wise: ``id``, ``premise``, ``hypothesis``, ``gold``,
        ``heuristic`` (or None), ``p_model``, ``p_knn``, ``model_pred``, ``pred`` (after
        backoff), ``backed_off``, ``model_correct``, ``nn`` (indices into ``train``),
        ``dist``, ``w``. ``p_knn`` is the sum of the k weights per label, so the page and
        the data agree by construction.

    Example
    -------
    >>> q = pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [1]})
    >>> tr = pd.DataFrame({"premise": ["x", "y", "z"], "hypothesis": ["u", "v", "w"], "label": [0, 1, 1]})
    >>> r = explorer_records(q, tr, [[0.5, 0.3, 0.2]], [[0.0, 1.0]], [[2, 0]],
    ...                      temperature=1.0, tau=0.6, name="t", title="T")
    >>> r["examples"]["w"], r["examples"]["p_knn"], r["examples"]["pred"], r["train"]["row"]
    ([[0.731, 0.269]], [[0.269, 0.731, 0]], [1], [0, 2])
    """
    for col in ("premise", "hypothesis", "label"):
        if col not in queries.columns:
            raise ValueError(f"queries must have a {col!r} column; got columns {list(queries.columns)}")
        if col not in train.columns:
            raise ValueError(f"train must have a {col!r} column; got columns {list(train.columns)}")
    n, n_train = len(queries), len(train)
    if n == 0:
        raise ValueError("queries is empty; expected at least one example")
    pm = _proba(p_model, "p_model", n)
    d = np.asarray(distances, dtype=np.float64)
    idx = np.asarray(indices)
    if d.ndim != 2 or d.shape[0] != n or d.shape[1] == 0:
        raise ValueError(f"distances must have shape ({n}, k) with k >= 1, one row per example; "
                         f"got shape {shape_str(np.shape(d))}")
    if idx.shape != d.shape:
        raise ValueError(f"indices must have the shape of distances {shape_str(np.shape(d))}; "
                         f"got shape {shape_str(np.shape(idx))}")
    if idx.dtype.kind not in "iu" or (idx < 0).any() or (idx >= n_train).any():
        raise ValueError(f"indices must be integer rows of train, in 0..{n_train - 1}; "
                         f"got dtype {idx.dtype}, range {idx.min()}..{idx.max()}")
    if not np.isfinite(d).all():
        raise ValueError("distances must be finite")
    temperature = check_positive(temperature, "temperature")  # the library's checks, as in knn.backoff
    tau = check_unit_interval(tau, "tau")
    k = d.shape[1]
    n_shown = k if n_shown is None else int(n_shown)
    if n_shown < 1:
        raise ValueError(f"n_shown must be >= 1; got {n_shown}")
    n_shown = min(n_shown, k)
    to_gold = check_label_map(label_map, len(NLI_LABELS), n_labels=len(gold_names))
    ids = np.asarray(queries.index if query_ids is None else query_ids)
    if ids.shape != (n,):
        raise ValueError(f"query_ids must have shape ({n},) like queries; "
                         f"got shape {shape_str(np.shape(ids))}")
    gold = queries["label"].to_numpy()
    if gold.dtype.kind not in "iu" or (gold < 0).any() or (gold >= len(gold_names)).any():
        raise ValueError(f"queries['label'] must be integers in 0..{len(gold_names) - 1} "
                         f"(gold_names {list(gold_names)}); got {np.unique(gold).tolist()}")

    train_labels = train["label"].to_numpy()
    w = neighbor_weights(d, temperature=temperature)  # the book's kNN vote, one formula
    p_knn = knn_proba(d, train_labels[idx], temperature=temperature)
    model_pred = pm.argmax(1)
    pred = backoff(pm, p_knn, float(tau))

    shown = idx[:, :n_shown]
    rows, compact = np.unique(shown, return_inverse=True)
    compact = compact.reshape(shown.shape)
    heuristic = (queries["heuristic"].astype(str).tolist() if "heuristic" in queries.columns else None)
    return {
        "name": str(name), "title": str(title), "train_source": str(train_source),
        "k": int(k), "n_shown": int(n_shown), "T": float(temperature), "tau": float(tau),
        "class_names": list(NLI_LABELS), "gold_names": [str(g) for g in gold_names],
        "label_map": None if label_map is None else [int(x) for x in to_gold],
        "train": {"premise": train["premise"].iloc[rows].astype(str).tolist(),
                  "hypothesis": train["hypothesis"].iloc[rows].astype(str).tolist(),
                  "label": [int(x) for x in train_labels[rows]],
                  "row": [int(x) for x in rows]},
        "examples": {
            "id": [int(x) if np.issubdtype(type(x), np.integer) else str(x) for x in ids],
            "premise": queries["premise"].astype(str).tolist(),
            "hypothesis": queries["hypothesis"].astype(str).tolist(),
            "gold": [int(x) for x in gold], "heuristic": heuristic,
            "p_model": _round(pm, PROB_DIGITS), "p_knn": _round(p_knn, PROB_DIGITS),
            "model_pred": [int(x) for x in model_pred], "pred": [int(x) for x in pred],
            "backed_off": [int(x) for x in pm.max(1) <= float(tau)],
            "model_correct": [int(x) for x in to_gold[model_pred] == gold],
            "nn": [[int(x) for x in row] for row in compact],
            "dist": _round(d[:, :n_shown], DIST_DIGITS), "w": _round(w[:, :n_shown], PROB_DIGITS),
        },
    }


def explorer_data(*sets: dict, smoke: bool = False, backbone: str = "") -> dict:
    """Bundle the sets of :func:`explorer_records` for the page, one training table per datastore.

    Sets whose neighbours come from the same training data (same ``train_source``, e.g. SNLI
    test and SNLI validation) share one compact table, the union of the rows they retrieve,
    so a training pair is written once. The records passed in are not changed.

    Returns
    -------
    dict
        ``version`` (2), ``smoke``, ``backbone``, ``tables`` (one per datastore: ``source``,
        ``premise``, ``hypothesis``, ``label``, ``row``) and ``sets``: the records without
        their ``train``, with ``table`` (an index into ``tables``) and each ``examples.nn``
        pointing into that table.

    Example
    -------
    >>> q = pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [1]})
    >>> tr = pd.DataFrame({"premise": ["x", "y", "z"], "hypothesis": ["u", "v", "w"], "label": [0, 1, 1]})
    >>> one = explorer_records(q, tr, [[0.5, 0.3, 0.2]], [[0.0]], [[2]], temperature=1.0, tau=0.6,
    ...                        name="a", title="A", train_source="toy")
    >>> two = explorer_records(q, tr, [[0.5, 0.3, 0.2]], [[0.0]], [[0]], temperature=1.0, tau=0.6,
    ...                        name="b", title="B", train_source="toy")
    >>> d = explorer_data(one, two)
    >>> d["tables"][0]["row"], [(s["table"], s["examples"]["nn"]) for s in d["sets"]]
    ([0, 2], [(0, [[1]]), (0, [[0]])])
    """
    if not sets:
        raise ValueError("explorer_data needs at least one set from explorer_records")
    names = [s.get("name") for s in sets]
    if len(set(names)) != len(names):
        raise ValueError(f"set names must be unique; got {names}")
    sources = list(dict.fromkeys(s["train_source"] for s in sets))
    tables = []
    for source in sources:
        rows = {}
        for s in (s for s in sets if s["train_source"] == source):
            t = s["train"]
            for i, row in enumerate(t["row"]):
                pair = (t["premise"][i], t["hypothesis"][i], t["label"][i])
                if rows.setdefault(row, pair) != pair:
                    raise ValueError(f"sets with train_source {source!r} disagree on training row {row}: "
                                     f"{rows[row]!r} against {pair!r}; expected one datastore per source")
        order = sorted(rows)
        tables.append({"source": source, "premise": [rows[r][0] for r in order],
                       "hypothesis": [rows[r][1] for r in order], "label": [rows[r][2] for r in order],
                       "row": order})
    out = []
    for s in sets:
        table = sources.index(s["train_source"])
        at = {row: i for i, row in enumerate(tables[table]["row"])}
        remap = [at[row] for row in s["train"]["row"]]
        examples = dict(s["examples"], nn=[[remap[t] for t in nn] for nn in s["examples"]["nn"]])
        kept = {key: v for key, v in s.items() if key != "train"}
        out.append({**kept, "table": table, "examples": examples})
    return {"version": 2, "smoke": bool(smoke), "backbone": str(backbone), "tables": tables, "sets": out}


def write_explorer_data(data: dict, path) -> int:
    """Write ``window.EXPLORER_DATA = {...};`` to ``path``; returns its size in bytes.

    A script file, not JSON, so the page can load it from ``file://``. The JSON is ASCII
    (``\\u`` escapes) and ``</`` is written ``<\\/``, so no text can close the script.

    Example
    -------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.js")
    >>> write_explorer_data({"sets": ["</script>"]}, p) > 0
    True
    >>> open(p).read()
    'window.EXPLORER_DATA = {"sets":["<\\\\/script>"]};\\n'
    """
    if not isinstance(data, dict):
        raise ValueError(f"data must be a dict (see explorer_data); got {type(data).__name__}")
    return _write_script("EXPLORER_DATA", data, path)


def _write_script(variable: str, value, path) -> int:
    # ASCII JSON is a valid JavaScript literal (U+2028 and U+2029 come out as \u escapes);
    # "</" written "<\/" cannot close a script element, even if the file is ever inlined
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False).replace("</", "<\\/")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"window.{variable} = {text};\n", encoding="ascii")
    return path.stat().st_size


def explorer_index(data: dict) -> dict:
    """Which example ids each set holds: ``{set name: [id, ...]}``.

    Example
    -------
    >>> explorer_index({"sets": [{"name": "snli", "examples": {"id": [3, 7]}}]})
    {'snli': [3, 7]}
    """
    if not isinstance(data, dict) or "sets" not in data:
        raise ValueError("data must be what explorer_data returned (a dict with 'sets')")
    return {s["name"]: list(s["examples"]["id"]) for s in data["sets"]}


def write_explorer_index(data: dict, path) -> int:
    """Write ``window.EXPLORER_INDEX = {set: [ids]};`` to ``path``; returns its size in bytes.

    The pages with interactive figures load this small file (not the explorer's data) and
    link a point to ``07_explorer.html#ex=SET:ID`` only where the id is listed.
    """
    return _write_script("EXPLORER_INDEX", explorer_index(data), path)

