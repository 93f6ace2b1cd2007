"""Experiments: the functions that fine-tune models and then measure them.

Everything here trains (through :mod:`nbhelpers.models`, so every checkpoint is cached);
the array-in, array-out statistics they call live in :mod:`nbhelpers.mislabel`,
:mod:`nbhelpers.knn` and :mod:`nbhelpers.evaluation`.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from . import knn, mislabel, models

# ---------------------------------------------------------------------------------------
# Mislabel detection (chapter 5): one noisy run, and the memorisation sweep
# ---------------------------------------------------------------------------------------

#: The regimes of chapter 5's memorisation sweep: (learning rate, epochs). The book's
#: default recipe (lr 1e-4, 5 epochs) is one of them.
SWEEP_REGIMES = ((1e-4, 1), (1e-4, 2), (1e-4, 5), (1e-4, 10), (3e-5, 3), (3e-5, 10))

#: The rankings compared in chapter 5 (higher score = more likely mislabeled).
RANKINGS = ("loss", "cleanlab", "ranked kNN", "kNN only")


def noisy_label_run(train: pd.DataFrame, val: pd.DataFrame, *, backbone: str = "minilm", seed: int = 0,
                    noise_rate: float = 0.10, recipe: dict, cleanlab_folds: int = 3, ranked_k: int = 16,
                    cache=None, progress: bool = True) -> tuple[dict, dict, np.ndarray]:
    """Flip labels, fine-tune on them, and score every way of finding the flips.

    1. Flip ``noise_rate`` of the training labels (:func:`mislabel.inject_label_noise`, ``seed``).
    2. Fine-tune ``backbone`` on the noisy labels with ``recipe`` (cached).
    3. The paper's protocol: every validation query whose prediction differs from the label
       of its nearest (k = 1) training neighbour flags that neighbour
       (:func:`mislabel.knn_candidates`); the number flagged is the *budget*.
    4. Four rankings of all training examples (higher = more suspect): training loss (the
       paper's baseline), cleanlab's self-confidence on ``cleanlab_folds``-fold out-of-sample
       probabilities, and two kNN scores from each example's ``ranked_k`` leave-one-out
       neighbours: ``ranked kNN`` averages the neighbours' disagreement with the model's,
       ``kNN only`` is the neighbours' disagreement alone. Their softmax temperature is the
       median leave-one-out distance, so the weights are neither one-hot nor uniform.
    5. Precision, recall and F1 of each at the budget, average precision (AP), the share of
       data the loss ranking needs to reach the protocol's recall, and the diagnostics of
       :func:`mislabel.knn_diagnostics`.

    Parameters
    ----------
    train, val : DataFrame
        Clean NLI pairs; ``val`` holds the queries.
    backbone : str, default="minilm"
    seed : int, default=0
        Seeds the flips, the fine-tune and the folds.
    noise_rate : float, default=0.10
    recipe : dict
        Fine-tuning recipe (keyword arguments of :func:`models.fine_tune`), keyword-only.
    cleanlab_folds : int, default=3
    ranked_k : int, default=16

    Returns
    -------
    row : dict
        One flat record of every number above (the keys chapter 5 tabulates).
    scores : dict
        Ranking name -> ndarray (N,) of scores.
    flipped : ndarray of bool, shape (N,)
    """
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict of fine_tune arguments, got {type(recipe).__name__}")
    noisy, flipped = mislabel.inject_label_noise(train["label"].to_numpy(), noise_rate, seed=seed)
    noisy_df = train.assign(label=noisy)
    model = models.fine_tune(noisy_df, backbone, seed=seed, cache=cache, progress=progress, **recipe)
    reps_train = models.encode(model, noisy_df, cache=cache, progress=progress)
    p_train = models.predict_proba(model, noisy_df, cache=cache, progress=progress)
    reps_val = models.encode(model, val, cache=cache, progress=progress)
    p_val = models.predict_proba(model, val, cache=cache, progress=progress)

    index = knn.KNN(k=1).fit(reps_train, noisy)
    _, nearest = index.kneighbors(reps_val)
    flagged = mislabel.knn_candidates(p_val.argmax(1), nearest[:, 0], noisy)
    budget = int(flagged.sum())

    loo = knn.KNN(k=min(ranked_k, len(train) - 1)).fit(reps_train, noisy)
    dist, idx = loo.kneighbors()  # leave-one-out neighbours among the training set
    temperature = float(np.median(dist))
    cv_probs = models.cross_val_proba(noisy_df, backbone, n_folds=cleanlab_folds, seed=seed, cache=cache,
                                      progress=progress, **recipe)
    scores = {
        "loss": mislabel.loss_scores(p_train, noisy),
        "cleanlab": mislabel.cleanlab_scores(noisy, cv_probs),
        "ranked kNN": mislabel.knn_label_scores(dist, idx, noisy, temperature=temperature, pred_probs=p_train),
        "kNN only": mislabel.knn_label_scores(dist, idx, noisy, temperature=temperature),
    }
    memorised = p_train.argmax(1) == noisy
    row = {"seed": seed, "flipped": int(flipped.sum()),
           "model val acc": models.accuracy(p_val, val["label"]),
           "flips memorised": float(memorised[flipped].mean()),
           "clean fitted": float(memorised[~flipped].mean())}
    for name, value in mislabel.precision_recall_f1(flagged, flipped).items():
        row[f"kNN {name}"] = value
    for name, s in scores.items():
        at_budget = mislabel.precision_recall_f1(mislabel.top_k_mask(s, budget), flipped)
        row[f"{name} P@budget"] = at_budget["precision"]
        row[f"{name} R@budget"] = at_budget["recall"]
        row[f"{name} F1@budget"] = at_budget["f1"]
        row[f"{name} AP"] = mislabel.average_precision(s, flipped)
    own = mislabel.precision_recall_f1(mislabel.cleanlab_mask(noisy, cv_probs), flipped)
    row.update({"cleanlab own P": own["precision"], "cleanlab own R": own["recall"],
                "cleanlab own F1": own["f1"], "cleanlab own n": own["n_flagged"]})
    row["loss: data for kNN recall"] = mislabel.fraction_for_recall(scores["loss"], flipped, row["kNN recall"])
    row["kNN budget share"] = budget / len(train)
    diag = mislabel.knn_diagnostics(p_val.argmax(1), nearest[:, 0], noisy, flipped, memorised)
    row.update({f"diag {name}": value for name, value in diag.items()})
    return row, scores, flipped


def memorisation_sweep(train: pd.DataFrame, val: pd.DataFrame, *, regimes=SWEEP_REGIMES, seeds=(0,),
                       backbone: str = "minilm", noise_rate: float = 0.10, base_recipe: dict,
                       cleanlab_folds: int = 3, ranked_k: int = 16, n_boot: int = 1000, cache=None,
                       progress: bool = True) -> list[dict]:
    """Chapter 5's memorisation sweep: :func:`noisy_label_run` once per (lr, epochs) and seed.

    How much of the flipped labels a model memorises depends on how long and how hard it
    trains. A memorised flip agrees with the model on its neighbours' queries and has a low
    training loss, so both the paper's kNN protocol and the loss baseline depend on the
    regime. Each point records, for one regime and seed, the share of flips memorised, the
    validation accuracy, the protocol's precision, recall and F1, every ranking's AP, the loss
    ranking's F1 at the protocol's budget and the share of data it needs to reach the
    protocol's recall, and for each kNN score a paired-bootstrap AP difference against loss and
    cleanlab (:func:`mislabel.average_precision_difference`; sampling noise of this training
    set only). ``seconds`` is the wall time of the point (zero cost where the cache had it).

    Parameters
    ----------
    regimes : sequence of (lr, epochs), default :data:`SWEEP_REGIMES`
    seeds : sequence of int, default=(0,)
    base_recipe : dict
        The recipe whose ``lr`` and ``epochs`` each regime replaces; keyword-only.
    cleanlab_folds, ranked_k, noise_rate, backbone
        As in :func:`noisy_label_run`.

    Returns
    -------
    list of dict, one per (regime, seed), in the order given; see
    :func:`mislabel.sweep_conclusion` for what reads them.
    """
    regimes = [tuple(r) for r in regimes]
    for r in regimes:
        if len(r) != 2 or not (float(r[0]) > 0 and int(r[1]) >= 1 and int(r[1]) == r[1]):
            raise ValueError(f"each regime must be (lr > 0, whole epochs >= 1), got {r!r}")
    if not list(seeds):
        raise ValueError("seeds is empty: give at least one seed")
    points = []
    for lr, epochs in regimes:
        for seed in seeds:
            started = time.perf_counter()
            recipe = {**base_recipe, "lr": float(lr), "epochs": int(epochs)}
            row, scores, flipped = noisy_label_run(train, val, backbone=backbone, seed=seed, noise_rate=noise_rate,
                                                   recipe=recipe, cleanlab_folds=cleanlab_folds,
                                                   ranked_k=ranked_k, cache=cache, progress=progress)
            ap_vs = {score: {other: mislabel.average_precision_difference(scores[score], scores[other], flipped,
                                                                          n_boot=n_boot, seed=seed)
                             for other in ("loss", "cleanlab")}
                     for score in ("ranked kNN", "kNN only")}
            points.append({
                "lr": float(lr), "epochs": int(epochs), "seed": int(seed),
                "flips_memorised": row["flips memorised"], "clean_fitted": row["clean fitted"],
                "val_acc": row["model val acc"],
                "knn_precision": row["kNN precision"], "knn_recall": row["kNN recall"], "knn_f1": row["kNN f1"],
                "knn_n_flagged": row["kNN n_flagged"],
                "loss_f1_at_budget": row["loss F1@budget"],
                "loss_fraction_for_knn_recall": row["loss: data for kNN recall"],
                "recall_ceiling": row["diag recall_ceiling"],
                "ap": {m: row[f"{m} AP"] for m in RANKINGS},
                "ap_vs": ap_vs,
                "seconds": time.perf_counter() - started,
            })
    return points


def sweep_table(points) -> pd.DataFrame:
    """The sweep as one flat table, a row per point (for display and the closing note)."""
    rows = []
    for p in points:
        row = {k: v for k, v in p.items() if k not in ("ap", "ap_vs")}
        row.update({f"AP {m}": v for m, v in p["ap"].items()})
        rows.append(row)
    return pd.DataFrame(rows)
