"""Which hidden states make good neighbours? Compare representation variants by kNN accuracy.

A *variant* is one way of turning a pair into a vector: a pooling (``cls``, ``mean``,
``max``) at a layer, with or without dataset-wise normalisation. For each variant we
fit :class:`nbhelpers.knn.KNN` on the training representations and score it on a
validation split; the temperature is chosen per variant from a small grid, on that same
validation split, so that no variant loses merely because one fixed T suits its
distance scale badly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .knn import KNN, knn_proba

DEFAULT_TEMPERATURES = (0.1, 1.0, 10.0, 100.0, 1000.0)
"""Temperatures tried per variant (squared distances differ in scale between variants)."""


def knn_accuracy_grid(train_reps: dict, train_labels, val_reps: dict, val_labels, *,
                      k: int = 16, temperatures=DEFAULT_TEMPERATURES,
                      normalize=(True, False), n_classes: int = 3) -> pd.DataFrame:
    """kNN validation accuracy of every representation variant.

    Parameters
    ----------
    train_reps, val_reps : dict
        ``{(pooling, layer): ndarray}``; the training arrays have shape (N, d), the
        validation arrays (n, d). Both dicts must have the same keys.
    train_labels : array-like of int, shape (N,)
    val_labels : array-like of int, shape (n,)
    k : int, default=16
        Neighbours per query (the paper's k for SNLI).
    temperatures : sequence of float
        T is chosen per variant, as the value with the best validation accuracy.
    normalize : sequence of bool, default=(True, False)
        Evaluate each variant with and/or without dataset-wise normalisation.

    Returns
    -------
    DataFrame
        One row per (pooling, layer, normalize) with columns ``pooling``, ``layer``,
        ``normalize``, ``temperature`` (the best), ``knn_acc`` (at that T) and
        ``knn_acc_by_T`` (a dict T -> accuracy), sorted by ``knn_acc`` descending.

    Example
    -------
    >>> tr = {("cls", 1): np.array([[0.0], [0.1], [5.0], [5.1]])}
    >>> va = {("cls", 1): np.array([[0.05], [5.05]])}
    >>> grid = knn_accuracy_grid(tr, [0, 0, 1, 1], va, [0, 1], k=1, normalize=(False,))
    >>> grid[["pooling", "layer", "normalize", "knn_acc"]].to_dict("records")
    [{'pooling': 'cls', 'layer': 1, 'normalize': False, 'knn_acc': 1.0}]
    """
    if set(train_reps) != set(val_reps):
        raise ValueError(f"train_reps has variants {sorted(train_reps)} but val_reps has "
                         f"{sorted(val_reps)}; expected the same")
    if not train_reps:
        raise ValueError("no representation variants given")
    temperatures = sorted(float(t) for t in temperatures)
    val_labels = np.asarray(val_labels)
    rows = []
    for (pooling, layer), tr in train_reps.items():
        for norm in normalize:
            knn = KNN(k=k, temperature=temperatures[0], normalize=bool(norm),
                      n_classes=n_classes).fit(tr, train_labels)
            dist, idx = knn.kneighbors(val_reps[(pooling, layer)])
            neighbour_labels = knn.labels_[idx]
            by_t = {t: float((knn_proba(dist, neighbour_labels, t, n_classes).argmax(1)
                              == val_labels).mean()) for t in temperatures}
            best_t = max(by_t, key=lambda t: (by_t[t], -t))  # ties: the smaller T
            rows.append({"pooling": pooling, "layer": int(layer), "normalize": bool(norm),
                         "temperature": best_t, "knn_acc": by_t[best_t], "knn_acc_by_T": by_t})
    return (pd.DataFrame(rows)
            .sort_values(["knn_acc", "pooling", "layer"], ascending=[False, True, True],
                         kind="stable")
            .reset_index(drop=True))
