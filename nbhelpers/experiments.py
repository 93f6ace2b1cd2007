"""Everything that trains or times models: the chapters' experiments, each one call.

The array-in, array-out pieces they use live in :mod:`nbhelpers.knn`,
:mod:`nbhelpers.evaluation`, :mod:`nbhelpers.influence` and :mod:`nbhelpers.mislabel`;
this module adds the models (fine-tuning, encoding, prediction, all cached) around them.

- :func:`run_setting` - encode a setting's three splits and evaluate kNN backoff (chapters 2, 6);
- :func:`removal_test` - retrain without the most retrieved training examples (chapter 3);
- :func:`explanation_speed` - time kNN against influence functions per explanation (chapter 3).

Sections are kept apart (one per experiment) so that new experiments add a section.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from . import LABELS, evaluation, influence, knn, models
from .validation import check_int

__all__ = ["run_setting", "removal_test", "explanation_speed"]


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
        return models._forward(model, df, variant, False, batch_size, max_length, False)[variant[0]]

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
