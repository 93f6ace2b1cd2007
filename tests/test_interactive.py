"""nbhelpers.interactive: plotly figures that load plotly.js from the site, with escaped hovers."""
import pytest

from nbhelpers import interactive

NAMES = ["entailment", "non-entailment"]


def fig(**kw):
    args = dict(embedding=[[0, 0], [1, 1], [2, 0]], premises=["A <i>man</i> sleeps.", "b", "c"],
                hypotheses=["x", "y", "z"], gold=[0, 1, 1], model_pred=[0, 0, 1],
                backoff_pred=[0, 1, 1], label_names=NAMES)
    args.update(kw)
    return interactive.tsne_figure(args.pop("embedding"), args.pop("premises"), args.pop("hypotheses"),
                                   args.pop("gold"), args.pop("model_pred"), args.pop("backoff_pred"), **args)


def test_one_trace_per_gold_label_and_escaped_hover_with_gold_and_predictions():
    f = fig()
    assert [t.name for t in f.data] == NAMES
    assert list(f.data[1].x) == [1, 2]
    text = f.data[0].text[0]
    assert text.startswith("Premise: A &lt;i&gt;man&lt;/i&gt; sleeps.<br>Hypothesis: x")
    assert "gold: entailment" in text and "model: entailment" in text and "after backoff: entailment" in text
    assert "model: entailment" in f.data[1].text[0] and "after backoff: non-entailment" in f.data[1].text[0]


def test_rings_for_fixed_and_broken_points():
    f = fig(fixed=[False, True, False], broken=[False, False, False])
    assert [t.name for t in f.data] == NAMES + ["fixed by backoff", "broken by backoff"]
    assert list(f.data[2].x) == [1] and len(f.data[3].x) == 0


def test_long_pairs_are_wrapped():
    text = interactive.hover_text("word " * 40, "h")
    first = text.split("<br>")
    assert len(first) > 2 and all(len(line) <= 70 for line in first)


@pytest.mark.parametrize("kw, message", [
    (dict(embedding=[[0, 0, 0]] * 3), r"embedding must have shape \(n, 2\); got shape \(3, 3\)"),
    (dict(premises=["a"]), "premises has length 1 but embedding has 3 points"),
    (dict(gold=[0, 1, 2]), r"gold must index label_names \(0..1\); got values \[0, 1, 2\]"),
])
def test_bad_inputs_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        fig(**kw)


def test_html_loads_plotly_from_the_site_not_a_cdn():
    snippet = interactive.figure_html(fig())
    assert '<script charset="utf-8" src="../plotly/plotly.min.js"></script>' in snippet
    assert "cdn.plot.ly" not in snippet and "https://" not in snippet.split("Plotly.newPlot")[0]
    with pytest.raises(ValueError, match="plotlyjs must be the URL of plotly.min.js"):
        interactive.figure_html(fig(), plotlyjs="cdn")
