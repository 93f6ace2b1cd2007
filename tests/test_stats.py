"""nbhelpers.stats: each interval and test checked against a hand computation."""
import math

import numpy as np
import pytest

from nbhelpers import stats


def test_t_interval_by_hand():
    # mean 2, sd 1, n 3: half-width t(0.975, 2) / sqrt(3) = 4.3027 / 1.7321 = 2.4841
    m, lo, hi = stats.t_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and lo == pytest.approx(2 - 2.4841, abs=1e-4) and hi == pytest.approx(2 + 2.4841, abs=1e-4)
    assert stats.t_interval([4.0]) == (4.0, None, None)
    for bad, words in (([], "0 sample"), ([1.0, float("nan")], "NaN"), ([1.0, float("inf")], "infinity")):
        with pytest.raises(ValueError, match=f"values.*{words}"):
            stats.t_interval(bad)


def test_paired_bootstrap_is_deterministic_and_centred():
    a, b = np.array([1, 0] * 100), np.array([1, 1] * 100)
    r1, r2 = stats.paired_bootstrap(a, b, seed=3), stats.paired_bootstrap(a, b, seed=3)
    assert r1 == r2 and r1["diff"] == 0.5 and r1["lo"] < 0.5 < r1["hi"] and r1["p_better"] == 1.0
    same = stats.paired_bootstrap(a, a)
    assert same["diff"] == same["lo"] == same["hi"] == 0.0


@pytest.mark.parametrize("a, b, match", [
    ([2, 0, 1, 1], [1, 1, 0, 1], r"correct_a must be integers in 0\.\.1"),            # not correctness
    ([1.0, float("nan")], [1, 0], r"correct_a must be integers in 0\.\.1"),
    ([1, 0], [1], "correct_a is length 2 and correct_b is length 1"),
    ([], [], "correct_a is empty"),
    (["1", "0"], ["1", "1"], r"correct_a must be integers in 0\.\.1"),
])
def test_paired_tests_refuse_what_is_not_correctness(a, b, match):
    for f in (stats.paired_bootstrap, stats.mcnemar):
        with pytest.raises(ValueError, match=match):
            f(a, b)


def test_mcnemar_by_hand():
    # 4 pairs right -> wrong, none back: p = 2 * 0.5**4 = 0.125
    r = stats.mcnemar([1, 1, 1, 1] + [1] * 22, [0, 0, 0, 0] + [1] * 22)
    assert (r["n"], r["a_only"], r["b_only"], r["p"]) == (26, 4, 0, 0.125)
    # exact interval: Clopper-Pearson for 0 of 4 is [0, 1 - 0.025 ** (1 / 4)] = [0, 0.6024]
    assert r["diff"] == r["lo"] == pytest.approx(-4 / 26)
    assert r["hi"] == pytest.approx(4 / 26 * (2 * (1 - 0.025 ** 0.25) - 1))   # +3.1 points: holds 0
    # 1 one way, 2 the other: p = P(X <= 1 or X >= 2 | n=3) = 1
    assert stats.mcnemar([1, 0, 0], [0, 1, 1])["p"] == 1.0
    assert stats.mcnemar([1, 0], [1, 0])["p"] == 1.0      # nothing discordant
    # ... and no interval of zero width: up to 1 - 0.025 ** (1 / n) of the pairs could differ
    none = stats.mcnemar([1, 1, 0], [1, 1, 0])
    assert (none["lo"], none["hi"]) == pytest.approx((-(1 - 0.025 ** (1 / 3)), 1 - 0.025 ** (1 / 3)))


def test_newcombe_by_hand():
    # Wilson 95% for 3/8: [0.1368, 0.6943]; for 58/97: [0.4984, 0.6900] (worked by hand)
    d, lo, hi = stats.newcombe(3, 8, 58, 97)
    assert d == pytest.approx(58 / 97 - 3 / 8)
    assert lo == pytest.approx(d - math.hypot(58 / 97 - 0.49843, 0.69430 - 0.375), abs=2e-4)
    assert hi == pytest.approx(d + math.hypot(0.68997 - 58 / 97, 0.375 - 0.13680), abs=2e-4)
    d0, lo0, hi0 = stats.newcombe(0, 10, 10, 10)
    assert d0 == 1.0 and -1 <= lo0 < 1 and hi0 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="count"):
        stats.newcombe(9, 8, 1, 2)
    with pytest.raises(ValueError, match="n_a"):
        stats.newcombe(1, True, 1, 2)


def test_t_interval_from_a_summary_equals_the_one_from_values():
    x = [0.5, 1.5, 4.0]
    assert stats.t_interval_from(float(np.mean(x)), float(np.std(x, ddof=1)), 3) == pytest.approx(stats.t_interval(x))
    with pytest.raises(ValueError, match="n == 1, must be >= 2"):
        stats.t_interval_from(1.0, 0.5, 1)
    with pytest.raises(ValueError, match="sd"):
        stats.t_interval_from(1.0, float("nan"), 3)


def test_hierarchical_bootstrap_pools_seeds_and_widens_with_seed_noise():
    # two seeds on the same 100 pairs: seed 0 gains on half the pairs, seed 1 on none; mean 0.25
    a = np.array([[0, 1] * 50, [1, 1] * 50])
    b = np.ones_like(a)
    r = stats.hierarchical_bootstrap(a, b, seed=3)
    assert r == stats.hierarchical_bootstrap(a, b, seed=3) and r["diff"] == 0.25
    assert (r["n_seeds"], r["n"]) == (2, 100)
    # resampling the seeds draws (0, 0) or (1, 1) half the time: the interval reaches both seeds' gains
    assert r["lo"] == 0.0 and r["hi"] >= 0.5 - 0.1
    # seeds that agree leave only the pair noise: an interval like the paired bootstrap's on one seed
    same = stats.hierarchical_bootstrap(np.vstack([a[0], a[0]]), np.vstack([b[0], b[0]]), seed=3)
    one = stats.paired_bootstrap(a[0], b[0], seed=3)
    assert same["diff"] == one["diff"] == 0.5 and abs((same["hi"] - same["lo"]) - (one["hi"] - one["lo"])) < 0.05


@pytest.mark.parametrize("a, b, match", [
    ([[1, 0], [1, 1]], [[1, 0]], "same shape|one shape"),
    ([[2, 0]], [[1, 0]], r"correct_a must be integers in 0\.\.1"),
    (np.zeros((2, 0)), np.zeros((2, 0)), "non-empty"),
])
def test_hierarchical_bootstrap_refuses_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        stats.hierarchical_bootstrap(a, b)


def test_tokenisation_cost_hand_checked():
    r = stats.tokenisation_cost([True, True, False, True] * 50, [True, False, False, True] * 50)
    assert (r["n_matched"], r["raw_acc"], r["tokenised_acc"], r["diff"]) == (200, 0.75, 0.5, -0.25)
    lo, hi = r["ci"]
    assert lo <= -0.25 <= hi < 0 and r["beyond_noise"] is True


def test_tokenisation_cost_within_noise_when_the_forms_agree_as_often_as_they_differ():
    # one pair right only in raw form, one only in tokenised form, the rest agree
    raw = [True, False] + [True] * 18
    tok = [False, True] + [True] * 18
    r = stats.tokenisation_cost(raw, tok)
    assert r["diff"] == 0.0 and r["ci"][0] < 0 < r["ci"][1] and r["beyond_noise"] is False


def test_tokenisation_cost_rejects_unequal_lengths():
    with pytest.raises(ValueError, match=r"correct_raw is length 3 and correct_tokenised is length 2"):
        stats.tokenisation_cost([1, 0, 1], [1, 0])


def test_cluster_bootstrap_draws_whole_groups():
    # by hand: group "x" (1 pair, gained) and group "y" (3 pairs, no change); a resample draws xx (mean 1),
    # xy or yx (1/4) or yy (0): b beats a unless it draws yy, so p_better is about 3/4, and the interval
    # runs from 0 to 1, where one by one the pairs would give narrower bounds
    r = stats.paired_bootstrap([0, 0, 0, 0], [1, 0, 0, 0], groups=["x", "y", "y", "y"], n_resamples=4000)
    assert r["diff"] == 0.25 and (r["lo"], r["hi"]) == (0.0, 1.0) and abs(r["p_better"] - 0.75) < 0.03
    # 20 groups of 10 pairs that move together: the interval is about sqrt(10) times the one-by-one width
    a, b = np.zeros(200, int), np.repeat([0, 1] * 10, 10)
    width = lambda d: d["hi"] - d["lo"]
    one, grouped = stats.paired_bootstrap(a, b), stats.paired_bootstrap(a, b, groups=np.arange(200) // 10)
    assert one["diff"] == grouped["diff"] == 0.5 and 2.5 < width(grouped) / width(one) < 4
    assert stats.paired_bootstrap(a, b, groups=np.arange(200)) == one  # singletons: the plain bootstrap
    pooled = stats.hierarchical_bootstrap([a, a], [b, b], groups=np.arange(200) // 10)
    assert pooled["diff"] == 0.5 and 2.5 < width(pooled) / width(stats.hierarchical_bootstrap([a, a], [b, b])) < 4
    with pytest.raises(ValueError, match="groups"):
        stats.paired_bootstrap(a, b, groups=np.arange(10))
