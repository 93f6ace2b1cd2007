"""kNN backoff evaluated on a split, and the statistics the chapters share: arrays in, arrays out.

- :func:`evaluate_backoff` - tune k, T, tau and lambda on validation, score on test;
- :func:`confidence_bins` - model and kNN accuracy per bin of the model's confidence;

What trains or encodes (:func:`nbhelpers.experiments.run_setting`), the settings
(:mod:`nbhelpers.settings`), the paper's tables (:mod:`nbhelpers.paper`) and the per-slice
backoff (:func:`nbhelpers.knn.tune_slice_taus`) live elsewhere. For HANS the model and kNN still predict 3 classes; neutral and
contradiction both count as non-entailment (``label_map=settings.HANS_LABEL_MAP``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import knn
from .checks import check_label_map, check_proba

__all__ = ["evaluate_backoff", "confidence_bins"]


def evaluate_backoff(train_reps, train_labels, val_reps, val_labels, p_model_val,
                     test_reps, test_labels, p_model_test, *, ks=knn.DEFAULT_KS,
                     temperatures=knn.DEFAULT_TEMPERATURES, taus=knn.DEFAULT_TAUS,
                     lambdas=knn.DEFAULT_LAMBDAS, label_map=None) -> dict:
    """Tune k, T, tau and lambda on validation; score model, kNN, backoff and interpolation on test.

    Parameters
    ----------
    train_reps : ndarray (N, d); train_labels : (N,) ints in 0..2
    val_reps : ndarray (n_val, d); val_labels : (n_val,); p_model_val : (n_val, 3)
    test_reps : ndarray (n_test, d); test_labels : (n_test,); p_model_test : (n_test, 3)
    ks, temperatures, taus, lambdas : grids (see :func:`nbhelpers.knn.tune`)
    label_map : array-like (3,), optional
        Scores ``label_map[prediction]`` against the labels (HANS: :data:`HANS_LABEL_MAP`).

    Returns
    -------
    dict
        ``summary`` (k, T, tau, lambda, n_test, model_acc, knn_acc, backoff_acc,
        interp_acc, knn_fraction_test), ``grid`` (the validation grid of
        :func:`nbhelpers.knn.tune`), ``lambdas`` (validation accuracy per lambda),
        ``p_knn_val``, ``p_knn_test`` and ``correct`` (a DataFrame of per-example
        test correctness for each method, for paired comparisons).

    Example
    -------
    >>> tr, ytr = np.array([[0.0], [0.1], [5.0], [5.1]]), np.array([0, 0, 1, 1])
    >>> q, yq = np.array([[0.05], [5.05]]), np.array([0, 1])
    >>> p = np.array([[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]])  # unsure and wrong on the 2nd
    >>> out = evaluate_backoff(tr, ytr, q, yq, p, q, yq, p, ks=[1], temperatures=[1.0])
    >>> out["summary"]["model_acc"], out["summary"]["backoff_acc"]
    (0.5, 1.0)
    """
    best, grid = knn.tune(train_reps, train_labels, val_reps, val_labels, p_model_val,
                          ks=ks, temperatures=temperatures, taus=taus, label_map=label_map)
    clf = knn.KNN(k=best["k"], temperature=best["temperature"]).fit(train_reps, train_labels)
    p_knn_val = clf.predict_proba(val_reps)
    lam, lam_table = knn.tune_interpolation(p_model_val, p_knn_val, val_labels, lambdas=lambdas,
                                            label_map=label_map)
    p_knn_test = clf.predict_proba(test_reps)
    to_label = check_label_map(label_map, np.asarray(p_model_test).shape[1])
    y = np.asarray(test_labels)
    p_test = np.asarray(p_model_test)
    correct = pd.DataFrame({
        "model": to_label[p_test.argmax(1)] == y,
        "knn": to_label[p_knn_test.argmax(1)] == y,
        "backoff": to_label[knn.backoff(p_test, p_knn_test, best["tau"])] == y,
        "interpolation": to_label[knn.interpolate(p_test, p_knn_test, lam).argmax(1)] == y,
    })
    summary = {
        "k": best["k"], "T": best["temperature"], "tau": best["tau"], "lambda": lam,
        "n_test": int(len(y)),
        "model_acc": float(correct["model"].mean()), "knn_acc": float(correct["knn"].mean()),
        "backoff_acc": float(correct["backoff"].mean()),
        "interp_acc": float(correct["interpolation"].mean()),
        "knn_fraction_test": float((p_test.max(1) <= best["tau"]).mean()),
        "val_model_acc": best["model_acc"], "val_backoff_acc": best["backoff_acc"],
    }
    return {"summary": summary, "grid": grid, "lambdas": lam_table, "p_knn_val": p_knn_val,
            "p_knn_test": p_knn_test, "correct": correct}


def confidence_bins(p_model, p_knn, labels, *, n_bins: int = 10, label_map=None) -> pd.DataFrame:
    """Model and kNN accuracy per bin of the model's confidence (max probability).

    Where the kNN line rises above the model's, backing off pays: this is where the
    threshold tau comes from.

    Parameters
    ----------
    p_model, p_knn : ndarray (n, 3)
    labels : (n,) ints
    n_bins : int, default=10
        Equal-width bins over [1/3, 1] (the range of a 3-class max probability).

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``lo``, ``hi``, ``n``, ``model_acc``, ``knn_acc``.

    Example
    -------
    >>> pm = np.array([[0.9, 0.1, 0], [0.95, 0.05, 0], [0.4, 0.35, 0.25], [0.4, 0.3, 0.3]])
    >>> pk = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0], [0, 1.0, 0]])
    >>> confidence_bins(pm, pk, [0, 0, 1, 1], n_bins=2)[["n", "model_acc", "knn_acc"]].to_numpy().tolist()
    [[2.0, 0.0, 1.0], [2.0, 1.0, 0.5]]
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    pm, pk, y = check_proba(p_model, "p_model"), check_proba(p_knn, "p_knn"), np.asarray(labels)
    if not (len(pm) == len(pk) == len(y)):
        raise ValueError(f"p_model has {len(pm)} rows, p_knn {len(pk)}, labels {len(y)}; expected equal")
    to_label = check_label_map(label_map, pm.shape[1])
    conf = pm.max(1)
    edges = np.linspace(1 / pm.shape[1], 1, n_bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    frame = pd.DataFrame({"bin": which, "model": to_label[pm.argmax(1)] == y,
                          "knn": to_label[pk.argmax(1)] == y})
    out = frame.groupby("bin").agg(n=("model", "size"), model_acc=("model", "mean"),
                                   knn_acc=("knn", "mean")).reset_index()
    out.insert(0, "lo", edges[out["bin"]])
    out.insert(1, "hi", edges[out["bin"] + 1])
    return out.drop(columns="bin").astype({"n": float})


