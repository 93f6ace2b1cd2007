"""Typed results on pydantic: one record per chapter, checked when built, saved as ``results/<name>.json``.
A wrong value raises a ``ValueError`` that names the file, the field and the value."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import numpy as np
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, FiniteFloat, JsonValue, StrictInt,
                      ValidationError, create_model, field_validator, with_config)
from pydantic_core import to_jsonable_python
from typing_extensions import NotRequired, TypedDict

from . import paper
from .cache import write_atomic
from .checks import check_choice, check_path
from .data import HANS_HEURISTICS as HEURISTICS, HANS_LABELS  # noqa: F401 (chapter 6 reads both here)


def _nan_to_none(value):
    """NaN (a spread over one seed, a mean over nothing) becomes ``None``, inside lists and dicts too."""
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def _number(**bounds):
    """An int (it stays an int in the file) or a finite float, within pydantic's ``bounds``."""
    return Annotated[StrictInt, Field(**bounds)] | Annotated[FiniteFloat, Field(**bounds)]


Number = _number()
Seconds = _number(ge=0)
Fraction = _number(ge=0, le=1)
MaybeNumber = Annotated[Optional[Number], BeforeValidator(_nan_to_none)]
MaybeFraction = Annotated[Optional[Fraction], BeforeValidator(_nan_to_none)]
Interval = Annotated[list[Number], Field(min_length=2, max_length=2)]
FractionInterval = Annotated[list[Fraction], Field(min_length=2, max_length=2)]
Json = Annotated[JsonValue, BeforeValidator(_nan_to_none)]
Table = dict[str, list[Json]]
"""A table by column (``DataFrame.to_dict("list")``); NaN cells become ``None``."""
OMIT = {"default": None, "exclude_if": lambda v: v is None}
"""``Field(**OMIT)``: a field that may be absent, left out of the file when ``None``."""


def shape(name: str, keys: dict, *, optional=()):
    """A nested object with known ``keys`` (a checked TypedDict); ``optional`` keys may be absent."""
    fields = {k: NotRequired[v] if k in optional else v for k, v in keys.items()}
    return with_config(ConfigDict(extra="forbid", strict=True))(TypedDict(name, fields))


def _tolist(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"value must be JSON (dict, list, str, number, bool, None); got {type(value).__name__}")


def jsonable(value):
    """``value`` with numpy scalars and arrays, tuples and non-string dict keys made plain JSON."""
    return to_jsonable_python(value, fallback=_tolist)


_UNION_MEMBER = re.compile(r"^((constrained-)?(int|float)|str|bool|list|dict|[\w-]+\[.*\])$")  # a tag


def _invalid(where, err: ValidationError) -> ValueError:
    """One ``ValueError``: ``where``, then each field, what it expects and the value."""
    problems = {}
    for e in err.errors():  # a union's members all fail at one place: the last one's message stands
        at = ".".join(str(p) for p in e["loc"] if not _UNION_MEMBER.match(str(p))) or "(the object itself)"
        problems[at] = f"{at}: {e['msg']}" + ("" if e["type"] == "missing" else f", got {e['input']!r:.80}")
    return ValueError(f"{where}: {len(problems)} invalid value{'s' * (len(problems) > 1)}: "
                      + "; ".join(problems.values()))


class Schema(BaseModel):
    """A checked JSON object: the base of the records and of the objects they nest."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_assignment=True,
                              validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    @field_validator("*", mode="before")
    @classmethod
    def _plain(cls, value):
        """numpy values become Python ones, tuples lists, nested records dicts."""
        return jsonable(value)

    def to_dict(self) -> dict:
        """The JSON object, as the file holds it."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, obj, *, where=None):
        """Build and check from a JSON object; a ``ValueError`` names ``where``, the key and the value."""
        try:
            return cls.model_validate(obj)
        except ValidationError as err:
            raise _invalid(where or cls.__name__, err) from None


def _refuse(token):
    raise ValueError(f"{token} is not valid JSON")


class Record(Schema):
    """A chapter's record: :meth:`save` writes ``<results_dir>/<NAME>.json``, :meth:`load` reads it."""

    NAME: ClassVar[str] = ""

    def save(self, results_dir) -> Path:
        """Check the record, then write ``<results_dir>/<NAME>.json`` atomically; return the path."""
        path = Path(results_dir, f"{self.NAME}.json")
        checked = type(self).from_dict(self.model_dump(warnings=False), where=path)  # catches edits in dicts
        text = json.dumps(checked.to_dict(), indent=1, allow_nan=False)
        return write_atomic(path, text.encode("utf-8"))

    @classmethod
    def load(cls, path):
        """Read and check a record from the file ``path``."""
        try:  # a byte-order mark, bad UTF-8, a truncated file, NaN or Infinity
            obj = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_refuse)
        except ValueError as err:
            raise ValueError(f"{path}: not valid JSON: {err}") from None
        return cls.from_dict(obj, where=path)


def _record(name: str, doc: str, fields: dict, *, optional=()) -> type[Record]:
    """A chapter's :class:`Record` class, saved as ``<name>.json``; ``optional`` fields may be absent."""
    fields = {k: (Optional[t], Field(**OMIT)) if k in optional else t for k, t in fields.items()}
    record = create_model(f"{name.title()}Record", __base__=Record, __doc__=doc, __module__=__name__,
                          **fields)
    record.NAME = name
    return record


FineTune = shape("FineTune", {"n_train": int, "epochs": int, "seconds": Seconds, "continued": bool})
Timing = shape("Timing", {**{part: Seconds for part in (
    "fine-tuning", "encoding", "kNN", "LIME", "influence functions", "t-SNE", "other", "total")},
    "fine_tunes": list[FineTune]})  # seconds per part: timing.report
Bootstrap = shape("Bootstrap", {"diff": Number, "lo": Number, "hi": Number, "p_better": Fraction})  # 95%
Recipe = shape("Recipe", {"epochs": int, "lr": Number, "batch_size": int, "warmup_ratio": Number,
                          "weight_decay": Number, "max_length": int, "group_by_length": bool})
RecipeRow = shape("RecipeRow", {"recipe": str, "epochs": int, "lr": Number, "last-epoch loss": Number,
                                "val_acc": Fraction})
BestVariant = shape("BestVariant", {"pooling": str, "layer": int, "normalize": bool, "knn_acc": Fraction})
_PROBE = {"knn_acc": Fraction, "knn_ci": FractionInterval, "probe_acc": Fraction,
          "probe_ci": FractionInterval, "temperature": Number, "n_val": int, "n_train": int,
          "representation": str}
TunedProbe = shape("TunedProbe", _PROBE | {"model_acc": Fraction, "model_ci": FractionInterval})
FrozenProbe = shape("FrozenProbe", _PROBE | {"probe_share_of_model_acc": Number})  # above 1: probe wins
RepresentationsPaper = shape("RepresentationsPaper", {"model_test_acc_bert_base": Fraction,
                                                      "best_representation": str})
Tokenisation = shape("Tokenisation", {
    "n_matched": int, "raw_acc": Fraction, "tokenised_acc": Fraction, "diff": Number, "ci": Interval,
    "beyond_noise": bool, "raw": str, "tokenised": str, "n_raw": int, "n_text_differs": int,
    "n_labels_agree": int, "n_prediction_changed": int})
HeldOut = shape("HeldOut", {**dict.fromkeys(("reference", "best_other"), str), **dict.fromkeys(
    ("n_choose", "n_score", "a_only", "b_only"), int), **dict.fromkeys(("diff", "lo", "hi"), Number),
    **dict.fromkeys(("reference_acc", "best_other_acc", "mcnemar_p"), Fraction)})


RepresentationsRecord = _record("representations", """Chapter 1: which representation kNN should use.""", {
    "backbone": str, "seed": int, "k": int, "smoke": bool, "train": str, "validation": str, "n_train": int,
    "n_val": int, "recipe": Recipe, "model_val_acc": Fraction, "recipes": list[RecipeRow],
    "knn_acc": dict[str, Fraction],  # by variant, "<pooling>-layer<i>-<norm|raw>", best first
    "best_variant": BestVariant, "cls_last_norm_knn_acc": Fraction, "cls_last_norm_rank": int,
    "n_variants": int, "paper": RepresentationsPaper, "model_val_ci": FractionInterval,
    "finetuned": TunedProbe, "unfinetuned": FrozenProbe, "unfinetuned_mean": FrozenProbe,
    "tokenisation": Tokenisation, "held_out": HeldOut, "minutes": Seconds, "timing": Timing})


BackoffPaper = shape("BackoffPaper", {key: Fraction for key in (
    "bert_model", "bert_backoff", "roberta_model", "roberta_backoff", "bert_tau", "roberta_tau")})


class BackoffSetting(Schema):
    """One setting of ``backoff.json``: tuned k, T, tau, lambda, test accuracies, the gain (``None``:
    not measured). The paper's settings add ``other_backbones`` and ``paper`` (snli-original also
    ``seeds`` and ``smoke``); ``anli-adversarial`` adds ``seeds``, ``per_seed`` and ``verdict``."""

    backbone: str
    k: int
    T: Number
    tau: Fraction
    lambda_: Number = Field(alias="lambda")
    n_test: int
    model_acc: Fraction
    knn_acc: Fraction
    backoff_acc: Fraction
    interp_acc: Fraction
    train: str
    seed: int
    backoff_gain: Optional[Number]
    backoff_gain_ci95: Optional[Interval]
    other_backbones: Optional[list[BackoffSetting]] = Field(**OMIT)
    paper: Optional[BackoffPaper] = Field(**OMIT)
    seeds: Optional[dict[str, list[int] | MaybeNumber]] = Field(**OMIT)
    """``"seeds"`` (the list) and ``<quantity>_mean`` / ``_std`` over them (``None``: one seed)."""
    smoke: Optional[bool] = Field(**OMIT)
    per_seed: Optional[Table] = Field(**OMIT)
    verdict: Optional[str] = Field(**OMIT)

    @classmethod
    def from_summary(cls, summary, *, backbone: str, train: str, seed: int, gain=None,
                     setting: str | None = None, **optional):
        """One setting from a tuned ``summary``, the bootstrapped backoff ``gain`` and the paper's numbers."""
        floats = ("T", "tau", "lambda", "model_acc", "knn_acc", "backoff_acc", "interp_acc")
        return cls(backbone=backbone, train=train, seed=int(seed), k=int(summary["k"]),
                   n_test=int(summary["n_test"]), **{key: float(summary[key]) for key in floats},
                   backoff_gain=None if gain is None else float(gain["diff"]),
                   backoff_gain_ci95=None if gain is None else [float(gain["lo"]), float(gain["hi"])],
                   paper=None if setting is None else cls.paper_numbers(setting), **optional)

    @staticmethod
    def paper_numbers(setting: str) -> dict[str, float]:
        """The paper's Table 4 and 5 numbers for ``setting``, as the ``paper`` field holds them."""
        t4 = {f"{b.lower()}_{m}": float(paper.TABLE4.loc[(b, method), setting]) for b in ("BERT", "RoBERTa")
              for m, method in (("model", "model"), ("backoff", "kNN backoff"))}
        return t4 | {f"{b.lower()}_tau": float(paper.TABLE5.loc[b, setting]) for b in ("BERT", "RoBERTa")}


class BackoffRecord(Record):
    """Chapter 2, ``backoff.json``: kNN backoff in the paper's four settings (and ANLI adversarial)."""

    NAME: ClassVar[str] = "backoff"
    SETTINGS: ClassVar[tuple[str, ...]] = ("snli-original", "snli-augmented", "anli", "hans")
    snli_original: BackoffSetting = Field(alias="snli-original")
    snli_augmented: BackoffSetting = Field(alias="snli-augmented")
    anli: BackoffSetting
    hans: BackoffSetting
    anli_adversarial: Optional[BackoffSetting] = Field(alias="anli-adversarial", **OMIT)
    timing: Timing

    def setting(self, name: str) -> BackoffSetting:
        """The result for a setting by its book name (``"snli-original"``, ...)."""
        return getattr(self, name.replace("-", "_"))


Stat = shape("Stat", {"mean": Number, "sd": MaybeNumber, "n": int})  # over seeds (sd None with one seed)
Removal = shape("Removal", {
    "n_seeds": int, "seeds": list[int], "full_acc": list[Number], "fractions": list[str],
    "conditions": list[str], "drops": dict[str, dict[str, list[Number]]],
    "increments": dict[str, list[Number]], "increment_fractions": list[str],
    "summary": shape("RemovalSummary", {"full_acc": Stat, "drops": dict[str, dict[str, Stat]],
                                        "increments": dict[str, Stat], "gaps": dict[str, dict[str, Stat]]}),
    "seconds": Seconds, "seconds_per_seed": Seconds, "top_sets_from": str})  # influence.removal_record
_MATCHED = {"matched_drop_mean": Number, "matched_drop_sd": MaybeNumber, "gap_matched_mean": Number,
            "gap_matched_sd": MaybeNumber}
RemovalByFraction = shape("RemovalByFraction", {
    "top_drop_mean": Number, "top_drop_sd": MaybeNumber, "random_drop_mean": Number,
    "random_drop_sd": MaybeNumber, "gap_mean": Number, "gap_sd": MaybeNumber, "n_seeds": int, **_MATCHED},
    optional=_MATCHED)  # influence.summarise_removal for one fraction (matched_*: with that control)
RemovalRun = shape("RemovalRun", {"seed": int, "fraction": Fraction, "condition": str, "n_train": int,
                                  "accuracy": Number, "removed_by_label": list[int], "drop": Number})
Speed = shape("Speed", {
    "n_train": int, "n_timed": int, "n_queries": int, "layers": list[str], "hessian_size": Optional[int],
    "knn_setup_s": Seconds, "influence_setup_s": Seconds, "knn_query_s": Seconds,
    "influence_query_s": Seconds, "knn_s_per_example": Seconds, "influence_s_per_example": Seconds,
    "speedup": Number, "speedup_per_query": Number, "knn_query_times_s": list[Seconds],
    "influence_query_times_s": list[Seconds], "knn_batched_s_per_example": Seconds,
    "influence_batched_s_per_example": Seconds})  # experiments.explanation_speed
Retrieval = shape("Retrieval", {
    "spearman_train_test": MaybeNumber, "never_retrieved": dict[str, Fraction],
    "top10_share": dict[str, Fraction],
    "top_set_overlap_train_test": dict[str, shape("Overlap", {"n_top": int, "n_shared": int,
                                                              "overlap": Fraction, "chance": Fraction})],
    "removal_counts_from": str})
Support = shape("Support", {"right": MaybeFraction, "wrong": MaybeFraction})  # kNN weight on the prediction
InfluencePaper = shape("InfluencePaper", {
    "removal": shape("PaperRemoval", {"source": str, "total": dict[str, dict[str, Number]],
                                      "increment": dict[str, Number]}),
    "speedup": Number, "speedup_note": str})


InfluenceRecord = _record("influence", """Chapter 3: retrieval counts, the removal test, kNN vs influence
functions.""", {
    "backbone": str, "seed": int, "k": int, "n_train": int, "train": str, "test": str, "removal": Removal,
    "removal_by_fraction": dict[str, RemovalByFraction], "removal_seeds": list[int],
    "removal_runs": list[RemovalRun], "speed": Speed, "topk_overlap": Fraction,
    "topk_overlap_random": Fraction, "retrieval": Retrieval, "support": Support, "paper": InfluencePaper,
    "smoke": bool, "seconds": Seconds, "timing": Timing})


PatternStat = shape("PatternStat", {"n": Number, "share": Fraction, "entailment": Fraction,
                                    "neutral": Fraction, "contradiction": Fraction})
Reading = shape("Reading", {"count": int, "n": int, "share": MaybeFraction})
NotClaim = shape("NotClaim", {"readings": dict[str, dict[str, Reading]], "closest_reading": str,
                              "paper": dict[str, Fraction]})  # "'not' occurs in 37% / 60%": each reading
SliceRow = shape("SliceRow", {"n": int, "share of slice": Fraction, "original acc": MaybeFraction,
                              "augmented acc": MaybeFraction})
Change = shape("Change", {"n": int, "before": MaybeFraction, "after": MaybeFraction, "diff": MaybeNumber,
                          "lo": MaybeNumber, "hi": MaybeNumber, "a_only": int, "b_only": int,
                          "mcnemar_p": MaybeFraction, "mcnemar_lo": MaybeNumber, "mcnemar_hi": MaybeNumber})
PooledChange = shape("PooledChange", {
    "n": int, "n_seeds": int, "seeds": list[int], "before": MaybeFraction, "after": MaybeFraction,
    "diff": MaybeNumber, "lo": MaybeNumber, "hi": MaybeNumber, "a_only": list[int], "b_only": list[int],
    "mcnemar_p": list[MaybeFraction]})  # spurious.pooled_slice_change, and the seeds it pooled
MinerToken = shape("MinerToken", {"token": str, "retrieved": int, "expected": Number, "ratio": Number,
                                  "z": Number, "base_rate": Fraction})
Selection = shape("Selection", {"with pattern": int, "changed prediction": int, "paper direction": int})
LimeRow = shape("LimeRow", {"query": int, "pattern": str, "model": str, "explained class": str,
                            "top words": str, "premise words in top 3": int})
SpuriousSetup = shape("SpuriousSetup", {"backbone": str, "seed": int, "smoke": bool, "n_queries": int,
                                        "lime_samples": int})


SpuriousRecord = _record("spurious", """Chapter 4: pattern statistics, the 'not' claim, slices, the miner,
LIME.""", {
    "pattern_stats": dict[str, dict[str, PatternStat]],  # by split, "<pattern>/<premise|hypothesis|either>"
    "not_claim": NotClaim,
    "slice_accuracy": dict[str, dict[str, SliceRow]],  # by "<test set>/<pattern>", gold label (and "all")
    "negation_entailment_change": dict[str, Change],
    "negation_over_seeds": PooledChange, "colour_over_seeds": PooledChange,  # SNLI test, pooled over seeds
    # SNLI test under each slice definition (the declared first); augmented minus original on colour-word
    # hypotheses; by "<model>/<pattern>", the model (before) against kNN alone (after; tuned on validation)
    "negation_sensitivity": dict[str, Change], "colour_change": Change, "knn_alone": dict[str, Change],
    "knn_params": dict[str, dict[str, Number]],
    "miner_top_tokens": list[MinerToken], "miner_pattern_hits_top10": list[str],
    "examples": dict[str, list[int]], "example_selection": dict[str, Selection], "lime": list[LimeRow],
    "setup": SpuriousSetup, "timing": Timing})


KnnCandidates = shape("KnnCandidates", {"precision": Fraction, "recall": Fraction, "f1": Fraction,
                                        "sd_f1": MaybeNumber, "n_candidates": Number})
LossBaseline = shape("LossBaseline", {"fraction_for_knn_recall": Fraction, "average_precision": Fraction,
                                      "recall_at_knn_budget": Fraction})
Cleanlab = shape("Cleanlab", {"precision": Fraction, "recall": Fraction, "f1": Fraction,
                              "average_precision": Fraction, "f1_at_knn_budget": Fraction, "folds": int})
Ranking = shape("Ranking", {"average_precision": Fraction, "f1_at_knn_budget": Fraction, "k": int})
NoisyModel = shape("NoisyModel", {"val_acc": Fraction, "flips_memorised": Fraction})
Diagnostics = shape("Diagnostics", {"mean": dict[str, MaybeNumber], "per_seed": Table})
MislabelSetup = shape("MislabelSetup", {"backbone": str, "seeds": list[int], "noise_rate": Fraction,
                                        "n_train": int, "n_val": int, "smoke": bool})
SweepSetup = shape("SweepSetup", {"regimes": list[list[Number]], "seeds": list[int], "folds": int})
MislabelPaper = shape("MislabelPaper", {"precision": Fraction, "recall": Fraction, "f1": Fraction,
                                        "loss_fraction_for_knn_recall": Fraction, "noise_rate": Fraction,
                                        "source": str})
SweepConclusion = shape("SweepConclusion", {
    "pattern_regimes": list[str], "explanation": str, "memorisation_range": FractionInterval,
    "best": shape("BestRanking", {"method": str, "regime": str, "ap": Fraction}),
    "knn_beats_both": list[str], "n_seeds": int})  # mislabel.sweep_conclusion, no by_regime


MislabelRecord = _record("mislabel", """Chapter 5: finding flipped labels with kNN, the loss and cleanlab.

Means over seeds (each seed's row in ``per_seed``); ``sweep_conclusion`` is written even when ``None`` (the
sweep concluded nothing); ``sweep``: one point per (lr, epochs, seed), as
:func:`nbhelpers.experiments.memorisation_sweep` gives them.""", {
    "knn": KnnCandidates, "loss_baseline": LossBaseline, "cleanlab": Cleanlab, "ranked_knn": Ranking,
    "knn_only": Ranking, "noisy_model": NoisyModel, "paper": MislabelPaper, "per_seed": Table,
    "diagnostics": Diagnostics, "setup": MislabelSetup, "augmented_flagged": int,
    "sweep": list[dict[str, Json]], "sweep_setup": SweepSetup,
    "sweep_conclusion": (Optional[SweepConclusion], None), "timing": Timing},
    optional=("sweep_setup", "timing"))  # a run without the sweep, or outside a chapter


Paired = shape("Paired", {**Bootstrap.__annotations__, "a_only": int, "b_only": int, "p": Fraction,
                          "mcnemar_lo": Number, "mcnemar_hi": Number})  # backoff vs the model, same pairs
HansCell = shape("HansCell", {"model_acc": Fraction, "backoff_acc": Fraction, "n": int, "paired": Paired})
HansHeuristic = shape("HansHeuristic", {label: HansCell for label in HANS_LABELS})
SliceRule = shape("SliceRule", {"taus": dict[str, Fraction], "test_acc": Fraction,
                                "confidence_rule_test_acc": Fraction, "model_test_acc": Fraction,
                                "diff_vs_confidence_rule": Bootstrap})
HansSetting = shape("HansSetting", {"backbone": str, "train": str, "k": int, "T": Number, "tau": Fraction,
                                    "n_test": int, "smoke": bool})


HansRecord = _record("hans", """Chapter 6: HANS accuracy per heuristic and label, the per-slice rule.""", {
    "lexical_overlap": HansHeuristic, "subsequence": HansHeuristic, "constituent": HansHeuristic,
    "slice_rule": SliceRule, "setting": HansSetting,
    "paper_table6_non_entailment": dict[str, dict[str, Fraction]],  # by model (BERT, kNN-BERT...), heuristic
    "timing": Timing})


RECORDS: dict[str, type[Record]] = {r.NAME: r for r in (
    RepresentationsRecord, BackoffRecord, InfluenceRecord, SpuriousRecord, MislabelRecord, HansRecord)}
"""Every chapter's record by file stem, in reading order."""


def load(name: str, results_dir):
    """The record ``<results_dir>/<name>.json``, checked, or ``None`` when the chapter has not run."""
    path = Path(check_path(results_dir, "results_dir"), f"{check_choice(name, 'name', RECORDS)}.json")
    return RECORDS[name].load(path) if path.exists() else None


def load_all(results_dir) -> dict:
    """Every chapter's record in ``results_dir`` by name (``None`` where the chapter has not run)."""
    return {name: load(name, results_dir) for name in RECORDS}
