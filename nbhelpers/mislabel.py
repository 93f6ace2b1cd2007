"""Mislabeled training examples by kNN (Section 5); N training, n queries, K classes; high score: suspect."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from .knn import knn_proba
from .checks import (check_dict, check_indices, check_int, check_labels, check_mask, check_matrix,
                     check_proba, check_same_length, check_unit_interval, check_vector)


def inject_label_noise(labels, rate: float, *, n_classes: int = 3, seed: int = 0):
    """``(noisy_labels, flipped)``: exactly ``round(rate * N)`` labels, each moved to a random other class."""
    y = check_labels(labels, check_int(n_classes, "n_classes", low=2))
    rate, rng = check_unit_interval(rate, "rate"), np.random.default_rng(check_int(seed, "seed", low=0))
    n_flip = int(round(rate * len(y)))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    shift = rng.integers(1, n_classes, size=n_flip)  # 1..C-1: never the same class
    noisy = y.copy()
    noisy[idx] = (y[idx] + shift) % n_classes
    return noisy, noisy != y


def knn_candidates(query_predictions, nearest_train_index, train_labels):
    """The paper's method: an (N,) mask flagging each query's nearest training example (k = 1) whose label
    contradicts the model's prediction on that query (``query_predictions``, (n,)).

    >>> knn_candidates([0, 1, 1], [2, 0, 2], [1, 1, 0, 2]).tolist()
    [False, False, True, False]
    """
    pred = check_labels(query_predictions, name="query_predictions")
    y = check_labels(train_labels, name="train_labels")
    nn = check_indices(nearest_train_index, len(y), "nearest_train_index")
    check_same_length(len(pred), len(nn), "query_predictions", "nearest_train_index")
    mask = np.zeros(len(y), dtype=bool)
    mask[nn[pred != y[nn]]] = True
    return mask


def loss_scores(labels, pred_probs):
    """Training loss ``-log p(label)`` (clipped at 1e-12) of (N,) ``labels`` under (N, K) ``pred_probs``."""
    p = check_proba(pred_probs, "pred_probs", atol=None)
    y = check_labels(labels, p.shape[1])
    check_same_length(len(y), len(p), "labels", "pred_probs")
    return -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))


def knn_label_scores(neighbor_distances, neighbor_indices, labels, *, temperature: float,
                     pred_probs=None, n_classes: int = 3):
    """How strongly an example's own (N, k) leave-one-out neighbours disagree with its label, in [0, 1]:
    ``1 - p_knn(label)``, averaged with ``1 - p_model(label)`` when ``pred_probs`` is given.

    >>> d = np.zeros((3, 2)); i = np.array([[1, 2], [0, 2], [0, 1]])
    >>> knn_label_scores(d, i, [0, 0, 1], temperature=1.0).tolist()  # the odd one out
    [0.5, 0.5, 1.0]
    """
    y = check_labels(labels, n_classes)
    idx = check_indices(neighbor_indices, len(y), "neighbor_indices", ndim=2)
    check_same_length(len(idx), len(y), "neighbor_indices", "labels")
    p_knn = knn_proba(check_matrix(neighbor_distances, "neighbor_distances"), y[idx], temperature=temperature,
                      n_classes=n_classes)
    score = 1.0 - p_knn[np.arange(len(y)), y]
    if pred_probs is not None:
        p = check_proba(pred_probs, "pred_probs", n_classes=n_classes)
        check_same_length(len(p), len(y), "pred_probs", "labels")
        score = (score + 1.0 - p[np.arange(len(y)), y]) / 2
    return score


def recall_curve(scores, truth):
    """``(fractions, recalls)``, (N + 1,) each: the top ``i`` scores cover ``i / N`` and reach ``recalls[i]``.

    >>> f, r = recall_curve([0.9, 0.1, 0.5, 0.2], np.array([True, False, False, True]))
    >>> f.tolist(), r.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    s, t = check_vector(scores, "scores"), check_mask(truth, "truth")
    check_same_length(len(s), len(t), "scores", "truth")
    hits = t[np.argsort(-s, kind="stable")]
    recalls = np.concatenate([[0.0], np.cumsum(hits) / max(int(t.sum()), 1)])
    return np.arange(len(s) + 1) / len(s), recalls


def average_precision(scores, truth) -> float:
    """Average precision of a ranking over the flipped set (scikit-learn), threshold-free."""
    t, s = check_mask(truth, "truth"), check_vector(scores, "scores")
    check_same_length(len(s), len(t), "scores", "truth")
    return float(average_precision_score(t, s))


def paper_pattern(point: dict) -> bool:
    """Whether a sweep point shows the paper's pattern: the loss ranking needs at least half the data to
    match kNN's recall (Section 5: "about 65%"), and ``knn_f1`` beats ``loss_f1_at_budget``."""
    check_dict(point, "point", ["loss_fraction_for_knn_recall", "knn_f1", "loss_f1_at_budget"])
    return bool(point["loss_fraction_for_knn_recall"] >= 0.5 and point["knn_f1"] > point["loss_f1_at_budget"])


def sweep_conclusion(points) -> dict:
    """What the sweep's points say (:func:`~nbhelpers.experiments.memorisation_sweep`): ``pattern_regimes``,
    ``explanation`` ("b": the regime explains the paper's result, else "c"), ``memorisation_range``, ``best``,
    ``knn_beats_both``, ``n_seeds`` and ``by_regime``."""
    if not (points := list(points)):
        raise ValueError("points is empty: run at least one sweep point")
    by_regime = {}
    for p in points:
        by_regime.setdefault(f"lr {p['lr']:.0e}, {p['epochs']} ep", []).append(p)
    keys = ("flips_memorised", "knn_f1", "loss_f1_at_budget", "loss_fraction_for_knn_recall")
    methods = ("ranked kNN", "kNN only", "loss", "cleanlab")
    mean = {r: {**{k: float(np.mean([p[k] for p in ps])) for k in keys},
                "ap": {m: float(np.mean([p["ap"][m] for p in ps])) for m in methods}}
            for r, ps in by_regime.items()}
    pattern = [r for r, m in mean.items() if paper_pattern(m)]
    best_method, best_regime = max(((m, r) for r in mean for m in methods),
                                   key=lambda mr: mean[mr[1]]["ap"][mr[0]])
    beats = sorted({r for r, ps in by_regime.items() for p in ps for score in ("ranked kNN", "kNN only")
                    if score in p.get("ap_vs", {})
                    and all(p["ap_vs"][score][other]["lo"] > 0 for other in ("loss", "cleanlab"))})
    mem = [m["flips_memorised"] for m in mean.values()]
    return {"pattern_regimes": pattern, "explanation": "b" if pattern else "c",
            "memorisation_range": [min(mem), max(mem)], "best": {
                "method": best_method, "regime": best_regime, "ap": mean[best_regime]["ap"][best_method]},
            "knn_beats_both": beats, "n_seeds": max(map(len, by_regime.values())), "by_regime": mean}


def sweep_quotes(conclusion: dict | None) -> dict:
    """The ``sweep_*`` values chapter 5 quotes from a :func:`sweep_conclusion` (None: no sweep ran)."""
    c = conclusion or {"by_regime": {}, "memorisation_range": [np.nan, np.nan], "n_seeds": 0,
                       "explanation": "none", "best": {"method": "none", "regime": "none", "ap": np.nan}}
    loss = {r: m["loss_fraction_for_knn_recall"] for r, m in c["by_regime"].items()} or {"none": np.nan}
    most = max(loss, key=loss.get)  # the regime where the loss ranking needs the most data
    (low, high), best = c["memorisation_range"], c["best"]
    return {"sweep_n_regimes": len(c["by_regime"]), "sweep_n_seeds": c["n_seeds"],
            "sweep_memorised_low": low, "sweep_memorised_high": high,
            "sweep_pattern_regimes": "; ".join(c.get("pattern_regimes", [])) or "none",
            "sweep_explanation": c["explanation"], "sweep_loss_fraction": loss[most],
            "sweep_loss_regime": most, "sweep_best_method": best["method"],
            "sweep_best_regime": best["regime"], "sweep_best_ap": best["ap"],
            "sweep_knn_beats_both": "; ".join(c.get("knn_beats_both", [])) or "none"}
