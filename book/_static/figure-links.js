/* Links from the interactive figures (chapters 1 and 6) to the neighbour explorer.

   nbhelpers.interactive.figure_html(fig, explorer=...) loads explorer-index.js
   (window.EXPLORER_INDEX: the example ids the explorer holds, by set) and this file, and its
   plotly post_script calls knnExplorerLinks(plotId, explorerPage) once the figure is drawn.
   Each point carries its [set, id] as plotly customdata. A point the index lists says so
   in its tooltip and a click on it opens explorerPage#ex=SET:ID; the others have no link.
   The figure's dataset.explorerLinks counts the linked points. */
window.knnExplorerLinks = function (plotId, explorerPage) {
  "use strict";
  var gd = document.getElementById(plotId);
  var index = window.EXPLORER_INDEX || {};
  var known = {};
  Object.keys(index).forEach(function (s) { known[s] = new Set(index[s].map(String)); });
  function linked(c) { return !!(c && known[c[0]] && known[c[0]].has(String(c[1]))); }
  var templates = gd.data.map(function (t) {
    return (t.customdata || []).map(function (c) {
      return linked(c) ? "%{text}<br><i>click: open it in the neighbour explorer</i><extra></extra>"
                       : "%{text}<extra></extra>";
    });
  });
  var traces = templates.map(function (_, i) { return i; })
                        .filter(function (i) { return templates[i].length; });
  if (traces.length) {
    Plotly.restyle(gd, {hovertemplate: traces.map(function (i) { return templates[i]; })}, traces);
  }
  gd.dataset.explorerLinks = String(templates.reduce(function (a, t) {
    return a + t.filter(function (x) { return x.indexOf("click:") >= 0; }).length;
  }, 0));
  gd.on("plotly_click", function (ev) {
    var c = ev && ev.points && ev.points[0] && ev.points[0].customdata;
    if (!linked(c)) return;
    window.location.href = explorerPage + "#ex=" + encodeURIComponent(c[0]) + ":" + encodeURIComponent(c[1]);
  });
};
