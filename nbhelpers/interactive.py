"""Interactive figures (plotly) whose JavaScript is served by the site itself.

Each interactive figure sits beside its static matplotlib twin (kept for readers without
JavaScript and for print). The figures load ``plotly.min.js`` from the site's root
(:data:`PLOTLY_JS_URL`, copied there by ``scripts/build_book.py`` from the installed plotly
package), never from a CDN. Hover texts are HTML-escaped: plotly renders a small subset of
HTML in them, and a pair's text must not be read as markup.
"""
from __future__ import annotations

import html
import textwrap

import numpy as np

__all__ = ["PLOTLY_JS_URL", "hover_text", "tsne_figure", "figure_html"]

PLOTLY_JS_URL = "../plotly/plotly.min.js"
"""plotly.js as a chapter page (``book/*.html``) finds it: ``site-assets/plotly/`` at the root."""


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


def tsne_figure(embedding, premises, hypotheses, gold, model_pred, backoff_pred, *, label_names,
                fixed=None, broken=None, title=None):
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
    gold, model_pred, backoff_pred = (np.asarray(a, dtype=int) for a in (gold, model_pred, backoff_pred))
    for name, a in (("gold", gold), ("model_pred", model_pred), ("backoff_pred", backoff_pred)):
        if ((a < 0) | (a >= len(label_names))).any():
            raise ValueError(f"{name} must index label_names (0..{len(label_names) - 1}); "
                             f"got values {np.unique(a).tolist()}")
    texts = np.array([hover_text(p, h, gold=label_names[g], model=label_names[m],
                                 after_backoff=label_names[b])
                      for p, h, g, m, b in zip(premises, hypotheses, gold, model_pred, backoff_pred)],
                     dtype=object)
    fig = go.Figure()
    for lab, name in enumerate(label_names):
        at = gold == lab
        fig.add_trace(go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", name=str(name),
                                 text=list(texts[at]), hovertemplate="%{text}<extra></extra>",
                                 marker={"size": 7, "opacity": 0.75}))
    for mask, name, colour in ((fixed, "fixed by backoff", "green"), (broken, "broken by backoff", "orange")):
        if mask is None:
            continue
        at = np.asarray(mask, dtype=bool)
        fig.add_trace(go.Scatter(x=emb[at, 0], y=emb[at, 1], mode="markers", name=name,
                                 text=list(texts[at]), hovertemplate="%{text}<extra></extra>",
                                 marker={"size": 13, "symbol": "circle-open", "color": colour,
                                         "line": {"width": 2}}))
    fig.update_layout(title=title, hovermode="closest", template="plotly_white", height=560,
                      xaxis={"title": "t-SNE 1", "showticklabels": False},
                      yaxis={"title": "t-SNE 2", "showticklabels": False},
                      margin={"l": 40, "r": 20, "t": 50, "b": 40})
    return fig


def figure_html(fig, plotlyjs: str = PLOTLY_JS_URL) -> str:
    """The figure as an HTML fragment that loads plotly.js from ``plotlyjs`` (on the site).

    Example
    -------
    >>> import plotly.graph_objects as go
    >>> snippet = figure_html(go.Figure())
    >>> '<script charset="utf-8" src="../plotly/plotly.min.js"></script>' in snippet, "cdn." in snippet
    (True, False)
    """
    if not plotlyjs.endswith(".js"):
        raise ValueError(f"plotlyjs must be the URL of plotly.min.js (ending in .js); got {plotlyjs!r}")
    return fig.to_html(full_html=False, include_plotlyjs=plotlyjs, include_mathjax=False,
                       config={"displaylogo": False, "responsive": True})
