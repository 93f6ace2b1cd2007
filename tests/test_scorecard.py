"""nbhelpers.scorecard: the one verdict rule and how verdicts are shown."""
import numpy as np
import pytest

from nbhelpers import scorecard


@pytest.mark.parametrize("estimate, low, high, paper_effect, null, margin, stand_in, expected", [
    # directional claims
    (2.9, 0.8, 5.0, 5.4, 0.0, None, None, "reproduced"),          # beyond the null, the paper's side
    (-2.0, -3.0, -1.0, -10.0, 0.0, None, None, "reproduced"),     # a negative claim, reproduced
    (1.0, 0.5, 1.5, 5.4, 0.0, None, None, "reproduced"),          # smaller than the paper's: still its side
    (-3.0, -5.0, -1.0, 3.4, 0.0, None, None, "opposite"),
    (3.0, 1.0, 5.0, -10.0, 0.0, None, None, "opposite"),
    (-0.8, -2.4, 0.8, 3.4, 0.0, None, None, "ruled out"),         # holds 0, excludes the paper's 3.4
    (0.0, 0.0, 1.0, 3.4, 0.0, None, None, "ruled out"),           # touching the null is not beyond it
    (0.4, -0.7, 1.5, 1.3, 0.0, None, None, "inconclusive"),       # holds 0 and the paper's 1.3
    (0.4, -0.7, 1.3, 1.3, 0.0, None, None, "inconclusive"),       # the paper's value on the edge is held
    (2.5, 2.1, 2.9, 5.0, 2.0, None, None, "reproduced"),          # a null other than 0
    (2.5, 1.9, 2.9, 5.0, 2.0, None, None, "ruled out"),
    # claims of no effect (paper_effect == null) need a margin
    (0.1, -0.2, 0.3, 0.0, 0.0, 0.5, None, "reproduced"),          # inside +-0.5
    (-0.15, -0.29, -0.03, 0.0, 0.0, 0.5, None, "reproduced"),     # a clear but tiny loss: inside the margin
    (1.0, 0.6, 1.4, 0.0, 0.0, 0.5, None, "ruled out"),            # wholly outside the margin
    (-1.0, -1.4, -0.6, 0.0, 0.0, 0.5, None, "ruled out"),
    (0.5, 0.2, 0.8, 0.0, 0.0, 0.5, None, "inconclusive"),         # straddles the margin
    # no interval, or not comparable
    (5.0, None, None, 3.4, 0.0, None, None, "untested"),
    (5.0, None, None, 0.0, 0.0, 0.5, None, "untested"),
    (9.0, 8.0, 10.0, 1.3, 0.0, None, "a stand-in", "not comparable"),
    (None, None, None, 1.3, 0.0, None, "a stand-in", "not comparable"),   # no run of ours at all
])
def test_verdict_rule(estimate, low, high, paper_effect, null, margin, stand_in, expected):
    assert scorecard.verdict(estimate, low, high, paper_effect=paper_effect, null=null, margin=margin,
                             stand_in=stand_in) == expected


@pytest.mark.parametrize("kwargs, error, words", [
    ({"estimate": 1.0, "low": 2.0, "high": 3.0}, ValueError, "low <= estimate <= high"),
    ({"estimate": 1.0, "low": 0.0, "high": None}, ValueError, "both low and high"),
    ({"estimate": float("nan"), "low": 0.0, "high": 1.0}, ValueError, "estimate.*finite"),
    ({"estimate": "1", "low": 0.0, "high": 2.0}, ValueError, "estimate must be a real number; got '1'"),
    ({"estimate": 1.0, "low": 0.0, "high": 2.0, "stand_in": ""}, ValueError, "stand_in"),
    ({"estimate": True, "low": 0.0, "high": 2.0}, ValueError, "real number; got True"),
    ({"estimate": 0.1, "low": 0.0, "high": 0.2, "paper_effect": 0.0}, ValueError, "no effect needs a margin"),
    ({"estimate": 0.1, "low": 0.0, "high": 0.2, "margin": -1.0}, ValueError, "margin == -1.0, must be > 0"),
])
def test_verdict_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        scorecard.verdict(**{"paper_effect": 1.0, **kwargs})


def test_random_intervals_reach_every_numeric_verdict():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(400):
        lo, hi = np.sort(rng.normal(size=2))
        seen.add(scorecard.verdict((lo + hi) / 2, lo, hi, paper_effect=float(rng.normal())))
    assert seen == {"reproduced", "opposite", "ruled out", "inconclusive"}


def test_sentence_and_html_show_each_row_escaped():
    row = dict(claim="a <b>claim</b>", link="#x", paper="+1.3", ours="+0.4 [-0.7, +1.5]", test="t",
               n="3 seeds", verdict="inconclusive", reason=None, effect="gain", paper_in_interval=True,
               to_decide=None)
    sentence = "a <b>claim</b>: paper +1.3; ours +0.4 [-0.7, +1.5] (t; 3 seeds): **inconclusive**."
    assert scorecard.sentence(row) == sentence
    assert scorecard.sentence(row | {"reason": "a stand-in"}).endswith("**inconclusive** (a stand-in).")
    page = scorecard.to_html([row])
    assert "a &lt;b&gt;claim&lt;/b&gt;" in page and 'class="verdict verdict-inconclusive"' in page


def test_counts_sentence_lists_every_verdict():
    text = scorecard.counts_sentence([{"verdict": "ruled out"}], ["hans.json"])
    assert text.startswith("1 claims: 0 reproduced, 0 opposite, 1 ruled out") and text.endswith("absent: hans.json.")
