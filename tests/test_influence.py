"""nbhelpers.influence: retrieval counts, removal sets, neighbour tables, influence functions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from nbhelpers import experiments, influence, knn


# -- self_neighbors / retrieval_counts ------------------------------------------------------------
def test_self_neighbors_excludes_the_example_itself():
    reps = np.array([[0.0], [1.0], [3.0], [3.5], [10.0]])
    index = knn.KNN(k=2, normalize=False).fit(reps, [0, 1, 2, 0, 1])
    dist, idx = influence.self_neighbors(index, reps, k=2)
    assert idx.tolist() == [[1, 2], [0, 2], [3, 1], [2, 1], [3, 2]]
    assert dist[0].tolist() == [1.0, 9.0]  # squared distances
    assert not (idx == np.arange(5)[:, None]).any()


def test_self_neighbors_keeps_a_duplicate_but_not_itself():
    reps = np.array([[0.0], [0.0], [5.0]])
    index = knn.KNN(k=1, normalize=False).fit(reps, [0, 1, 2])
    _, idx = influence.self_neighbors(index, reps, k=1)
    assert idx.ravel().tolist() == [1, 0, 0] or idx.ravel().tolist() == [1, 0, 1]
    assert idx[0, 0] == 1 and idx[1, 0] == 0


def test_self_neighbors_checks_its_arguments():
    reps = np.array([[0.0], [1.0], [2.0]])
    index = knn.KNN(k=1, normalize=False).fit(reps, [0, 1, 2])
    with pytest.raises(ValueError, match=r"k <= N - 1 = 2"):
        influence.self_neighbors(index, reps, k=3)
    with pytest.raises(ValueError, match="index holds 3"):
        influence.self_neighbors(index, reps[:2], k=1)
    with pytest.raises(NotFittedError):
        influence.self_neighbors(knn.KNN(k=1), reps, k=1)


def test_retrieval_counts_count_every_slot():
    counts = influence.retrieval_counts(np.array([[2, 0], [2, 1], [2, 0]]), n_train=4)
    assert counts.tolist() == [2, 1, 3, 0]
    assert counts.sum() == 6


@pytest.mark.parametrize("bad, message", [
    (np.array([[0, 4]]), r"neighbor_indices must be integers in 0..3"),
    (np.array([[-1, 0]]), r"neighbor_indices must be integers in 0..3"),
    (np.array([0, 1]), "2-D"),
    (np.array([[0.5, 1.0]]), "integers"),
])
def test_retrieval_counts_rejects_bad_indices(bad, message):
    with pytest.raises(ValueError, match=message):
        influence.retrieval_counts(bad, n_train=4)


# -- removal_sets ---------------------------------------------------------------------------------
def test_removal_sets_takes_the_most_retrieved_and_a_random_control():
    counts = np.array([0, 7, 0, 3, 9, 0, 0, 1, 0, 0] * 10)  # N = 100
    top, rnd = influence.removal_sets(counts, 0.3, seed=0)
    assert len(top) == len(rnd) == 30
    # the 30 largest counts: the 10 nines, the 10 sevens and the 10 threes
    assert sorted(counts[top].tolist()) == [3] * 10 + [7] * 10 + [9] * 10
    assert len(set(rnd.tolist())) == 30 and rnd.min() >= 0 and rnd.max() < 100


def test_removal_sets_break_ties_by_seed_not_by_position():
    counts = np.zeros(1000, dtype=int)
    counts[:5] = 1
    top0, rnd0 = influence.removal_sets(counts, 0.1, seed=0)
    top0b, rnd0b = influence.removal_sets(counts, 0.1, seed=0)
    top1, rnd1 = influence.removal_sets(counts, 0.1, seed=1)
    assert np.array_equal(top0, top0b) and np.array_equal(rnd0, rnd0b)  # deterministic
    assert set(range(5)) <= set(top0.tolist()) and set(range(5)) <= set(top1.tolist())
    assert not np.array_equal(top0, top1) and not np.array_equal(rnd0, rnd1)
    # the 95 tied zeros are not simply the first indices after the ones
    assert top0.max() > 200


@pytest.mark.parametrize("fraction, message", [
    (0.0, "0 < fraction < 1"), (1.0, "0 < fraction < 1"), (0.01, "removes 0"),
    (float("nan"), "finite"),
])
def test_removal_sets_rejects_bad_fractions(fraction, message):
    with pytest.raises(ValueError, match=message):
        influence.removal_sets(np.arange(10), fraction)


def test_summarise_removal_by_hand():
    runs = pd.DataFrame({
        "seed": [0, 0, 0, 1, 1, 1], "fraction": [0.0, 0.1, 0.1, 0.0, 0.1, 0.1],
        "condition": ["full", "top", "random"] * 2, "drop": [0.0, 4.0, 1.0, 0.0, 6.0, 2.0]})
    runs["accuracy"] = 70.0 - runs["drop"]
    s = influence.summarise_removal(runs)
    assert list(s) == ["0.1"]
    assert s["0.1"]["top_drop_mean"] == 5.0 and s["0.1"]["random_drop_mean"] == 1.5
    assert s["0.1"]["top_drop_sd"] == pytest.approx(np.sqrt(2.0))
    assert s["0.1"]["gap_mean"] == 3.5 and s["0.1"]["gap_sd"] == pytest.approx(np.sqrt(0.5))
    one = influence.summarise_removal(runs[runs.seed == 0])["0.1"]
    assert one["top_drop_sd"] is None and one["n_seeds"] == 1


def test_summarise_removal_adds_the_matched_control_when_present():
    runs = pd.DataFrame({
        "seed": [0] * 4 + [1] * 4, "fraction": [0.0, 0.1, 0.1, 0.1] * 2,
        "condition": ["full", "top", "random", "matched"] * 2,
        "drop": [0.0, 4.0, 1.0, 2.0, 0.0, 6.0, 2.0, 3.0]})
    runs["accuracy"] = 70.0 - runs["drop"]
    s = influence.summarise_removal(runs)["0.1"]
    assert s["matched_drop_mean"] == 2.5 and s["gap_matched_mean"] == 2.5
    assert s["gap_matched_sd"] == pytest.approx(np.sqrt(0.5))
    assert "matched_drop_mean" not in influence.summarise_removal(runs[runs.condition != "matched"])["0.1"]


def test_summarise_removal_matches_pandas_over_many_seeds():
    rng = np.random.default_rng(0)
    rows = [dict(seed=s, fraction=f, condition=c, drop=float(rng.normal(3, 2)), accuracy=70.0)
            for s in range(9) for f in (0.1, 0.3) for c in ("top", "random", "matched")]
    runs = pd.DataFrame(rows + [dict(seed=s, fraction=0.0, condition="full", drop=0.0, accuracy=70.0)
                                for s in range(9)])
    out = influence.summarise_removal(runs)
    for f, grp in runs[runs.condition != "full"].groupby("fraction"):
        wide = grp.pivot(index="seed", columns="condition", values="drop")
        assert out[f"{f:g}"]["top_drop_sd"] == float(wide["top"].std(ddof=1))
        assert out[f"{f:g}"]["gap_mean"] == float((wide["top"] - wide["random"]).mean())
        assert out[f"{f:g}"]["gap_matched_sd"] == float((wide["top"] - wide["matched"]).std(ddof=1))


# -- matched_random_set ---------------------------------------------------------------------------
LABELS_10 = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])


def test_matched_random_set_matches_the_label_counts():
    top = np.array([0, 1, 2, 8])  # three entailments and one contradiction
    for seed in range(20):
        picked = influence.matched_random_set(LABELS_10, top, seed=seed)
        assert np.bincount(LABELS_10[picked], minlength=3).tolist() == [3, 0, 1]
        assert len(set(picked.tolist())) == 4 and picked.tolist() == sorted(picked.tolist())
        assert picked.dtype == np.int64


def test_matched_random_set_is_deterministic_under_a_seed():
    labels = np.repeat([0, 1, 2], 100)
    top = np.arange(0, 300, 10)
    a = influence.matched_random_set(labels, top, seed=3)
    b = influence.matched_random_set(labels, top, seed=3)
    c = influence.matched_random_set(labels, top, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(labels[a]).tolist() == np.bincount(labels[top]).tolist() == [10, 10, 10]


@pytest.mark.parametrize("labels, reference, message", [
    (LABELS_10, [10], r"reference must be integers in 0..9"),
    (LABELS_10, [-1], r"reference must be integers in 0..9"),
    (LABELS_10, [1, 1], r"reference holds 1 repeated indices"),
    (LABELS_10, [], r"reference is empty"),
    (LABELS_10, [0.5], r"reference must be integers"),
    (LABELS_10 + 0.5, [0], r"labels must be non-negative integers"),
    (LABELS_10[:0], [0], r"labels is empty"),
])
def test_matched_random_set_rejects_bad_input(labels, reference, message):
    with pytest.raises(ValueError, match=message):
        influence.matched_random_set(labels, np.asarray(reference))


# -- removal_record / seeds_for_gap / top_set_overlap ---------------------------------------------
def _runs_two_seeds():
    rows = []
    #                    full, (0.1: top, random, matched), (0.3: top, random, matched)
    for seed, full, d in ((0, 70.0, (4, 1, 2, 10, 5, 7)), (1, 72.0, (6, 2, 3, 11, 5, 9))):
        rows.append(dict(seed=seed, fraction=0.0, condition="full", accuracy=full, drop=0.0))
        removals = [(f, c) for f in (0.1, 0.3) for c in ("top", "random", "matched")]
        for j, (fraction, cond) in enumerate(removals):
            rows.append(dict(seed=seed, fraction=fraction, condition=cond, accuracy=full - d[j],
                             drop=float(d[j])))
    return pd.DataFrame(rows)


def test_removal_record_by_hand():
    r = influence.removal_record(_runs_two_seeds())
    assert r["n_seeds"] == 2 and r["seeds"] == [0, 1] and r["full_acc"] == [70.0, 72.0]
    assert r["drops"]["0.1"] == {"top": [4.0, 6.0], "random": [1.0, 2.0], "matched": [2.0, 3.0]}
    assert r["drops"]["0.3"]["top"] == [10.0, 11.0]
    assert r["increments"] == {"top": [6.0, 5.0], "random": [4.0, 3.0], "matched": [5.0, 6.0]}
    assert r["increment_fractions"] == ["0.1", "0.3"]
    s = r["summary"]
    assert s["full_acc"] == {"mean": 71.0, "sd": pytest.approx(np.sqrt(2)), "n": 2}
    assert s["drops"]["0.1"]["top"] == {"mean": 5.0, "sd": pytest.approx(np.sqrt(2)), "n": 2}
    assert s["increments"]["top"]["mean"] == 5.5 and s["increments"]["top"]["n"] == 2
    assert s["gaps"]["0.1"]["top_minus_random"] == {"mean": 3.5, "sd": pytest.approx(np.sqrt(0.5)), "n": 2}
    assert s["gaps"]["0.3"]["top_minus_matched"]["mean"] == 2.5
    assert s["gaps"]["increment"]["top_minus_random"]["mean"] == 2.0
    import json
    json.dumps(r)  # JSON-ready


def test_removal_record_with_one_seed_and_one_fraction_has_no_spread_and_no_increment():
    runs = _runs_two_seeds()
    r = influence.removal_record(runs[(runs.seed == 0) & (runs.fraction < 0.2)])
    assert r["n_seeds"] == 1 and r["summary"]["drops"]["0.1"]["top"] == {"mean": 4.0, "sd": None, "n": 1}
    assert r["increments"] == {} and r["increment_fractions"] == []
    assert "increment" not in r["summary"]["gaps"]


def test_removal_record_rejects_incomplete_runs():
    runs = _runs_two_seeds()
    with pytest.raises(ValueError, match=r"seeds \[1\] have none"):
        influence.removal_record(runs[~((runs.seed == 1) & (runs.condition == "full"))])
    with pytest.raises(ValueError, match="every seed needs every condition"):
        influence.removal_record(runs.drop(index=runs.index[-1]))
    with pytest.raises(ValueError, match="columns"):
        influence.removal_record(runs.drop(columns="drop"))


def test_removal_table_puts_totals_and_increments_beside_the_papers():
    from nbhelpers import paper

    t = influence.removal_table(influence.removal_record(_runs_two_seeds()), paper.REMOVAL)
    assert t.index.tolist() == ["total drop, 10% removed", "total drop, 30% removed",
                                "increment, 10% to 30% removed"]
    assert t.loc["total drop, 10% removed", "most retrieved (ours)"] == "5.0 ± 1.4"
    assert t.loc["total drop, 10% removed", "most retrieved (paper)"] == "4.6"
    # the paper's 30% totals are its 10% drop plus its increment; its increments sit in their own row
    assert t.loc["total drop, 30% removed", "random (paper)"] == "5.2 (= 1.2 + 4.0)"
    assert t.loc["increment, 10% to 30% removed", "most retrieved (paper)"] == "6.0"
    assert t.loc["increment, 10% to 30% removed", "random (ours)"] == "3.5 ± 0.7"
    assert t.loc["total drop, 30% removed", "top - matched (ours)"] == "+2.5 ± 0.7"
    assert (t["seeds"] == 2).all()


def test_seeds_for_gap_by_power_calculation():
    assert influence.seeds_for_gap(1.6, 3.0) == 6  # the measured spread at 10% asks for six
    assert influence.seeds_for_gap(1.1, 3.0) == 4
    assert influence.seeds_for_gap(1.6, -3.0) == 6  # the sign of the gap does not matter
    assert influence.seeds_for_gap(0.1, 3.0) == 2
    # more spread or a smaller gap needs more seeds
    assert influence.seeds_for_gap(1.6, 1.5) > influence.seeds_for_gap(1.6, 3.0)
    assert influence.seeds_for_gap(1.6, 3.0, power=0.95) > 6
    with pytest.raises(ValueError, match=r"sd\W+0.0.*> 0"):
        influence.seeds_for_gap(0.0, 3.0)
    with pytest.raises(ValueError, match=r"gap\W+0.0"):
        influence.seeds_for_gap(1.0, 0.0)
    with pytest.raises(ValueError, match=r"power\W+1.0"):
        influence.seeds_for_gap(1.0, 1.0, power=1.0)
    with pytest.raises(ValueError, match=r"max_seeds\W+3"):
        influence.seeds_for_gap(5.0, 1.0, max_seeds=3)


def test_top_set_overlap_by_hand():
    train = np.array([9, 8, 7, 0, 0, 0, 0, 0, 0, 1])
    test = np.array([9, 0, 0, 8, 7, 0, 0, 0, 0, 0])
    out = influence.top_set_overlap(train, test, 0.3)
    assert out == {"n_top": 3, "n_shared": 1, "overlap": pytest.approx(1 / 3), "chance": 0.3}
    assert influence.top_set_overlap(train, train, 0.3)["overlap"] == 1.0
    with pytest.raises(ValueError, match="counts_a has shape .* same shape"):
        influence.top_set_overlap(train, test[:5])


@pytest.mark.slow  # seven tiny fine-tunes, about a minute and a half on 2 CPU cores
def test_removal_test_fine_tunes_every_condition(tiny_pairs, session_cache):
    runs, counts = experiments.removal_test(tiny_pairs, tiny_pairs, fractions=(0.25, 0.5), seeds=(0,), k=3,
                                          recipe=dict(epochs=1, batch_size=4), cache=session_cache,
                                          progress=False)
    assert set(zip(runs.fraction, runs.condition)) == {
        (0.0, "full"), *((f, c) for f in (0.25, 0.5) for c in ("top", "random", "matched"))}
    assert (runs[runs.condition != "full"].n_train == [9, 9, 9, 6, 6, 6]).all()
    for fraction in (0.25, 0.5):
        grp = runs[runs.fraction == fraction].set_index("condition")["removed_by_label"]
        assert grp["matched"] == grp["top"] and sum(grp["random"]) == sum(grp["top"])
    assert counts[0].sum() == 12 * 3
    record = influence.removal_record(runs)
    assert record["n_seeds"] == 1 and set(record["increments"]) == {"top", "random", "matched"}


# -- neighbor_table -------------------------------------------------------------------------------
def test_neighbor_table_layout_and_checks(tiny_pairs):
    t = influence.neighbor_table(tiny_pairs, np.array([8, 0]), distances=[1.0, 2.0],
                                 weights=[0.73, 0.27])
    assert t.index.tolist() == [1, 2] and t.index.name == "rank"
    assert t["label"].tolist() == ["contradiction", "entailment"]
    assert t["hypothesis"].iloc[0] == "The man is asleep."
    assert "&lt;script&gt;" in influence.neighbor_table(
        pd.DataFrame({"premise": ["<script>x</script>"], "hypothesis": ["h"], "label": [1]}),
        np.array([0])).style.format(escape="html").to_html()
    with pytest.raises(ValueError, match=r"indices must be integers in 0..11"):
        influence.neighbor_table(tiny_pairs, np.array([12]))
    with pytest.raises(ValueError, match=r"distances has shape \(1,\) and indices has shape \(2,\)"):
        influence.neighbor_table(tiny_pairs, np.array([0, 1]), distances=[1.0])


@pytest.mark.parametrize("label", [-1, 3])
def test_neighbor_table_refuses_a_bad_label(label):
    train = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["d", "e", "f"], "label": [0, label, 2]})
    with pytest.raises(ValueError, match=r"train_df labels must be integers in 0..2"):
        influence.neighbor_table(train, [1, 0])


def test_neighbor_table_refuses_index_minus_one():
    train = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["d", "e", "f"], "label": [0, 1, 2]})
    with pytest.raises(ValueError, match=r"indices must be integers in 0..2"):
        influence.neighbor_table(train, [-1, 0])


# -- topk_overlap ---------------------------------------------------------------------------------
def test_topk_overlap_by_hand():
    assert influence.topk_overlap([[1, 2, 3]], [[3, 2, 1]]) == 1.0
    assert influence.topk_overlap([[1, 2, 3], [4, 5, 6]], [[1, 9, 8], [7, 8, 9]]) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="same shape"):
        influence.topk_overlap([[1, 2]], [[1, 2, 3]])


# -- influence functions --------------------------------------------------------------------------
def _hand_influence(model, train_df, query_df, reg):
    """grad L(x)^T (H + reg I)^-1 grad L(z) over the classifier head, by autograd."""
    import torch

    hf = model.model
    feats = []
    hook = hf.classifier.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach()))
    tok = model.tokenizer
    with torch.no_grad():
        for df in (train_df, query_df):
            hf(**tok(df.premise.tolist(), df.hypothesis.tolist(), padding=True, return_tensors="pt"))
    hook.remove()
    X, Q = (torch.cat([f, torch.ones(len(f), 1)], 1).double() for f in feats)
    W = torch.cat([hf.classifier.weight, hf.classifier.bias[:, None]], 1).double().detach().flatten()
    y = torch.tensor(train_df.label.to_numpy())

    def loss(w, feats, labels):
        return torch.nn.functional.cross_entropy(feats @ w.reshape(3, -1).T, labels, reduction="sum")

    H = torch.autograd.functional.hessian(lambda w: loss(w, X, y), W)
    Hinv = torch.linalg.inv(H + reg * torch.eye(len(W), dtype=H.dtype))
    grad = lambda f, lab: torch.autograd.functional.jacobian(lambda w: loss(w, f[None], lab[None]), W)
    G = torch.stack([grad(X[i], y[i]) for i in range(len(X))])
    pred = (Q @ W.reshape(3, -1).T).argmax(1)
    Gq = torch.stack([grad(Q[i], pred[i]) for i in range(len(Q))])
    return (Gq @ Hinv @ G.T).numpy()


def test_influence_matches_a_hand_computation(tiny_model, tiny_pairs):
    queries = tiny_pairs.iloc[[0, 5, 10]]
    ex = influence.InfluenceExplainer(tiny_model, projection_dim=10_000, hessian_reg=1e-3).fit(tiny_pairs)
    scores = ex.scores(queries)
    hand = _hand_influence(tiny_model, tiny_pairs, queries, reg=1e-3)
    assert scores.shape == (3, 12)
    np.testing.assert_allclose(scores, hand, rtol=2e-2, atol=2e-3 * np.abs(hand).max())
    idx, top = ex.top_k(queries, k=4)
    assert idx.shape == top.shape == (3, 4)
    assert (np.diff(top, axis=1) <= 0).all()  # strongest proponent first
    assert np.array_equal(idx[:, 0], hand.argmax(1))
    assert ex.n_train_ == 12 and ex.hessian_size_ == 12
    # the transformer is frozen only while captum runs
    assert all(p.requires_grad for p in tiny_model.model.parameters())


def test_influence_hessian_on_a_sample(tiny_model, tiny_pairs):
    queries = tiny_pairs.iloc[[1, 6]]
    full = influence.InfluenceExplainer(tiny_model, projection_dim=10_000).fit(tiny_pairs).scores(queries)
    same = influence.InfluenceExplainer(tiny_model, projection_dim=10_000,
                                        hessian_size=12).fit(tiny_pairs).scores(queries)
    # A sample of all 12 pairs is all of them in another order (DataFrame.sample with the seed). Given in
    # that order, the full Hessian is the same computation, bit for bit (scores' columns permuted back):
    order = tiny_pairs.sample(12, random_state=0).index.to_numpy()
    permuted = influence.InfluenceExplainer(tiny_model, projection_dim=10_000).fit(tiny_pairs.iloc[order])
    np.testing.assert_array_equal(same, permuted.scores(queries)[:, np.argsort(order)])
    # In the original order it differs by rounding only: captum sums H in float32, so another order
    # moves H by about one ulp (eps32 = 1.2e-7 of |H|), and inverting H + 1e-3 I amplifies that by its
    # condition number, about lambda_max / 1e-3 = 7.8e3 here: ~1e-3 of the scores' scale (measured 2.3e-4)
    np.testing.assert_allclose(same, full, rtol=0, atol=1e-3 * np.abs(full).max())
    half = influence.InfluenceExplainer(tiny_model, projection_dim=10_000, hessian_size=6).fit(tiny_pairs)
    assert half.hessian_size_ == 6 and half.scores(queries).shape == (2, 12)
    assert not np.allclose(half.scores(queries), full)
    with pytest.raises(ValueError, match="hessian_size == 13"):
        influence.InfluenceExplainer(tiny_model, hessian_size=13).fit(tiny_pairs)


def test_influence_explainer_must_be_fitted_first(tiny_model, tiny_pairs):
    ex = influence.InfluenceExplainer(tiny_model, layers=["nope"])  # __init__ only stores
    assert ex.layers == ["nope"] and not hasattr(ex, "n_train_")
    with pytest.raises(NotFittedError, match=r"call \.fit\(train_df\) first"):
        ex.scores(tiny_pairs.iloc[:1])


def test_influence_refuses_non_integer_labels(tiny_model, tiny_pairs):
    train = tiny_pairs.iloc[:4].assign(label=[0, 1.7, 2, 2.2])  # int() would train on 0, 1, 2, 2
    with pytest.raises(ValueError, match=r"train_df labels must be integers"):
        influence.InfluenceExplainer(tiny_model).fit(train)
    with pytest.raises(ValueError, match=r"train_df labels must be integers in 0..2"):
        influence.InfluenceExplainer(tiny_model).fit(tiny_pairs.iloc[:4].assign(label=[0, 1, 2, 3]))
    with pytest.raises(ValueError, match="lacks columns"):
        influence.InfluenceExplainer(tiny_model).fit(tiny_pairs.drop(columns="hypothesis"))


def test_influence_rejects_unknown_or_huge_layers(tiny_model, tiny_pairs):
    with pytest.raises(ValueError, match="unknown layers"):
        influence.InfluenceExplainer(tiny_model, layers=["nope"]).fit(tiny_pairs)
    with pytest.raises(ValueError, match="explicit Hessian"):
        influence.InfluenceExplainer(tiny_model, layers=["bert"]).fit(tiny_pairs)


def test_explanation_speed_reports_times_and_agreement(tiny_model, tiny_pairs):
    out = experiments.explanation_speed(tiny_model, tiny_pairs, tiny_pairs.iloc[:4], k=3,
                                      n_timed=2, progress=False)
    assert out["n_train"] == 12 and out["n_timed"] == 2 and out["n_queries"] == 4
    for method in ("knn", "influence"):  # the means and per-example times come from the times measured
        times = out[f"{method}_query_times_s"]
        assert len(times) == 2 and out[f"{method}_query_s"] == pytest.approx(np.mean(times))
        assert out[f"{method}_s_per_example"] == pytest.approx(out[f"{method}_setup_s"] / 2 + np.mean(times))
    assert out["speedup_per_query"] == pytest.approx(out["influence_query_s"] / out["knn_query_s"])
    assert out["hessian_size"] == 12 and out["layers"] == ["classifier"]
    assert out["knn_s_per_example"] == pytest.approx(out["knn_setup_s"] / 2 + out["knn_query_s"])
    assert out["speedup"] == pytest.approx(out["influence_s_per_example"] / out["knn_s_per_example"])
    assert out["knn_topk"].shape == out["influence_topk"].shape == (4, 3)
    assert 0.0 <= out["topk_overlap"] <= 1.0 and out["topk_overlap_random"] == 0.25
    with pytest.raises(ValueError, match="n_timed"):
        experiments.explanation_speed(tiny_model, tiny_pairs, tiny_pairs.iloc[:2], k=3, n_timed=3)
