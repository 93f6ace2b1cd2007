"""Interactive figures (plotly) whose JavaScript is served by the site itself.

Each interactive figure sits beside its static matplotlib twin (kept for readers without
JavaScript and for print). The figures load ``plotly.min.js`` from the site's root
(:data:`PLOTLY_JS_URL`, copied there by ``scripts/build_book.py`` from the installed plotly
package), never from a CDN. Hover texts are HTML-escaped: plotly renders a small subset of
HTML in them, and a pair's text must not be read as markup.

A point can link to the neighbour explorer (``07_explorer.html#ex=SET:ID``): the figure
carries each point's ``(set, id)`` as plotly ``customdata``. The click handler is a file of
the site, ``book/_static/figure-links.js`` (:data:`FIGURE_LINKS_JS`); :func:`figure_html`
loads it with ``explorer-index.js`` (:func:`nbhelpers.explorer.write_explorer_index`) and
calls it in one line once plotly has drawn the figure. It follows a click only where the
explorer holds that example; linked points say so in their tooltip, the others have no link.
"""
from __future__ import annotations

import html
import re
import textwrap

import numpy as np

__all__ = ["PLOTLY_JS_URL", "FIGURE_LINKS_JS", "EXPLORER_PAGE", "hover_text", "tsne_figure", "map_figure",
           "figure_html"]

PLOTLY_JS_URL = "../plotly/plotly.min.js"
"""plotly.js as a chapter page (``book/*.html``) finds it: ``site-assets/plotly/`` at the root."""

FIGURE_LINKS_JS = "../_static/figure-links.js"
"""The figures' click handler (``book/_static/figure-links.js``, served by Sphinx's
``html_static_path``) as a chapter page finds it."""

EXPLORER_PAGE = "07_explorer.html"
"""The explorer's page, as a chapter page (``book/*.html``) links to it."""


_PLAIN_URL = re.compile(r"[A-Za-z0-9._~%+/:-]+")
"""What a URL put into an attribute may hold: no quote, bracket, space, ``&``, ``#`` or backslash."""


def _plain_url(value, name, ending, what):
    """``value`` if it is a plain relative path or URL ending in ``ending``, else a ValueError."""
    if not isinstance(value, str) or not value.endswith(ending) or not _PLAIN_URL.fullmatch(value) \
            or value.lower().startswith(("javascript:", "data:")):
        raise ValueError(f"{name} must be {what} (ending in {ending}; letters, digits and . _ ~ % + / : - "
                         f"only); got {value!r}")
    return value


def hover_text(premise: str, hypothesis: str, **facts) -> str:
    """One point's tooltip: the escaped, wrapped pair, then ``name: value`` lines.

    Example
    -------
    >>> hover_text("A <b> man", "Nobody.", gold="entailment")
    'Premise: A &lt;b&gt; man<br>Hypothesis: Nobody.<br>gold: entailment'
    """
    def wrap(label, text):
        lines = textwrap.wrap(f"{label}: {text}", width=70) or [f"{label}:"]
        return "<br>".join(html.escape(line) for line in lines)

    parts = [wrap("Premise", premise), wrap("Hypothesis", hypothesis)]
    parts += [html.escape(f"{name.replace('_', ' ')}: {value}") for name, value in facts.items()]
    return "<br>".join(parts)


def _links(link_set, link_ids, n):
    """Each point's ``[set, id]`` (plotly customdata), or None where the figure links nowhere."""
    if link_ids is None:
        return None
    if not isinstance(link_set, str) or not link_set.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"link_set must be an explorer set name (letters, digits, - or _); got {link_set!r}")
    ids = list(link_ids)
    if len(ids) != n:
        raise ValueError(f"link_ids has length {len(ids)} but embedding has {n} points; "
                         "expected one explorer id per point")
    return np.array([[link_set, str(int(i)) if isinstance(i, (int, np.integer)) else str(i)] for i in ids],
                    dtype=object).reshape(n, 2)


def _check_labels(label_names, **arrays):
    out = []
    for name, a in arrays.items():
        a = np.asarray(a, dtype=int)
        if ((a < 0) | (a >= len(label_names))).any():
            raise ValueError(f"{name} must index label_names (0..{len(label_names) - 1}); "
                             f"got values {np.unique(a).tolist()}")
        out.append(a)
    return out


def tsne_figure(embedding, premises, hypotheses, gold, model_pred, backoff_pred, *, label_names,
                fixed=None, broken=None, title=None, link_set=None, link_ids=None):
    """A 2-D embedding as a plotly scatter: one trace per gold label, hover shows the pair.

    Parameters
    ----------
    embedding : array-like of shape (n, 2)
    premises, hypotheses : sequences of n str
    gold, model_pred, backoff_pred : array-like of int, shape (n,)
        Indices into ``label_names``.
    label_names : sequence of str
    fixed, broken : array-like of bool, shape (n,), optional
        Ringed in green (backoff turns wrong into right) or orange (right into wrong), as
        :func:`nbhelpers.viz.plot_tsne` does.
    title : str, optional
    link_set : str, optional
        The explorer set that holds these examples (``"hans-val"``).
    link_ids : array-like of shape (n,), optional
        Each point's example id in that set; with :func:`figure_html`'s ``explorer``, a
        click opens the explorer at the example where the explorer holds it.

    Returns
    -------
    plotly.graph_objects.Figure

    Example
    -------
    >>> fig = tsne_figure([[0, 0], [1, 1]], ["a", "b"], ["c", "d"], [0, 1], [0, 0], [0, 1],
    ...                   label_names=["entailment", "non-entailment"])
    >>> [t.name for t in fig.data], fig.data[0].text[0].split("<br>")[0]
    (['entailment', 'non-entailment'], 'Premise: a')
    """
    import plotly.graph_objects as go

    emb = np.asarray(embedding, dtype=float)
    if emb.ndim != 2 or emb.shape[1] != 2:
        raise ValueError(f"embedding must have shape (n, 2); got shape {emb.shape}")
    n = len(emb)
    arrays = {"premises": premises, "hypotheses": hypotheses, "gold": gold,
              "model_pred": model_pred, "backoff_pred": backoff_pred}
    if fixed is not None:
        arrays["fixed"] = fixed
    if broken is not None:
        arrays["broken"] = broken
    for name, a in arrays.items():
        if len(a) != n:
            raise ValueError(f"{name} has length {len(a)} but embedding has {n} points; "
                             "expected one value per point")
    gold, model_pred, backoff_pred = _check_labels(label_names, gold=gold, model_pred=model_pred,
                                                   backoff_pred=backoff_pred)
    links = _links(link_set, link_ids, n)
    texts = np.array([hover_text(p, h, gold=label_names[g], model=label_names[m],
                                 after_backoff=label_names[b])
                      for p, h, g, m, b in zip(premises, hypotheses, gold, model_pred, backoff_pred)],
                     dtype=object)
    fig = go.Figure()
    for lab, name in enumerate(label_names):
        at = gold == lab
        fig.add_trace(go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", name=str(name),
                                 text=list(texts[at]), hovertemplate="%{text}<extra></extra>",
                                 customdata=None if links is None else links[at],
                                 marker={"size": 7, "opacity": 0.75}))
    for mask, name, colour in ((fixed, "fixed by backoff", "green"), (broken, "broken by backoff", "orange")):
        if mask is None:
            continue
        at = np.asarray(mask, dtype=bool)
        fig.add_trace(go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", name=name,
                                 text=list(texts[at]), hovertemplate="%{text}<extra></extra>",
                                 customdata=None if links is None else links[at],
                                 marker={"size": 13, "symbol": "circle-open", "color": colour,
                                         "line": {"width": 2}}))
    fig.update_layout(title=title, hovermode="closest", template="plotly_white", height=560,
                      xaxis={"title": "t-SNE 1", "showticklabels": False},
                      yaxis={"title": "t-SNE 2", "showticklabels": False},
                      margin={"l": 40, "r": 20, "t": 50, "b": 40})
    return fig


def map_figure(embeddings, premises, hypotheses, gold, model_pred, *, label_names, facts=None,
               title=None, link_set=None, link_ids=None):
    """Side-by-side 2-D maps of the same points (one panel per representation), hover shows the pair.

    Parameters
    ----------
    embeddings : dict of str -> array-like of shape (n, 2)
        Panel title -> 2-D coordinates of the same n points (e.g. t-SNE of two layers).
    premises, hypotheses : sequences of n str
    gold, model_pred : array-like of int, shape (n,)
        Indices into ``label_names``; points are coloured by ``gold``.
    label_names : sequence of str
    facts : dict of str -> sequence of n values, optional
        More ``name: value`` lines for each point's tooltip (e.g. the kNN prediction).
    title : str, optional
    link_set, link_ids : optional
        As in :func:`tsne_figure`: the explorer set and each point's id in it.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per (panel, gold label); a label's traces share one legend entry.

    Example
    -------
    >>> fig = map_figure({"a": [[0, 0], [1, 1]], "b": [[1, 0], [0, 1]]}, ["p", "q"], ["h", "i"],
    ...                  [0, 1], [0, 0], label_names=["yes", "no"])
    >>> [(t.name, t.xaxis, t.showlegend) for t in fig.data]
    [('yes', 'x', True), ('no', 'x', True), ('yes', 'x2', False), ('no', 'x2', False)]
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not isinstance(embeddings, dict) or not embeddings:
        raise ValueError("embeddings must be a non-empty dict of panel title -> (n, 2) coordinates; "
                         f"got {type(embeddings).__name__}")
    embs = {name: np.asarray(e, dtype=float) for name, e in embeddings.items()}
    n = len(premises)
    for name, e in embs.items():
        if e.ndim != 2 or e.shape != (n, 2):
            raise ValueError(f"embeddings[{name!r}] must have shape ({n}, 2), one row per pair; "
                             f"got shape {e.shape}")
    facts = dict(facts or {})
    for name, a in {"hypotheses": hypotheses, "gold": gold, "model_pred": model_pred, **facts}.items():
        if len(a) != n:
            raise ValueError(f"{name} has length {len(a)} but there are {n} premises; "
                             "expected one value per point")
    gold, model_pred = _check_labels(label_names, gold=gold, model_pred=model_pred)
    links = _links(link_set, link_ids, n)
    texts = np.array([hover_text(premises[i], hypotheses[i], gold=label_names[gold[i]],
                                 model=label_names[model_pred[i]],
                                 **{name: values[i] for name, values in facts.items()})
                      for i in range(n)], dtype=object)
    colours = ["#1f77b4", "#9467bd", "#7f7f7f", "#2ca02c", "#d62728"]
    fig = make_subplots(rows=1, cols=len(embs), subplot_titles=list(embs), horizontal_spacing=0.04)
    for col, emb in enumerate(embs.values(), start=1):
        for lab, name in enumerate(label_names):
            at = gold == lab
            fig.add_trace(go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", name=str(name),
                                     legendgroup=str(name), showlegend=col == 1,
                                     text=list(texts[at]), hovertemplate="%{text}<extra></extra>",
                                     customdata=None if links is None else links[at],
                                     marker={"size": 6, "opacity": 0.7,
                                             "color": colours[lab % len(colours)]}),
                          row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(title=title, hovermode="closest", template="plotly_white", height=520,
                      margin={"l": 20, "r": 20, "t": 70, "b": 20},
                      legend={"orientation": "h", "y": -0.02, "title": {"text": "gold label"}})
    return fig


def figure_html(fig, plotlyjs: str = PLOTLY_JS_URL, *, explorer: str | None = None) -> str:
    """The figure as an HTML fragment that loads plotly.js from ``plotlyjs`` (on the site).

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    plotlyjs : str
        URL of ``plotly.min.js`` relative to the page.
    explorer : str, optional
        The explorer page's URL relative to the page (:data:`EXPLORER_PAGE`). Then the
        fragment also loads ``explorer-index.js`` from beside that page and
        :data:`FIGURE_LINKS_JS`, whose ``knnExplorerLinks`` makes a click on a point whose
        ``customdata`` names an example the explorer holds open it there.

    Example
    -------
    >>> import plotly.graph_objects as go
    >>> snippet = figure_html(go.Figure())
    >>> '<script charset="utf-8" src="../plotly/plotly.min.js"></script>' in snippet, "cdn." in snippet
    (True, False)
    >>> linked = figure_html(go.Figure(), explorer=EXPLORER_PAGE)
    >>> linked.startswith('<script src="explorer-index.js"></script>'), FIGURE_LINKS_JS in linked
    (True, True)
    """
    from .explorer import INDEX_FILE

    # both go into attributes (and explorer into a JavaScript string): plain paths only, escaped too
    plotlyjs = html.escape(_plain_url(plotlyjs, "plotlyjs", ".js", "the URL of plotly.min.js"), quote=True)
    post_script = None
    head = ""
    if explorer is not None:
        _plain_url(explorer, "explorer", ".html", "the explorer page's relative URL")
        folder = explorer.rsplit("/", 1)[0] + "/" if "/" in explorer else ""
        src = [html.escape(u, quote=True) for u in (folder + INDEX_FILE, FIGURE_LINKS_JS)]
        head = "".join(f'<script src="{u}"></script>\n' for u in src)
        post_script = f"knnExplorerLinks('{{plot_id}}', '{explorer}');"  # defined in FIGURE_LINKS_JS
    return head + fig.to_html(full_html=False, include_plotlyjs=plotlyjs, include_mathjax=False,
                              post_script=post_script,
                              config={"displaylogo": False, "responsive": True})
