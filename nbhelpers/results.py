"""Typed results: one record per chapter, saved as ``results/<name>.json`` and loaded back.

A chapter ends with one record. It builds it from the run (``Record.from_run(...)``, where
the chapter's objects need reshaping, or the dataclass constructor), calls ``save`` once,
and shows ``takeaways()``: its summary bullets, written from the record alone. The
results page and the claims scorecard read the same files back (``load``).

Design, the same for every chapter:

- a record is a :func:`dataclasses.dataclass`; each field is one top-level key of the
  JSON file (``metadata={"key": ...}`` where the key is not an identifier, e.g.
  ``"snli-original"``); fields marked ``optional`` are left out of the file when ``None``;
- ``to_dict`` gives the JSON object; ``save(results_dir)`` writes ``<results_dir>/<NAME>.json``;
- ``from_dict`` and ``load`` check the keys (a missing or unknown key raises a
  ``ValueError`` that names it) and the type of each field (``TypeError``);
- the field list of every record is pinned in ``tests/test_results.py``: a schema change
  fails a unit test, not a notebook at build time.

The paper's numbers come from :mod:`nbhelpers.paper`; no record types one.
"""
from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import paper
from .data import HANS_HEURISTICS as HEURISTICS, HANS_LABELS

__all__ = ["Record", "BackoffSetting", "RepresentationsRecord", "BackoffRecord", "InfluenceRecord",
           "SpuriousRecord", "MislabelRecord", "HansRecord", "RECORDS", "load", "load_all"]

SMOKE_NOTE = "**Smoke run**: tiny subsets and one epoch; the numbers below mean nothing."


def _opt(**kw):
    """A field left out of the JSON file when it is ``None`` (and absent on load)."""
    return field(default=None, metadata={"optional": True, **kw})


def _key(f) -> str:
    return f.metadata.get("key", f.name)


def jsonable(value):
    """``value`` as plain JSON types: numpy scalars and arrays, tuples and dict keys converted.

    Example
    -------
    >>> jsonable({"a": np.float32(0.5), 1: (np.int64(2), np.arange(2))})
    {'a': 0.5, '1': [2, [0, 1]]}
    """
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _type_name(tp) -> str:
    if typing.get_args(tp) or not hasattr(tp, "__name__"):
        return str(tp).replace("typing.", "")
    return tp.__name__


def _check(value, tp, where: str):
    """Check ``value`` (from JSON) against the annotation ``tp``; return it, nested records built."""
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        others = [o for o in options if o is not type(None)]
        if len(others) == 1:  # X | None with a value: X's own message says where it fails
            return _check(value, others[0], where)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(value, option, where)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise TypeError(f"{where}: expected {' or '.join(_type_name(o) for o in options)}, "
                        f"got {type(value).__name__} {value!r:.80}")
    if isinstance(tp, type) and issubclass(tp, Record):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object ({tp.__name__}), got {type(value).__name__}")
        return tp.from_dict(value, where=where)
    base = origin or tp
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where}: expected a number, got {type(value).__name__} {value!r:.80}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: expected an integer, got {type(value).__name__} {value!r:.80}")
        return value
    if base in (str, bool):
        if not isinstance(value, base):
            raise TypeError(f"{where}: expected {base.__name__}, got {type(value).__name__} {value!r:.80}")
        return value
    if base is list:
        if not isinstance(value, list):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__} {value!r:.80}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if base is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object, got {type(value).__name__} {value!r:.80}")
        args = typing.get_args(tp)
        item = args[1] if args else Any
        return {k: _check(v, item, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where}: unsupported annotation {tp!r}")  # pragma: no cover - a record bug


@dataclass
class Record:
    """Base of the typed records; see the module docstring for the design."""

    NAME: ClassVar[str] = ""
    """The file stem: the record lives in ``<results_dir>/<NAME>.json``."""
    JSON_DEFAULT: ClassVar = staticmethod(lambda value: jsonable(value))
    """How values JSON cannot write are converted (numpy scalars and arrays by default)."""

    @classmethod
    def keys(cls) -> list[str]:
        """The JSON keys of the record, in file order (optional ones included)."""
        return [_key(f) for f in fields(cls)]

    def to_dict(self) -> dict:
        """The JSON object: one key per field, optional fields left out when ``None``.

        Values go through ``json.dumps(..., default=JSON_DEFAULT)`` and back, so the object
        is exactly what the file holds.
        """
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("optional"):
                continue
            out[_key(f)] = value.to_dict() if isinstance(value, Record) else value
        return json.loads(json.dumps(out, default=type(self).JSON_DEFAULT))

    @classmethod
    def from_dict(cls, obj: dict, *, where: str | None = None):
        """Build and check a record from its JSON object.

        Raises ``ValueError`` naming missing and unknown keys and ``TypeError`` naming a
        field whose value has the wrong type.
        """
        where = where or cls.__name__
        if not isinstance(obj, dict):
            raise TypeError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        hints = typing.get_type_hints(cls)
        known = {_key(f): f for f in fields(cls)}
        required = [k for k, f in known.items()
                    if not f.metadata.get("optional") and f.default is MISSING and f.default_factory is MISSING]
        missing = [k for k in required if k not in obj]
        unknown = [k for k in obj if k not in known]
        if missing or unknown:
            raise ValueError(f"{where}: the keys do not match the record {cls.__name__}: missing "
                             f"{missing or 'none'}, unknown {unknown or 'none'}; expected {list(known)}")
        kwargs = {f.name: _check(obj[k], hints[f.name], f"{where}[{k!r}]")
                  for k, f in known.items() if k in obj}
        return cls(**kwargs)

    def save(self, results_dir) -> Path:
        """Check the record, then write ``<results_dir>/<NAME>.json`` (indent 1); returns the path."""
        data = self.to_dict()
        type(self).from_dict(json.loads(json.dumps(data)))  # what load would refuse, save refuses
        path = Path(results_dir, f"{self.NAME}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path):
        """Read and check a record from ``path`` (a file, or the results folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / f"{cls.NAME}.json"
        return cls.from_dict(json.loads(path.read_text()), where=path.name)


def _pct(x) -> str:
    return f"{x:.1%}"


def _smoke(lines: list[str], smoke: bool, note: str = SMOKE_NOTE) -> list[str]:
    return ([note] if smoke else []) + lines


# --------------------------------------------------------------------------- chapter 1

def _variant_key(pooling, layer, normalize) -> str:
    return f"{pooling}-layer{int(layer)}-{'norm' if normalize else 'raw'}"


def _parse_variant(key: str) -> tuple[str, int, bool]:
    pooling, layer, norm = key.rsplit("-", 2)
    return pooling, int(layer.removeprefix("layer")), norm == "norm"


_PROBE_KEYS = ("knn_acc", "knn_ci", "probe_acc", "probe_ci", "temperature", "n_val", "n_train")


@dataclass
class RepresentationsRecord(Record):
    """Chapter 1, ``representations.json``: which representation kNN should use."""

    NAME: ClassVar[str] = "representations"
    backbone: str
    seed: int
    k: int
    smoke: bool
    train: str
    validation: str
    n_train: int
    n_val: int
    recipe: dict
    model_val_acc: float
    recipes: list[dict]
    knn_acc: dict[str, float]
    best_variant: dict
    cls_last_norm_knn_acc: float
    cls_last_norm_rank: int
    n_variants: int
    paper: dict
    model_val_ci: list[float]
    finetuned: dict
    unfinetuned: dict
    unfinetuned_mean: dict
    tokenisation: dict
    minutes: float
    timing: dict

    @classmethod
    def from_run(cls, *, backbone, seed, k, smoke, n_train, n_val, recipe, model_val_acc, recipes,
                 grid, last, model_ci, tuned, frozen, tok_cost, n_raw, n_text_differs,
                 n_labels_agree, n_prediction_changed, seconds, timing):
        """The record of one run of chapter 1, from the chapter's objects.

        ``grid`` is :func:`nbhelpers.representations.knn_accuracy_grid` (best first),
        ``recipes`` the recipe table, ``tuned`` and ``frozen`` (by pooling: ``cls``, ``mean``)
        :func:`nbhelpers.representations.knn_and_probe` results, ``tok_cost``
        :func:`nbhelpers.tokenisation.tokenisation_cost`.
        """
        best = grid.iloc[0]
        mine = (grid["pooling"] == "cls") & (grid["layer"] == last) & grid["normalize"]
        chosen = grid[mine].iloc[0]

        def probe(r, pooling, **extra):
            return {key: r[key] for key in _PROBE_KEYS} | {"representation": _variant_key(pooling, last, True)} | extra

        return cls(
            backbone=backbone, seed=seed, k=k, smoke=smoke, train="cad-original/train",
            validation="snli/validation", n_train=int(n_train), n_val=int(n_val), recipe=dict(recipe),
            model_val_acc=float(model_val_acc),
            recipes=recipes[["recipe", "epochs", "lr", "last-epoch loss", "val_acc"]].to_dict("records"),
            knn_acc={_variant_key(r.pooling, r.layer, r.normalize): r.knn_acc for r in grid.itertuples()},
            best_variant={"pooling": best["pooling"], "layer": int(best["layer"]),
                          "normalize": bool(best["normalize"]), "knn_acc": float(best["knn_acc"])},
            cls_last_norm_knn_acc=float(chosen["knn_acc"]),
            cls_last_norm_rank=int(grid.index[mine][0]) + 1, n_variants=len(grid),
            paper={"model_test_acc_bert_base": paper.BERT_SNLI_TEST,
                   "best_representation": paper.REPRESENTATION["text"]},
            model_val_ci=list(model_ci),
            finetuned=probe(tuned, "cls", model_acc=model_val_acc, model_ci=list(model_ci)),
            unfinetuned=probe(frozen["cls"], "cls",
                              probe_share_of_model_acc=frozen["cls"]["probe_acc"] / model_val_acc),
            unfinetuned_mean=probe(frozen["mean"], "mean",
                                   probe_share_of_model_acc=frozen["mean"]["probe_acc"] / model_val_acc),
            tokenisation=dict(tok_cost) | {
                "raw": "cad-original/test", "tokenised": "snli/test", "n_raw": int(n_raw),
                "n_text_differs": int(n_text_differs), "n_labels_agree": int(n_labels_agree),
                "n_prediction_changed": int(n_prediction_changed)},
            minutes=seconds / 60, timing=timing)

    def last_layer(self) -> int:
        return max(_parse_variant(key)[1] for key in self.knn_acc)

    def paper_table(self):
        """Ours beside the paper: model accuracy, best representation, the paper's choice."""
        import pandas as pd

        best = self.best_variant
        return pd.DataFrame([
            {"quantity": "fine-tuned model accuracy",
             "paper (BERT-base)": f"{_pct(self.paper['model_test_acc_bert_base'])} (SNLI test)",
             "ours": f"{_pct(self.model_val_acc)} (SNLI validation, {self.backbone}, {self.n_train:,} training pairs)"},
            {"quantity": "best representation for kNN", "paper (BERT-base)": self.paper["best_representation"],
             "ours": f"{best['pooling']}, layer {best['layer']}, {'normalised' if best['normalize'] else 'raw'} "
                     f"({_pct(best['knn_acc'])})"},
            {"quantity": "kNN accuracy, [CLS] last layer normalised", "paper (BERT-base)": "-",
             "ours": f"{_pct(self.cls_last_norm_knn_acc)} (rank {self.cls_last_norm_rank} of {self.n_variants})"},
        ]).set_index("quantity")

    def takeaways(self) -> list[str]:
        """The chapter's summary bullets (Markdown), written from the record."""
        last, best = self.last_layer(), self.best_variant
        parsed = {key: (_parse_variant(key), acc) for key, acc in self.knn_acc.items()}
        poolings = sorted({p for (p, _, _), _ in parsed.values()})
        norm_gain = {p: self.knn_acc[_variant_key(p, last, True)] - self.knn_acc[_variant_key(p, last, False)]
                     for p in poolings}
        shallow = max(acc for (_, layer, _), acc in parsed.values() if layer == 0)
        deep = max(acc for (_, layer, _), acc in parsed.values() if layer == last)
        frozen = {"cls": self.unfinetuned, "mean": self.unfinetuned_mean}
        best_pooling = max(frozen, key=lambda p: frozen[p]["probe_acc"])
        fc, tok = self.unfinetuned, self.tokenisation
        gap = best["knn_acc"] - self.cls_last_norm_knn_acc
        # conservative (unpaired) 95% interval: the grid keeps accuracies, not per-example results
        from .stats import accuracy_difference
        _, gap_lo, gap_hi = accuracy_difference(self.cls_last_norm_knn_acc, best["knn_acc"], self.n_val)
        half_width = (gap_hi - gap_lo) / 2
        paper_acc = self.paper["model_test_acc_bert_base"]
        lines = [
            f"- Our {self.backbone} model reaches **{self.model_val_acc:.1%}** on SNLI validation after "
            f"fine-tuning on {self.n_train:,} pairs; the paper's BERT-base, a model five times larger, reaches "
            f"{paper_acc:.1%} on SNLI test.",
            f"- Last-layer `[CLS]` with normalisation gives **{self.cls_last_norm_knn_acc:.1%}** kNN accuracy, "
            + ("the best of all variants, as the paper found." if self.cls_last_norm_rank == 1 else
               f"rank {self.cls_last_norm_rank} of {self.n_variants} (one seed); the best variant ({best['pooling']}, "
               f"layer {best['layer']}, {'normalised' if best['normalize'] else 'raw'}) is {100 * gap:+.1f} points "
               f"[{100 * gap_lo:+.1f}, {100 * gap_hi:+.1f}] higher: "
               + ("indistinguishable from it." if gap_lo <= 0 else "beyond the noise.")),
            "- Normalisation changes last-layer kNN accuracy by "
            + ", ".join(f"{100 * g:+.1f} points ({p})" for p, g in norm_gain.items())
            + f" (differences under about {100 * half_width:.1f} points are within the noise of {self.n_val:,} pairs).",
            f"- The best embedding-layer (layer 0) variant reaches {shallow:.1%}, the best last-layer variant "
            f"{deep:.1%}: " + ("the neighbours that reflect the model are found where it has done its work."
                               if deep > shallow else "surface similarity retrieves neighbours as well as the "
                               "fine-tuned layers do here, a sign that the model has learned little beyond it."),
            f"- **Confound, pretraining on NLI**: before fine-tuning, a linear probe on the backbone's last-layer "
            f"`[CLS]` reaches {fc['probe_acc']:.1%} [{fc['probe_ci'][0]:.1%}, {fc['probe_ci'][1]:.1%}] and kNN "
            f"{fc['knn_acc']:.1%}; the best probe ({best_pooling} pooling) is "
            f"{frozen[best_pooling]['probe_share_of_model_acc']:.0%} of the fine-tuned model's accuracy."
            + (" The backbone saw SNLI in pretraining; the paper's did not."
               if self.backbone in ("minilm", "mpnet") else ""),
            f"- **Confound, tokenised evaluation text**: on {tok['n_matched']} CAD-original test pairs the "
            f"tokenised copies score {tok['diff']:+.1%} against raw text "
            f"(95% CI [{tok['ci'][0]:+.1%}, {tok['ci'][1]:+.1%}]), "
            + ("beyond the noise." if tok["beyond_noise"] else "within the noise."),
        ]
        return _smoke(lines, self.smoke)


# --------------------------------------------------------------------------- chapter 2

@dataclass
class BackoffSetting(Record):
    """One setting of ``backoff.json``: tuned k, T, tau, lambda and test accuracies.

    The four paper settings carry ``other_backbones`` and ``paper`` (snli-original also
    ``seeds`` and ``smoke``); ``anli-adversarial`` carries ``seeds``, ``per_seed`` and
    ``verdict`` instead.
    """

    backbone: str
    k: int
    T: float
    tau: float
    lambda_: float = field(metadata={"key": "lambda"})
    n_test: int
    model_acc: float
    knn_acc: float
    backoff_acc: float
    interp_acc: float
    train: str
    seed: int
    backoff_gain: float | None
    backoff_gain_ci95: list[float] | None
    other_backbones: list[dict] | None = _opt()
    paper: dict[str, float] | None = _opt()
    seeds: dict | None = _opt()
    smoke: bool | None = _opt()
    per_seed: dict | None = _opt()
    verdict: Any = _opt()

    @classmethod
    def from_summary(cls, summary, *, backbone: str, train: str, seed: int, gain=None, setting: str | None = None,
                     **optional):
        """One setting's result from a tuned summary (``run_setting(...)["summary"]`` or a row of
        the chapter's table: ``k``, ``T``, ``tau``, ``lambda``, ``n_test`` and the four accuracies).

        ``gain`` is :func:`nbhelpers.stats.paired_bootstrap` of backoff against the model
        (``diff``, ``lo``, ``hi``; ``None`` leaves the gain empty); ``setting`` fills ``paper``
        from Tables 4 and 5; ``optional`` sets the optional fields (``other_backbones``,
        ``seeds``, ``smoke``, ``per_seed``, ``verdict``).

        Example
        -------
        >>> s = {"k": 8, "T": 10.0, "tau": 0.5, "lambda": 0.25, "n_test": 4, "model_acc": 0.5,
        ...      "knn_acc": 0.75, "backoff_acc": 0.75, "interp_acc": 0.5}
        >>> r = BackoffSetting.from_summary(s, backbone="minilm", train="cad-original/train", seed=0,
        ...                                 gain={"diff": 0.25, "lo": 0.0, "hi": 0.5}, setting="anli")
        >>> r.backoff_gain_ci95, r.paper["bert_tau"], r.to_dict()["lambda"]
        ([0.0, 0.5], 0.95, 0.25)
        """
        return cls(backbone=backbone, k=int(summary["k"]), T=float(summary["T"]), tau=float(summary["tau"]),
                   lambda_=float(summary["lambda"]), n_test=int(summary["n_test"]),
                   model_acc=float(summary["model_acc"]), knn_acc=float(summary["knn_acc"]),
                   backoff_acc=float(summary["backoff_acc"]), interp_acc=float(summary["interp_acc"]),
                   train=train, seed=int(seed),
                   backoff_gain=None if gain is None else float(gain["diff"]),
                   backoff_gain_ci95=None if gain is None else [float(gain["lo"]), float(gain["hi"])],
                   paper=None if setting is None else cls.paper_numbers(setting), **optional)

    @staticmethod
    def paper_numbers(setting: str) -> dict[str, float]:
        """The paper's Table 4 and 5 numbers for ``setting``, as the ``paper`` field holds them."""
        t4, t5 = paper.TABLE4, paper.TABLE5
        return {"bert_model": float(t4.loc[("BERT", "model"), setting]),
                "bert_backoff": float(t4.loc[("BERT", "kNN backoff"), setting]),
                "roberta_model": float(t4.loc[("RoBERTa", "model"), setting]),
                "roberta_backoff": float(t4.loc[("RoBERTa", "kNN backoff"), setting]),
                "bert_tau": float(t5.loc["BERT", setting]), "roberta_tau": float(t5.loc["RoBERTa", setting])}


@dataclass
class BackoffRecord(Record):
    """Chapter 2, ``backoff.json``: kNN backoff in the paper's four settings (and ANLI adversarial)."""

    NAME: ClassVar[str] = "backoff"
    SETTINGS: ClassVar[tuple[str, ...]] = ("snli-original", "snli-augmented", "anli", "hans")
    snli_original: BackoffSetting = field(metadata={"key": "snli-original"})
    snli_augmented: BackoffSetting = field(metadata={"key": "snli-augmented"})
    anli: BackoffSetting
    hans: BackoffSetting
    anli_adversarial: BackoffSetting | None = _opt(key="anli-adversarial")
    timing: dict | None = _opt()

    def setting(self, name: str) -> BackoffSetting:
        """The result for a setting by its book name (``"snli-original"``, ...)."""
        return getattr(self, name.replace("-", "_"))

    def paper_table(self):
        """Table 4 and 5 beside ours, one row per paper setting."""
        import pandas as pd

        rows = []
        for name in self.SETTINGS:
            r = self.setting(name)
            p = r.paper or BackoffSetting.paper_numbers(name)
            rows.append({"setting": name, "training data": r.train,
                         "ours: model": _pct(r.model_acc), "ours: backoff": _pct(r.backoff_acc),
                         "ours: interpolation": _pct(r.interp_acc), "ours: tau": f"{r.tau:.2f}",
                         "paper BERT: model → backoff": f"{_pct(p['bert_model'])} → {_pct(p['bert_backoff'])}",
                         "paper BERT: tau": f"{p['bert_tau']:.2f}",
                         "paper RoBERTa: model → backoff": f"{_pct(p['roberta_model'])} → {_pct(p['roberta_backoff'])}",
                         "paper RoBERTa: tau": f"{p['roberta_tau']:.2f}"})
        return pd.DataFrame(rows).set_index("setting")

    def seeds_sentence(self) -> str | None:
        """One sentence on the spread over seeds in SNLI original, or ``None`` with one seed."""
        s = self.snli_original.seeds
        if not s:
            return None
        return (f"Over seeds {s['seeds']}, SNLI original: model {_pct(s['model_acc_mean'])} ± "
                f"{_pct(s['model_acc_std'])}, backoff gain {s['backoff_gain_mean']:+.2%} ± "
                f"{s['backoff_gain_std']:.2%} (backbone {self.snli_original.backbone}).")


# --------------------------------------------------------------------------- chapter 3

_SPEED_KEYS = ("n_train", "n_timed", "n_queries", "layers", "hessian_size", "knn_setup_s", "influence_setup_s",
               "knn_query_s", "influence_query_s", "knn_s_per_example", "influence_s_per_example", "speedup",
               "speedup_per_query", "knn_query_times_s", "influence_query_times_s", "knn_batched_s_per_example",
               "influence_batched_s_per_example")


@dataclass
class InfluenceRecord(Record):
    """Chapter 3, ``influence.json``: retrieval counts, the removal test, kNN vs influence functions."""

    NAME: ClassVar[str] = "influence"
    JSON_DEFAULT: ClassVar = staticmethod(float)  # numpy values that JSON cannot write become floats
    backbone: str
    seed: int
    k: int
    n_train: int
    train: str
    test: str
    removal: dict
    removal_by_fraction: Any
    removal_seeds: list[int]
    removal_runs: list[dict]
    speed: dict
    topk_overlap: float
    topk_overlap_random: float
    retrieval: dict
    support: dict[str, float]
    paper: dict
    smoke: bool
    seconds: float
    timing: dict

    @classmethod
    def from_run(cls, *, backbone, seed, k, train, test, sources, removal_record, removal_seconds,
                 removal_by_fraction, removal_seeds, runs, speed, rho, never, share_top10, overlap,
                 support, smoke, seconds, timing):
        """The record of one run of chapter 3, from the chapter's objects.

        ``removal_record`` is :func:`nbhelpers.influence.removal_record`, ``runs`` the
        DataFrame of :func:`nbhelpers.experiments.removal_test`, ``speed`` the dict of
        :func:`nbhelpers.experiments.explanation_speed`, ``support`` the one-row table of
        the mean kNN weight on the predicted label (columns ``model right``, ``model wrong``).
        """
        R = paper.REMOVAL
        return cls(
            backbone=backbone, seed=seed, k=k, n_train=len(train), train=sources["train"], test=sources["test"],
            removal={**removal_record, "seconds": removal_seconds,
                     "seconds_per_seed": removal_seconds / removal_record["n_seeds"],
                     "top_sets_from": "training queries"},
            removal_by_fraction=removal_by_fraction, removal_seeds=list(removal_seeds),
            removal_runs=runs.to_dict("records"),
            speed={key: speed[key] for key in _SPEED_KEYS},
            topk_overlap=speed["topk_overlap"], topk_overlap_random=speed["topk_overlap_random"],
            retrieval={"spearman_train_test": float(rho), "never_retrieved": never, "top10_share": share_top10,
                       "top_set_overlap_train_test": overlap, "removal_counts_from": "training queries"},
            support={"right": float(support["model right"].iloc[0]), "wrong": float(support["model wrong"].iloc[0])},
            paper={"removal": {"source": R["source"],
                               "total": {f"{f:g}": {c: R[c][f] for c in ("top", "random")} for f in R["top"]},
                               "increment": R["increment"]},
                   "speedup": paper.SPEEDUP["factor"], "speedup_note": paper.SPEEDUP["note"]},
            smoke=smoke, seconds=seconds, timing=timing)

    def speed_table(self):
        """Ours beside the paper: speed-up over influence functions and top-k overlap."""
        import pandas as pd

        sp = self.speed
        return pd.DataFrame([
            {"quantity": "kNN speed-up over influence functions, per explained example",
             "paper (BERT)": f"about {paper.SPEEDUP['factor']}x (< {paper.SPEEDUP['n_train_below']:,} training examples)",
             "ours": f"{sp['speedup']:.0f}x ({sp['n_train']:,} training pairs, set-up included; "
                     f"{sp['speedup_per_query']:.0f}x per query; influence functions over {', '.join(sp['layers'])})"},
            {"quantity": "top-k overlap, kNN vs influence functions", "paper (BERT)": "-",
             "ours": f"{_pct(self.topk_overlap)} (chance {_pct(self.topk_overlap_random)})"}]).set_index("quantity")

    def takeaways(self, *, model_val_acc: float) -> list[str]:
        """The chapter's summary bullets; ``model_val_acc`` is the model's SNLI validation accuracy."""
        from . import influence, scorecard

        fractions = self.removal["fractions"]
        o10 = self.retrieval["top_set_overlap_train_test"][f"{float(min(fractions)):g}"]
        share = self.retrieval["top10_share"]["training queries"]
        sp = self.speed
        data = self.to_dict()
        lines = [
            f"- **The model**: `{self.backbone}` fine-tuned on {self.n_train:,} CAD-original pairs, "
            f"{model_val_acc:.1%} on SNLI validation (the paper: BERT-base). kNN with k = {self.k} puts "
            f"{self.support['right']:.0%} of its weight on the model's answer when the model is right and "
            f"{self.support['wrong']:.0%} when it is wrong.",
            f"- **Retrieval counts**: the most retrieved 10% of the pairs receive {share:.0%} of "
            f"the retrievals by training queries; training and test queries rank the pairs with a rank correlation "
            f"of {self.retrieval['spearman_train_test']:.2f}, and their most retrieved {float(min(fractions)):.0%} "
            f"share {o10['overlap']:.0%} of their pairs (chance {o10['chance']:.0%}). The removal test uses the "
            "training-query counts.",
            *influence.describe_removal(self.removal, paper.REMOVAL),
            f"- **kNN against influence functions**: {sp['speedup']:.0f} times faster per explained example, "
            f"set-up included, with {sp['n_train']:,} training pairs; top-{self.k} lists share "
            f"{self.topk_overlap:.1%} (chance {self.topk_overlap_random:.1%}).",
            "- **Stand-ins and confounds**: a 22M-parameter MiniLM for BERT-base; a backbone pretrained on AllNLI, "
            "which contains every training pair the removal test removes (see *How to read it*).",
        ]
        if self.smoke:
            lines.append("- *This is a smoke run: tiny data and few steps, so none of these numbers means anything.*")
        claims = scorecard.removal_claims(data) + scorecard.speed_claims(data)
        lines += ["", "**The claims, by the scorecard's rule:**", ""]
        lines += ["- " + scorecard.sentence(c) for c in claims]
        return lines


# --------------------------------------------------------------------------- chapter 4

def _clean(x):
    """Six significant digits, as pandas' ``to_json(double_precision=6)`` writes them."""
    import pandas as pd

    return json.loads(pd.Series([x]).to_json(orient="values", double_precision=6))[0]


@dataclass
class SpuriousRecord(Record):
    """Chapter 4, ``spurious.json``: pattern statistics, the 'not' claim, slices, the miner, LIME."""

    NAME: ClassVar[str] = "spurious"
    JSON_DEFAULT: ClassVar = staticmethod(str)
    pattern_stats: dict
    not_claim: dict
    slice_accuracy: dict
    negation_entailment_change: dict
    miner_top_tokens: list[dict]
    miner_pattern_hits_top10: list[str]
    examples: dict
    example_selection: dict
    lime: list[dict]
    setup: dict
    timing: dict

    @classmethod
    def from_run(cls, *, stats, not_tables, closest, slices, neg_entail, top, hits, chosen, selection,
                 lime_rows, backbone, seed, smoke, n_queries, lime_samples, timing):
        """The record of one run of chapter 4, from the chapter's tables.

        ``stats`` is the pattern table by split, ``not_tables`` :func:`nbhelpers.spurious.not_readings`
        per split, ``slices`` the :func:`nbhelpers.spurious.slice_report` tables by (test set, pattern),
        ``neg_entail`` the :func:`nbhelpers.spurious.slice_change` table, ``top`` the miner's table,
        ``selection`` the example-selection counts per pattern.
        """
        splits = list(not_tables)
        out = cls(
            pattern_stats={split: {f"{p}/{f}": _clean(stats.loc[(split, p, f)].to_dict())
                                   for p, f in stats.loc[split].index} for split in splits},
            not_claim={"readings": {split: _clean(not_tables[split].to_dict("index")) for split in splits},
                       "closest_reading": closest, "paper": paper.NOT_STATISTIC},
            slice_accuracy={f"{t}/{p}": _clean(slices[t, p].to_dict("index")) for t, p in slices},
            negation_entailment_change=_clean(neg_entail.to_dict("index")),
            miner_top_tokens=_clean(top.head(15).to_dict("records")),
            miner_pattern_hits_top10=list(hits), examples=chosen,
            example_selection=_clean(selection.drop(columns="rule", errors="ignore").to_dict("index")),
            lime=lime_rows,
            setup={"backbone": backbone, "seed": seed, "smoke": smoke, "n_queries": n_queries,
                   "lime_samples": lime_samples},
            timing=timing)
        return out

    def takeaways(self, *, n_train: dict[str, int]) -> list[str]:
        """The chapter's summary bullets; ``n_train`` gives the training set's size per split
        (``original``, ``augmented``), which the record does not hold."""
        from . import spurious

        nc = self.not_claim
        lines = []
        for pattern, counts in self.example_selection.items():
            rule = spurious.EXAMPLE_RULES[spurious.PAPER_EXAMPLE_RULE[pattern]]
            lines.append(f"- {pattern}: {counts['with pattern']} queries contain the pattern in premise or "
                         f"hypothesis, {counts['changed prediction']} of them change prediction between the models, "
                         f"and {counts['paper direction']} change in the paper's direction ({rule}).")
        closest, paper_not = nc["closest_reading"], nc["paper"]
        o, a = (nc["readings"][split][closest] for split in ("original", "augmented"))
        lines.append(
            f"- *not*: the reading that matches the paper's {paper_not['original']:.0%} / {paper_not['augmented']:.0%} "
            f"best is **{closest}**: {o['count']} of {o['n']} pairs ({o['share']:.1%}) in the original split and "
            f"{a['count']} of {a['n']} ({a['share']:.1%}) in the augmented one. It rests on {o['n']} and {a['n']} "
            f"pairs out of {n_train['original']:,} and {n_train['augmented']:,}.")
        for name, r in self.negation_entailment_change.items():
            if r["n"] > 0:
                lines.append(
                    f"- Entailment pairs with negation in the hypothesis, {name} (n = {r['n']:.0f}): "
                    f"{r['before']:.1%} -> {r['after']:.1%} after augmentation, {100 * r['diff']:+.1f} points "
                    f"(95% CI {100 * r['lo']:+.1f} to {100 * r['hi']:+.1f}; the paper: about "
                    f"{100 * paper.NEGATION_ENTAILMENT_CHANGE:+.0f} points). "
                    + ("The interval excludes zero." if r["lo"] > 0 or r["hi"] < 0 else "The interval includes "
                       "zero: on this slice the change is indistinguishable from noise."))
        if self.lime:
            n_premise = sum(r["premise words in top 3"] > 0 for r in self.lime)
            lines.append(f"- LIME over both sentences puts at least one premise word among the top 3 in "
                         f"{n_premise} of {len(self.lime)} explanations.")
        hits = self.miner_pattern_hits_top10
        lines.append(f"- The miner's top words: {', '.join(t['token'] for t in self.miner_top_tokens[:10])}; "
                     f"colour or negation words among them: {', '.join(hits) if hits else 'none'}.")
        return _smoke(lines, self.setup["smoke"], "**Smoke run**: tiny subsets; the numbers below mean nothing.")

    def summary_sentence(self) -> str:
        """The results page's paragraph: the 'not' reading, the examples and the miner."""
        nc = self.not_claim
        o, a = (nc["readings"][split][nc["closest_reading"]] for split in ("original", "augmented"))
        return (f"Closest reading of the 'not' claim: *{nc['closest_reading']}*, {o['count']} of {o['n']} pairs "
                f"({_pct(o['share'])}) in the original split and {a['count']} of {a['n']} ({_pct(a['share'])}) in "
                f"the augmented one, against the paper's {_pct(nc['paper']['original'])} and "
                f"{_pct(nc['paper']['augmented'])}. Examples meeting the paper's rule (pattern in premise or "
                "hypothesis, change in the paper's direction): "
                + ", ".join(f"{p} {s['paper direction']}" for p, s in self.example_selection.items())
                + f". The miner's top words: {', '.join(t['token'] for t in self.miner_top_tokens[:10])}.")


# --------------------------------------------------------------------------- chapter 5

@dataclass(kw_only=True)
class MislabelRecord(Record):
    """Chapter 5, ``mislabel.json``: finding flipped labels with kNN, the loss and cleanlab.

    Keyword-only (fields in file order; the optional ones may be absent from older files).
    ``sweep_conclusion`` is written even when ``None`` (the sweep ran but concluded nothing).
    """

    NAME: ClassVar[str] = "mislabel"
    knn: dict[str, float]
    loss_baseline: dict
    cleanlab: dict
    ranked_knn: dict
    knn_only: dict | None = _opt()
    noisy_model: dict
    paper: dict
    per_seed: dict
    diagnostics: dict | None = _opt()
    setup: dict
    augmented_flagged: int
    sweep: list[dict] | None = _opt()
    sweep_setup: dict | None = _opt()
    sweep_conclusion: dict | None = None
    timing: dict | None = _opt()

    def paper_table(self):
        """Ours beside the paper's Section 5 numbers."""
        import pandas as pd

        k, lb, cl, rk, p = self.knn, self.loss_baseline, self.cleanlab, self.ranked_knn, self.paper
        return pd.DataFrame([
            {"quantity": "kNN candidates: precision / recall / F1",
             "paper (BERT)": f"{p['precision']:.2f} / {p['recall']:.2f} / {p['f1']:.2f}",
             "ours": f"{k['precision']:.2f} / {k['recall']:.2f} / {k['f1']:.2f} (± {k['sd_f1']:.2f})"},
            {"quantity": "loss ranking: data inspected to reach kNN recall",
             "paper (BERT)": _pct(p["loss_fraction_for_knn_recall"]), "ours": _pct(lb["fraction_for_knn_recall"])},
            {"quantity": "average precision: loss / cleanlab / ranked kNN", "paper (BERT)": "-",
             "ours": f"{lb['average_precision']:.2f} / {cl['average_precision']:.2f} / {rk['average_precision']:.2f}"},
            {"quantity": "cleanlab find_label_issues: precision / recall / F1", "paper (BERT)": "-",
             "ours": f"{cl['precision']:.2f} / {cl['recall']:.2f} / {cl['f1']:.2f}"},
        ]).set_index("quantity")


# --------------------------------------------------------------------------- chapter 6

@dataclass
class HansRecord(Record):
    """Chapter 6, ``hans.json``: HANS accuracy per heuristic and label, and the per-slice rule."""

    NAME: ClassVar[str] = "hans"
    lexical_overlap: dict[str, dict]
    subsequence: dict[str, dict]
    constituent: dict[str, dict]
    slice_rule: dict
    setting: dict
    paper_table6_non_entailment: dict[str, dict[str, float]]
    timing: dict

    @classmethod
    def from_run(cls, *, per, slice_taus, correct, boot, backbone, train, summary, smoke, timing):
        """The record of one run of chapter 6.

        ``per`` is indexed by (heuristic, label) with ``model_acc``, ``backoff_acc`` and ``n``;
        ``slice_taus`` is :func:`nbhelpers.knn.tune_slice_taus`; ``correct`` the per-example
        test correctness (columns ``model``, ``backoff``, ``slice rule``); ``boot``
        :func:`nbhelpers.stats.paired_bootstrap` of slice rule against backoff; ``summary``
        the setting's tuned values (``k``, ``T``, ``tau``, ``n_test``).
        """
        per_h = {h: {lab: {"model_acc": float(per.loc[(h, lab), "model_acc"]),
                           "backoff_acc": float(per.loc[(h, lab), "backoff_acc"]),
                           "n": int(per.loc[(h, lab), "n"])} for lab in HANS_LABELS} for h in HEURISTICS}
        return cls(
            **per_h,
            slice_rule={"taus": slice_taus["tau"].to_dict(), "test_acc": float(correct["slice rule"].mean()),
                        "confidence_rule_test_acc": float(correct["backoff"].mean()),
                        "model_test_acc": float(correct["model"].mean()), "diff_vs_confidence_rule": boot},
            setting={"backbone": backbone, "train": train, "k": summary["k"], "T": summary["T"],
                     "tau": summary["tau"], "n_test": summary["n_test"], "smoke": smoke},
            paper_table6_non_entailment=paper.TABLE6.to_dict(), timing=timing)

    def heuristic(self, name: str) -> dict:
        return getattr(self, name)

    def paper_table(self):
        """Table 6 beside ours: non-entailment accuracy per heuristic, model and backoff."""
        import pandas as pd

        p6, rows = self.paper_table6_non_entailment, []
        for h in HEURISTICS:
            r = self.heuristic(h)["non-entailment"]
            rows.append({"heuristic": h, "ours: model": _pct(r["model_acc"]), "ours: backoff": _pct(r["backoff_acc"]),
                         "paper: BERT → kNN-BERT": f"{_pct(p6['BERT'][h])} → {_pct(p6['kNN-BERT'][h])}",
                         "paper: RoBERTa → kNN-RoBERTa": f"{_pct(p6['RoBERTa'][h])} → {_pct(p6['kNN-RoBERTa'][h])}"})
        return pd.DataFrame(rows).set_index("heuristic")

    def slice_rule_sentence(self) -> str:
        sr = self.slice_rule
        return (f"Beyond the paper, one threshold per heuristic: {_pct(sr['test_acc'])} on HANS test against "
                f"{_pct(sr['confidence_rule_test_acc'])} for the confidence rule and {_pct(sr['model_test_acc'])} "
                f"for the model alone ({self.setting['backbone']}, trained on {self.setting['train']}).")

    def takeaways(self, *, n_fixed: int, n_broken: int, n_val: int) -> list[str]:
        """The chapter's summary bullets; the counts of validation examples backoff fixes and breaks
        are not in the record."""
        from . import scorecard

        p6, sr, boot = self.paper_table6_non_entailment, self.slice_rule, self.slice_rule["diff_vs_confidence_rule"]
        ne = {h: self.heuristic(h)["non-entailment"] for h in HEURISTICS}
        lines = [
            "- Non-entailment accuracy, model → backoff: " + "; ".join(
                f"{h.replace('_', ' ')} {ne[h]['model_acc']:.1%} → {ne[h]['backoff_acc']:.1%}" for h in HEURISTICS)
            + ". Paper, BERT: " + "; ".join(f"{p6['BERT'][h]:.1%} → {p6['kNN-BERT'][h]:.1%}" for h in HEURISTICS)
            + ".",
            f"- Backoff fixes {n_fixed:,} and breaks {n_broken:,} of the {n_val:,} validation examples "
            f"(tau = {self.setting['tau']:.2f}).",
            f"- Per-heuristic thresholds ({', '.join(f'{h}: {t:.2f}' for h, t in sr['taus'].items())}) give "
            f"{sr['test_acc']:.1%} on test against {sr['confidence_rule_test_acc']:.1%} for one confidence "
            f"threshold ({boot['diff']:+.1%}, 95% CI {boot['lo']:+.1%} to {boot['hi']:+.1%}).",
        ]
        claim = scorecard.hans_claims(self.to_dict(), {"hans": {"train": self.setting["train"]}})
        if claim:
            lines.append("- " + scorecard.sentence(claim[0]))
        weakest = min(HEURISTICS, key=lambda h: ne[h]["model_acc"])
        lines.append(f"- The model's lowest non-entailment accuracy is {ne[weakest]['model_acc']:.1%} "
                     f"({weakest.replace('_', ' ')}).")
        return _smoke(lines, self.setting["smoke"], "**Smoke run**: tiny subsets; the numbers below mean nothing.")


# --------------------------------------------------------------------------- all of them

RECORDS: dict[str, type[Record]] = {r.NAME: r for r in (
    RepresentationsRecord, BackoffRecord, InfluenceRecord, SpuriousRecord, MislabelRecord, HansRecord)}
"""Every chapter's record by file stem, in reading order."""


def load(name: str, results_dir):
    """The record ``<results_dir>/<name>.json``, checked, or ``None`` when the chapter has not run."""
    if name not in RECORDS:
        raise ValueError(f"unknown record {name!r}; expected one of {list(RECORDS)}")
    path = Path(results_dir, f"{name}.json")
    return RECORDS[name].load(path) if path.exists() else None


def load_all(results_dir) -> dict:
    """Every chapter's record in ``results_dir`` by name (``None`` where the chapter has not run)."""
    return {name: load(name, results_dir) for name in RECORDS}

