"""Which hidden states make good neighbours: kNN validation accuracy per pooling, layer and normalisation."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .stats import _group_ids, bootstrap_ci, mcnemar, paired_bootstrap
from .checks import (check_dict, check_grid, check_int, check_labels, check_matrix, check_positive,
                     check_reps, check_same_length)
from .knn import DEFAULT_TEMPERATURES, KNN, knn_proba

COARSE_TEMPERATURES = DEFAULT_TEMPERATURES[::2]  # tried per variant: 0.1, 1, 10, 100, 1000


def knn_accuracy_grid(train_reps: dict, train_labels, val_reps: dict, val_labels, *,
                      k: int = 16, temperatures=COARSE_TEMPERATURES,
                      normalize=(True, False), n_classes: int = 3) -> pd.DataFrame:
    """kNN accuracy on validation per variant and ``normalize``, each at its best ``temperature``, best first.

    >>> tr, va = {("cls", 1): np.array([[0.0], [0.1], [5.0], [5.1]])}, {("cls", 1): np.array([[0.0], [5.0]])}
    >>> knn_accuracy_grid(tr, [0, 0, 1, 1], va, [0, 1], k=1, normalize=(False,))["knn_acc"].tolist()
    [1.0]
    """
    if set(check_dict(train_reps, "train_reps")) != set(check_dict(val_reps, "val_reps")):
        raise ValueError(f"train_reps has variants {sorted(train_reps)} but val_reps has "
                         f"{sorted(val_reps)}; expected the same")
    k = check_int(k, "k", low=1)
    temperatures = check_grid(temperatures, "temperatures", check_positive).tolist()
    train_labels = check_labels(train_labels, n_classes, "train_labels")
    val_labels = check_labels(val_labels, n_classes, "val_labels")
    rows = []
    for (pooling, layer), tr in train_reps.items():
        tr = check_matrix(tr, f"train_reps[{(pooling, layer)!r}]")
        va = check_matrix(val_reps[(pooling, layer)], f"val_reps[{(pooling, layer)!r}]")
        for norm in normalize:
            knn = KNN(k=k, normalize=bool(norm), classes=range(n_classes))
            dist, idx = knn.fit(tr, train_labels).kneighbors(va)
            by_t = {t: float((knn_proba(dist, train_labels[idx], temperature=t, n_classes=n_classes).argmax(1)
                              == val_labels).mean()) for t in temperatures}
            best_t = max(by_t, key=lambda t: (by_t[t], -t))
            rows.append({"pooling": pooling, "layer": int(layer), "normalize": bool(norm),
                         "temperature": best_t, "knn_acc": by_t[best_t], "knn_acc_by_T": by_t})
    return (pd.DataFrame(rows).sort_values(["knn_acc", "pooling", "layer"], ascending=[False, True, True],
                                           kind="stable").reset_index(drop=True))


def knn_and_probe(train_reps, train_labels, val_reps, val_labels, *, k: int = 16,
                  temperatures=COARSE_TEMPERATURES, normalize: bool = True, seed: int = 0,
                  n_resamples: int = 2000) -> dict:
    """kNN (as in :func:`knn_accuracy_grid`) vs a logistic-regression probe: validation accuracy, 95% CIs."""
    tr, y_tr = check_reps(train_reps, "train_reps"), check_labels(train_labels, None, "train_labels")
    va, y_va = check_reps(val_reps, "val_reps"), check_labels(val_labels, None, "val_labels")
    check_same_length(len(tr), len(y_tr), "train_reps", "train_labels")
    check_same_length(len(va), len(y_va), "val_reps", "val_labels")
    if tr.shape[1] != va.shape[1]:
        raise ValueError(f"train_reps has {tr.shape[1]} dimensions but val_reps has {va.shape[1]}; "
                         f"expected the same")
    if len(np.unique(y_tr)) < 2:
        raise ValueError(f"train_labels must hold at least 2 classes to fit a probe, got "
                         f"np.unique(train_labels) = {np.unique(y_tr)}")
    grid = knn_accuracy_grid({("rep", 0): tr}, y_tr, {("rep", 0): va}, y_va, k=k,
                             temperatures=temperatures, normalize=(normalize,))
    temperature = float(grid["temperature"].iloc[0])
    knn_correct = KNN(k=k, temperature=temperature, normalize=normalize).fit(tr, y_tr).predict(va) == y_va
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    probe_correct = probe.fit(tr, y_tr).predict(va) == y_va
    return {"knn_acc": float(knn_correct.mean()),
            "knn_ci": list(bootstrap_ci(knn_correct, n_resamples=n_resamples, seed=seed)),
            "temperature": temperature, "probe_acc": float(probe_correct.mean()),
            "probe_ci": list(bootstrap_ci(probe_correct, n_resamples=n_resamples, seed=seed)),
            "n_train": int(len(tr)), "n_val": int(len(va)),
            "knn_correct": knn_correct, "probe_correct": probe_correct}


def held_out_comparison(train_reps: dict, train_labels, val_reps: dict, val_labels, *, reference,
                        k: int = 16, temperatures=COARSE_TEMPERATURES, seed: int = 0, groups=None) -> dict:
    """The ``reference`` variant ``(pooling, layer, normalize)`` against the best other, picked (each with its
    T) on a random half of validation; the other half gives ``diff`` (reference minus other) and tests it.
    ``groups`` (:func:`nbhelpers.data.pair_groups`): halves of whole groups, and a cluster bootstrap."""
    y = check_labels(val_labels, None, "val_labels")
    pooling, layer, norm = reference
    if (pooling, layer) not in check_dict(val_reps, "val_reps"):
        raise ValueError(f"reference={reference!r} but val_reps has no variant {(pooling, layer)!r}")
    if len(y) < 4:
        raise ValueError(f"expected at least 4 validation pairs to split in two halves, got {len(y)}")
    ids = _group_ids(groups, len(y))  # sklearn's message on a single group names n_samples=1
    first, second = next(GroupShuffleSplit(1, test_size=0.5, random_state=seed).split(y, y, ids))
    grid = knn_accuracy_grid(train_reps, train_labels, {key: v[first] for key, v in val_reps.items()},
                             y[first], k=k, temperatures=temperatures)
    is_ref = (grid["pooling"] == pooling) & (grid["layer"] == int(layer)) & (grid["normalize"] == bool(norm))
    ref_row, other = grid[is_ref].iloc[0], grid[~is_ref].iloc[0]

    def correct(row):
        key = (row["pooling"], int(row["layer"]))
        model = KNN(k=k, temperature=float(row["temperature"]), normalize=bool(row["normalize"]))
        return model.fit(train_reps[key], train_labels).predict(val_reps[key][second]) == y[second]

    def name(row):
        return f"{row['pooling']}-layer{int(row['layer'])}-{'norm' if row['normalize'] else 'raw'}"

    ref_ok, other_ok = correct(ref_row), correct(other)
    boot, exact = paired_bootstrap(other_ok, ref_ok, seed=seed, groups=ids[second]), mcnemar(other_ok, ref_ok)
    return {"reference": name(ref_row), "best_other": name(other), "n_choose": len(first),
            "n_score": len(second), "reference_acc": float(ref_ok.mean()),
            "best_other_acc": float(other_ok.mean()), "diff": boot["diff"], "lo": boot["lo"],
            "hi": boot["hi"], "a_only": exact["a_only"], "b_only": exact["b_only"], "mcnemar_p": exact["p"]}
