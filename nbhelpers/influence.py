"""Influential training examples (Rajani et al. 2020, Section 4): by kNN retrieval and influence functions."""
from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from . import timing
from .data import NLI_LABELS as LABELS
from .checks import (check_dict, check_frame, check_indices, check_int, check_labels, check_pairs,
                     check_positive, check_real, check_reps, check_same_shape, check_vector)


def self_neighbors(index, train_reps, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Each training point's k nearest other training points, ``(distances, indices)`` of shape (N, k),
    from the KNN ``index`` fitted on ``train_reps`` (row i without i; an exact duplicate is kept).

    >>> from nbhelpers.knn import KNN
    >>> idx = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 2])
    >>> self_neighbors(idx, [[0.0], [1.0], [3.0]], k=1)[1].ravel().tolist()
    [1, 0, 1]
    """
    X = check_reps(train_reps, "train_reps")
    check_is_fitted(index, "n_samples_fit_")
    if (n := len(X)) != index.n_samples_fit_:
        raise ValueError(f"train_reps has {n} rows but the index holds {index.n_samples_fit_}; "
                         "pass the representations the index was fitted on")
    k = check_int(k, "k", low=1, high=n - 1, high_msg=f"k={k} but expected k <= N - 1 = {n - 1} (self out)")
    return index.kneighbors(X, k=k, exclude_self=True)


def retrieval_counts(neighbor_indices, n_train: int) -> np.ndarray:
    """How often each of the ``n_train`` examples appears among the (n, k) ``neighbor_indices``: (N,) int64.

    >>> retrieval_counts([[0, 1], [0, 2], [0, 1]], n_train=4).tolist()
    [3, 2, 1, 0]
    """
    n_train = check_int(n_train, "n_train", low=1)
    a = check_indices(neighbor_indices, n_train, "neighbor_indices", ndim=2)
    return np.bincount(a.ravel(), minlength=n_train).astype(np.int64)


def removal_sets(counts, fraction: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``round(fraction * N)`` most retrieved and as many random examples, sorted (ties: by ``seed``)."""
    c = check_labels(counts, name="counts")
    if not 0 < (fraction := check_real(fraction, "fraction")) < 1:
        raise ValueError(f"fraction={fraction} but expected 0 < fraction < 1")
    n, size = len(c), int(round(fraction * len(c)))
    if not 1 <= size < n:
        raise ValueError(f"fraction={fraction} of N={n} removes {size} examples; expected 1 to {n - 1}")
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    top = np.sort(np.lexsort((rng.permutation(n), -c))[:size])  # most retrieved first, ties in a seeded order
    return top.astype(np.int64), np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def matched_random_set(labels, reference, *, seed: int = 0) -> np.ndarray:
    """A random set with the label mix of ``reference`` (the top set): the removal test's label control."""
    y = check_labels(labels, name="labels")
    ref = check_indices(reference, len(y), "reference")
    if (repeated := len(ref) - len(np.unique(ref))) > 0:
        raise ValueError(f"reference holds {repeated} repeated indices; expected distinct training indices")
    rng = np.random.default_rng([check_int(seed, "seed", low=0), 2])  # a stream apart from removal_sets'
    picked = [rng.choice(np.flatnonzero(y == label), size=need, replace=False)
              for label, need in zip(*np.unique(y[ref], return_counts=True))]
    return np.sort(np.concatenate(picked)).astype(np.int64)


CONDITIONS = ("top", "random", "matched")  #: removed: the most retrieved, random, label-matched random


def _stat(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()) if v.size else None, "sd": float(v.std(ddof=1)) if v.size > 1 else None,
            "n": int(v.size)}


def removal_record(runs: pd.DataFrame) -> dict:
    """The removal test's ``runs`` per seed, JSON-ready (points): lists in ``seeds`` order (``full_acc``,
    ``drops`` by fraction and condition, ``increments``: drop at the largest fraction minus the smallest) and
    their ``summary`` (``{"mean", "sd", "n"}`` each, and the seed-paired ``gaps``: top minus each control)."""
    check_frame(runs, "runs", ["seed", "fraction", "condition", "accuracy", "drop"])
    full = runs[runs["condition"] == "full"].set_index("seed")["accuracy"]
    seeds = sorted(int(s) for s in runs["seed"].unique())
    if (missing := [s for s in seeds if s not in full.index]) or full.index.duplicated().any():
        raise ValueError(f"every seed needs exactly one 'full' row; seeds {missing} have none, "
                         f"{sorted(set(full.index[full.index.duplicated()]))} more than one")
    removed = runs[runs["condition"].isin(CONDITIONS)]
    conditions = [c for c in CONDITIONS if c in set(removed["condition"])]
    fractions = sorted(float(f) for f in removed["fraction"].unique())
    wide = removed.pivot(index="seed", columns=["fraction", "condition"], values="drop").reindex(
        index=seeds, columns=pd.MultiIndex.from_product([fractions, conditions]))
    if missing := int(wide.isna().sum().sum()):
        raise ValueError(f"every seed needs every condition {conditions} at each fraction; missing {missing}")
    span = [fractions[0], fractions[-1]] if len(fractions) > 1 else []
    parts = {f"{f:g}": wide[f] for f in fractions}  # per-seed drops, a column per condition
    if span:
        parts["increment"] = wide[span[1]] - wide[span[0]]
    controls = [c for c in ("random", "matched") if "top" in conditions and c in conditions]
    values = {p: {c: t[c].tolist() for c in conditions} for p, t in parts.items()}
    stats = {p: {c: _stat(t[c]) for c in conditions} for p, t in parts.items()}
    gaps = {p: {f"top_minus_{c}": _stat(t["top"] - t[c]) for c in controls} for p, t in parts.items()}
    names = [f"{f:g}" for f in fractions]
    summary = {"full_acc": _stat(full.reindex(seeds)), "drops": {f: stats[f] for f in names},
               "increments": stats.get("increment", {}), "gaps": gaps}
    return {"n_seeds": len(seeds), "seeds": seeds, "full_acc": [float(full[s]) for s in seeds],
            "fractions": names, "conditions": conditions, "drops": {f: values[f] for f in names},
            "increments": values.get("increment", {}), "increment_fractions": [f"{f:g}" for f in span],
            "summary": summary}


def summarise_removal(runs: pd.DataFrame) -> dict:
    """:func:`removal_record`'s summary as a flat dict per fraction (``gap``: top minus random)."""
    s, out = removal_record(runs)["summary"], {}
    for f, d in s["drops"].items():
        gaps = {"gap": s["gaps"][f]["top_minus_random"], "gap_matched": s["gaps"][f].get("top_minus_matched")}
        out[f] = {f"{c}_drop_{key}": d[c][key] for c in d for key in ("mean", "sd")}
        out[f].update({f"{g}_{key}": v[key] for g, v in gaps.items() if v for key in ("mean", "sd")},
                      n_seeds=d["top"]["n"])
    return out


def removal_table(record: dict, paper: dict | None = None) -> pd.DataFrame:
    """Totals and increments of a :func:`removal_record`, a row each: ours (mean ± sd) beside ``paper``'s."""
    check_dict(record, "record", ["summary", "n_seeds"])
    paper = paper or {}

    def fmt(stat, signed=False):
        return f"{stat['mean']:{'+' if signed else ''}.1f}" + (
            f" ± {stat['sd']:.1f}" if stat.get("sd") is not None else "")

    def paper_value(condition, fraction):  # a total that is the smallest one plus the increment shows the sum
        totals, inc = paper.get(condition, {}), paper.get("increment", {}).get(condition)
        value, lo = inc if fraction is None else totals.get(float(fraction)), min(totals, default=None)
        if value is None:
            return "-"
        if None not in (fraction, inc) and float(fraction) != lo and abs(totals[lo] + inc - value) < 1e-9:
            return f"{value:.1f} (= {totals[lo]:.1f} + {inc:.1f})"
        return f"{value:.1f}"

    s, names = record["summary"], {"top": "most retrieved", "random": "random",
                                   "matched": "random, matched labels"}
    parts = [(f"total drop, {float(f):.0%} removed", f, s["drops"][f], s["gaps"][f]) for f in s["drops"]]
    if s.get("increments"):
        lo, hi = record["increment_fractions"]
        parts.append((f"increment, {float(lo):.0%} to {float(hi):.0%} removed", None,
                      s["increments"], s["gaps"]["increment"]))
    rows = {}
    for label, fraction, stats, gaps in parts:
        row = {}
        for cond in record["conditions"]:
            row[f"{names[cond]} (ours)"] = fmt(stats[cond])
            if cond != "matched":
                row[f"{names[cond]} (paper)"] = paper_value(cond, fraction)
        row.update({key.replace("_minus_", " - ") + " (ours)": fmt(stat, True) for key, stat in gaps.items()})
        rows[label] = {**row, "seeds": record["n_seeds"]}
    return pd.DataFrame.from_dict(rows, orient="index")


def seeds_for_gap(sd: float, gap: float, *, alpha: float = 0.05, power: float = 0.8,
                  max_seeds: int = 1000) -> int:
    """The fewest seeds per condition (2 to ``max_seeds``) for which a two-sided two-sample t-test at
    ``alpha`` detects a true ``gap`` between conditions of seed sd ``sd`` with probability ``power``."""
    from scipy import stats
    sd, gap = check_positive(sd, "sd"), check_real(gap, "gap")
    if gap == 0:
        raise ValueError("gap=0.0 but expected a non-zero difference to detect")
    for name, value in (("alpha", alpha), ("power", power)):
        if not 0 < check_real(value, name) < 1:
            raise ValueError(f"{name}={float(value)} but expected 0 < {name} < 1")
    for n in range(2, check_int(max_seeds, "max_seeds", low=2) + 1):
        df, ncp = 2 * n - 2, abs(gap) / sd * np.sqrt(n / 2)
        t = stats.t.ppf(1 - alpha / 2, df)
        if stats.nct.sf(t, df, ncp) + stats.nct.cdf(-t, df, ncp) >= power:
            return n
    raise ValueError(f"a gap of {gap} with sd {sd} needs more than max_seeds={max_seeds} seeds")


def top_set_overlap(counts_a, counts_b, fraction: float = 0.1, *, seed: int = 0) -> dict:
    """How much the top sets (:func:`removal_sets`) of two retrieval counts overlap, against ``chance``."""
    a, b = check_labels(counts_a, name="counts_a"), check_labels(counts_b, name="counts_b")
    check_same_shape(a, b, "counts_a", "counts_b")
    top_a, top_b = removal_sets(a, fraction, seed=seed)[0], removal_sets(b, fraction, seed=seed)[0]
    shared = len(np.intersect1d(top_a, top_b))
    return {"n_top": len(top_a), "n_shared": shared, "overlap": shared / len(top_a),
            "chance": len(top_a) / len(a)}


def neighbor_table(train_df: pd.DataFrame, indices, distances=None, weights=None) -> pd.DataFrame:
    """One query's neighbours (training ``indices``) by rank, as in the paper's Tables 2 and 3."""
    check_pairs(train_df, need_label=True, name="train_df")  # labels in 0..2
    idx = check_indices(indices, len(train_df), "indices")
    extra = {name: check_vector(v, f"{name}s") for name, v in (("distance", distances), ("weight", weights))
             if v is not None}
    for name, v in extra.items():
        check_same_shape(v, idx, f"{name}s", "indices")
    rows = train_df.iloc[idx]
    return pd.DataFrame({"train index": idx, "premise": rows["premise"].to_numpy(), "hypothesis":
                         rows["hypothesis"].to_numpy(), "label": [LABELS[y] for y in rows["label"]], **extra},
                        index=pd.RangeIndex(1, len(idx) + 1, name="rank"))


def _pairs_loader(model, df: pd.DataFrame, batch_size: int, max_length: int):
    """Batches (input_ids, attention_mask, token_type_ids, label) on the model's device, padded per batch."""
    import torch
    from transformers import DataCollatorWithPadding
    tokenizer, device = model.tokenizer, next(model.model.parameters()).device
    enc = tokenizer(df["premise"].tolist(), df["hypothesis"].tolist(), truncation=True, max_length=max_length)
    labels = df["label"].to_numpy().astype(int) if "label" in df else np.zeros(len(df), int)
    items = [{**{key: enc[key][i] for key in enc}, "labels": int(labels[i])} for i in range(len(df))]
    pad = DataCollatorWithPadding(tokenizer)

    def collate(batch):
        b = pad(batch)
        types = b.get("token_type_ids", torch.zeros_like(b["input_ids"]))
        return tuple(t.to(device) for t in (b["input_ids"], b["attention_mask"], types, b["labels"]))

    return torch.utils.data.DataLoader(items, batch_size=batch_size, shuffle=False, collate_fn=collate)


@contextlib.contextmanager
def _only_grad_for(module, layer_modules):
    """Gradients for ``layer_modules`` only, their inputs made leaves (backward stops there); undone after."""
    saved = {p: p.requires_grad for p in module.parameters()}

    def leaf_input(mod, args):
        if args[0].is_floating_point() and not args[0].requires_grad:
            return (args[0].detach().requires_grad_(True), *args[1:])

    hooks = [m.register_forward_pre_hook(leaf_input) for m in layer_modules]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"[\s\S]*Gradients cannot be activated")
            module.requires_grad_(False)
            for m in layer_modules:
                m.requires_grad_(True)
            yield
    finally:
        for h in hooks:
            h.remove()
        for p, flag in saved.items():
            p.requires_grad_(flag)


class InfluenceExplainer(BaseEstimator):
    """Koh & Liang (2017) influence of every training example on a prediction, by captum.

    ``score(z, x) = grad L(x)^T H^-1 grad L(z)`` over ``layers`` (at most 20,000 parameters: H is
    explicit), x at the predicted label; positive scores are proponents. ``hessian_size`` estimates H on
    a seeded sample. Use: ``InfluenceExplainer(model).fit(train_df).top_k(query_df, k=16)``."""

    def __init__(self, model, *, layers=("classifier",), batch_size: int = 64, max_length: int = 128,
                 projection_dim: int = 50, hessian_reg: float = 1e-3, hessian_size: int | None = None,
                 seed: int = 0):
        self.model, self.layers, self.batch_size, self.max_length = model, layers, batch_size, max_length
        self.projection_dim, self.hessian_reg = projection_dim, hessian_reg
        self.hessian_size, self.seed = hessian_size, seed

    @timing.timed('influence functions')
    def fit(self, train_df: pd.DataFrame) -> "InfluenceExplainer":
        """Form and decompose H over ``layers`` from ``train_df``."""
        import torch
        from captum.influence import NaiveInfluenceFunction

        class Logits(torch.nn.Module):  # module(ids, mask, types) -> logits, as captum calls it
            def __init__(self, hf):
                super().__init__()
                self.hf = hf

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.hf(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).logits

        start = time.perf_counter()
        hf, layers = self.model.model, list(self.layers)
        names = dict(hf.named_modules())
        if unknown := [name for name in layers if name not in names]:
            raise ValueError(f"unknown layers {unknown}; the model's top-level modules are "
                             f"{[n for n in names if n and '.' not in n]}")
        n_params = sum(p.numel() for name in layers for p in names[name].parameters())
        if n_params > 20_000:
            raise ValueError(f"layers {layers} hold {n_params:,} parameters: the explicit Hessian would "
                             "be too large; choose a smaller part (e.g. 'classifier')")
        check_pairs(train_df, True, hf.config.num_labels, name="train_df")
        sample = train_df
        if self.hessian_size is not None:
            check_int(self.hessian_size, "hessian_size", low=1, high=len(train_df))
            sample = train_df.sample(self.hessian_size, random_state=self.seed)
        train = _pairs_loader(self.model, train_df, self.batch_size, self.max_length)
        # captum forms H batch by batch, each batch costing one backward pass per parameter: one batch
        hessian = _pairs_loader(self.model, sample, len(sample), self.max_length)
        torch.manual_seed(self.seed)
        self.module_, self.layers_ = Logits(hf).eval(), [names[name] for name in layers]
        with _only_grad_for(hf, self.layers_):
            self.captum_ = NaiveInfluenceFunction(
                self.module_, train, checkpoint="(the loaded model)",
                checkpoints_load_func=lambda module, path: 1.0,  # the weights are already loaded
                layers=[f"hf.{name}" for name in layers], loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"),
                sample_wise_grads_per_batch=True, projection_dim=min(int(self.projection_dim), n_params),
                seed=self.seed, hessian_reg=self.hessian_reg, hessian_dataset=hessian)
        self.n_train_, self.hessian_size_ = len(train_df), len(sample)
        self.setup_seconds_ = time.perf_counter() - start
        return self

    @timing.timed('influence functions')
    def scores(self, query_df: pd.DataFrame) -> np.ndarray:
        """Influence of every training example on each query's prediction, shape (n, N)."""
        import torch
        check_is_fitted(self, "captum_", msg="this %(name)s is not fitted; call .fit(train_df) first")
        pairs = _pairs_loader(self.model, query_df[["premise", "hypothesis"]], len(query_df), self.max_length)
        ids, mask, types, _ = next(iter(pairs))
        with torch.no_grad():
            predicted = self.module_(ids, mask, types).argmax(-1)
        with torch.enable_grad(), _only_grad_for(self.model.model, self.layers_):
            return self.captum_.influence((ids, mask, types, predicted), k=None).detach().cpu().numpy()

    def top_k(self, query_df: pd.DataFrame, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """The k strongest proponents of each query's prediction: (indices, scores), each (n, k)."""
        check_is_fitted(self, "captum_", msg="this %(name)s is not fitted; call .fit(train_df) first")
        check_int(k, "k", low=1, high=self.n_train_)
        s = self.scores(query_df)
        idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(s, idx, 1)


def topk_overlap(a, b) -> float:
    """Mean share of the (n, k) top-k sets ``a`` that ``b`` also lists (random k-subsets: about k / N)."""
    a, b = check_labels(a, None, "a", ndim=2), check_labels(b, None, "b", ndim=2)
    check_same_shape(a, b, "a", "b")
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a.tolist(), b.tolist())]))
