"""Finding mislabeled training examples with nearest neighbours, and the baselines.

Notation: N training examples, n validation (query) examples, K classes. Every function
takes arrays and returns a boolean mask over the N training examples, or scores where
*higher means more likely mislabeled* (rank with ``np.argsort(-scores)``), or metrics
of such a mask or ranking against the set of examples known to be flipped. No model and
no file I/O inside.

The paper's method (Rajani et al., 2020, Section 5): for every validation example whose
model prediction differs from the label of its nearest training neighbour, that
neighbour is a candidate. The baselines rank all training examples: by training loss
(the paper's baseline), by cleanlab's self-confidence on out-of-sample probabilities
(:func:`cleanlab_scores`), or by how strongly a training example's own neighbours
disagree with its label (:func:`knn_label_scores`, ours).
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from .knn import knn_proba
from .validation import check_indices, check_labels, check_mask, check_proba


def inject_label_noise(labels, rate: float, n_classes: int = 3, seed: int = 0):
    """Flip exactly ``round(rate * N)`` labels, each to a different class chosen at random.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        Clean labels in ``0 .. n_classes-1``.
    rate : float in [0, 1]
        Share of labels to flip.
    n_classes : int, default=3
    seed : int, default=0

    Returns
    -------
    noisy_labels : ndarray of int, shape (N,)
    flipped : ndarray of bool, shape (N,)
        True where ``noisy_labels != labels``.

    Example
    -------
    >>> noisy, flipped = inject_label_noise([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], rate=0.2, seed=0)
    >>> int(flipped.sum()), bool((noisy[flipped] != np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])[flipped]).all())
    (2, True)
    """
    y = check_labels(labels, n_classes)
    if not (isinstance(rate, (int, float, np.floating)) and 0 <= rate <= 1):
        raise ValueError(f"rate must be a number in [0, 1], got {rate!r}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2 to flip a label, got {n_classes}")
    rng = np.random.default_rng(seed)
    n_flip = int(round(rate * len(y)))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    shift = rng.integers(1, n_classes, size=n_flip)  # 1..C-1: never the same class
    noisy = y.copy()
    noisy[idx] = (y[idx] + shift) % n_classes
    return noisy, noisy != y


def knn_candidates(query_predictions, nearest_train_index, train_labels):
    """The paper's method: flag the nearest training neighbour of every query it contradicts.

    Parameters
    ----------
    query_predictions : array-like of int, shape (n,)
        The model's prediction for each validation (query) example.
    nearest_train_index : array-like of int, shape (n,)
        Index of each query's nearest training example (k = 1).
    train_labels : array-like of int, shape (N,)
        The (possibly noisy) training labels.

    Returns
    -------
    ndarray of bool, shape (N,)
        True for every training example that is the nearest neighbour of at least one
        query whose prediction differs from that neighbour's label.

    Example
    -------
    >>> knn_candidates([0, 1, 1], [2, 0, 2], [1, 1, 0, 2]).tolist()
    [False, False, True, False]
    """
    pred = check_labels(query_predictions, name="query_predictions")
    y = check_labels(train_labels, name="train_labels")
    nn = check_indices(nearest_train_index, len(y), "nearest_train_index")
    if len(pred) != len(nn):
        raise ValueError(f"query_predictions has {len(pred)} entries but nearest_train_index {len(nn)}")
    mask = np.zeros(len(y), dtype=bool)
    mask[nn[pred != y[nn]]] = True
    return mask


def knn_diagnostics(query_predictions, nearest_train_index, train_labels, flipped, memorised) -> dict:
    """Why the paper's kNN protocol finds (or misses) flipped labels, from one run; no training.

    Parameters
    ----------
    query_predictions : array-like of int, shape (n,)
    nearest_train_index : array-like of int, shape (n,)
        As in :func:`knn_candidates`.
    train_labels : array-like of int, shape (N,)
        The noisy training labels.
    flipped : array-like of bool, shape (N,)
        True where the label was flipped.
    memorised : array-like of bool, shape (N,)
        True where the noisy model predicts a training example's (noisy) label.

    Returns
    -------
    dict
        ``recall_ceiling``: share of the flips that are the nearest neighbour of at least one
        query (a flip nobody retrieves cannot be flagged); ``memorised_recalled`` and
        ``memorised_missed``: share memorised among the flips the protocol flags and among
        those it misses (NaN when there are none); ``precision_per_flagged``: share of the
        flagged examples that are flips (the paper's precision); ``precision_per_query``:
        share of the flagging queries (prediction != neighbour's label) whose neighbour is a
        flip; ``n_flips``, ``n_flagged``, ``n_flagging_queries``.

    Example
    -------
    Two queries contradict flipped example 0, one contradicts clean example 1; flip 3 is
    never retrieved (and memorised):

    >>> d = knn_diagnostics([0, 0, 1, 2], [0, 0, 0, 1], [1, 0, 0, 1], [True, False, False, True],
    ...                     [False, True, True, True])
    >>> d["recall_ceiling"], d["precision_per_flagged"], round(d["precision_per_query"], 3)
    (0.5, 0.5, 0.667)
    >>> d["memorised_recalled"], d["memorised_missed"]
    (0.0, 1.0)
    """
    pred = check_labels(query_predictions, name="query_predictions")
    y = check_labels(train_labels, name="train_labels")
    nn = check_indices(nearest_train_index, len(y), "nearest_train_index")
    if len(pred) != len(nn):
        raise ValueError(f"query_predictions has {len(pred)} entries but nearest_train_index {len(nn)}")
    flips = check_mask(flipped, "flipped")
    mem = check_mask(memorised, "memorised")
    for name, m in (("flipped", flips), ("memorised", mem)):
        if len(m) != len(y):
            raise ValueError(f"{name} has {len(m)} entries but train_labels {len(y)}")
    flagged = knn_candidates(pred, nn, y)
    flagging = pred != y[nn]
    retrieved = np.zeros(len(y), dtype=bool)
    retrieved[nn] = True

    def share(a, where):
        return float(a[where].mean()) if where.any() else float("nan")

    return {
        "n_flips": int(flips.sum()), "n_flagged": int(flagged.sum()),
        "n_flagging_queries": int(flagging.sum()),
        "recall_ceiling": share(retrieved, flips),
        "memorised_recalled": share(mem, flips & flagged),
        "memorised_missed": share(mem, flips & ~flagged),
        "precision_per_flagged": share(flips, flagged),
        "precision_per_query": float(flips[nn[flagging]].mean()) if flagging.any() else float("nan"),
    }


def loss_scores(pred_probs, labels):
    """Training loss per example, ``-log p(label)``: the paper's baseline ranking.

    Example
    -------
    >>> np.round(loss_scores([[0.9, 0.1], [0.2, 0.8]], [0, 0]), 3).tolist()
    [0.105, 1.609]
    """
    p = np.asarray(pred_probs, dtype=float)
    y = check_labels(labels, p.shape[1] if p.ndim == 2 else None)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"pred_probs must be (N, K) with N = {len(y)} labels, got shape {p.shape}")
    return -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))


def knn_label_scores(neighbor_distances, neighbor_indices, labels, *, temperature: float,
                     pred_probs=None, n_classes: int = 3):
    """How strongly an example's own neighbours (and the model) disagree with its label.

    ``1 - p_knn(label)`` from the example's leave-one-out neighbours among the training
    set, averaged with ``1 - p_model(label)`` when ``pred_probs`` is given. A ranked
    version of the paper's kNN idea, so that kNN gets a full precision-recall curve.

    Parameters
    ----------
    neighbor_distances, neighbor_indices : ndarray, shape (N, k)
        Each training example's neighbours among the *other* training examples, e.g.
        ``KNN(k).fit(reps, labels).kneighbors()``.
    labels : array-like of int, shape (N,)
        The (possibly noisy) labels being checked.
    temperature : float
        As in :func:`nbhelpers.knn.knn_proba`.
    pred_probs : ndarray (N, K), optional
        The model's probabilities for the training examples.

    Returns
    -------
    ndarray of float, shape (N,), in [0, 1]

    Example
    -------
    >>> d = np.zeros((3, 2)); i = np.array([[1, 2], [0, 2], [0, 1]])
    >>> knn_label_scores(d, i, [0, 0, 1], temperature=1.0).tolist()  # the odd one out
    [0.5, 0.5, 1.0]
    """
    y = check_labels(labels, n_classes)
    idx = check_indices(neighbor_indices, len(y), "neighbor_indices", ndim=2)
    if idx.shape[0] != len(y):
        raise ValueError(f"neighbor_indices has {idx.shape[0]} rows but there are {len(y)} labels")
    p_knn = knn_proba(neighbor_distances, y[idx], temperature, n_classes=n_classes)
    score = 1.0 - p_knn[np.arange(len(y)), y]
    if pred_probs is not None:
        p = np.asarray(pred_probs, dtype=float)
        if p.shape != (len(y), n_classes):
            raise ValueError(f"pred_probs must have shape {(len(y), n_classes)}, got {p.shape}")
        p = check_proba(p, "pred_probs", n_classes=n_classes)
        score = (score + 1.0 - p[np.arange(len(y)), y]) / 2
    return score


def cleanlab_scores(labels, pred_probs):
    """cleanlab's label-quality ranking turned into suspicion scores (higher = worse).

    ``1 - cleanlab.rank.get_label_quality_scores`` (self-confidence). ``pred_probs``
    must be *out-of-sample* (e.g. from cross-validation), as cleanlab requires.
    """
    from cleanlab.rank import get_label_quality_scores

    y = check_labels(labels)
    return 1.0 - get_label_quality_scores(y, np.asarray(pred_probs, dtype=float),
                                          method="self_confidence")


def cleanlab_mask(labels, pred_probs):
    """cleanlab's own decision, ``cleanlab.filter.find_label_issues``, as a boolean mask."""
    from cleanlab.filter import find_label_issues

    return find_label_issues(check_labels(labels), np.asarray(pred_probs, dtype=float))


def precision_recall_f1(flagged, truth) -> dict:
    """Precision, recall and F1 of a flagged set against the truly flipped set.

    Example
    -------
    >>> precision_recall_f1(np.array([True, True, False, False]), np.array([True, False, True, False]))
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'n_flagged': 2}
    """
    f = check_mask(flagged, "flagged")
    t = check_mask(truth, "truth")
    if f.shape != t.shape:
        raise ValueError(f"flagged has {len(f)} entries but truth has {len(t)}")
    tp = int((f & t).sum())
    precision = tp / f.sum() if f.sum() else 0.0
    recall = tp / t.sum() if t.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "n_flagged": int(f.sum())}


def top_k_mask(scores, budget: int):
    """The ``budget`` highest-scoring examples as a mask (ties: the earlier index).

    Example
    -------
    >>> top_k_mask([0.1, 0.9, 0.5, 0.9], 2).tolist()
    [False, True, False, True]
    """
    s = np.asarray(scores, dtype=float)
    if not 0 <= budget <= len(s):
        raise ValueError(f"budget must be between 0 and {len(s)}, got {budget}")
    mask = np.zeros(len(s), dtype=bool)
    mask[np.argsort(-s, kind="stable")[:budget]] = True
    return mask


def recall_curve(scores, truth):
    """Recall of the flipped set against the share of training data inspected, best first.

    Returns
    -------
    fractions, recalls : ndarray, shape (N + 1,)
        Inspecting the top ``i`` examples covers ``fractions[i] = i / N`` of the data and
        finds ``recalls[i]`` of the flipped examples.

    Example
    -------
    >>> f, r = recall_curve([0.9, 0.1, 0.5, 0.2], np.array([True, False, False, True]))
    >>> f.tolist(), r.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    s = np.asarray(scores, dtype=float)
    t = check_mask(truth, "truth")
    if len(s) != len(t):
        raise ValueError(f"scores has {len(s)} entries but truth has {len(t)}")
    hits = t[np.argsort(-s, kind="stable")]
    recalls = np.concatenate([[0.0], np.cumsum(hits) / max(int(t.sum()), 1)])
    return np.arange(len(s) + 1) / len(s), recalls


def fraction_for_recall(scores, truth, target_recall: float) -> float:
    """Smallest share of the data to inspect, best-scored first, to reach ``target_recall``.

    Example
    -------
    >>> fraction_for_recall([0.9, 0.1, 0.5, 0.2], np.array([True, False, False, True]), 0.75)
    0.75
    """
    if not 0 <= target_recall <= 1:
        raise ValueError(f"target_recall must be in [0, 1], got {target_recall}")
    f, r = recall_curve(scores, truth)
    return float(f[np.argmax(r >= target_recall - 1e-12)])


def average_precision(scores, truth) -> float:
    """Average precision of a ranking over the flipped set (scikit-learn), threshold-free."""
    t = check_mask(truth, "truth")
    return float(average_precision_score(t, np.asarray(scores, dtype=float)))
