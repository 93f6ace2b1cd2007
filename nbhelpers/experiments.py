"""The experiments that fine-tune (cached, by :mod:`nbhelpers.models`) and then measure, with their tables."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

from . import influence, knn, mislabel, models, paper, results, stats
from .data import NLI_LABELS as LABELS
from .checks import (check_dict, check_frame, check_int, check_label_map, check_labels, check_matrix,
                     check_positive, check_proba, check_same_length, check_unit_interval)

ACCURACIES = ("model_acc", "knn_acc", "backoff_acc", "interp_acc")  #: the test accuracies, model first
RANKINGS = ("loss", "cleanlab", "ranked kNN", "kNN only")  #: chapter 5's (higher: more likely mislabeled)


def _check_frames(need_label: bool, num_labels=None, **frames) -> None:
    """Each frame checked (and named) as fine_tune and predict_proba check theirs, before any fine-tune."""
    for name, df in frames.items():
        models._check_frame(df, need_label, num_labels, name=name)


def noisy_label_run(train: pd.DataFrame, val: pd.DataFrame, *, backbone: str = "minilm", seed: int = 0,
                    noise_rate: float = 0.10, recipe: dict, cleanlab_folds: int = 3, ranked_k: int = 16,
                    cache=None, progress: bool = True) -> tuple[dict, dict, np.ndarray]:
    """Flip ``noise_rate`` of the labels, fine-tune on them with ``recipe``, score each way to find the flips.

    ``seed`` seeds flips, fine-tune and folds. The paper's protocol (:func:`mislabel.knn_candidates`) flags a
    *budget*; the :data:`RANKINGS` are scored at that budget and by AP (cleanlab on out-of-sample
    probabilities; kNN on ``ranked_k`` leave-one-out neighbours, T their median distance). Returns ``(row,
    scores, flipped)``: chapter 5's numbers, ranking -> (N,) scores, the (N,) mask of flips."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    check_dict(recipe, "recipe", allow_empty=True)
    _check_frames(True, len(LABELS), train=train, val=val)
    check_unit_interval(noise_rate, "noise_rate")  # seed: by inject_label_noise, before any fine-tune
    check_int(cleanlab_folds, "cleanlab_folds", low=2, high=len(train))  # before any fine-tune
    check_int(ranked_k, "ranked_k", low=1)
    noisy, flipped = mislabel.inject_label_noise(train["label"].to_numpy(), noise_rate, seed=seed)
    noisy_df = train.assign(label=noisy)
    model = models.fine_tune(noisy_df, backbone, seed=seed, cache=cache, progress=progress, **recipe)
    (reps_train, p_train), (reps_val, p_val) = [
        (models.encode(model, df, cache=cache, progress=progress),
         models.predict_proba(model, df, cache=cache, progress=progress)) for df in (noisy_df, val)]
    _, nearest = knn.KNN(k=1).fit(reps_train, noisy).kneighbors(reps_val)
    flagged = mislabel.knn_candidates(p_val.argmax(1), nearest[:, 0], noisy)
    budget = int(flagged.sum())
    dist, idx = knn.KNN(k=min(ranked_k, len(train) - 1)).fit(reps_train, noisy).kneighbors()  # leave-one-out
    temperature = float(np.median(dist))
    cv_probs = models.cross_val_proba(noisy_df, backbone, n_folds=cleanlab_folds, seed=seed, cache=cache,
                                      progress=progress, **recipe).astype(np.float64)
    scores = {"loss": mislabel.loss_scores(noisy, p_train),
              "cleanlab": 1.0 - get_label_quality_scores(noisy, cv_probs, method="self_confidence"),
              "ranked kNN": mislabel.knn_label_scores(dist, idx, noisy, temperature=temperature,
                                                      pred_probs=p_train),
              "kNN only": mislabel.knn_label_scores(dist, idx, noisy, temperature=temperature)}
    memorised = p_train.argmax(1) == noisy
    row = {"seed": seed, "flipped": int(flipped.sum()), "model val acc": models.accuracy(p_val, val["label"]),
           "flips memorised": float(memorised[flipped].mean()),
           "clean fitted": float(memorised[~flipped].mean())}
    row.update({f"kNN {k}": v for k, v in _precision_recall_f1(flagged, flipped).items()})
    for name, s in scores.items():
        top = np.isin(np.arange(len(s)), np.argsort(-s, kind="stable")[:budget])  # ties: earlier index
        at = _precision_recall_f1(top, flipped)
        row.update({f"{name} {short}@budget": at[_SHORT[short]] for short in ("P", "R", "F1")})
        row[f"{name} AP"] = mislabel.average_precision(s, flipped)
    own = _precision_recall_f1(find_label_issues(noisy, cv_probs), flipped)
    row.update({f"cleanlab own {short}": own[key] for short, key in _SHORT.items()})
    fractions, recalls = mislabel.recall_curve(scores["loss"], flipped)  # loss's share for kNN's recall
    row["loss: data for kNN recall"] = float(fractions[np.argmax(recalls >= row["kNN recall"] - 1e-12)])
    row["kNN budget share"] = budget / len(train)
    diag = _diagnostics(p_val.argmax(1), nearest[:, 0], noisy, flipped, memorised, flagged)
    row.update({f"diag {name}": value for name, value in diag.items()})
    return row, scores, flipped


def _precision_recall_f1(flagged, truth) -> dict:
    p, r, _, _ = precision_recall_fscore_support(truth, flagged, average="binary", zero_division=0)
    f1 = 2 * p * r / (p + r) if p + r else 0.0  # not sklearn's F1: it differs in the last bit
    return {"precision": float(p), "recall": float(r), "f1": float(f1), "n_flagged": int(flagged.sum())}


def _diagnostics(pred, nn, y, flipped, memorised, flagged) -> dict:
    """Why the kNN protocol finds or misses flips (``recall_ceiling``: the share some query retrieves)."""
    flagging, retrieved = pred != y[nn], np.isin(np.arange(len(y)), nn)

    def share(a, where):
        return float(a[where].mean()) if where.any() else float("nan")

    return {"n_flips": int(flipped.sum()), "n_flagged": int(flagged.sum()),
            "n_flagging_queries": int(flagging.sum()), "recall_ceiling": share(retrieved, flipped),
            "memorised_recalled": share(memorised, flipped & flagged),
            "memorised_missed": share(memorised, flipped & ~flagged),
            "precision_per_flagged": share(flipped, flagged),
            "precision_per_query": share(flipped[nn], flagging)}


def _average_precision_difference(scores_a, scores_b, truth, *, n_boot: int, seed: int) -> dict:
    """AP of ranking ``a`` minus ``b``, with a paired 95% bootstrap over examples (this training set)."""
    if not truth.any() or truth.all():
        raise ValueError("truth must hold both flipped and clean examples to compare rankings")

    def diff(i=slice(None)):
        return average_precision_score(truth[i], scores_a[i]) - average_precision_score(truth[i], scores_b[i])

    rng, diffs = np.random.default_rng(seed), []
    for _ in range(n_boot):
        i = rng.integers(0, len(truth), len(truth))
        if truth[i].any() and not truth[i].all():
            diffs.append(diff(i))
    lo, hi = np.quantile(diffs, [(1 - 0.95) / 2, 1 - (1 - 0.95) / 2])  # as computed: 0.025 + 2e-17
    return {"diff": float(diff()), "lo": float(lo), "hi": float(hi), "n": len(truth)}


_SHORT = {"P": "precision", "R": "recall", "F1": "f1", "n": "n_flagged"}
_POINT = {"flips_memorised": "flips memorised", "clean_fitted": "clean fitted", "val_acc": "model val acc",
          "knn_precision": "kNN precision", "knn_recall": "kNN recall", "knn_f1": "kNN f1",
          "knn_n_flagged": "kNN n_flagged", "loss_f1_at_budget": "loss F1@budget",
          "loss_fraction_for_knn_recall": "loss: data for kNN recall",
          "recall_ceiling": "diag recall_ceiling"}


def memorisation_sweep(train: pd.DataFrame, val: pd.DataFrame, *, regimes, seeds=(0,),
                       backbone: str = "minilm", noise_rate: float = 0.10, base_recipe: dict,
                       cleanlab_folds: int = 3, ranked_k: int = 16, n_boot: int = 1000, cache=None,
                       progress: bool = True) -> list[dict]:
    """:func:`noisy_label_run` per (lr, epochs) of ``regimes`` and seed: a dict each, the row's numbers in
    snake case with ``ap`` and ``ap_vs`` (AP minus loss's and cleanlab's, ``n_boot`` bootstrap resamples)."""
    check_dict(base_recipe, "base_recipe", allow_empty=True)  # the rest: by noisy_label_run, before training
    n_boot = check_int(n_boot, "n_boot", low=1)
    try:
        regimes = [(check_positive(lr, "lr"), check_int(epochs, "epochs", low=1)) for lr, epochs in regimes]
    except (TypeError, ValueError) as err:
        raise type(err)(f"regimes must be (lr > 0, whole epochs >= 1) pairs; {err} in {regimes!r}") from None
    if not regimes:
        raise ValueError("regimes is empty: give at least one (lr, epochs)")
    seeds, points = check_labels(seeds, name="seeds").tolist(), []
    for (lr, epochs), seed in [(r, s) for r in regimes for s in seeds]:
        started = time.perf_counter()
        row, scores, flipped = noisy_label_run(
            train, val, backbone=backbone, seed=seed, noise_rate=noise_rate, cleanlab_folds=cleanlab_folds,
            recipe={**base_recipe, "lr": lr, "epochs": epochs}, ranked_k=ranked_k, cache=cache,
            progress=progress)
        ap_vs = {score: {other: _average_precision_difference(scores[score], scores[other], flipped,
                                                              n_boot=n_boot, seed=seed)
                         for other in ("loss", "cleanlab")} for score in ("ranked kNN", "kNN only")}
        points.append({"lr": lr, "epochs": epochs, "seed": seed,
                       **{key: row[name] for key, name in _POINT.items()},
                       "ap": {m: row[f"{m} AP"] for m in RANKINGS}, "ap_vs": ap_vs,
                       "seconds": time.perf_counter() - started})
    return points


def sweep_table(points) -> pd.DataFrame:
    """The sweep as one flat table, a row per point."""
    return pd.DataFrame([{**{k: v for k, v in p.items() if k not in ("ap", "ap_vs")},
                          **{f"AP {m}": v for m, v in p["ap"].items()}} for p in points])


def diagnostics_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Per seed (rows of :func:`noisy_label_run`, indexed by seed), why the paper's protocol misses flips."""
    return per_seed[["diag recall_ceiling", "kNN recall", "diag memorised_recalled", "diag memorised_missed",
                     "diag precision_per_flagged", "diag precision_per_query", "diag n_flagging_queries"]
                    ].rename(columns=lambda c: c.removeprefix("diag "))


def budget_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Every method at the kNN protocol's budget (cleanlab's own at its own), mean and sd over seeds."""
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
    """Chapter 5's record: means over ``per_seed`` (:func:`noisy_label_run` rows by seed) and the sweep."""
    mean, sd, diagnostics = per_seed.mean(), per_seed.std(), diagnostics_table(per_seed)
    conclusion = mislabel.sweep_conclusion(sweep_points) if len(sweep_points) else {}
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
        augmented_flagged=int(augmented_flagged), sweep=list(sweep_points), sweep_setup=sweep_setup,
        sweep_conclusion={k: v for k, v in conclusion.items() if k != "by_regime"} or None, timing=timing)


def evaluate_backoff(train_reps, train_labels, val_reps, val_labels, p_model_val,
                     test_reps, test_labels, p_model_test, *, ks=knn.DEFAULT_KS,
                     temperatures=knn.DEFAULT_TEMPERATURES, taus=knn.DEFAULT_TAUS,
                     lambdas=knn.DEFAULT_LAMBDAS, label_map=None) -> dict:
    """Tune k, T, tau, lambda on validation (:func:`nbhelpers.knn.tune`); score model, kNN, backoff and
    interpolation on test: ``summary``, ``grid``, ``lambdas``, ``p_knn_val``, ``p_knn_test``, ``correct``.

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
    clf = knn.KNN(best["k"], best["temperature"], classes=range(n_classes)).fit(train_reps, train_labels)
    p_knn_val = clf.predict_proba(val_reps)
    lam, lam_table = knn.tune_interpolation(p_model_val, p_knn_val, val_labels, lambdas=lambdas,
                                            label_map=label_map)
    p_knn_test = clf.predict_proba(test_reps)
    to_label = check_label_map(label_map, p_test.shape[1])
    preds = {"model": p_test.argmax(1), "knn": p_knn_test.argmax(1),
             "backoff": knn.backoff(p_test, p_knn_test, best["tau"]),
             "interpolation": knn.interpolate(p_test, p_knn_test, lam).argmax(1)}
    correct = pd.DataFrame({method: to_label[pred] == y for method, pred in preds.items()})
    summary = {"k": best["k"], "T": best["temperature"], "tau": best["tau"], "lambda": lam, "n_test": len(y),
               **{acc: float(correct[method].mean()) for acc, method in zip(ACCURACIES, correct)},
               # in the dtype given (float32 from predict_proba), not the checked float64 copy
               "knn_fraction_test": float((np.asarray(p_model_test).max(1) <= best["tau"]).mean()),
               "val_model_acc": best["model_acc"], "val_backoff_acc": best["backoff_acc"]}
    return {"summary": summary, "grid": grid, "lambdas": lam_table, "p_knn_val": p_knn_val,
            "p_knn_test": p_knn_test, "correct": correct}


def confidence_bins(p_model, p_knn, labels, *, n_bins: int = 10, label_map=None) -> pd.DataFrame:
    """Model and kNN accuracy by model confidence (``n_bins`` over [1/C, 1]): backoff pays where kNN wins."""
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


def paired_gains(correct: dict) -> pd.DataFrame:
    """Backoff's and interpolation's test accuracy minus the model's per setting, with a 95% paired bootstrap
    (``correct``: setting -> :func:`evaluate_backoff`'s ``correct``); columns (method, diff/lo/hi)."""
    rows = {}
    for name, c in check_dict(correct, "correct").items():
        boots = {m: stats.paired_bootstrap(c["model"], c[m]) for m in ("backoff", "interpolation")}
        rows[name] = {(m, key): boot[key] for m, boot in boots.items() for key in ("diff", "lo", "hi")}
    return pd.DataFrame.from_dict(rows, orient="index")


def run_setting(model, train_df: pd.DataFrame, val_df: pd.DataFrame, test_df: pd.DataFrame, *,
                label_map=None, cache=None, progress: bool = True, **grid) -> dict:
    """Encode the splits with ``model`` (last-layer [CLS], cached) and run :func:`evaluate_backoff`."""
    _check_frames(True, getattr(model, "num_labels", None), train_df=train_df, val_df=val_df, test_df=test_df)
    train_reps, val_reps, test_reps = (models.encode(model, df, "cls", -1, cache=cache, progress=progress)
                                       for df in (train_df, val_df, test_df))
    p_val, p_test = (models.predict_proba(model, df, cache=cache, progress=progress)
                     for df in (val_df, test_df))
    y_train, y_val, y_test = (df["label"].to_numpy() for df in (train_df, val_df, test_df))
    out = evaluate_backoff(train_reps, y_train, val_reps, y_val, p_val, test_reps, y_test, p_test,
                           label_map=label_map, **grid)
    return out | {"p_model_val": p_val, "p_model_test": p_test, "val_reps": val_reps, "test_reps": test_reps}


def removal_test(train_df: pd.DataFrame, test_df: pd.DataFrame, *, fractions=(0.1, 0.3),
                 seeds=(0,), backbone: str = "minilm", recipe: dict | None = None, k: int = 16,
                 cache=None, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Retrain without the most retrieved examples, and without random ones; score on test.

    Per seed, the full model's retrieval counts; per fraction, a fine-tune without each of
    :data:`influence.CONDITIONS`; all cached. Returns ``runs`` (a row per fine-tune; ``fraction`` 0: the full
    model; ``drop`` in points) and ``counts`` (seed -> (N,) retrieval counts)."""
    _check_frames(True, len(LABELS), train_df=train_df, test_df=test_df)
    try:  # influence.removal_sets's checks, before any fine-tune
        for f in fractions:
            influence.removal_sets(np.zeros(len(train_df), int), f)
    except (TypeError, ValueError) as err:
        raise type(err)(f"fractions={fractions!r}: {err}") from None
    if len(fractions) == 0:
        raise ValueError("fractions is empty: give at least one fraction")
    seeds, k = check_labels(seeds, name="seeds").tolist(), check_int(k, "k", low=1, high=len(train_df) - 1)
    recipe = {} if recipe is None else dict(check_dict(recipe, "recipe", allow_empty=True))
    train_df = train_df.reset_index(drop=True)
    y_train, y_test = train_df["label"].to_numpy(), test_df["label"].to_numpy()

    def fine_tune(df, seed):  # a model's test accuracy, in points
        model = models.fine_tune(df, backbone, seed=seed, cache=cache, progress=progress, **recipe)
        return model, 100 * models.accuracy(models.predict_proba(model, test_df, cache=cache,
                                                                 progress=progress), y_test)

    rows, all_counts = [], {}
    for seed in seeds:
        full, acc_full = fine_tune(train_df, seed)
        reps = models.encode(full, train_df, cache=cache, progress=progress)
        _, nbrs = influence.self_neighbors(knn.KNN(k=k).fit(reps, y_train), reps, k=k)
        counts = all_counts[seed] = influence.retrieval_counts(nbrs, len(train_df))
        rows.append(dict(seed=seed, fraction=0.0, condition="full", n_train=len(train_df),
                         accuracy=acc_full, removed_by_label=[0] * len(LABELS)))
        for fraction in fractions:
            top, random = influence.removal_sets(counts, fraction, seed=seed)
            sets = {"top": top, "random": random,
                    "matched": influence.matched_random_set(y_train, top, seed=seed)}
            for condition in influence.CONDITIONS:
                kept = train_df.drop(index=sets[condition]).reset_index(drop=True)
                if progress:
                    print(f"seed {seed}: without the {condition} {fraction:.0%} "
                          f"({len(sets[condition])} pairs), fine-tuning on {len(kept)}", flush=True)
                rows.append(dict(seed=seed, fraction=fraction, condition=condition, n_train=len(kept),
                                 accuracy=fine_tune(kept, seed)[1], removed_by_label=np.bincount(
                                     y_train[sets[condition]], minlength=len(LABELS)).tolist()))
    runs = pd.DataFrame(rows)  # each seed's full model first
    runs["drop"] = runs.groupby("seed")["accuracy"].transform("first") - runs["accuracy"]
    return runs, all_counts


def _clock(method, setup_s, explain, queries, n_timed, say=lambda *a, **kw: None) -> dict:
    """``method``'s timings: ``explain`` on each of the first ``n_timed`` queries alone, then on all."""
    times = []
    for i in range(n_timed):
        t = time.perf_counter()
        explain(queries.iloc[[i]])
        times.append(time.perf_counter() - t)
        say(f"  influence: query {i + 1}/{n_timed} explained, {sum(times):.1f} s so far", flush=True)
    t = time.perf_counter()
    topk = explain(queries)
    batched, query = (time.perf_counter() - t) / len(queries), float(np.mean(times))
    return {f"{method}_setup_s": setup_s, f"{method}_query_s": query, f"{method}_query_times_s": times,
            f"{method}_topk": topk, f"{method}_s_per_example": (setup_s + n_timed * query) / n_timed,
            f"{method}_batched_s_per_example": batched}


def explanation_speed(model, train_df: pd.DataFrame, query_df: pd.DataFrame, *, k: int = 16,
                      n_timed: int = 3, layers: Sequence[str] = ("classifier",),
                      hessian_size: int | None = None, progress: bool = True) -> dict:
    """Time kNN and influence functions explaining the first ``n_timed`` queries one at a time, then all of
    ``query_df`` batched, nothing cached. Per method (``knn_``, ``influence_``): ``s_per_example`` is set-up
    plus ``n_timed`` queries, over ``n_timed``; ``speedup*`` are influence's times over kNN's."""
    _check_frames(True, train_df=train_df)
    _check_frames(False, query_df=query_df)
    k = check_int(k, "k", low=1, high=len(train_df))
    n_timed = check_int(n_timed, "n_timed", low=1, high=len(query_df))

    def embed(df):  # the representation, computed (never read from a cache)
        return models.encode(model, df, cache=False, progress=False)

    say = print if progress else (lambda *a, **kw: None)
    t = time.perf_counter()
    index = knn.KNN(k=k).fit(embed(train_df), train_df["label"].to_numpy())
    knn_setup = time.perf_counter() - t
    say(f"kNN set-up (encode {len(train_df):,} training pairs, build the index): {knn_setup:.1f} s",
        flush=True)
    knn_run = _clock("knn", knn_setup, lambda q: index.kneighbors(embed(q))[1], query_df, n_timed)
    explainer = influence.InfluenceExplainer(model, layers=layers, hessian_size=hessian_size).fit(train_df)
    say(f"influence set-up (Hessian over {list(layers)}, estimated on {explainer.hessian_size_:,} "
        f"pairs): {explainer.setup_seconds_:.1f} s", flush=True)
    influence_run = _clock("influence", explainer.setup_seconds_, lambda q: explainer.top_k(q, k)[0],
                           query_df, n_timed, say)
    out = {"n_train": len(train_df), "n_timed": n_timed, "n_queries": len(query_df), "k": k,
           "layers": list(layers), "hessian_size": explainer.hessian_size_,
           "topk_overlap_random": k / len(train_df)} | knn_run | influence_run
    return out | {"speedup": out["influence_s_per_example"] / out["knn_s_per_example"],
                  "speedup_per_query": out["influence_query_s"] / out["knn_query_s"],
                  "topk_overlap": influence.topk_overlap(out["knn_topk"], out["influence_topk"])}
