"""The neighbour explorers of chapter 7: the static one's data, the live one's ONNX model and files."""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import Cache, write_atomic
from .checks import (check_choice, check_computed, check_dict, check_frame, check_indices, check_int,
                     check_label_map, check_labels, check_matrix, check_pairs, check_path, check_positive,
                     check_proba, check_records, check_same_length, check_same_shape, check_str,
                     check_unit_interval)
from .data import NLI_LABELS, data_hash
from .influence import topk_overlap
from .knn import backoff, knn_proba, neighbor_weights
from .models import NLIModel, _length_sorted_batches, _tokenize, encode, predict_proba

DATA_FILE = "explorer-data.js"  # the file the page loads, next to the page in the built site


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
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True, allow_nan=False).replace("</", "<\\/")
    path = Path(check_path(folder, "folder")) / DATA_FILE
    return write_atomic(path, f"window.EXPLORER_DATA = {text};\n".encode()).stat().st_size


# fp32: the export; int8: quantize_dynamic; fp16: float16 matrices; +int8-embeddings: int8 word embeddings
VARIANTS = ("fp32", "int8", "fp16", "fp16+int8-embeddings")
INPUTS, OPSET, LIVE_DIR = ("input_ids", "attention_mask", "token_type_ids"), 17, "live"


def _export(model: NLIModel, path: Path) -> None:
    import torch

    class Outputs(torch.nn.Module):  # the class probabilities and the last layer's [CLS] state
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *inputs):
            out = self.m(**dict(zip(INPUTS, inputs)), output_hidden_states=True)
            return torch.softmax(out.logits, -1), out.hidden_states[-1][:, 0]

    example = model.tokenizer(["A man plays."], ["Someone plays."], return_tensors="pt")
    net = Outputs(copy.deepcopy(model.model).cpu()).eval()  # a copy: the model stays on its device
    axes = {n: {0: "batch", 1: "tokens"} for n in INPUTS}
    with warnings.catch_warnings():  # the tracer's notes on shapes that are constant for a given input
        warnings.simplefilter("ignore")
        torch.onnx.export(net, tuple(example[n] for n in INPUTS), str(path),
                          input_names=list(INPUTS), output_names=["proba", "cls"], opset_version=OPSET,
                          dynamic_axes={**axes, "proba": {0: "batch"}, "cls": {0: "batch"}}, dynamo=False)


def _shrink(src: Path, dst: Path, embeddings: bool) -> None:
    """Matrices to float16 behind a Cast; with ``embeddings``, word embeddings to int8, a scale per row."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = onnx.load(str(src))
    inits, nodes = {i.name: i for i in g.graph.initializer}, list(g.graph.node)
    if embeddings:
        gather = max((n for n in nodes if n.op_type == "Gather" and n.input[0] in inits),
                     key=lambda n: inits[n.input[0]].dims[0])
        w, ids, out = numpy_helper.to_array(inits[gather.input[0]]), gather.input[1], gather.output[0]
        scale = np.where((s := np.abs(w).max(1) / 127) > 0, s, 1).astype(np.float32)
        g.graph.initializer.remove(inits.pop(gather.input[0]))
        g.graph.initializer.extend(numpy_helper.from_array(a, n) for a, n in (
            (np.round(w / scale[:, None]).astype(np.int8), "emb_q"), (scale, "emb_scale"),
            (np.array([-1], np.int64), "emb_axis")))
        at = nodes.index(gather)
        nodes[at:at + 1] = [helper.make_node("Gather", ["emb_q", ids], ["emb_rows"]),
                            helper.make_node("Gather", ["emb_scale", ids], ["emb_s"]),
                            helper.make_node("Unsqueeze", ["emb_s", "emb_axis"], ["emb_s1"]),
                            helper.make_node("Cast", ["emb_rows"], ["emb_f"], to=TensorProto.FLOAT),
                            helper.make_node("Mul", ["emb_f", "emb_s1"], [out])]
    casts = []
    for name, init in inits.items():
        if init.data_type == TensorProto.FLOAT and len(init.dims) == 2:
            half = numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(half, name + "_fp16"))
            casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT))
    del g.graph.node[:]
    g.graph.node.extend(casts + nodes)
    onnx.save(g, str(dst))


def export_onnx(model: NLIModel, *, variant: str = "fp16+int8-embeddings", cache: Cache | None = None):
    """``model`` as an ONNX file (a Path) of one of :data:`VARIANTS`, outputs ``proba`` (n, K) and ``cls``
    (n, d); cached, and checked (it loads, gives probabilities and finite states) before it is stored."""
    import onnx
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    check_choice(variant, "variant", VARIANTS)
    if not isinstance(model, NLIModel):
        raise TypeError(f"model must be an NLIModel (from fine_tune); got {type(model).__name__}")
    cache = cache or Cache()

    def build(tmp: Path) -> None:
        if variant == "fp32":
            return _export(model, tmp / "model.onnx")
        fp32 = export_onnx(model, variant="fp32", cache=cache)
        if variant == "int8":
            return quantize_dynamic(fp32, tmp / "model.onnx", weight_type=QuantType.QInt8)
        _shrink(fp32, tmp / "model.onnx", embeddings=variant != "fp16")

    def check(folder: Path) -> None:
        onnx.checker.check_model(str(folder / "model.onnx"))
        pair = pd.DataFrame({"premise": ["A dog runs."], "hypothesis": ["An animal moves."]})
        proba, cls = _onnx_outputs(folder / "model.onnx", pair, tokenizer=model.tokenizer)
        check_proba(proba, "the ONNX model's probabilities", n_classes=model.num_labels, atol=1e-3)
        check_computed(cls, "the ONNX model's [CLS] states", (1, model.hidden_size))

    parts = {"model": model.key, "variant": variant, "opset": OPSET, "torch": torch.__version__,
             "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    return cache.directory("onnx", parts, build, check) / "model.onnx"


def _onnx_outputs(path, df: pd.DataFrame, *, tokenizer):
    """``(proba (n, K), cls (n, d))`` of the ONNX model at ``path`` on ``df``'s pairs, batched."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    df, out = df.reset_index(drop=True), [None] * len(df)
    for idx in _length_sorted_batches(tokenizer, df, 64, 128):  # 128 tokens at most, as models.encode
        batch = _tokenize(tokenizer, df, 128, idx, padding=True, return_tensors="np")
        for i, res in zip(idx, zip(*session.run(None, {n: batch[n].astype(np.int64) for n in INPUTS}))):
            out[i] = res
    return tuple(np.stack([row[j] for row in out]).astype(np.float32) for j in (0, 1))


def datastore(knn) -> dict:
    """What the page needs of a fitted :class:`~nbhelpers.knn.KNN`, its normalised states ``z`` in float16."""
    z = knn.index_.reconstruct_n(0, knn.n_samples_fit_).astype(np.float16)
    return {"z": z, "mean": knn.mean_.astype(np.float32), "scale": knn.scale_.astype(np.float32),
            "labels": np.asarray(knn.labels_).astype(np.uint8), "k": int(knn.k), "T": float(knn.temperature)}


def _store_neighbors(store: dict, reps, k: int | None = None):
    """``(squared distances, indices)`` (n, k), nearest first, of ``reps`` in ``store`` (as the page does)."""
    q = (np.asarray(reps, dtype=np.float64) - store["mean"]).astype(np.float32) / np.float32(store["scale"])
    z = store["z"].astype(np.float32)
    d = (q * q).sum(1)[:, None] - 2 * q @ z.T + (z * z).sum(1)[None, :]
    idx = np.argsort(d, axis=1, kind="stable")[:, :store["k"] if k is None else k]
    return np.take_along_axis(d, idx, 1), idx


def compare_variants(model: NLIModel, pairs: pd.DataFrame, p_torch, reps_torch, knn, store: dict, *,
                     k: int = 16, min_agreement: float = 0.995, min_overlap: float = 0.95, cache=None):
    """``(table, chosen)``: each variant against PyTorch on ``pairs`` (argmax agreement, shared ``k`` nearest
    neighbours: PyTorch's in ``knn``, ONNX's in ``store``; size in MB) and the smallest variant that passes
    both bars (``"fp32"``, PyTorch's weights, where none does)."""
    p_torch, k = check_matrix(p_torch, "p_torch"), check_int(k, "k", 1)
    rows, cache = {}, cache or Cache()
    nn_torch = knn.kneighbors(check_matrix(reps_torch, "reps_torch"), k=k)[1]  # PyTorch's, once
    for variant in VARIANTS:
        path = export_onnx(model, variant=variant, cache=cache)
        run = lambda: dict(zip(("proba", "cls"), _onnx_outputs(path, pairs, tokenizer=model.tokenizer)))
        key = {"onnx": path.parent.name, "variant": variant, "data": data_hash(pairs)}  # a rerun runs no ONNX
        out = cache.arrays("onnx-outputs", key, ["proba", "cls"], run,
                           lambda name, a: check_computed(a, f"ONNX {name}", (len(pairs), a.shape[-1])))
        check_same_shape(p_torch, out["proba"], "p_torch", "the ONNX model's probabilities")
        nn_onnx = _store_neighbors(store, out["cls"], k)[1]
        rows[variant] = {"argmax agreement": float((p_torch.argmax(1) == out["proba"].argmax(1)).mean()),
                         "max probability difference": float(np.abs(p_torch - out["proba"]).max()),
                         f"mean overlap of {k} neighbours": topk_overlap(nn_torch, nn_onnx),
                         "MB": path.stat().st_size / 1e6}
    table = pd.DataFrame(rows).T.rename_axis("variant")
    ok = table[(table["argmax agreement"] >= min_agreement) & (table.iloc[:, 2] >= min_overlap)]
    return table, str(ok["MB"].idxmin()) if len(ok) else "fp32"


def reference_answers(model: NLIModel, knn, tau: float, pairs: pd.DataFrame, *, onnx_path, store: dict):
    """For the page's test, per pair: PyTorch's answer and, under ``onnx``, the page's pipeline in Python."""
    p, reps = (f(model, pairs, cache=False, progress=False) for f in (predict_proba, encode))
    (d, nn), p_knn = knn.kneighbors(reps, k=2), knn.predict_proba(reps)
    p_onnx, cls = _onnx_outputs(onnx_path, pairs, tokenizer=model.tokenizer)
    d_onnx, nn_onnx = _store_neighbors(store, cls)
    pk_onnx = knn_proba(d_onnx, store["labels"][nn_onnx], temperature=store["T"])
    return [{"premise": a, "hypothesis": b, "p_model": p[i].tolist(), "p_knn": p_knn[i].tolist(),
             "top": int(nn[i, 0]), "gap": float(d[i, 1] / max(d[i, 0], 1e-12) - 1), "pred": int(y), "onnx": {
                 "p_model": p_onnx[i].tolist(), "p_knn": pk_onnx[i].tolist(), "nn": nn_onnx[i].tolist()}}
            for i, (a, b, y) in enumerate(zip(pairs["premise"], pairs["hypothesis"], backoff(p, p_knn, tau)))]


def write_live(folder, name: str, *, model_path, store: dict, train: pd.DataFrame, tau: float, tokenizer,
               titles: dict, reference: list | None = None) -> dict:
    """Write the page's files for model ``name`` into ``folder/live/``; return its three files' sizes."""
    check_str(name, "name"), check_pairs(train, True, name="train"), check_unit_interval(tau, "tau")
    check_dict(titles, "titles", keys=(name,))  # {name: title} of every model, this one among them
    check_same_length(len(train), len(store["z"]), "train", "the store's states")
    live = Path(check_path(folder, "folder")) / LIVE_DIR
    meta = {"name": name, "title": titles[name], "n": len(store["z"]), "dim": int(store["z"].shape[1]),
            "k": store["k"], "T": store["T"], "tau": float(tau), "class_names": list(NLI_LABELS),
            **{key: store[key].tolist() for key in ("mean", "scale")}, "label": store["labels"].tolist(),
            **{c: train[c].astype(str).tolist() for c in ("premise", "hypothesis")},
            "reference": reference or []}
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    for file, data in ((f"{name}.onnx", Path(check_path(model_path, "model_path")).read_bytes()),
                       (f"{name}.bin", np.ascontiguousarray(store["z"], "<f2").tobytes()),
                       (f"{name}.json", json.dumps(meta, separators=(",", ":"), allow_nan=False).encode()),
                       ("vocab.txt", "".join(f"{w}\n" for w, _ in vocab).encode()),
                       ("index.json", json.dumps(titles).encode())):
        write_atomic(live / file, data)
    return {f: (live / f).stat().st_size for f in (f"{name}.{x}" for x in ("onnx", "bin", "json"))}
