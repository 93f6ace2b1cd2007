"""kNN backoff evaluated on a split, and the per-seed and per-setting tables the chapters share."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import knn, stats
from .checks import (check_dict, check_frame, check_int, check_label_map, check_labels, check_matrix,
                     check_proba, check_same_length)

ACCURACIES = ("model_acc", "knn_acc", "backoff_acc", "interp_acc")  # the test accuracies, model first


def evaluate_backoff(train_reps, train_labels, val_reps, val_labels, p_model_val,
                     test_reps, test_labels, p_model_test, *, ks=knn.DEFAULT_KS,
                     temperatures=knn.DEFAULT_TEMPERATURES, taus=knn.DEFAULT_TAUS,
                     lambdas=knn.DEFAULT_LAMBDAS, label_map=None) -> dict:
    """Tune k, T, tau and lambda on validation (as :func:`nbhelpers.knn.tune`); score model, kNN, backoff
    and interpolation on test. Returns ``summary`` (tuned values, the ``ACCURACIES``, ...), ``grid``,
    ``lambdas``, ``p_knn_val``, ``p_knn_test`` and ``correct`` (per method).

    >>> tr, ytr = np.array([[0.0], [0.1], [5.0], [5.1]]), np.array([0, 0, 1, 1])
    >>> q, yq, p = np.array([[0.05], [5.05]]), np.array([0, 1]), np.array([[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]])
    >>> out = evaluate_backoff(tr, ytr, q, yq, p, q, yq, p, ks=[1], temperatures=[1.0])
    >>> out["summary"]["model_acc"], out["summary"]["backoff_acc"]
    (0.5, 1.0)
    """
    n_classes = check_proba(p_model_val, "p_model_val").shape[1]
    p_test = check_proba(p_model_test, "p_model_test", n_classes=n_classes)
    y = check_labels(test_labels, n_classes, "test_labels")
    test_reps = check_matrix(test_reps, "test_reps")
    check_same_length(len(test_reps), len(y), "test_reps", "test_labels")
    check_same_length(len(p_test), len(y), "p_model_test", "test_labels")
    best, grid = knn.tune(train_reps, train_labels, val_reps, val_labels, p_model_val, ks=ks,
                          temperatures=temperatures, taus=taus, label_map=label_map, n_classes=n_classes)
    clf = knn.KNN(k=best["k"], temperature=best["temperature"],
                  classes=range(n_classes)).fit(train_reps, train_labels)
    p_knn_val = clf.predict_proba(val_reps)
    lam, lam_table = knn.tune_interpolation(p_model_val, p_knn_val, val_labels, lambdas=lambdas,
                                            label_map=label_map)
    p_knn_test = clf.predict_proba(test_reps)
    to_label = check_label_map(label_map, p_test.shape[1])
    preds = {"model": p_test.argmax(1), "knn": p_knn_test.argmax(1),
             "backoff": knn.backoff(p_test, p_knn_test, best["tau"]),
             "interpolation": knn.interpolate(p_test, p_knn_test, lam).argmax(1)}
    correct = pd.DataFrame({method: to_label[pred] == y for method, pred in preds.items()})
    summary = {"k": best["k"], "T": best["temperature"], "tau": best["tau"], "lambda": lam,
               "n_test": int(len(y)),
               **{acc: float(correct[method].mean()) for acc, method in zip(ACCURACIES, correct)},
               # compared in the dtype given (float32 from predict_proba), as before the checks
               "knn_fraction_test": float((np.asarray(p_model_test).max(1) <= best["tau"]).mean()),
               "val_model_acc": best["model_acc"], "val_backoff_acc": best["backoff_acc"]}
    return {"summary": summary, "grid": grid, "lambdas": lam_table, "p_knn_val": p_knn_val,
            "p_knn_test": p_knn_test, "correct": correct}


def confidence_bins(p_model, p_knn, labels, *, n_bins: int = 10, label_map=None) -> pd.DataFrame:
    """Model and kNN accuracy per non-empty bin (``n_bins`` over [1/C, 1]) of the model's confidence:
    where kNN is better, backing off pays."""
    n_bins = check_int(n_bins, "n_bins", low=1)
    pm, pk = check_proba(p_model, "p_model"), check_proba(p_knn, "p_knn")
    y = check_labels(labels, pm.shape[1])
    check_same_length(len(pk), len(pm), "p_knn", "p_model")
    check_same_length(len(y), len(pm), "labels", "p_model")
    to_label = check_label_map(label_map, pm.shape[1])
    edges = np.linspace(1 / pm.shape[1], 1, n_bins + 1)
    which = np.clip(np.searchsorted(edges, pm.max(1), side="right") - 1, 0, n_bins - 1)
    frame = pd.DataFrame({"bin": which, "model": to_label[pm.argmax(1)] == y,
                          "knn": to_label[pk.argmax(1)] == y})
    out = frame.groupby("bin").agg(n=("model", "size"), model_acc=("model", "mean"),
                                   knn_acc=("knn", "mean")).reset_index()
    out.insert(0, "lo", edges[out["bin"]])
    out.insert(1, "hi", edges[out["bin"] + 1])
    return out.drop(columns="bin").astype({"n": float})


def over_seeds(summary: pd.DataFrame) -> pd.DataFrame:
    """Test accuracies and gains over the model: a row per seed of ``summary``, then ``mean`` and ``std``."""
    check_frame(summary, "summary", ["seed", *ACCURACIES])
    table = summary.set_index("seed")[list(ACCURACIES)].copy()
    table["backoff gain"] = table["backoff_acc"] - table["model_acc"]
    table["interpolation gain"] = table["interp_acc"] - table["model_acc"]
    return pd.concat([table, table.agg(["mean", "std"])]).rename_axis("seed")  # one seed: std NaN


def paired_gains(correct: dict, *, methods=("backoff", "interpolation"), baseline: str = "model",
                 seed: int = 0) -> pd.DataFrame:
    """Each method's test accuracy minus the baseline's per setting, with a 95% paired bootstrap
    (``correct``: setting -> :func:`evaluate_backoff`'s ``correct``); columns (method, diff/lo/hi)."""
    rows = {}
    for name, c in check_dict(correct, "correct").items():
        boots = {m: stats.paired_bootstrap(c[baseline], c[m], seed=seed) for m in methods}
        rows[name] = {(m, key): boots[m][key] for m in methods for key in ("diff", "lo", "hi")}
    return pd.DataFrame.from_dict(rows, orient="index")
