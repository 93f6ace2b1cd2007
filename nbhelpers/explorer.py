"""The neighbour explorer's data (chapter 7): a script that ``book/_static/explorer.js`` loads."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import (check_dict, check_frame, check_indices, check_int, check_label_map, check_labels,
                     check_matrix, check_pairs, check_path, check_positive, check_proba, check_records,
                     check_same_shape, check_str, check_unit_interval)
from .data import NLI_LABELS
from .knn import backoff, knn_proba, neighbor_weights

DATA_FILE = "explorer-data.js"  # the file the page loads, next to the page in the built site


def sample_indices(n_total: int, n: int, *, seed: int = 0, groups=None) -> np.ndarray:
    """A seeded sample of ``n`` of ``n_total`` row indices, sorted; with ``groups``, balanced across them."""
    check_int(n_total, "n_total", 1)
    check_int(n, "n", 1)
    rng = np.random.default_rng(seed)
    if groups is None:
        return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False)).astype(np.int64)
    groups = np.asarray(groups)
    if groups.shape != (n_total,) or pd.isna(groups).any():  # NaN, None: no order
        raise ValueError(f"groups must have shape ({n_total},) like the rows, without missing values; got "
                         f"shape {groups.shape}, dtype {groups.dtype}")
    names = np.unique(groups)
    per, extra = divmod(n, len(names))
    picked = [rng.choice(rows, size=min(len(rows), per + int(i < extra)), replace=False)
              for i, rows in enumerate(np.flatnonzero(groups == name) for name in names)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def stable_sample(ids, n: int, *, seed: int = 0) -> np.ndarray:
    """Positions of the (up to) ``n`` row ``ids`` ranked first by a seeded hash of each id alone, sorted:
    a sample of a subset of the rows holds every row of the full sample that lies in it."""
    check_int(n, "n", 1)
    if (ids := np.asarray(ids)).ndim != 1 or ids.dtype.kind not in "iu" or not ids.size or ids.min() < 0:
        raise ValueError(f"ids must be a 1-D array of integer row ids, non-negative, at least one; got shape "
                         f"{ids.shape}, dtype {ids.dtype}")
    with np.errstate(over="ignore"):  # the hash: splitmix64 of the id, offset by the seed
        z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        rank = z ^ (z >> np.uint64(31))
    return np.sort(np.argsort(rank, kind="stable")[:n]).astype(np.int64)


def _round(a, digits):
    """Rounded, as JSON-ready ints where whole (``0`` is shorter than ``0.0``) and floats elsewhere."""
    out = np.round(np.asarray(a, dtype=np.float64), digits) + 0.0  # -0.0 -> 0.0
    return [[x if x % 1 else int(x) for x in row] for row in out.tolist()]


def explorer_records(queries: pd.DataFrame, train: pd.DataFrame, p_model, distances, indices, *,
                     temperature: float, tau: float, name: str, title: str, n_shown=None,
                     label_map=None, gold_names=NLI_LABELS, train_source: str = "", query_ids=None) -> dict:
    """One set of explored examples (e.g. SNLI test) as compact JSON-ready data. ``p_knn`` uses all k
    neighbours, the page lists ``n_shown``; ``label_map``: each class's gold label (HANS: 0, 1, 1)."""
    check_pairs(check_frame(queries, "queries", ("label",)), False, name="queries")
    check_pairs(train, True, name="train")
    check_str(name, "name"), check_str(title, "title")
    n = len(queries)
    pm = check_proba(p_model, "p_model", n_classes=len(NLI_LABELS), atol=1e-3)
    d = check_matrix(distances, "distances")
    ids = np.asarray(queries.index if query_ids is None else query_ids)
    for arg, a, cols in (("p_model", pm, ", 3"), ("distances", d, ", k"), ("query_ids", ids, ",")):
        if a.shape[:1] != (n,) or a.ndim != 2 - (cols == ","):  # p_model and distances are 2-D already
            raise ValueError(f"{arg} must have shape ({n}{cols}), one row per example; got shape {a.shape}")
    idx = check_indices(indices, len(train), "indices", ndim=2)
    check_same_shape(d, idx, "distances", "indices")
    temperature, tau = check_positive(temperature, "temperature"), check_unit_interval(tau, "tau")
    k = d.shape[1]
    n_shown = k if n_shown is None else min(check_int(n_shown, "n_shown", 1), k)
    to_gold = check_label_map(label_map, len(NLI_LABELS), n_labels=len(gold_names))
    gold = check_labels(queries["label"].to_numpy(), len(gold_names), "queries['label']")

    train_labels = train["label"].to_numpy()
    p_knn = knn_proba(d, train_labels[idx], temperature=temperature)
    model_pred = pm.argmax(1)
    rows, compact = np.unique(idx[:, :n_shown], return_inverse=True)
    def texts(df, at=slice(None)):
        return {col: df[col].iloc[at].astype(str).tolist() for col in ("premise", "hypothesis")}
    return {
        "name": str(name), "title": str(title), "train_source": str(train_source),
        "k": int(k), "n_shown": int(n_shown), "T": temperature, "tau": tau,
        "class_names": list(NLI_LABELS), "gold_names": [str(g) for g in gold_names],
        "label_map": None if label_map is None else to_gold.tolist(),
        "train": {**texts(train, rows), "label": train_labels[rows].astype(int).tolist(),
                  "row": rows.tolist()},
        "examples": {
            "id": [int(x) if np.issubdtype(type(x), np.integer) else str(x) for x in ids], **texts(queries),
            "gold": gold.tolist(),
            "heuristic": queries["heuristic"].astype(str).tolist() if "heuristic" in queries else None,
            "p_model": _round(pm, 3), "p_knn": _round(p_knn, 3),
            "model_pred": model_pred.tolist(), "pred": backoff(pm, p_knn, tau).tolist(),
            "backed_off": (pm.max(1) <= tau).astype(int).tolist(),
            "model_correct": (to_gold[model_pred] == gold).astype(int).tolist(),
            "nn": compact.reshape(len(idx), n_shown).tolist(), "dist": _round(d[:, :n_shown], 1),
            "w": _round(neighbor_weights(d, temperature=temperature)[:, :n_shown], 3),
        },
    }


def explorer_data(*sets: dict, smoke: bool = False, backbone: str = "") -> dict:
    """Bundle sets of :func:`explorer_records` for the page, with one training table per ``train_source``."""
    check_records(sets, "sets", ("name", "train", "train_source", "examples"))
    names = [s["name"] for s in sets]
    if len(set(names)) != len(names):
        raise ValueError(f"set names must be unique; got {names}")
    sources = list(dict.fromkeys(s["train_source"] for s in sets))
    tables = []
    for source in sources:
        t = pd.concat(pd.DataFrame(s["train"]) for s in sets if s["train_source"] == source).drop_duplicates()
        if len(clash := t["row"][t["row"].duplicated()]):
            raise ValueError(f"sets with train_source {source!r} disagree on training row {clash.iloc[0]}; "
                             "expected one datastore per source")
        tables.append({"source": source, **t.sort_values("row")[["premise", "hypothesis", "label", "row"]]
                       .to_dict("list")})
    out = []
    for s in sets:
        table = sources.index(s["train_source"])
        remap = np.searchsorted(tables[table]["row"], s["train"]["row"])  # rows into the shared table
        out.append({**{key: v for key, v in s.items() if key != "train"}, "table": table,
                    "examples": dict(s["examples"], nn=remap[s["examples"]["nn"]].tolist())})
    return {"version": 2, "smoke": bool(smoke), "backbone": str(backbone), "tables": tables, "sets": out}


def write_explorer(data: dict, folder) -> int:
    """Write :data:`DATA_FILE` (``window.EXPLORER_DATA = {...};``) into ``folder``; return its bytes."""
    check_dict(data, "data", ["sets"])  # what explorer_data returned
    folder = Path(check_path(folder, "folder"))
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False).replace("</", "<\\/")
    (folder / DATA_FILE).write_text(f"window.EXPLORER_DATA = {text};\n", encoding="ascii")
    return (folder / DATA_FILE).stat().st_size
