"""The neighbour explorer: compact data for the static page, and the page itself.

The explorer chapter lets a reader pick a test example and read why the model decided
what it did: its probabilities, the kNN probabilities, whether backoff handed it to kNN,
and its k nearest training pairs. Everything here is arrays in, plain Python out; the
chapter computes the arrays (model, kNN, tuning) and this module only packs them.

Notation: n shown examples, k neighbours per example (the run's tuned k), C = 3 classes,
N training pairs. Numbers are rounded (probabilities and weights to 3 decimals, squared
distances to 1) and each neighbour is an index into ONE compact training table per set,
which holds only the training pairs that some shown example retrieves.

The page reads ``window.EXPLORER_DATA`` from a ``<script>`` file
(:func:`write_explorer_data`), not a JSON file with ``fetch()``, so it also works when the
site is opened from ``file://``. The page inserts every text with ``textContent``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .data import NLI_LABELS
from .knn import backoff, knn_proba, neighbor_weights
from .validation import check_positive, check_proba, check_unit_interval, shape_str

__all__ = ["NLI_LABELS", "DATA_FILE", "INDEX_FILE", "sample_indices", "stable_sample",
           "explorer_records", "explorer_data", "write_explorer_data", "explorer_index",
           "write_explorer_index", "explorer_html"]

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
        raise ValueError(f"groups must have shape ({n_total},) like the rows; got shape {shape_str(np.shape(groups))}")
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
        z = np.asarray(ids, dtype=np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
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
        raise ValueError(f"{name} must have shape ({n}, 3), one row per example; got shape {shape_str(a.shape)}")
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
    label_map : array-like (3,), optional
        Maps a 3-class prediction to the gold labels (HANS: ``[0, 1, 1]``).
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
        raise ValueError(f"indices must have the shape of distances {shape_str(np.shape(d))}; got shape {shape_str(np.shape(idx))}")
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
    to_gold = np.arange(3) if label_map is None else np.asarray(label_map)
    if to_gold.shape != (3,):
        raise ValueError(f"label_map must have 3 entries, one per class; got shape {shape_str(np.shape(to_gold))}")
    ids = np.asarray(queries.index if query_ids is None else query_ids)
    if ids.shape != (n,):
        raise ValueError(f"query_ids must have shape ({n},) like queries; got shape {shape_str(np.shape(ids))}")
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
            "gold": [int(x) for x in gold],
            "heuristic": heuristic,
            "p_model": _round(pm, PROB_DIGITS),
            "p_knn": _round(p_knn, PROB_DIGITS),
            "model_pred": [int(x) for x in model_pred],
            "pred": [int(x) for x in pred],
            "backed_off": [int(x) for x in pm.max(1) <= float(tau)],
            "model_correct": [int(x) for x in to_gold[model_pred] == gold],
            "nn": [[int(x) for x in row] for row in compact],
            "dist": _round(d[:, :n_shown], DIST_DIGITS),
            "w": _round(w[:, :n_shown], PROB_DIGITS),
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
        out.append({**{key: v for key, v in s.items() if key != "train"}, "table": table, "examples": examples})
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
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    text = text.replace("</", "<\\/")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"window.EXPLORER_DATA = {text};\n", encoding="ascii")
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
    text = json.dumps(explorer_index(data), separators=(",", ":"), ensure_ascii=True).replace("</", "<\\/")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"window.EXPLORER_INDEX = {text};\n", encoding="ascii")
    return path.stat().st_size


def explorer_html(data_src: str = DATA_FILE) -> str:
    """The explorer app: an HTML fragment (controls, list, detail) and its script.

    ``data_src`` is the URL of the data file relative to the page. The script builds
    every element with the DOM API and inserts every text with ``textContent``.
    """
    if '"' in data_src or "<" in data_src:
        raise ValueError(f"data_src must be a plain relative URL; got {data_src!r}")
    return (_HTML.replace("@DATA_SRC@", data_src)
            .replace("@CSS@", _CSS).replace("@JS@", _JS))


_CSS = """
#knn-explorer { font-size: 0.92rem; }
#knn-explorer .ex-controls { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: end; margin-bottom: 0.6rem; }
#knn-explorer label { display: flex; flex-direction: column; font-weight: 600; font-size: 0.8rem; }
#knn-explorer input, #knn-explorer select { font-weight: normal; padding: 0.15rem 0.3rem; }
#knn-explorer #explorer-search { min-width: 16rem; }
#knn-explorer .ex-count { margin: 0.3rem 0; color: #555; }
#knn-explorer .ex-list { max-height: 22rem; overflow-y: auto; border: 1px solid #ccc; border-radius: 4px; }
#knn-explorer .explorer-item { display: block; width: 100%; text-align: left; border: 0; border-bottom: 1px solid #eee; background: #fff; padding: 0.3rem 0.5rem; cursor: pointer; }
#knn-explorer .explorer-item:hover, #knn-explorer .explorer-item.ex-active { background: #eef4ff; }
#knn-explorer .ex-tag { display: inline-block; font-size: 0.75rem; padding: 0 0.35rem; margin-right: 0.3rem; border-radius: 3px; background: #eee; }
#knn-explorer .ex-right { background: #d7f0d7; } #knn-explorer .ex-wrong { background: #f8d4d4; }
#knn-explorer .ex-detail { margin-top: 0.8rem; }
#knn-explorer table { border-collapse: collapse; margin: 0.4rem 0; }
#knn-explorer td, #knn-explorer th { border-bottom: 1px solid #ddd; padding: 0.2rem 0.45rem; vertical-align: top; }
#knn-explorer tr.ex-disagree td { background: #fff1e0; }
#knn-explorer .ex-bar { display: inline-block; height: 0.7rem; background: #4a78c2; vertical-align: middle; margin-right: 0.3rem; }
"""

_HTML = """<div id="knn-explorer">
<style>@CSS@</style>
<noscript>The neighbour explorer needs JavaScript.</noscript>
<div class="ex-controls">
  <label>Set <select id="explorer-set"></select></label>
  <label>Search words <input id="explorer-search" type="search" placeholder="e.g. dog, guitar" autocomplete="off"></label>
  <label>Gold label <select id="explorer-gold"></select></label>
  <label>Model <select id="explorer-correct"><option value="">right or wrong</option><option value="1">right</option><option value="0">wrong</option></select></label>
  <label>Backoff <select id="explorer-backoff"><option value="">either</option><option value="1">backed off to kNN</option><option value="0">kept the model</option></select></label>
  <label>HANS heuristic <select id="explorer-heuristic"></select></label>
</div>
<div class="ex-count" id="explorer-count"></div>
<div class="ex-list" id="explorer-list" role="listbox"></div>
<div class="ex-detail" id="explorer-detail"></div>
</div>
<script src="@DATA_SRC@"></script>
<script>@JS@</script>
"""

_JS = r"""
(function () {
  "use strict";
  var MAX_LIST = 300;
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(x, d) { return Number(x).toFixed(d); }
  function start() {
    var root = document.getElementById("knn-explorer");
    if (!root || root.dataset.ready) return;
    var data = window.EXPLORER_DATA;
    var count = document.getElementById("explorer-count");
    if (!data || !data.sets || !data.sets.length) {
      count.textContent = "The explorer's data file was not found: build the book (or run this chapter) first.";
      return;
    }
    root.dataset.ready = "1";
    var $ = function (id) { return document.getElementById(id); };
    var setSel = $("explorer-set"), search = $("explorer-search"), goldSel = $("explorer-gold"),
        corrSel = $("explorer-correct"), boSel = $("explorer-backoff"), heurSel = $("explorer-heuristic"),
        list = $("explorer-list"), detail = $("explorer-detail");
    var current = null, active = null, haystack = [];

    data.sets.forEach(function (s, i) {
      var o = el("option", s.title + " (" + s.examples.premise.length + ")"); o.value = String(i); setSel.appendChild(o);
    });
    function options(sel, first, names) {
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      var o = el("option", first); o.value = ""; sel.appendChild(o);
      names.forEach(function (n, i) { var p = el("option", n); p.value = String(i); sel.appendChild(p); });
    }
    function chooseSet(i) {
      current = data.sets[i];
      var ex = current.examples;
      haystack = ex.premise.map(function (p, j) { return (p + " " + ex.hypothesis[j]).toLowerCase(); });
      options(goldSel, "any", current.gold_names);
      var heur = ex.heuristic ? Array.from(new Set(ex.heuristic)).sort() : [];
      options(heurSel, heur.length ? "any" : "(not HANS)", heur);
      heurSel.disabled = !heur.length;
      heurSel.dataset.names = JSON.stringify(heur);
      refresh();
      if (ex.premise.length) show(0);
    }
    function goldName(s, g) { return s.gold_names[g]; }
    function predGold(s, c) { return s.label_map ? s.label_map[c] : c; }
    function matches(j) {
      var ex = current.examples;
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (var w = 0; w < words.length; w++) if (haystack[j].indexOf(words[w]) < 0) return false;
      if (goldSel.value !== "" && ex.gold[j] !== Number(goldSel.value)) return false;
      if (corrSel.value !== "" && ex.model_correct[j] !== Number(corrSel.value)) return false;
      if (boSel.value !== "" && ex.backed_off[j] !== Number(boSel.value)) return false;
      if (heurSel.value !== "" && ex.heuristic) {
        var names = JSON.parse(heurSel.dataset.names);
        if (ex.heuristic[j] !== names[Number(heurSel.value)]) return false;
      }
      return true;
    }
    function refresh() {
      var ex = current.examples, hits = [];
      for (var j = 0; j < ex.premise.length; j++) if (matches(j)) hits.push(j);
      while (list.firstChild) list.removeChild(list.firstChild);
      hits.slice(0, MAX_LIST).forEach(function (j) {
        var b = el("button", null, "explorer-item"); b.type = "button"; b.dataset.index = String(j);
        b.setAttribute("role", "option");
        var ok = ex.model_correct[j] === 1;
        b.appendChild(el("span", ok ? "model right" : "model wrong", "ex-tag " + (ok ? "ex-right" : "ex-wrong")));
        b.appendChild(el("span", "gold: " + goldName(current, ex.gold[j]), "ex-tag"));
        if (ex.heuristic) b.appendChild(el("span", ex.heuristic[j], "ex-tag"));
        if (ex.backed_off[j]) b.appendChild(el("span", "backed off to kNN", "ex-tag"));
        b.appendChild(el("span", ex.premise[j] + "  \u2192  " + ex.hypothesis[j]));
        b.addEventListener("click", function () { show(j); });
        list.appendChild(b);
      });
      count.textContent = hits.length + " of " + ex.premise.length + " examples match" +
        (hits.length > MAX_LIST ? " (the first " + MAX_LIST + " are listed)" : "");
    }
    function probTable(title, p, names) {
      var t = el("table"), cap = el("caption", title); t.appendChild(cap);
      p.forEach(function (v, c) {
        var tr = el("tr"); tr.appendChild(el("td", names[c]));
        var td = el("td"); var bar = el("span", null, "ex-bar"); bar.style.width = (v * 8) + "rem";
        td.appendChild(bar); td.appendChild(el("span", fmt(v, 3))); tr.appendChild(td); t.appendChild(tr);
      });
      return t;
    }
    function show(j) {
      var s = current, ex = s.examples;
      if (active) active.classList.remove("ex-active");
      active = list.querySelector('[data-index="' + j + '"]');
      if (active) active.classList.add("ex-active");
      while (detail.firstChild) detail.removeChild(detail.firstChild);
      detail.dataset.index = String(j);
      detail.appendChild(el("h3", s.title + ", example " + ex.id[j]));
      var pairs = [["Premise", ex.premise[j]], ["Hypothesis", ex.hypothesis[j]],
                   ["Gold label", goldName(s, ex.gold[j]) + (ex.heuristic ? " (heuristic: " + ex.heuristic[j] + ")" : "")],
                   ["Model predicts", s.class_names[ex.model_pred[j]] + (s.label_map ? " (counts as " + goldName(s, predGold(s, ex.model_pred[j])) + ")" : "") +
                     (ex.model_correct[j] ? ": right" : ": wrong")]];
      var facts = el("table", null, "explorer-pair");
      pairs.forEach(function (p) { var tr = el("tr"); tr.appendChild(el("th", p[0])); tr.appendChild(el("td", p[1])); facts.appendChild(tr); });
      detail.appendChild(facts);
      var probs = el("div"); probs.style.display = "flex"; probs.style.gap = "2rem";
      probs.appendChild(probTable("Model probabilities", ex.p_model[j], s.class_names));
      probs.appendChild(probTable("kNN probabilities (k = " + s.k + ", T = " + s.T + ")", ex.p_knn[j], s.class_names));
      detail.appendChild(probs);
      var top = Math.max.apply(null, ex.p_model[j]);
      var verdict = ex.backed_off[j]
        ? "Backoff used kNN: the model's top probability " + fmt(top, 3) + " is not above tau = " + s.tau + ", so the prediction is kNN's, " + s.class_names[ex.pred[j]] + "."
        : "Backoff kept the model: its top probability " + fmt(top, 3) + " is above tau = " + s.tau + ".";
      detail.appendChild(el("p", verdict, "explorer-backoff"));
      detail.appendChild(el("p", "The " + ex.nn[j].length + " nearest of the k = " + s.k + " training pairs kNN used (from " + s.train_source +
        "); weights are softmax(-d / T) over all k. Shaded rows: the neighbour's label differs from the model's prediction."));
      var t = el("table", null, "explorer-neighbours"), head = el("tr");
      ["#", "label", "distance", "weight", "premise", "hypothesis"].forEach(function (h) { head.appendChild(el("th", h)); });
      t.appendChild(head);
      ex.nn[j].forEach(function (r, i) {
        var T = data.tables[s.table], lab = T.label[r];
        var tr = el("tr", null, "neighbour-row" + (lab !== ex.model_pred[j] ? " ex-disagree" : ""));
        tr.title = "training pair " + T.row[r];
        [i + 1, s.class_names[lab] + (lab !== ex.model_pred[j] ? " \u2260" : ""), fmt(ex.dist[j][i], 1), fmt(ex.w[j][i], 3),
         T.premise[r], T.hypothesis[r]].forEach(function (v) { tr.appendChild(el("td", v)); });
        t.appendChild(tr);
      });
      detail.appendChild(t);
    }
    [search].forEach(function (c) { c.addEventListener("input", refresh); });
    [goldSel, corrSel, boSel, heurSel].forEach(function (c) { c.addEventListener("change", refresh); });
    setSel.addEventListener("change", function () { chooseSet(Number(setSel.value)); });
    function openLinked() {
      // a link such as 07_explorer.html#ex=hans-val:123 (from a figure) opens that example
      var m = /ex=([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)/.exec(window.location.hash);
      var at = -1, set = -1;
      if (m) data.sets.forEach(function (s, i) { if (s.name === m[1]) set = i; });
      if (set < 0) return false;
      if (current !== data.sets[set]) { setSel.value = String(set); chooseSet(set); }
      at = current.examples.id.map(String).indexOf(m[2]);
      if (at < 0) return true;  // the set, but not this example: its first one stays shown
      search.value = ""; goldSel.value = ""; corrSel.value = ""; boSel.value = ""; heurSel.value = "";
      refresh();
      show(at);
      if (active) active.scrollIntoView({block: "nearest"});
      detail.scrollIntoView({block: "start"});
      return true;
    }
    setSel.value = "0";
    if (!openLinked()) chooseSet(0);
    window.addEventListener("hashchange", openLinked);
  }
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
"""
