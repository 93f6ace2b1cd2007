"""Interactive plotly figures beside their static twins: plotly.js from the site, escaped hovers, and each
point's explorer ``[set, id]`` as ``customdata`` for ``book/_static/figure-links.js`` to follow on a click."""
from __future__ import annotations

import html
import re
import textwrap

import numpy as np

from .checks import check_dict, check_labels, check_matrix, check_texts

PLOTLY_JS_URL = "../plotly/plotly.min.js"  # as a chapter page finds it (scripts/build_book.py copies it)
FIGURE_LINKS_JS = "../_static/figure-links.js"  # the figures' click handler, as a chapter page finds it
EXPLORER_PAGE = "07_explorer.html"  # the explorer's page, as a chapter page links to it
_PLAIN_URL = re.compile(r"[A-Za-z0-9._~%+/-]+\.html")  # no quote, bracket, space, &, #, : or backslash
_HOVER = {"gold": "gold", "model_pred": "model", "backoff_pred": "after backoff"}  # argument: hover name


def _hover_text(premise: str, hypothesis: str, facts: dict) -> str:
    """One point's tooltip: the escaped, wrapped pair, then ``name: value`` lines."""
    lines = textwrap.wrap(f"Premise: {premise}", 70) + textwrap.wrap(f"Hypothesis: {hypothesis}", 70)
    return "<br>".join(html.escape(line) for line in lines + [f"{k}: {v}" for k, v in facts.items()])


def _points(n, against, premises, hypotheses, label_names, labels, facts, link_set, link_ids, **masks):
    """Checked gold labels and ``trace(emb, at, **kwargs)``: a scatter of points ``at``, hover and link."""
    import plotly.graph_objects as go

    label_names = check_texts(label_names, "label_names")
    labels = {arg: check_labels(a, len(label_names), f"{arg} (indices into label_names)")
              for arg, a in labels.items()}
    pairs = {"premises": check_texts(premises, "premises"),
             "hypotheses": check_texts(hypotheses, "hypotheses")}
    for name, a in {**pairs, **labels, **masks, **facts, "link_ids": link_ids}.items():
        if a is not None and len(a) != n:
            raise ValueError(f"{name} has length {len(a)} but {against}; expected one value per point")
    if link_ids is not None and not (isinstance(link_set, str) and re.fullmatch(r"[\w-]+", link_set)):
        raise ValueError(f"link_set must be an explorer set name (letters, digits, - or _); got {link_set!r}")
    facts = {**{_HOVER[arg]: [label_names[y] for y in a] for arg, a in labels.items()}, **facts}
    texts = np.array([_hover_text(p, h, {k: v[i] for k, v in facts.items()})
                      for i, (p, h) in enumerate(zip(*pairs.values()))], dtype=object)
    links = None if link_ids is None else np.array([[link_set, str(i)] for i in link_ids], dtype=object)

    def trace(emb, at, **kwargs):
        return go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", text=list(texts[at]),
                          hovertemplate="%{text}<extra></extra>",
                          customdata=None if links is None else links[at], **kwargs)
    return labels["gold"], trace


def _layout(fig, title, height, margin, **kwargs):
    fig.update_layout(title=title, hovermode="closest", template="plotly_white", height=height,
                      margin=dict(zip("lrtb", margin)), **kwargs)
    return fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)


def tsne_figure(embedding, premises, hypotheses, gold, model_pred, backoff_pred, *, label_names,
                fixed=None, broken=None, title=None, link_set=None, link_ids=None):
    """An (n, 2) embedding as a plotly scatter, a trace per gold label; masks ``fixed`` and ``broken``
    ringed in green and orange; with ``link_ids``, each point links to its id in explorer set ``link_set``."""
    import plotly.graph_objects as go

    if (emb := check_matrix(embedding, "embedding")).shape[1] != 2:
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
    return _layout(fig, title, 560, (40, 20, 50, 40), xaxis_title="t-SNE 1", yaxis_title="t-SNE 2")


def map_figure(embeddings, premises, hypotheses, gold, model_pred, *, label_names, facts=None,
               title=None, link_set=None, link_ids=None):
    """Side-by-side 2-D maps of the same points, a panel per ``embeddings`` entry (title -> (n, 2)),
    coloured by ``gold``; ``facts`` (name -> n values) add tooltip lines; links as in :func:`tsne_figure`."""
    from plotly.subplots import make_subplots

    embs = {name: np.asarray(e, dtype=float) for name, e in check_dict(embeddings, "embeddings").items()}
    if not (n := len(check_texts(premises, "premises"))):
        raise ValueError("premises is empty; expected one per point")
    if bad := [name for name, e in embs.items() if e.shape != (n, 2)]:
        raise ValueError(f"embeddings[{bad[0]!r}] must have shape ({n}, 2), one row per pair; "
                         f"got shape {embs[bad[0]].shape}")
    gold, trace = _points(n, f"there are {n} premises", premises, hypotheses, label_names,
                          dict(gold=gold, model_pred=model_pred), dict(facts or {}), link_set, link_ids)
    colours = ["#1f77b4", "#9467bd", "#7f7f7f", "#2ca02c", "#d62728"]
    fig = make_subplots(rows=1, cols=len(embs), subplot_titles=list(embs), horizontal_spacing=0.04)
    for col, emb in enumerate(embs.values(), start=1):
        for lab, name in enumerate(label_names):
            fig.add_trace(trace(emb, gold == lab, name=str(name), legendgroup=str(name), showlegend=col == 1,
                                marker={"size": 6, "opacity": 0.7, "color": colours[lab % len(colours)]}),
                          row=1, col=col)
    return _layout(fig, title, 520, (20, 20, 70, 20),
                   legend={"orientation": "h", "y": -0.02, "title": {"text": "gold label"}})


def figure_html(fig, *, explorer: str | None = None) -> str:
    """The figure as an HTML fragment that loads plotly.js from the site (:data:`PLOTLY_JS_URL`); with
    ``explorer`` (:data:`EXPLORER_PAGE`), a clicked point opens there where the explorer holds it."""
    from plotly.basedatatypes import BaseFigure

    from .explorer import INDEX_FILE

    if not isinstance(fig, BaseFigure):
        raise TypeError(f"fig must be a plotly figure; got {type(fig).__name__}")
    head, post_script = "", None
    if explorer is not None:  # it goes into attributes and a JavaScript string: a plain path only
        if not (isinstance(explorer, str) and _PLAIN_URL.fullmatch(explorer)):
            raise ValueError("explorer must be the explorer page's relative URL (ending in .html; letters, "
                             f"digits and . _ ~ % + / - only); got {explorer!r}")
        index = explorer[:explorer.rfind("/") + 1] + INDEX_FILE  # next to the explorer page
        head = "".join(f'<script src="{u}"></script>\n' for u in (index, FIGURE_LINKS_JS))
        post_script = f"knnExplorerLinks('{{plot_id}}', '{explorer}');"  # defined in FIGURE_LINKS_JS
    return head + fig.to_html(full_html=False, include_plotlyjs=PLOTLY_JS_URL, include_mathjax=False,
                              post_script=post_script, config={"displaylogo": False, "responsive": True})
