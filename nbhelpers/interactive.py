"""Interactive plotly figures, each beside its static matplotlib twin; plotly.js comes from the site,
never a CDN, and hover texts are HTML-escaped. A point carries its explorer ``[set, id]`` as
``customdata``; ``book/_static/figure-links.js`` follows a click where ``explorer-index.js`` lists it.
"""
from __future__ import annotations

import html
import re
import textwrap

import numpy as np

from .checks import check_labels, check_matrix, check_str, check_texts

PLOTLY_JS_URL = "../plotly/plotly.min.js"
"""plotly.js as a chapter page finds it (``scripts/build_book.py`` copies it to the site's root)."""

FIGURE_LINKS_JS = "../_static/figure-links.js"
"""The figures' click handler, as a chapter page finds it."""

EXPLORER_PAGE = "07_explorer.html"
"""The explorer's page, as a chapter page links to it."""

_PLAIN_URL = re.compile(r"[A-Za-z0-9._~%+/:-]+")  # no quote, bracket, space, &, # or backslash


def _plain_url(value, name, ending, what):
    if not (isinstance(value, str) and value.endswith(ending) and _PLAIN_URL.fullmatch(value)) \
            or value.lower().startswith(("javascript:", "data:")):
        raise ValueError(f"{name} must be {what} (ending in {ending}; letters, digits and . _ ~ % + / : - "
                         f"only); got {value!r}")
    return value


def hover_text(premise: str, hypothesis: str, **facts) -> str:
    """One point's tooltip: the escaped, wrapped pair, then ``name: value`` lines.

    >>> hover_text("A <b> man", "Nobody.", gold="entailment")
    'Premise: A &lt;b&gt; man<br>Hypothesis: Nobody.<br>gold: entailment'
    """
    def wrap(label, text):
        return "<br>".join(html.escape(line) for line in textwrap.wrap(f"{label}: {text}", width=70)
                           or [f"{label}:"])

    check_str(premise, "premise"), check_str(hypothesis, "hypothesis")
    parts = [wrap("Premise", premise), wrap("Hypothesis", hypothesis)]
    return "<br>".join(parts + [html.escape(f"{k.replace('_', ' ')}: {v}") for k, v in facts.items()])


_HOVER = {"gold": "gold", "model_pred": "model", "backoff_pred": "after_backoff"}  # argument: hover name


def _points(n, against, premises, hypotheses, label_names, labels, facts, link_set, link_ids, **masks):
    """Checked gold labels and ``trace(emb, at, **kwargs)``: a scatter of points ``at``, hover and link."""
    import plotly.graph_objects as go

    premises, hypotheses = check_texts(premises, "premises"), check_texts(hypotheses, "hypotheses")
    label_names = check_texts(label_names, "label_names")
    labels = {arg: check_labels(a, None, arg) for arg, a in labels.items()}  # label_names' range: below
    for name, a in {"premises": premises, "hypotheses": hypotheses, **labels, **masks, **facts,
                    "link_ids": link_ids}.items():
        if a is not None and len(a) != n:
            raise ValueError(f"{name} has length {len(a)} but {against}; expected one value per point")
    shown = {_HOVER[arg]: np.asarray(a, dtype=int) for arg, a in labels.items()}
    for arg, a in zip(labels, shown.values()):
        if ((a < 0) | (a >= len(label_names))).any():
            raise ValueError(f"{arg} must index label_names (0..{len(label_names) - 1}); "
                             f"got values {np.unique(a).tolist()}")
    texts = np.array([hover_text(p, h, **{k: label_names[a[i]] for k, a in shown.items()},
                                 **{name: v[i] for name, v in facts.items()})
                      for i, (p, h) in enumerate(zip(premises, hypotheses))], dtype=object)
    links = None
    if link_ids is not None:
        if not isinstance(link_set, str) or not link_set.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"link_set must be an explorer set name (letters, digits, - or _); "
                             f"got {link_set!r}")
        links = np.array([[link_set, str(int(i)) if isinstance(i, (int, np.integer)) else str(i)]
                          for i in link_ids], dtype=object).reshape(n, 2)

    def trace(emb, at, **kwargs):
        return go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", text=list(texts[at]),
                          hovertemplate="%{text}<extra></extra>",
                          customdata=None if links is None else links[at], **kwargs)
    return shown["gold"], trace


def tsne_figure(embedding, premises, hypotheses, gold, model_pred, backoff_pred, *, label_names,
                fixed=None, broken=None, title=None, link_set=None, link_ids=None):
    """An (n, 2) embedding as a plotly scatter, a trace per gold label; masks ``fixed`` and ``broken``
    ringed in green and orange; with ``link_ids``, each point links to its id in explorer set ``link_set``."""
    import plotly.graph_objects as go

    emb = check_matrix(embedding, "embedding")
    if emb.ndim != 2 or emb.shape[1] != 2:
        raise ValueError(f"embedding must have shape (n, 2); got shape {emb.shape}")
    gold, trace = _points(len(emb), f"embedding has {len(emb)} points", premises, hypotheses, label_names,
                          dict(gold=gold, model_pred=model_pred, backoff_pred=backoff_pred), {}, link_set,
                          link_ids, fixed=fixed, broken=broken)
    fig = go.Figure([trace(emb, gold == lab, name=str(name), marker={"size": 7, "opacity": 0.75})
                     for lab, name in enumerate(label_names)])
    for mask, name, colour in ((fixed, "fixed by backoff", "green"), (broken, "broken by backoff", "orange")):
        if mask is not None:
            fig.add_trace(trace(emb, np.asarray(mask, dtype=bool), name=name, marker={
                "size": 13, "symbol": "circle-open", "color": colour, "line": {"width": 2}}))
    fig.update_layout(title=title, hovermode="closest", template="plotly_white", height=560,
                      xaxis={"title": "t-SNE 1", "showticklabels": False},
                      yaxis={"title": "t-SNE 2", "showticklabels": False},
                      margin={"l": 40, "r": 20, "t": 50, "b": 40})
    return fig


def map_figure(embeddings, premises, hypotheses, gold, model_pred, *, label_names, facts=None,
               title=None, link_set=None, link_ids=None):
    """Side-by-side 2-D maps of the same points, a panel per ``embeddings`` entry (title -> (n, 2)),
    coloured by ``gold``; ``facts`` (name -> n values) add tooltip lines; links as in :func:`tsne_figure`."""
    from plotly.subplots import make_subplots

    if not isinstance(embeddings, dict) or not embeddings:
        raise ValueError("embeddings must be a non-empty dict of panel title -> (n, 2) coordinates; "
                         f"got {type(embeddings).__name__}")
    if not (n := len(check_texts(premises, "premises"))):
        raise ValueError("premises is empty; expected one per point")
    embs = {name: np.asarray(e, dtype=float) for name, e in embeddings.items()}
    for name, e in embs.items():
        if e.shape != (n, 2):
            raise ValueError(f"embeddings[{name!r}] must have shape ({n}, 2), one row per pair; "
                             f"got shape {e.shape}")
    gold, trace = _points(n, f"there are {n} premises", premises, hypotheses, label_names,
                          dict(gold=gold, model_pred=model_pred), dict(facts or {}), link_set, link_ids)
    colours = ["#1f77b4", "#9467bd", "#7f7f7f", "#2ca02c", "#d62728"]
    fig = make_subplots(rows=1, cols=len(embs), subplot_titles=list(embs), horizontal_spacing=0.04)
    for col, emb in enumerate(embs.values(), start=1):
        for lab, name in enumerate(label_names):
            fig.add_trace(trace(emb, gold == lab, name=str(name), legendgroup=str(name), showlegend=col == 1,
                                marker={"size": 6, "opacity": 0.7, "color": colours[lab % len(colours)]}),
                          row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(title=title, hovermode="closest", template="plotly_white", height=520,
                      margin={"l": 20, "r": 20, "t": 70, "b": 20},
                      legend={"orientation": "h", "y": -0.02, "title": {"text": "gold label"}})
    return fig


def figure_html(fig, plotlyjs: str = PLOTLY_JS_URL, *, explorer: str | None = None) -> str:
    """The figure as an HTML fragment that loads plotly.js from ``plotlyjs`` (relative to the page);
    with ``explorer`` (:data:`EXPLORER_PAGE`), a clicked point opens there where the explorer holds it."""
    from plotly.basedatatypes import BaseFigure

    from .explorer import INDEX_FILE

    if not isinstance(fig, BaseFigure):
        raise TypeError(f"fig must be a plotly figure; got {type(fig).__name__}")

    # both go into attributes (and explorer into a JavaScript string): plain paths only, escaped too
    plotlyjs = html.escape(_plain_url(plotlyjs, "plotlyjs", ".js", "the URL of plotly.min.js"), quote=True)
    head, post_script = "", None
    if explorer is not None:
        _plain_url(explorer, "explorer", ".html", "the explorer page's relative URL")
        folder = explorer.rsplit("/", 1)[0] + "/" if "/" in explorer else ""
        head = "".join(f'<script src="{html.escape(u, quote=True)}"></script>\n'
                       for u in (folder + INDEX_FILE, FIGURE_LINKS_JS))
        post_script = f"knnExplorerLinks('{{plot_id}}', '{explorer}');"  # defined in FIGURE_LINKS_JS
    return head + fig.to_html(full_html=False, include_plotlyjs=plotlyjs, include_mathjax=False,
                              post_script=post_script, config={"displaylogo": False, "responsive": True})
