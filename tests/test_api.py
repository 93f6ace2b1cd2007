"""Every public entry point goes through the shared checks (issue 28).

The public API is every function and class a module of :data:`nbhelpers.MODULES` defines under a
name without a leading underscore. Each is either in :data:`CASES` (one valid call and the arguments
to attack) or in :data:`SKIP` with the reason. Each attacked argument is replaced in turn by a wrong
type, NaN, an out-of-range value (labels: -1 and n_classes) and an empty input, as fits its kind;
each call must raise ValueError or TypeError naming the argument.
"""
from __future__ import annotations

import atexit
import importlib
import inspect
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typing_extensions import is_typeddict

import nbhelpers

NAN = float("nan")
TMP = Path(tempfile.mkdtemp(prefix="nbhelpers-api-"))  # the files the data and cache cases read and write
atexit.register(shutil.rmtree, TMP, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# The public API
# ----------------------------------------------------------------------------------------------

def public_api() -> dict:
    """``{"module.name": obj}`` for every public function and class defined in a package module."""
    out = {}
    for m in nbhelpers.MODULES:
        mod = importlib.import_module(f"nbhelpers.{m}")
        for name, obj in vars(mod).items():
            if (not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == mod.__name__):
                out[f"{m}.{name}"] = obj
    return out


_CHECKS = "one of the shared checks themselves (tests/test_checks.py); it names the caller's argument"
_NO_ARGS = "takes no arguments"
_TRAINS = "fine-tunes models: no valid call without fine-tuning"
_RECORD = "a pydantic record: every field is validated by its schema (tests/test_results.py)"
_CLAIMS = "reads one chapter's record, already validated by results.load (tests/test_scorecard.py)"

SKIP = {
    **{f"checks.{n}": _CHECKS for n in (
        "check_int", "check_real", "check_positive", "check_unit_interval", "check_choice", "check_correct",
        "check_path", "check_reps", "check_vector", "check_matrix", "check_proba", "check_labels",
        "check_indices", "check_label_map", "check_same_shape", "check_same_length", "check_mask",
        "check_computed", "check_texts", "check_pairs", "check_str", "check_frame", "check_dict",
        "check_records", "check_grid")},
    "data.offline_requested": _NO_ARGS,
    "timing.log_fine_tune": "called by models.fine_tune with its checked values: tests/test_models.py",
    "data.no_network_reason": "probes the network (host, port): tests/test_data.py",
    "models.get_device": _NO_ARGS,
    "data.DataNotFoundError": "an exception class",
    "data.clear_cache": _NO_ARGS,
    "paper.numbers": _NO_ARGS,
    "models.NLIModel": "a dataclass holding a loaded model; made by load_pretrained and fine_tune",
    "settings.Setting": "a frozen row of settings.SETTINGS, not an entry point",
    "settings.model_for": _TRAINS,
    "spurious.lime_pair": "runs LIME on a model's predict function (tests/test_spurious.py)",
    "results.Schema": "a base class", "results.Record": "a base class",
    "results.shape": "builds a schema class from a dict of types (a declaration, not data)",
    **{f"results.{n}": "a nested object's schema, made by results.shape (a declaration, not data)"
       for n, v in vars(importlib.import_module("nbhelpers.results")).items()
       if is_typeddict(v) and v.__module__ == "nbhelpers.results"},
    **{f"results.{n}": _RECORD for n in ("RepresentationsRecord", "BackoffSetting", "BackoffRecord",
                                           "InfluenceRecord", "SpuriousRecord", "MislabelRecord",
                                           "HansRecord")},
    **{f"scorecard.{n}": _CLAIMS for n in ("representation_claims", "backoff_claims", "adversarial_claim",
                                           "removal_claims", "speed_claims", "spurious_claims",
                                           "mislabel_claims", "hans_claims")},
    "scorecard.rows": "takes the validated records of results.load_all; scorecard.build is covered",
    "experiments.mislabel_record": "builds the chapter's record from noisy_label_run's rows (a fine-tuning run)",
    "experiments.sweep_table": "formats memorisation_sweep's points for display",
    "experiments.diagnostics_table": "formats noisy_label_run's rows for display",
    "experiments.budget_table": "formats noisy_label_run's rows for display",
    "mislabel.sweep_conclusion": "reads memorisation_sweep's points (a fine-tuning run)",
    "mislabel.sweep_quotes": "reads sweep_conclusion's dict (tests/test_experiments.py)",
    **{f"explorer.{n}": "exports or runs a fine-tuned model as ONNX (tests/test_explorer.py)" for n in (
        "export_onnx", "compare_variants", "reference_answers")},
    "explorer.datastore": "reads a fitted knn.KNN, checked when it was fitted (tests/test_explorer.py)",
}


# ----------------------------------------------------------------------------------------------
# The attacks
# ----------------------------------------------------------------------------------------------

@dataclass
class Arg:
    """How to attack one argument: its kind, and for labels the number of classes."""
    kind: str  # array, labels, indices, mask, int, real, str, texts, df, dict, list, path
    n: int | None = None       # labels: n_classes (out of range: -1 and n); indices: n rows
    bad: tuple = ()            # extra out-of-range values (scalars)


def _with_nan(valid):
    try:
        a = np.array(valid, dtype=float)
    except ValueError:  # strings (slice names, groups): an object array holding NaN
        a = np.array(valid, dtype=object)
    a.flat[0] = np.nan
    return a


def _with(valid, value):
    a = np.array(valid).copy()
    a.flat[0] = value
    return a


def attacks(spec: Arg, valid) -> dict:
    """``{attack: bad value}`` for one argument."""
    k = spec.kind
    if k in ("array", "mask"):
        out = {"type": object(), "nan": _with_nan(valid), "empty": np.asarray(valid)[:0]}
    elif k in ("labels", "indices"):
        out = {"type": object(), "nan": _with_nan(valid), "empty": np.asarray(valid)[:0],
               "low": _with(valid, -1)}
        if spec.n is not None:
            out["high"] = _with(valid, spec.n)
    elif k == "int":
        out = {"type": "3", "nan": NAN}
    elif k == "real":
        out = {"type": "0.5", "nan": NAN}
    elif k == "str":
        out = {"type": 3}
    elif k == "texts":
        out = {"type": "a single string", "nan": [NAN] + list(valid)[1:], "empty": []}
    elif k == "df":
        out = {"type": object(), "empty": valid.iloc[:0]}
        text_cols = [c for c in ("premise", "hypothesis", "text") if c in valid.columns]
        if text_cols:
            nan = valid.copy()
            nan[text_cols[0]] = nan[text_cols[0]].astype(object)
            nan.iloc[0, nan.columns.get_loc(text_cols[0])] = NAN
            out["nan"] = nan
        if "label" in valid.columns and valid["label"].dtype.kind in "iu":  # -1; n_classes where given
            for what, v in (("low", -1), ("high", spec.n))[:1 + (spec.n is not None)]:
                bad = valid.copy()
                bad.iloc[0, bad.columns.get_loc("label")] = v
                out[what] = bad
    elif k == "dict":
        out = {"type": object(), "empty": {}}
    elif k == "list":  # a list of records (dicts) or pairs
        out = {"type": object(), "empty": []}
    elif k == "path":
        out = {"type": object()}
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(k)
    for i, v in enumerate(spec.bad):
        out[f"range{i}"] = v
    return out


@dataclass
class Case:
    name: str                 # "module.function" (a "#suffix" tells several cases of one function apart)
    call: object              # callable(**kwargs)
    args: object              # dict of valid keyword arguments, or callable(ctx) -> dict
    attack: dict = field(default_factory=dict)  # argument name -> Arg
    skip_valid: str = ""      # why the valid call is not run (it would fine-tune)


# ----------------------------------------------------------------------------------------------
# Valid arguments
# ----------------------------------------------------------------------------------------------

from nbhelpers import (cache as cache_mod, data, experiments, explorer, influence,  # noqa: E402
                       knn, mislabel, models, representations, results, scorecard, settings,
                       spurious, stats, timing, viz)

P3 = [[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]]
PK = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
PAIRS = pd.DataFrame({"premise": ["A man plays.", "A dog runs.", "A cat sleeps."],
                      "hypothesis": ["Music.", "An animal moves.", "Nothing."], "label": [0, 1, 2]})
TEXTS = PAIRS[["premise", "hypothesis"]]  # for the functions that do not read labels
TR = [[0.0], [0.1], [5.0], [5.1]]
YTR = [0, 0, 1, 1]
Q = [[0.05], [5.05]]
YQ = [0, 1]
C01 = [1, 0, 0, 1] * 10
C01b = [1, 1, 0, 1] * 10
SCORES = [0.9, 0.1, 0.5, 0.2]
TRUTH = np.array([True, False, False, True])
RUNS = pd.DataFrame({"seed": [0] * 3 + [1] * 3, "fraction": [0.0, 0.1, 0.1] * 2,
                     "condition": ["full", "top", "random"] * 2, "accuracy": [70, 66, 69, 72, 66, 71],
                     "drop": [0.0, 4.0, 1.0, 0.0, 6.0, 1.0]})

NLI_FILE = TMP / "pairs.jsonl"
NLI_FILE.write_text("\n".join(json.dumps({"premise": p, "hypothesis": h, "label": ["entailment", "neutral",
                                                                                  "contradiction"][y]})
                              for p, h, y in PAIRS.itertuples(index=False)) + "\n")
OWN_FILE = TMP / "reviews.jsonl"
OWN_FILE.write_text("\n".join(json.dumps({"text": f"Review {i}.", "label": ["bad", "good"][i % 2]})
                              for i in range(10)))
EMPTY_DIR = TMP / "results"
EMPTY_DIR.mkdir()
ROW = dict(claim="a claim", link="#x", paper="+1", ours="+2 [1, 3]", test="t", n="3 seeds",
           verdict="reproduced", reason=None, effect="gain", paper_in_interval=True, to_decide=None,
           chapter="x")


def _knn_fit(X, y, k, temperature):
    return knn.KNN(k=k, temperature=temperature).fit(X, y)


def _knn_predict_proba(X):
    return knn.KNN(k=2).fit(TR, YTR).predict_proba(X)


def _knn_index():
    return knn.KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 2])


def _section(name):
    with timing.section(name):
        pass


def _timed(name):
    @timing.timed(name)
    def f():
        return 1
    return f()


def _fine_tune_args(ctx):
    return dict(train_df=PAIRS, backbone="minilm", seed=0, epochs=1, lr=1e-4, batch_size=2,
                warmup_ratio=0.1, weight_decay=0.01, max_length=32, cache=ctx["cache"], progress=False)


CASES = [
    # knn
    Case("knn.neighbor_weights", knn.neighbor_weights,
         dict(distances=[[0.0, 1.0, 2.0]], temperature=1.0),
         dict(distances=Arg("array"), temperature=Arg("real", bad=(0.0, -1.0)))),
    Case("knn.knn_proba", knn.knn_proba,
         dict(distances=[[0.0, 1.0, 2.0]], neighbor_labels=[[0, 1, 0]], temperature=1.0, n_classes=3),
         dict(distances=Arg("array"), neighbor_labels=Arg("labels", 3), temperature=Arg("real", bad=(0.0,)),
              n_classes=Arg("int", bad=(0,)))),
    Case("knn.KNN", _knn_fit, dict(X=TR, y=YTR, k=2, temperature=1.0),
         dict(X=Arg("array"), y=Arg("array"), k=Arg("int", bad=(0, 5)), temperature=Arg("real", bad=(0.0,)))),
    Case("knn.KNN#predict_proba", _knn_predict_proba, dict(X=Q), dict(X=Arg("array"))),
    Case("knn.backoff", knn.backoff, dict(p_model=P3, p_knn=PK, tau=0.5),
         dict(p_model=Arg("array"), p_knn=Arg("array"), tau=Arg("real", bad=(-0.1, 1.5)))),
    Case("knn.interpolate", knn.interpolate, dict(p_model=P3, p_knn=PK, lam=0.25),
         dict(p_model=Arg("array"), p_knn=Arg("array"), lam=Arg("real", bad=(-0.1, 1.5)))),
    Case("knn.tune", knn.tune,
         dict(train_reps=[[0.0], [1.0], [10.0], [11.0]], train_labels=YTR, val_reps=[[0.5], [10.5]],
              val_labels=YQ, p_model_val=[[0.9, 0.1, 0.0], [0.6, 0.4, 0.0]], ks=[1, 2], temperatures=[1.0],
              taus=[0.0, 0.5], n_classes=3),
         dict(train_reps=Arg("array"), train_labels=Arg("labels", 3), val_reps=Arg("array"),
              val_labels=Arg("labels", 3), p_model_val=Arg("array"), ks=Arg("array", bad=([0],)),
              temperatures=Arg("array", bad=([0.0],)), taus=Arg("array", bad=([1.5],)),
              n_classes=Arg("int", bad=(0,)))),
    Case("knn.tune_interpolation", knn.tune_interpolation,
         dict(p_model_val=[[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]], p_knn_val=[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
              val_labels=[1, 0], lambdas=[0.0, 0.5, 1.0]),
         dict(p_model_val=Arg("array"), p_knn_val=Arg("array"), val_labels=Arg("labels", 3),
              lambdas=Arg("array", bad=([1.5],)))),
    Case("knn.tune_slice_taus", knn.tune_slice_taus,
         dict(p_model_val=[[0.6, 0.4, 0], [0.6, 0.4, 0], [0.9, 0.1, 0], [0.9, 0.1, 0]],
              p_knn_val=np.eye(3)[[1, 1, 1, 1]], val_labels=[1, 1, 0, 0], val_slices=list("aabb"),
              taus=[0, 0.7, 1]),
         dict(p_model_val=Arg("array"), p_knn_val=Arg("array"), val_labels=Arg("labels", 3),
              val_slices=Arg("array"), taus=Arg("array", bad=([1.5],)))),
    Case("knn.slice_backoff", knn.slice_backoff,
         dict(p_model=[[0.6, 0.4, 0], [0.6, 0.4, 0]], p_knn=[[0, 1.0, 0]] * 2, slices=["a", "b"],
              taus_by_slice={"a": 0.7, "b": 0}),
         dict(p_model=Arg("array"), p_knn=Arg("array"), slices=Arg("array"), taus_by_slice=Arg("dict"))),
    # stats
    Case("stats.t_interval", stats.t_interval, dict(values=[1.0, 2.0, 3.0], ci=0.95),
         dict(values=Arg("array"), ci=Arg("real", bad=(0.0, 1.0)))),
    Case("stats.t_interval_from", stats.t_interval_from, dict(mean=2.0, sd=1.0, n=3, ci=0.95),
         dict(mean=Arg("real"), sd=Arg("real", bad=(-1.0,)), n=Arg("int", bad=(1,)), ci=Arg("real", bad=(1.5,)))),
    Case("stats.bootstrap_ci", stats.bootstrap_ci, dict(correct=C01, n_resamples=100, seed=0, ci=0.95),
         dict(correct=Arg("labels", 2), n_resamples=Arg("int", bad=(0,)), seed=Arg("int", bad=(-1,)),
              ci=Arg("real", bad=(1.5,)))),
    Case("stats.paired_bootstrap", stats.paired_bootstrap,
         dict(correct_a=C01, correct_b=C01b, n_resamples=100, seed=0, ci=0.95),
         dict(correct_a=Arg("labels", 2), correct_b=Arg("labels", 2), n_resamples=Arg("int", bad=(0,)),
              seed=Arg("int", bad=(-1,)), ci=Arg("real", bad=(1.5,)))),
    Case("stats.hierarchical_bootstrap", stats.hierarchical_bootstrap,
         dict(correct_a=[C01, C01b], correct_b=[C01b, C01b], n_resamples=100, seed=0, ci=0.95),
         dict(correct_a=Arg("labels", 2), correct_b=Arg("labels", 2), n_resamples=Arg("int", bad=(0,)),
              seed=Arg("int", bad=(-1,)), ci=Arg("real", bad=(1.5,)))),
    Case("stats.mcnemar", stats.mcnemar, dict(correct_a=[1, 1, 1, 1, 0], correct_b=[0, 0, 0, 0, 0], ci=0.95),
         dict(correct_a=Arg("labels", 2), correct_b=Arg("labels", 2), ci=Arg("real", bad=(1.5,)))),
    Case("stats.newcombe", stats.newcombe, dict(count_a=3, n_a=8, count_b=58, n_b=97, ci=0.95),
         dict(count_a=Arg("int", bad=(-1, 9)), n_a=Arg("int", bad=(0,)), count_b=Arg("int", bad=(-1,)),
              n_b=Arg("int", bad=(0,)), ci=Arg("real", bad=(1.5,)))),
    # experiments: backoff on one setting
    Case("experiments.evaluate_backoff", experiments.evaluate_backoff,
         dict(train_reps=TR, train_labels=YTR, val_reps=Q, val_labels=YQ, p_model_val=P3, test_reps=Q,
              test_labels=YQ, p_model_test=P3, ks=[1], temperatures=[1.0], taus=[0.0, 0.5], lambdas=[0.0, 0.5]),
         dict(train_reps=Arg("array"), train_labels=Arg("labels", 3), val_reps=Arg("array"),
              val_labels=Arg("labels", 3), p_model_val=Arg("array"), test_reps=Arg("array"),
              test_labels=Arg("labels", 3), p_model_test=Arg("array"), ks=Arg("array", bad=([0],)),
              temperatures=Arg("array"), taus=Arg("array"), lambdas=Arg("array"))),
    Case("experiments.confidence_bins", experiments.confidence_bins,
         dict(p_model=[[0.9, 0.1, 0], [0.95, 0.05, 0], [0.4, 0.35, 0.25], [0.4, 0.3, 0.3]],
              p_knn=[[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0], [0, 1.0, 0]], labels=[0, 0, 1, 1], n_bins=2),
         dict(p_model=Arg("array"), p_knn=Arg("array"), labels=Arg("labels", 3), n_bins=Arg("int", bad=(0,)))),
    Case("experiments.over_seeds", experiments.over_seeds,
         dict(summary=pd.DataFrame({"seed": [0, 1], "model_acc": [0.5, 0.7], "knn_acc": [0.4, 0.6],
                                    "backoff_acc": [0.6, 0.7], "interp_acc": [0.5, 0.8]})),
         dict(summary=Arg("df"))),
    Case("experiments.paired_gains", experiments.paired_gains,
         dict(correct={"a": pd.DataFrame({"model": C01, "backoff": C01b, "interpolation": C01})}),
         dict(correct=Arg("dict"))),
    # mislabel
    Case("mislabel.inject_label_noise", mislabel.inject_label_noise,
         dict(labels=[0, 1, 2, 0, 1, 2, 0, 1, 2, 0], rate=0.2, n_classes=3, seed=0),
         dict(labels=Arg("labels", 3), rate=Arg("real", bad=(-0.1, 1.5)), n_classes=Arg("int", bad=(1,)),
              seed=Arg("int", bad=(-1,)))),
    Case("mislabel.knn_candidates", mislabel.knn_candidates,
         dict(query_predictions=[0, 1, 1], nearest_train_index=[2, 0, 2], train_labels=[1, 1, 0, 2]),
         dict(query_predictions=Arg("labels"), nearest_train_index=Arg("indices", 4),
              train_labels=Arg("labels"))),
    Case("mislabel.loss_scores", mislabel.loss_scores, dict(labels=[0, 0], pred_probs=[[0.9, 0.1], [0.2, 0.8]]),
         dict(labels=Arg("labels", 2), pred_probs=Arg("array"))),
    Case("mislabel.knn_label_scores", mislabel.knn_label_scores,
         dict(neighbor_distances=np.zeros((3, 2)), neighbor_indices=[[1, 2], [0, 2], [0, 1]],
              labels=[0, 0, 1], temperature=1.0),
         dict(neighbor_distances=Arg("array"), neighbor_indices=Arg("indices", 3), labels=Arg("labels", 3),
              temperature=Arg("real", bad=(0.0,)))),
    Case("mislabel.recall_curve", mislabel.recall_curve, dict(scores=SCORES, truth=TRUTH),
         dict(scores=Arg("array"), truth=Arg("mask"))),
    Case("mislabel.average_precision", mislabel.average_precision, dict(scores=SCORES, truth=TRUTH),
         dict(scores=Arg("array"), truth=Arg("mask"))),
    Case("mislabel.paper_pattern", mislabel.paper_pattern,
         dict(point={"loss_fraction_for_knn_recall": 0.65, "knn_f1": 0.78, "loss_f1_at_budget": 0.4}),
         dict(point=Arg("dict"))),
    # influence
    Case("influence.self_neighbors", influence.self_neighbors,
         dict(index=_knn_index, train_reps=[[0.0], [1.0], [3.0]], k=1),
         dict(train_reps=Arg("array"), k=Arg("int", bad=(0, 3)))),
    Case("influence.retrieval_counts", influence.retrieval_counts,
         dict(neighbor_indices=[[0, 1], [0, 2], [0, 1]], n_train=4),
         dict(neighbor_indices=Arg("indices", 4), n_train=Arg("int", bad=(0,)))),
    Case("influence.removal_sets", influence.removal_sets,
         dict(counts=[5, 0, 9, 1, 0, 0, 2, 0, 0, 0], fraction=0.2, seed=0),
         dict(counts=Arg("labels"), fraction=Arg("real", bad=(0.0, 1.5)), seed=Arg("int", bad=(-1,)))),
    Case("influence.matched_random_set", influence.matched_random_set,
         dict(labels=[0, 0, 0, 0, 1, 1, 1, 1, 2, 2], reference=[0, 1, 4], seed=0),
         dict(labels=Arg("labels"), reference=Arg("indices", 10), seed=Arg("int", bad=(-1,)))),
    Case("influence.removal_record", influence.removal_record, dict(runs=RUNS), dict(runs=Arg("df"))),
    Case("influence.summarise_removal", influence.summarise_removal, dict(runs=RUNS), dict(runs=Arg("df"))),
    Case("influence.removal_table", influence.removal_table,
         dict(record=influence.removal_record(RUNS), paper={"top": {0.1: 4.6}, "random": {0.1: 1.2}}),
         dict(record=Arg("dict"))),
    Case("influence.seeds_for_gap", influence.seeds_for_gap, dict(sd=1.6, gap=3.0, alpha=0.05, power=0.8),
         dict(sd=Arg("real", bad=(-1.0,)), gap=Arg("real", bad=(0.0,)), alpha=Arg("real", bad=(1.5,)),
              power=Arg("real", bad=(1.5,)))),
    Case("influence.top_set_overlap", influence.top_set_overlap,
         dict(counts_a=[9, 8, 0, 0, 1, 0, 0, 0, 0, 0], counts_b=[9, 0, 8, 0, 0, 0, 0, 0, 0, 0], fraction=0.2),
         dict(counts_a=Arg("labels"), counts_b=Arg("labels"), fraction=Arg("real", bad=(0.0, 1.5)))),
    Case("influence.neighbor_table", influence.neighbor_table,
         dict(train_df=PAIRS, indices=[1, 0], distances=[0.5, 2.0]),
         dict(train_df=Arg("df", 3), indices=Arg("indices", 3), distances=Arg("array"))),
    Case("influence.topk_overlap", influence.topk_overlap,
         dict(a=[[1, 2, 3, 4], [5, 6, 7, 8]], b=[[4, 3, 9, 10], [1, 2, 0, 11]]),
         dict(a=Arg("indices"), b=Arg("indices"))),
    # tokenisation
    Case("data.match_tokenised", data.match_tokenised,
         dict(raw_df=pd.DataFrame({"premise": ["A dog's toy.", "Rain."], "hypothesis": ["Toy.", "Sun."]}),
              tokenised_df=pd.DataFrame({"premise": ["x", "A dog 's toy ."], "hypothesis": ["y", "Toy ."]})),
         dict(raw_df=Arg("df"), tokenised_df=Arg("df"))),
    Case("stats.tokenisation_cost", stats.tokenisation_cost,
         dict(correct_raw=C01, correct_tokenised=C01b, n_resamples=100, seed=0, ci=0.95),
         dict(correct_raw=Arg("labels", 2), correct_tokenised=Arg("labels", 2),
              n_resamples=Arg("int", bad=(0,)), ci=Arg("real", bad=(1.5,)))),
    # representations
    Case("representations.knn_accuracy_grid", representations.knn_accuracy_grid,
         dict(train_reps={("cls", 1): np.array(TR)}, train_labels=YTR, val_reps={("cls", 1): np.array([[0.0], [5.0]])},
              val_labels=YQ, k=1, temperatures=(1.0,), normalize=(False,)),
         dict(train_reps=Arg("dict"), train_labels=Arg("labels", 3), val_reps=Arg("dict"),
              val_labels=Arg("labels", 3), k=Arg("int", bad=(0, 5)), temperatures=Arg("array", bad=([0.0],)))),
    Case("representations.knn_and_probe", representations.knn_and_probe,
         dict(train_reps=[[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]], train_labels=[0, 0, 0, 1, 1, 1],
              val_reps=Q, val_labels=YQ, k=3, temperatures=(1.0,), n_resamples=100),
         dict(train_reps=Arg("array"), train_labels=Arg("labels"), val_reps=Arg("array"),
              val_labels=Arg("labels"), k=Arg("int", bad=(0, 7)), temperatures=Arg("array", bad=([0.0],)),
              n_resamples=Arg("int", bad=(0,)))),
    Case("representations.held_out_comparison", representations.held_out_comparison,
         dict(train_reps={("cls", 1): np.array(TR), ("mean", 1): np.array([[0, 5, 0.1, 5.1]]).T},
              train_labels=YTR, val_reps={key: np.array([[0.05], [5.05], [0.02], [5.02]]) for key in
                                           [("cls", 1), ("mean", 1)]},
              val_labels=[0, 1, 0, 1], reference=("cls", 1, True), k=1, temperatures=(1.0,)),
         dict(train_reps=Arg("dict"), train_labels=Arg("labels", 3), val_reps=Arg("dict"),
              val_labels=Arg("labels", 3), k=Arg("int", bad=(0, 5)))),
    # data
    Case("data.load_nli", data.load_nli, dict(name="cad-original", split="validation"),
         dict(name=Arg("str"), split=Arg("str"), data_dir=Arg("path"))),
    # hashes any frame (a cache key): its content is not interpreted, so only the type is attacked
    Case("data.data_hash", data.data_hash, dict(df=PAIRS), dict(df=Arg("path"))),
    Case("data.pair_groups", data.pair_groups, dict(df=PAIRS), dict(df=Arg("path"))),
    Case("data.load_files", data.load_files, dict(data_files=OWN_FILE, max_rows=None, seed=0),
         dict(data_files=Arg("path"), max_rows=Arg("int", bad=(-1,)), seed=Arg("int", bad=(-1,)))),
    # cache
    # any JSON value is a part (a string, even NaN): only a value JSON cannot hold is refused
    Case("cache.make_key", cache_mod.make_key, dict(seed=0, lr=1e-4), dict(seed=Arg("path"), lr=Arg("path"))),
    Case("cache.file_sha256", cache_mod.file_sha256, dict(path=NLI_FILE), dict(path=Arg("path"))),
    Case("cache.write_atomic", cache_mod.write_atomic, dict(path=TMP / "atomic.bin", data=b"x"),
         dict(path=Arg("path"), data=Arg("str"))),
    Case("cache.Cache", cache_mod.Cache, dict(root=TMP / "cache"), dict(root=Arg("path"))),
    # models
    Case("models.resolve_backbone", models.resolve_backbone, dict(name="minilm"), dict(name=Arg("str"))),
    Case("models.load_pretrained", models.load_pretrained,
         lambda ctx: dict(backbone="minilm", seed=0, num_labels=3, cache=ctx["cache"]),
         dict(backbone=Arg("str"), seed=Arg("int", bad=(-1,)), num_labels=Arg("int", bad=(1,)))),
    Case("models.pair_lengths", models.pair_lengths,
         lambda ctx: dict(tokenizer=ctx["model"] and ctx["model"].tokenizer, df=TEXTS, max_length=32),
         dict(df=Arg("df"), max_length=Arg("int", bad=(0,)))),
    Case("models.training_order", lambda lengths, batch_size: models.training_order(
            lengths, batch_size, generator=__import__("torch").Generator().manual_seed(0)),
         dict(lengths=[5, 3, 4, 9], batch_size=2),
         dict(lengths=Arg("labels"), batch_size=Arg("int", bad=(0,)))),
    Case("models.fine_tune", models.fine_tune, _fine_tune_args,
         dict(train_df=Arg("df"), backbone=Arg("str"), seed=Arg("int", bad=(-1,)), epochs=Arg("int", bad=(0,)),
              lr=Arg("real", bad=(0.0,)), batch_size=Arg("int", bad=(0,)), warmup_ratio=Arg("real", bad=(1.5,)),
              weight_decay=Arg("real", bad=(-1.0,)), max_length=Arg("int", bad=(0,))),
         skip_valid=_TRAINS),
    Case("models.cross_val_proba", models.cross_val_proba,
         lambda ctx: dict(train_df=pd.concat([PAIRS, PAIRS]), backbone="minilm", n_folds=2, seed=0,
                          cache=ctx["cache"], progress=False),
         dict(train_df=Arg("df"), backbone=Arg("str"), n_folds=Arg("int", bad=(1, 7)), seed=Arg("int", bad=(-1,))),
         skip_valid=_TRAINS),
    Case("models.predict_proba", models.predict_proba,
         lambda ctx: dict(model=ctx["model"], df=TEXTS, batch_size=2, max_length=32, cache=False, progress=False),
         dict(model=Arg("str"), df=Arg("df"), batch_size=Arg("int", bad=(0,)), max_length=Arg("int", bad=(0,)))),
    Case("models.encode", models.encode,
         lambda ctx: dict(model=ctx["model"], df=TEXTS, pooling="cls", layer=-1, batch_size=2, max_length=32,
                          cache=False, progress=False),
         dict(model=Arg("str"), df=Arg("df"), pooling=Arg("str", bad=("sum",)), layer=Arg("int", bad=(99,)),
              batch_size=Arg("int", bad=(0,)), max_length=Arg("int", bad=(0,)))),
    Case("models.encode_many", models.encode_many,
         lambda ctx: dict(model=ctx["model"], df=TEXTS, variants=[("cls", -1)], batch_size=2, max_length=32,
                          cache=False, progress=False),
         dict(model=Arg("str"), df=Arg("df"), variants=Arg("list"), batch_size=Arg("int", bad=(0,)),
              max_length=Arg("int", bad=(0,)))),
    Case("models.accuracy", models.accuracy, dict(pred_or_proba=P3, labels=[0, 1]),
         dict(pred_or_proba=Arg("array"), labels=Arg("labels", 3))),
    Case("models.predict_texts", models.predict_texts,
         lambda ctx: dict(model=ctx["model"], premises=["A man plays.", "A dog runs."],
                          hypotheses=["Music.", "It moves."], batch_size=2, max_length=32),
         dict(model=Arg("str"), premises=Arg("texts"), hypotheses=Arg("texts"), batch_size=Arg("int", bad=(0,)),
              max_length=Arg("int", bad=(0,)))),
    # timing
    Case("timing.section", _section, dict(name="kNN"), dict(name=Arg("str"))),
    Case("timing.timed", _timed, dict(name="kNN"), dict(name=Arg("str"))),
    Case("timing.report", timing.report, dict(total_seconds=40.0), dict(total_seconds=Arg("real", bad=(-1.0,)))),
    # claims and results
    Case("scorecard.build", scorecard.build, dict(results_dir=EMPTY_DIR), dict(results_dir=Arg("path"))),
    # no rows for the chapter is a valid outcome (a sentence says so): rows is attacked by type only
    Case("scorecard.found", scorecard.found, dict(rows=[ROW], chapter="x"),
         dict(rows=Arg("path"), chapter=Arg("str"))),
    Case("results.load", results.load, dict(name="backoff", results_dir=EMPTY_DIR),
         dict(name=Arg("str", bad=("nosuch",)), results_dir=Arg("path"))),
    Case("results.load_all", results.load_all, dict(results_dir=EMPTY_DIR), dict(results_dir=Arg("path"))),
    Case("results.jsonable", results.jsonable, dict(value={"a": np.float32(0.5)}), dict(value=Arg("path"))),
]

CASES += [
    # settings, scorecard, spurious, explorer, viz: failures are xfail (another helper)
    Case("settings.load_setting", settings.load_setting, dict(name="snli-augmented", smoke=True),
         dict(name=Arg("str"), anli_source=Arg("str"))),
    Case("settings.recipe_for", settings.recipe_for, dict(n_train=1666), dict(n_train=Arg("int", bad=(0,)))),
    Case("settings.adversarial_split", settings.adversarial_split,
         dict(df=pd.DataFrame({"premise": list("abcdef"), "hypothesis": list("uvwxyz"),
                               "label": [0, 0, 0, 1, 1, 1], "round": [1] * 6}), train_fraction=2 / 3, seed=0),
         dict(df=Arg("df", 3), train_fraction=Arg("real", bad=(0.0, 1.0)), seed=Arg("int", bad=(-1,)))),
    Case("scorecard.verdict", scorecard.verdict, dict(estimate=2.9, low=0.8, high=5.0, paper_effect=5.4),
         dict(estimate=Arg("real"), low=Arg("real"), high=Arg("real"), paper_effect=Arg("real"))),
    Case("scorecard.sentence", scorecard.sentence, dict(row=ROW), dict(row=Arg("dict"))),
    Case("scorecard.save", scorecard.save, dict(rows=[ROW], path=TMP / "scorecard.json"),
         dict(rows=Arg("list"), path=Arg("path"))),
    Case("scorecard.to_html", scorecard.to_html, dict(rows=[ROW]), dict(rows=Arg("list"))),
    Case("scorecard.counts_sentence", scorecard.counts_sentence,
         dict(rows=[{"verdict": "reproduced"}, {"verdict": "opposite"}], missing=["hans"]),
         dict(rows=Arg("list"))),
    Case("spurious.pattern_stats", spurious.pattern_stats,
         dict(df=pd.DataFrame({"premise": ["A red car", "A dog"], "hypothesis": ["not red", "a dog"],
                               "label": [2, 0]}), patterns=["not"]),
         dict(df=Arg("df", 3), patterns=Arg("texts"))),
    Case("spurious.slice_report", spurious.slice_report,
         dict(df=pd.DataFrame({"premise": ["a", "a", "a"], "hypothesis": ["not x", "not y", "z"],
                               "label": [2, 0, 0]}), where="not", predictions={"m": np.array([2, 2, 0])}),
         dict(df=Arg("df", 3), where=Arg("str"), predictions=Arg("dict"))),
    Case("spurious.highlight", spurious.highlight, dict(text="A red car is not blue", pattern="colour"),
         dict(text=Arg("str"), pattern=Arg("str"))),
    Case("spurious.neighbor_html", spurious.neighbor_html,
         dict(query=PAIRS.iloc[0], neighbours=PAIRS, pattern="colour"),
         dict(neighbours=Arg("df", 3), pattern=Arg("str"))),
    Case("spurious.tokens", spurious.tokens, dict(text="The dog isn't red."), dict(text=Arg("str"))),
    Case("spurious.token_enrichment", spurious.token_enrichment,
         dict(neighbor_indices=[0, 0, 0, 1], train_df=pd.DataFrame({"hypothesis": ["a red car", "a dog", "a cat",
                                                                                    "a bird"]}), min_count=2),
         dict(neighbor_indices=Arg("indices", 4), train_df=Arg("df"), min_count=Arg("int", bad=(0,)))),
    Case("spurious.choose_examples", spurious.choose_examples,
         dict(df=pd.DataFrame({"premise": ["a red car", "a dog", "a red hat"],
                               "hypothesis": ["a car", "a red dog", "a hat"], "label": [0, 0, 0]}),
              p_original=np.array([[.2, .8, 0], [.1, .9, 0], [.9, .1, 0]]),
              p_augmented=np.array([[.9, .1, 0], [.6, .4, 0], [.9, .1, 0]]),
              pattern="colour", rule="original-wrong-augmented-right"),
         dict(df=Arg("df", 3), p_original=Arg("array"), p_augmented=Arg("array"), pattern=Arg("str"),
              rule=Arg("str", bad=("nosuch",)))),
    Case("spurious.not_readings", spurious.not_readings,
         dict(df=pd.DataFrame({"premise": ["not a", "b", "c"], "hypothesis": ["x", "not y", "z"],
                               "label": [2, 0, 2]})),
         dict(df=Arg("df", 3))),
    Case("spurious.slice_change", spurious.slice_change,
         dict(df=pd.DataFrame({"premise": ["a"] * 4, "hypothesis": ["not b", "not c", "d", "not e"],
                               "label": [0, 0, 0, 2]}), where="not", pred_before=[0, 0, 0, 2],
              pred_after=[0, 1, 0, 2], label=0),
         dict(df=Arg("df", 3), pred_before=Arg("labels", 3), pred_after=Arg("labels", 3),
              label=Arg("int", bad=(-1, 3)))),
    Case("spurious.pooled_slice_change", spurious.pooled_slice_change,
         dict(df=pd.DataFrame({"premise": ["a"] * 4, "hypothesis": ["not b", "not c", "d", "not e"],
                               "label": [0, 0, 0, 2]}), where="not", preds_before=[[0, 0, 0, 2], [0, 1, 0, 2]],
              preds_after=[[0, 1, 0, 2], [0, 1, 0, 2]], label=0),
         dict(df=Arg("df", 3), preds_before=Arg("labels", 3), preds_after=Arg("labels", 3),
              label=Arg("int", bad=(-1, 3)))),
    Case("explorer.stable_sample", explorer.stable_sample, dict(ids=list(range(100)), n=10, seed=0),
         dict(ids=Arg("labels"), n=Arg("int", bad=(-1,)))),
    Case("explorer.explorer_records", explorer.explorer_records,
         dict(queries=pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [1]}),
              train=pd.DataFrame({"premise": ["x", "y", "z"], "hypothesis": ["u", "v", "w"], "label": [0, 1, 1]}),
              p_model=[[0.5, 0.3, 0.2]], distances=[[0.0, 1.0]], indices=[[2, 0]], temperature=1.0, tau=0.6,
              name="t", title="T"),
         dict(queries=Arg("df", 3), train=Arg("df", 3), p_model=Arg("array"), distances=Arg("array"),
              indices=Arg("indices", 3), temperature=Arg("real", bad=(0.0,)), tau=Arg("real", bad=(1.5,)),
              name=Arg("str"), title=Arg("str"))),
    Case("viz.plot_tsne", viz.plot_tsne,
         dict(embedding=np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), labels=[0, 1, 1],
              fixed=[True, False, False], broken=[False, False, True]),
         dict(embedding=Arg("array"), labels=Arg("labels", 3), fixed=Arg("mask"), broken=Arg("mask"))),
]

EXPLORER_Q = pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [1]})
EXPLORER_TR = pd.DataFrame({"premise": ["x", "y", "z"], "hypothesis": ["u", "v", "w"], "label": [0, 1, 1]})
EXPLORER_SET = explorer.explorer_records(EXPLORER_Q, EXPLORER_TR, [[0.5, 0.3, 0.2]], [[0.0]], [[2]],
                                         temperature=1.0, tau=0.6, name="t", title="T")
LAYER_GRID = pd.DataFrame({"pooling": "cls", "layer": [0, 1], "normalize": True, "knn_acc": [0.4, 0.6]})
SWEEP_POINTS = [{"lr": 1e-4, "epochs": e, "flips_memorised": m, "knn_f1": 0.3, "loss_fraction_for_knn_recall": 0.1,
                 "ap": {"loss": 0.5, "cleanlab": 0.4, "ranked kNN": 0.3, "kNN only": 0.2}}
                for e, m in ((1, 0.1), (5, 0.6))]
METHODS = pd.DataFrame({"model": [0.7, 0.5], "backoff": [0.72, 0.5]}, index=["a", "b"])
REMOVAL = {"n_seeds": 1, "drops": {"0.1": {"top": [3.0]}, "0.3": {"top": [8.0]}},
           "increments": {"top": [5.0]}, "increment_fractions": ["0.1", "0.3"]}


LIVE_KNN = knn.KNN(k=1).fit([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], [0, 1, 2])
LIVE_STORE = explorer.datastore(LIVE_KNN)
(TMP / "model.onnx").write_bytes(b"onnx")


class _Vocab:  # what write_live reads of a tokenizer
    get_vocab = staticmethod(lambda: {"[PAD]": 0, "[CLS]": 1})


def _explorer_data(sets):  # a non-list is passed as one set: Python refuses "*object()" naming no argument
    return explorer.explorer_data(*(sets if isinstance(sets, list) else [sets]))


def _influence_fit(model, train_df):
    return influence.InfluenceExplainer(model, batch_size=2, max_length=32).fit(train_df)


CASES += [
    Case("explorer.write_live", explorer.write_live,
         dict(folder=TMP / "site", name="m", model_path=TMP / "model.onnx", store=LIVE_STORE, tau=0.5,
              train=pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, 1, 2]}),
              tokenizer=_Vocab(), titles={"m": "Model"}),
         dict(folder=Arg("path"), name=Arg("str"), model_path=Arg("path"), train=Arg("df", 3),
              tau=Arg("real", bad=(1.5,)), titles=Arg("dict"))),
    Case("explorer.explorer_data", _explorer_data, dict(sets=[EXPLORER_SET]), dict(sets=Arg("list"))),
    Case("explorer.write_explorer", explorer.write_explorer,
         dict(data=explorer.explorer_data(EXPLORER_SET), folder=TMP / "explorer"),
         dict(data=Arg("dict"), folder=Arg("path"))),
    Case("viz.plot_training_loss", viz.plot_training_loss, dict(histories={"a": [1.1, 0.9], "b": [1.1, 1.0]}),
         dict(histories=Arg("dict"))),
    Case("viz.plot_layer_accuracy", viz.plot_layer_accuracy, dict(grid=LAYER_GRID, model_acc=0.7),
         dict(grid=Arg("df"), model_acc=Arg("real", bad=(1.5,)))),
    Case("viz.plot_accuracy_heatmap", viz.plot_accuracy_heatmap,
         dict(grid=pd.DataFrame({"pooling": ["cls", "mean"], "layer": 1, "normalize": True, "knn_acc": [0.5, 0.6]})),
         dict(grid=Arg("df"))),
    Case("viz.plot_recipe_accuracy", viz.plot_recipe_accuracy,
         dict(table=pd.DataFrame({"recipe": ["a", "b"], "val_acc": [0.5, 0.7]})), dict(table=Arg("df"))),
    Case("viz.plot_memorisation_sweep", viz.plot_memorisation_sweep,
         dict(points=SWEEP_POINTS, paper={"f1": 0.78, "loss_fraction_for_knn_recall": 0.65}),
         dict(points=Arg("list"))),
    Case("viz.plot_tuning_surface", viz.plot_tuning_surface,
         dict(grid=pd.DataFrame({"k": 1, "temperature": [1.0, 1.0, 10.0, 10.0], "tau": [0.0, 1.0] * 2,
                                 "backoff_acc": [0.5, 0.7, 0.5, 0.6], "model_acc": 0.5})),
         dict(grid=Arg("df"))),
    Case("viz.plot_confidence_bins", viz.plot_confidence_bins,
         dict(bins=pd.DataFrame({"lo": [0.3, 0.6], "hi": [0.6, 1.0], "n": [5, 15], "model_acc": [0.4, 0.9],
                                 "knn_acc": [0.5, 0.8]}), tau=0.6),
         dict(bins=Arg("df"), tau=Arg("real", bad=(1.5,)))),
    Case("viz.plot_method_accuracy", viz.plot_method_accuracy, dict(table=METHODS), dict(table=Arg("df"))),
    Case("viz.plot_backoff_gains", viz.plot_backoff_gains,
         dict(table=pd.DataFrame({"label": ["ours", "paper"], "gain": [0.4, 1.3], "lo": [-0.8, np.nan],
                                  "hi": [1.6, np.nan], "group": ["stand-in", "paper"]})),
         dict(table=Arg("df"))),
    Case("viz.plot_slice_accuracy", viz.plot_slice_accuracy, dict(table=METHODS), dict(table=Arg("df"))),
    Case("viz.plot_word_weights", viz.plot_word_weights, dict(weights=[("not", 0.4), ("dog", -0.1)]),
         dict(weights=Arg("list"))),
    Case("viz.plot_retrieval_counts", viz.plot_retrieval_counts,
         dict(counts={"train": np.array([0, 1, 1, 5]), "test": np.array([2, 0, 0, 9])}), dict(counts=Arg("dict"))),
    Case("viz.plot_removal_totals_increments", viz.plot_removal_totals_increments,
         dict(record=REMOVAL, paper={"top": {0.1: 4.6}, "increment": {"top": 6.0}}), dict(record=Arg("dict"))),
    # the models' own layer: MiniLM with a fresh head stands in for a fine-tuned model
    Case("influence.InfluenceExplainer", _influence_fit, lambda ctx: dict(model=ctx["model"], train_df=PAIRS),
         dict(train_df=Arg("df", 3))),
    Case("experiments.run_setting", experiments.run_setting,
         lambda ctx: dict(model=ctx["model"], train_df=pd.concat([PAIRS, PAIRS], ignore_index=True), val_df=PAIRS,
                          test_df=PAIRS, cache=False, progress=False, ks=[1, 2], temperatures=[1.0], taus=[0.5],
                          lambdas=[0.5]),
         dict(train_df=Arg("df", 3), val_df=Arg("df", 3), test_df=Arg("df", 3))),
    Case("experiments.explanation_speed", experiments.explanation_speed,
         lambda ctx: dict(model=ctx["model"], train_df=PAIRS, query_df=TEXTS, k=1, n_timed=1, progress=False),
         dict(train_df=Arg("df"), query_df=Arg("df"), k=Arg("int", bad=(0, 4)), n_timed=Arg("int", bad=(0, 4)))),
    # these fine-tune: the valid call is not run, and a bad argument must be refused before training
    Case("experiments.noisy_label_run", experiments.noisy_label_run,
         lambda ctx: dict(train=pd.concat([PAIRS] * 2, ignore_index=True), val=PAIRS, seed=0, noise_rate=0.1,
                          recipe={"epochs": 1}, cleanlab_folds=2, ranked_k=1, cache=ctx["cache"], progress=False),
         dict(train=Arg("df", 3), val=Arg("df", 3), seed=Arg("int", bad=(-1,)), noise_rate=Arg("real", bad=(1.5,)),
              recipe=Arg("path"), cleanlab_folds=Arg("int", bad=(1,)), ranked_k=Arg("int", bad=(0,))),
         skip_valid=_TRAINS),
    Case("experiments.memorisation_sweep", experiments.memorisation_sweep,
         lambda ctx: dict(train=pd.concat([PAIRS] * 2, ignore_index=True), val=PAIRS, regimes=[(1e-4, 1)],
                          seeds=[0], noise_rate=0.1, base_recipe={"epochs": 1}, cache=ctx["cache"],
                          progress=False),
         dict(train=Arg("df", 3), val=Arg("df", 3), regimes=Arg("list"), seeds=Arg("labels"),
              noise_rate=Arg("real", bad=(1.5,)), base_recipe=Arg("path"), n_boot=Arg("int", bad=(0,))),
         skip_valid=_TRAINS),
    Case("experiments.removal_test", experiments.removal_test,
         lambda ctx: dict(train_df=pd.concat([PAIRS] * 4, ignore_index=True), test_df=PAIRS, fractions=[0.25],
                          seeds=[0], k=1, cache=ctx["cache"], progress=False),
         dict(train_df=Arg("df", 3), test_df=Arg("df", 3), fractions=Arg("array", bad=([1.5],)),
              seeds=Arg("labels"), k=Arg("int", bad=(0,))),
         skip_valid=_TRAINS),
]

XFAIL_MODULES = ("viz", "explorer", "spurious", "settings", "paper", "scorecard")
"""Modules another helper is editing: a failing attack there is xfail until the lead fixes it."""

_NO_CLAIMS_YET = ("no claims is valid: scorecard.build on a folder without results returns [] and the "
                  "results page saves, counts and shows it (tests/test_scorecard.py)")
EXCLUDE = {("scorecard.save", "rows", "empty"): _NO_CLAIMS_YET,
           ("scorecard.to_html", "rows", "empty"): _NO_CLAIMS_YET,
           ("scorecard.counts_sentence", "rows", "empty"): _NO_CLAIMS_YET}
"""``(case name, argument, attack)`` -> why refusing that value would be wrong: the attack is not made."""

XFAIL = {
}
"""``(case name, argument, attack)`` -> reason, for the failures in :data:`XFAIL_MODULES` (strict: an entry
that starts passing fails, so the lead removes it with the fix)."""


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """What the models cases need: a throw-away cache and MiniLM with a fresh head (no fine-tuning)."""
    from nbhelpers.cache import Cache

    cache = Cache(tmp_path_factory.mktemp("api-cache"))
    return {"cache": cache, "model": models.load_pretrained("minilm", seed=0, cache=cache)}


def _needs_ctx(case):
    return callable(case.args)


def _args(case, request):
    if callable(case.args):
        return case.args(request.getfixturevalue("ctx"))
    return dict(case.args)


def _resolve(kwargs):
    return {k: (v() if k == "index" and callable(v) else v) for k, v in kwargs.items()}


def test_every_public_callable_is_covered_or_skipped_with_a_reason():
    api = set(public_api())
    covered = {c.name.split("#")[0] for c in CASES}
    missing = sorted(api - covered - set(SKIP))
    assert not missing, f"public callables neither in CASES nor in SKIP: {missing}"
    assert not sorted((covered | set(SKIP)) - api), "CASES or SKIP name something that is not public API"
    assert not covered & set(SKIP), f"both covered and skipped: {sorted(covered & set(SKIP))}"
    assert all(reason.strip() for reason in SKIP.values())


def test_exclusions_name_real_attacks_with_a_reason():
    for (name, arg, what), reason in EXCLUDE.items():
        case = next(c for c in CASES if c.name == name)
        valid = case.args if isinstance(case.args, dict) else case.args({"model": None, "cache": None})
        assert what in attacks(case.attack[arg], valid.get(arg)) and reason.strip(), (name, arg, what)


def test_xfails_name_real_attacks_in_the_modules_under_edit():
    attacks_made = {p.values[0].name: set() for p in _attack_params()}
    for p in _attack_params():
        attacks_made[p.values[0].name].add((p.values[1], p.values[2]))
    for (name, arg, what), reason in XFAIL.items():
        assert name.split(".")[0] in XFAIL_MODULES, f"{name}: fix it here instead of marking it xfail"
        assert (arg, what) in attacks_made.get(name, ()), f"XFAIL names no attack: {(name, arg, what)}"
        assert reason.startswith(name) and reason.endswith("fix pending")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_valid_call_succeeds(case, request):
    if case.skip_valid:
        pytest.skip(case.skip_valid)
    case.call(**_resolve(_args(case, request)))


def _attack_params():
    for case in CASES:
        # lazily built arguments: the attacked values are never the model or the cache
        valid = case.args if isinstance(case.args, dict) else case.args({"model": None, "cache": None})
        for arg, spec in case.attack.items():
            sample = valid.get(arg)
            if spec.kind in ("array", "labels", "indices", "mask", "texts", "df") and sample is None:
                raise AssertionError(f"{case.name}: no valid value of {arg} to attack")
            for what, bad in attacks(spec, sample).items():
                if (case.name, arg, what) in EXCLUDE:
                    continue
                reason = XFAIL.get((case.name, arg, what))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                yield pytest.param(case, arg, what, bad, id=f"{case.name}-{arg}-{what}", marks=marks)


@pytest.mark.parametrize(("case", "arg", "what", "bad"), list(_attack_params()))
def test_a_bad_argument_is_refused_by_name(case, arg, what, bad, request, monkeypatch):
    kwargs = _resolve(_args(case, request))
    kwargs[arg] = bad
    # nothing may train, download or write the cache on a bad argument: reaching any of them fails
    monkeypatch.setattr(models, "_train", _refuse_work)
    with pytest.raises((ValueError, TypeError), match=re.escape(arg)):
        case.call(**kwargs)


def _refuse_work(*args, **kwargs):
    raise RuntimeError("reached training: the argument was not checked first")
