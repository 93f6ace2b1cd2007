"""nbhelpers.interactive: plotly figures that load plotly.js from the site, with escaped hovers;
their click handler is a file of the site (book/_static/figure-links.js)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nbhelpers import interactive

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")

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
    text = interactive._hover_text("word " * 40, "", {})
    first = text.split("<br>")
    assert len(first) > 2 and all(len(line) <= 70 for line in first) and first[-1] == "Hypothesis:"


@pytest.mark.parametrize("kw, message", [
    (dict(embedding=[[0, 0, 0]] * 3), r"embedding must have shape \(n, 2\); got shape \(3, 3\)"),
    (dict(premises=["a"]), "premises has length 1 but embedding has 3 points"),
    (dict(gold=[0, 1, 2]), r"gold \(indices into label_names\) must be integers in 0..1; found 1 outside"),
])
def test_bad_inputs_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        fig(**kw)


def test_html_loads_plotly_from_the_site_not_a_cdn():
    snippet = interactive.figure_html(fig())
    assert '<script charset="utf-8" src="../plotly/plotly.min.js"></script>' in snippet
    assert "cdn.plot.ly" not in snippet and "https://" not in snippet.split("Plotly.newPlot")[0]


def test_points_carry_their_explorer_link_in_every_trace():
    f = fig(link_set="hans-val", link_ids=[10, 11, 12], fixed=[False, True, False], broken=[False] * 3)
    assert [list(c) for c in f.data[0].customdata] == [["hans-val", "10"]]
    assert [list(c) for c in f.data[1].customdata] == [["hans-val", "11"], ["hans-val", "12"]]
    assert [list(c) for c in f.data[2].customdata] == [["hans-val", "11"]]  # the ring links too
    assert fig().data[0].customdata is None                                # no ids: no links


@pytest.mark.parametrize("kw, message", [
    (dict(link_set="hans-val", link_ids=[1, 2]), "link_ids has length 2 but embedding has 3 points"),
    (dict(link_set="a b", link_ids=[1, 2, 3]), "link_set must be an explorer set name"),
])
def test_bad_links_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        fig(**kw)


def test_html_with_an_explorer_loads_its_index_and_the_static_click_handler():
    snippet = interactive.figure_html(fig(link_set="hans-val", link_ids=[1, 2, 3]),
                                      explorer=interactive.EXPLORER_PAGE)
    assert snippet.startswith('<script src="explorer-index.js"></script>\n'
                              '<script src="../_static/figure-links.js"></script>')
    plot_id = re.search(r'<div id="([\w-]+)" class="plotly-graph-div"', snippet).group(1)
    assert f"knnExplorerLinks('{plot_id}', '07_explorer.html');" in snippet   # one call, no inline code
    assert "plotly_click" not in snippet and "function (" not in snippet.split("Plotly.newPlot")[1]
    plain = interactive.figure_html(fig())
    assert "knnExplorerLinks" not in plain and "figure-links.js" not in plain
    with pytest.raises(ValueError, match="explorer must be the explorer page"):
        interactive.figure_html(fig(), explorer="javascript:alert(1)")


def test_the_click_handler_is_a_static_file_that_follows_only_listed_examples():
    assert interactive.FIGURE_LINKS_JS == "../_static/figure-links.js"  # from a page in book/
    js = (ROOT / "book" / "_static" / "figure-links.js").read_text()    # html_static_path: [book/_static]
    assert "window.knnExplorerLinks = function (plotId, explorerPage)" in js
    assert "plotly_click" in js and "EXPLORER_INDEX" in js and '"#ex="' in js
    assert "known[c[0]].has(String(c[1]))" in js                         # a link only where the index has it
    assert "click: open it in the neighbour explorer" in js


@pytest.mark.skipif(NODE is None, reason="node is not installed (make test installs it for MathJax)")
def test_the_click_handler_parses():
    subprocess.run([NODE, "--check", str(ROOT / "book" / "_static" / "figure-links.js")],
                   check=True, timeout=60)


def test_the_module_holds_no_javascript():
    source = Path(interactive.__file__).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)|function\s*\(|addEventListener|plotly_click|=>", source)


def test_map_figure_panels_share_points_hover_and_links():
    f = interactive.map_figure({"layer 0": [[0, 0], [1, 1], [2, 2]], "layer 6": [[2, 0], [1, 0], [0, 0]]},
                               ["A <b>dog</b>.", "b", "c"], ["x", "y", "z"], [0, 1, 1], [0, 0, 1],
                               label_names=NAMES, facts={"kNN": ["entailment"] * 3},
                               link_set="snli-val", link_ids=[5, 6, 7])
    assert [(t.name, t.xaxis, t.showlegend) for t in f.data] == [
        ("entailment", "x", True), ("non-entailment", "x", True),
        ("entailment", "x2", False), ("non-entailment", "x2", False)]
    assert list(f.data[3].x) == [1, 0] and [list(c) for c in f.data[3].customdata] == [["snli-val", "6"], ["snli-val", "7"]]
    text = f.data[2].text[0]
    assert text.startswith("Premise: A &lt;b&gt;dog&lt;/b&gt;.") and "gold: entailment" in text
    assert "model: entailment" in text and "kNN: entailment" in text
    assert "model: entailment" in f.data[1].text[0] and "gold: non-entailment" in f.data[1].text[0]
    with pytest.raises(ValueError, match=r"embeddings\['layer 0'\] must have shape \(3, 2\)"):
        interactive.map_figure({"layer 0": [[0, 0]]}, ["a", "b", "c"], ["x", "y", "z"], [0, 1, 1],
                               [0, 0, 1], label_names=NAMES)
    with pytest.raises(ValueError, match="kNN has length 1 but there are 3 premises"):
        interactive.map_figure({"a": [[0, 0]] * 3}, ["a", "b", "c"], ["x", "y", "z"], [0, 1, 1],
                               [0, 0, 1], label_names=NAMES, facts={"kNN": ["e"]})


@pytest.mark.parametrize("explorer", ['x.html" onload="alert(1)', "a&b/07.html", "a b/07.html",
                                      "x');alert(1);('.html", "", "javascript:x.html", "x.html'><script>.html",
                                      "data:text/html,x.html", 3])
def test_explorer_cannot_break_out_of_its_attribute_or_string(explorer):
    with pytest.raises(ValueError, match="explorer must be the explorer page's relative URL"):
        interactive.figure_html(fig(), explorer=explorer)


def test_plain_urls_still_work():
    snippet = interactive.figure_html(fig(), explorer="../book~2/07_explorer.html")
    assert snippet.startswith('<script src="../book~2/explorer-index.js"></script>\n')
    assert 'onload' not in snippet
