"""Experiments: the functions that fine-tune models and then measure them.

Everything here trains (through :mod:`nbhelpers.models`, so every checkpoint is cached);
the array-in, array-out statistics they call live in :mod:`nbhelpers.mislabel`,
:mod:`nbhelpers.knn` and :mod:`nbhelpers.evaluation`.

One section per experiment:

- mislabel detection (chapter 5): :func:`noisy_label_run`, :func:`memorisation_sweep`, and
  the chapter's tables and record (:func:`budget_table`, :func:`mislabel_record`);
- kNN backoff on one setting (chapters 2, 6, 7): :func:`run_setting`;
- the removal test (chapter 3): :func:`removal_test`;
- kNN against influence functions (chapter 3): :func:`explanation_speed`.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from . import knn, mislabel, models, paper, results
from . import evaluation, influence  # the sections on backoff, removal and explanation speed
from .data import NLI_LABELS as LABELS
from .checks import check_int

# ---------------------------------------------------------------------------------------
# Mislabel detection (chapter 5): one noisy run, and the memorisation sweep
# ---------------------------------------------------------------------------------------

#: The regimes of chapter 5's memorisation sweep: (learning rate, epochs). The book's
#: default recipe (lr 1e-4, 5 epochs) is one of them, and (3e-5, 3) is the paper's BERT
#: recipe; (3e-5, 10) is left out by default (12 more minutes on 2 cores).
SWEEP_REGIMES = ((1e-4, 1), (1e-4, 2), (1e-4, 5), (1e-4, 10), (3e-5, 3))

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
    # checked here, before any fine-tune, not where they are first used (after training)
    check_int(cleanlab_folds, "cleanlab_folds", low=2, high=len(train))
    check_int(ranked_k, "ranked_k", low=1)
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
        "loss": mislabel.loss_scores(noisy, p_train),
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


#: The columns of :func:`noisy_label_run`'s row that say why the paper's protocol misses flips.
DIAGNOSTICS = ("diag recall_ceiling", "kNN recall", "diag memorised_recalled", "diag memorised_missed",
               "diag precision_per_flagged", "diag precision_per_query", "diag n_flagging_queries")


def diagnostics_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """The :data:`DIAGNOSTICS` of each seed (rows of :func:`noisy_label_run`, indexed by seed)."""
    return per_seed[list(DIAGNOSTICS)].rename(columns=lambda c: c.removeprefix("diag "))


def budget_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Every method at the kNN protocol's budget, mean (and sd) over the seeds of ``per_seed``.

    One row for the protocol, one per :data:`RANKINGS` flagging its ``top-<budget>``, one for
    cleanlab's ``find_label_issues`` (its own budget); columns precision, recall, F1, F1 sd, AP,
    AP sd (NaN for a set, which has no ranking) and flagged.
    """
    mean, sd, budget = per_seed.mean(), per_seed.std(), per_seed["kNN n_flagged"].mean()

    def row(method, p, r, f1, ap=None, flagged=budget):
        return {"method": method, "precision": mean[p], "recall": mean[r], "F1": mean[f1], "F1 sd": sd[f1],
                "AP": np.nan if ap is None else mean[ap], "AP sd": np.nan if ap is None else sd[ap],
                "flagged": flagged}
    return pd.DataFrame(
        [row("kNN candidates (the paper)", "kNN precision", "kNN recall", "kNN f1")]
        + [row(f"{m}, top-{int(budget)} (same budget)", f"{m} P@budget", f"{m} R@budget", f"{m} F1@budget",
               f"{m} AP") for m in RANKINGS]
        + [row("cleanlab find_label_issues (own budget)", "cleanlab own P", "cleanlab own R",
               "cleanlab own F1", flagged=mean["cleanlab own n"])]).set_index("method")


def mislabel_record(per_seed: pd.DataFrame, *, backbone: str, noise_rate: float, n_train: int, n_val: int,
                    smoke: bool, cleanlab_folds: int, ranked_k: int, augmented_flagged: int, sweep_points=(),
                    sweep_setup: dict | None = None, timing: dict | None = None) -> results.MislabelRecord:
    """Chapter 5's record: means over the seeds of ``per_seed`` (rows of :func:`noisy_label_run`,
    indexed by seed), the sweep's points and :func:`mislabel.sweep_conclusion` (``None`` without
    points), ``sweep_setup`` (``regimes``, ``seeds``, ``folds``) and ``timing``."""
    mean, sd = per_seed.mean(), per_seed.std()
    diagnostics = diagnostics_table(per_seed)
    conclusion = mislabel.sweep_conclusion(sweep_points) if len(sweep_points) else None
    ranking = {name: {"average_precision": mean[f"{name} AP"], "f1_at_knn_budget": mean[f"{name} F1@budget"],
                      "k": ranked_k} for name in ("ranked kNN", "kNN only")}
    return results.MislabelRecord(
        knn={"precision": mean["kNN precision"], "recall": mean["kNN recall"], "f1": mean["kNN f1"],
             "sd_f1": sd["kNN f1"], "n_candidates": mean["kNN n_flagged"]},
        loss_baseline={"fraction_for_knn_recall": mean["loss: data for kNN recall"],
                       "average_precision": mean["loss AP"], "recall_at_knn_budget": mean["loss R@budget"]},
        cleanlab={"precision": mean["cleanlab own P"], "recall": mean["cleanlab own R"],
                  "f1": mean["cleanlab own F1"], "average_precision": mean["cleanlab AP"],
                  "f1_at_knn_budget": mean["cleanlab F1@budget"], "folds": cleanlab_folds},
        ranked_knn=ranking["ranked kNN"], knn_only=ranking["kNN only"],
        noisy_model={"val_acc": mean["model val acc"], "flips_memorised": mean["flips memorised"]},
        paper=paper.MISLABEL, per_seed=results.jsonable(per_seed.reset_index().to_dict("list")),
        diagnostics=results.jsonable({"mean": diagnostics.mean().to_dict(),
                                      "per_seed": diagnostics.reset_index().to_dict("list")}),
        setup={"backbone": backbone, "seeds": per_seed.index.tolist(), "noise_rate": noise_rate,
               "n_train": n_train, "n_val": n_val, "smoke": smoke},
        augmented_flagged=int(augmented_flagged), sweep=results.jsonable(list(sweep_points)),
        sweep_setup=None if sweep_setup is None else {**sweep_setup,
                                                      "regimes": [list(r) for r in sweep_setup["regimes"]]},
        sweep_conclusion=None if conclusion is None else results.jsonable(
            {k: v for k, v in conclusion.items() if k != "by_regime"}),
        timing=timing)


# ----------------------------------------------------------------------------------------------
# kNN backoff on one setting (chapters 2 and 6)
# ----------------------------------------------------------------------------------------------
def run_setting(model, train_df: pd.DataFrame, val_df: pd.DataFrame, test_df: pd.DataFrame, *,
                label_map=None, ks=knn.DEFAULT_KS, temperatures=knn.DEFAULT_TEMPERATURES,
                taus=knn.DEFAULT_TAUS, lambdas=knn.DEFAULT_LAMBDAS, cache=None,
                progress: bool = True) -> dict:
    """Encode the three splits with ``model`` (last-layer [CLS]) and :func:`nbhelpers.evaluation.evaluate_backoff`.

    Representations and probabilities come from :func:`nbhelpers.models.encode_many`
    (one forward pass per split, cached). Returns what :func:`nbhelpers.evaluation.evaluate_backoff` returns,
    plus ``p_model_val``, ``p_model_test``, ``val_reps`` and ``test_reps``.
    """
    reps, probas = {}, {}
    for name, df in (("train", train_df), ("val", val_df), ("test", test_df)):
        reps[name] = models.encode(model, df, "cls", -1, cache=cache, progress=progress)
        if name != "train":
            probas[name] = models.predict_proba(model, df, cache=cache, progress=progress)
    out = evaluation.evaluate_backoff(reps["train"], train_df["label"].to_numpy(), reps["val"],
                           val_df["label"].to_numpy(), probas["val"], reps["test"],
                           test_df["label"].to_numpy(), probas["test"], ks=ks,
                           temperatures=temperatures, taus=taus, lambdas=lambdas,
                           label_map=label_map)
    out.update(p_model_val=probas["val"], p_model_test=probas["test"],
               val_reps=reps["val"], test_reps=reps["test"])
    return out


# ----------------------------------------------------------------------------------------------
# the removal test (chapter 3)
# ----------------------------------------------------------------------------------------------
def removal_test(train_df: pd.DataFrame, test_df: pd.DataFrame, *, fractions=(0.1, 0.3),
                 seeds=(0,), backbone: str = "minilm", recipe: dict | None = None, k: int = 16,
                 conditions=influence.CONDITIONS, cache=None,
                 progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Retrain without the most retrieved examples, and without random ones; score on test.

    For each seed: fine-tune on the full training set, count how often each training
    example is among the k nearest neighbours of the training examples (itself excluded:
    the counts come from *training* queries, the paper's measure), then for each fraction
    fine-tune from the pre-trained weights on the data minus the top ``fraction``
    (``condition="top"``), minus a uniform random set of the same size
    (``condition="random"``) and minus a random set with the top set's number of examples
    per gold label (``condition="matched"``), with the same seed and recipe. Every
    fine-tune and prediction is cached, so an interrupted run resumes where it stopped.

    Parameters
    ----------
    train_df, test_df : DataFrame with ``premise``, ``hypothesis``, ``label``
    fractions : sequence of float, default=(0.1, 0.3)
    seeds : sequence of int, default=(0,)
    backbone : str, default="minilm"
    recipe : dict, optional
        Keyword arguments for :func:`nbhelpers.models.fine_tune` (epochs, lr, ...).
    k : int, default=16
        Neighbours per training example for the counts (the paper: 16).
    conditions : sequence of str, default=("top", "random", "matched")
        Which removals to fine-tune, a non-empty subset of :data:`nbhelpers.influence.CONDITIONS` (each costs
        one fine-tune per seed and fraction).

    Returns
    -------
    runs : DataFrame
        One row per fine-tune: ``seed``, ``fraction`` (0 for the full set), ``condition``
        (``"full"``, ``"top"``, ``"random"``, ``"matched"``), ``n_train``, ``accuracy`` and
        ``drop`` (the full model's accuracy minus this one's, same seed), in percentage
        points; ``removed_by_label`` (removed pairs per gold label, a list of 3).
    counts : dict
        ``{seed: retrieval counts (N,)}`` from each seed's full model.
    """
    fractions = [float(f) for f in fractions]
    seeds = [int(s) for s in seeds]
    if not fractions or not seeds:
        raise ValueError("fractions and seeds must each hold at least one value")
    conditions = list(conditions)
    unknown = [c for c in conditions if c not in influence.CONDITIONS]
    if not conditions or unknown:
        raise ValueError(f"conditions={conditions} but expected a non-empty subset of {list(influence.CONDITIONS)}")
    recipe = dict(recipe or {})
    train_df = train_df.reset_index(drop=True)
    y_test = test_df["label"].to_numpy()
    rows, all_counts = [], {}
    for seed in seeds:
        full = models.fine_tune(train_df, backbone, seed=seed, cache=cache, progress=progress,
                                **recipe)
        reps = models.encode(full, train_df, cache=cache, progress=progress)
        index = knn.KNN(k=k).fit(reps, train_df["label"].to_numpy())
        _, nbrs = influence.self_neighbors(index, reps, k=k)
        counts = influence.retrieval_counts(nbrs, len(train_df))
        all_counts[seed] = counts
        acc_full = models.accuracy(models.predict_proba(full, test_df, cache=cache,
                                                        progress=progress), y_test)
        rows.append(dict(seed=seed, fraction=0.0, condition="full", n_train=len(train_df),
                         accuracy=100 * acc_full, removed_by_label=[0] * len(LABELS)))
        y_train = train_df["label"].to_numpy()
        for fraction in fractions:
            top, random = influence.removal_sets(counts, fraction, seed=seed)
            sets = {"top": top, "random": random}
            if "matched" in conditions:
                sets["matched"] = influence.matched_random_set(y_train, top, seed=seed)
            for condition in conditions:
                removed = sets[condition]
                kept = train_df.drop(index=removed).reset_index(drop=True)
                if progress:
                    print(f"seed {seed}: without the {condition} {fraction:.0%} "
                          f"({len(removed)} pairs), fine-tuning on {len(kept)}", flush=True)
                model = models.fine_tune(kept, backbone, seed=seed, cache=cache,
                                         progress=progress, **recipe)
                acc = models.accuracy(models.predict_proba(model, test_df, cache=cache,
                                                           progress=progress), y_test)
                rows.append(dict(seed=seed, fraction=fraction, condition=condition,
                                 n_train=len(kept), accuracy=100 * acc,
                                 removed_by_label=np.bincount(y_train[removed],
                                                              minlength=len(LABELS)).tolist()))
    runs = pd.DataFrame(rows)
    full_acc = runs[runs.condition == "full"].set_index("seed")["accuracy"]
    runs["drop"] = runs["seed"].map(full_acc) - runs["accuracy"]
    return runs, all_counts


# ----------------------------------------------------------------------------------------------
# kNN vs influence functions: time per explanation, and agreement
# ----------------------------------------------------------------------------------------------
def explanation_speed(model, train_df: pd.DataFrame, query_df: pd.DataFrame, *, k: int = 16,
                      n_timed: int = 3, layers: Sequence[str] = ("classifier",),
                      hessian_size: int | None = None, batch_size: int = 64,
                      max_length: int = 128, progress: bool = True) -> dict:
    """Explain the same queries with kNN and with influence functions; time both, compare.

    Both methods start from the same fine-tuned model and nothing precomputed (no cache):

    - **kNN** set-up encodes the training set and builds the FAISS index; explaining a query
      encodes it and searches its k nearest training examples.
    - **Influence functions** set-up forms and decomposes the Hessian over ``layers``
      (:class:`nbhelpers.influence.InfluenceExplainer`); explaining a query takes its gradient and one pass over
      the training set for the training gradients (captum recomputes them on every call).

    The first ``n_timed`` queries are explained one at a time (as a reader clicking through
    predictions would); then all of ``query_df`` at once (batched), whose top-k lists give
    the agreement between the methods.

    Parameters
    ----------
    model : NLIModel
    train_df, query_df : DataFrame with ``premise``, ``hypothesis`` (``label`` for train)
    k : int, default=16
    n_timed : int, default=3
        Queries explained one by one for the timing; at most ``len(query_df)``.
    layers : sequence of str, default=("classifier",)
        Parameters the influence functions differentiate (see :class:`nbhelpers.influence.InfluenceExplainer`).
    hessian_size : int, optional
        Training pairs the Hessian is estimated on (see :class:`nbhelpers.influence.InfluenceExplainer`).

    Returns
    -------
    dict
        ``n_train``, ``n_timed``, ``n_queries``, ``k``, ``layers``, ``hessian_size``;
        ``knn_setup_s``,
        ``influence_setup_s``; ``knn_query_s`` and ``influence_query_s`` (mean per query,
        one by one, no set-up) and ``knn_query_times_s``, ``influence_query_times_s`` (each
        query's time); ``knn_s_per_example`` and ``influence_s_per_example`` (set-up
        plus the ``n_timed`` queries, divided by ``n_timed``); ``speedup`` (their ratio) and
        ``speedup_per_query`` (set-up left out); ``knn_batched_s_per_example`` and
        ``influence_batched_s_per_example``; ``topk_overlap`` (mean share of kNN's k
        neighbours among the k strongest proponents) and ``topk_overlap_random`` (k / N, what
        chance gives); ``knn_topk`` and ``influence_topk`` (n_queries, k) index arrays.
    """
    k = check_int(k, "k", low=1, high=len(train_df))
    n_timed = check_int(n_timed, "n_timed", low=1, high=len(query_df))
    train_df = train_df.reset_index(drop=True)
    query_df = query_df.reset_index(drop=True)
    variant = [("cls", -1)]

    def embed(df):  # the representation, computed (never read from a cache)
        return models.encode(model, df, *variant[0], batch_size=batch_size, max_length=max_length,
                             cache=False, progress=False)

    say = print if progress else (lambda *a, **kw: None)
    t = time.perf_counter()
    index = knn.KNN(k=k).fit(embed(train_df), train_df["label"].to_numpy())
    knn_setup = time.perf_counter() - t
    say(f"kNN set-up (encode {len(train_df):,} training pairs, build the index): {knn_setup:.1f} s",
        flush=True)
    knn_times = []
    for i in range(n_timed):
        t = time.perf_counter()
        index.kneighbors(embed(query_df.iloc[[i]]))
        knn_times.append(time.perf_counter() - t)
    knn_query = float(np.mean(knn_times))
    t = time.perf_counter()
    _, knn_topk = index.kneighbors(embed(query_df))
    knn_batched = (time.perf_counter() - t) / len(query_df)

    explainer = influence.InfluenceExplainer(model, layers=layers, batch_size=batch_size, max_length=max_length,
                                             hessian_size=hessian_size).fit(train_df)
    say(f"influence set-up (Hessian over {list(layers)}, estimated on {explainer.hessian_size_:,} "
        f"pairs): {explainer.setup_seconds_:.1f} s", flush=True)
    inf_times = []
    for i in range(n_timed):
        t = time.perf_counter()
        explainer.top_k(query_df.iloc[[i]], k)
        inf_times.append(time.perf_counter() - t)
        say(f"  influence: query {i + 1}/{n_timed} explained, {sum(inf_times):.1f} s so far", flush=True)
    inf_query = float(np.mean(inf_times))
    t = time.perf_counter()
    inf_topk, _ = explainer.top_k(query_df, k)
    inf_batched = (time.perf_counter() - t) / len(query_df)

    knn_per = (knn_setup + n_timed * knn_query) / n_timed
    inf_per = (explainer.setup_seconds_ + n_timed * inf_query) / n_timed
    return {
        "n_train": len(train_df), "n_timed": n_timed, "n_queries": len(query_df), "k": k,
        "layers": list(layers), "hessian_size": explainer.hessian_size_,
        "knn_setup_s": knn_setup, "influence_setup_s": explainer.setup_seconds_,
        "knn_query_s": knn_query, "influence_query_s": inf_query,
        "knn_query_times_s": knn_times, "influence_query_times_s": inf_times,
        "knn_s_per_example": knn_per, "influence_s_per_example": inf_per,
        "speedup": inf_per / knn_per, "speedup_per_query": inf_query / knn_query,
        "knn_batched_s_per_example": knn_batched, "influence_batched_s_per_example": inf_batched,
        "topk_overlap": influence.topk_overlap(knn_topk, inf_topk), "topk_overlap_random": k / len(train_df),
        "knn_topk": knn_topk, "influence_topk": inf_topk,
    }
