/* The neighbour explorer (chapter 7, book/07_explorer.ipynb).

   The chapter's page holds the controls (#knn-explorer) and loads, in this order,
   explorer-data.js (window.EXPLORER_DATA, written by nbhelpers.explorer.write_explorer
   and copied next to the page by the build) and this file (served from _static/ through
   html_static_path). Every element is built with the DOM API and every text is inserted
   with textContent, never as markup. A link such as 07_explorer.html#ex=hans-val:123 (a
   shared link) opens that example. */
(function () {
  "use strict";
  var MAX_LIST = 300;
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(x, d) { return Number(x).toFixed(d); }
  function start() {
    var root = document.getElementById("knn-explorer");
    if (!root || root.dataset.ready) return;
    var data = window.EXPLORER_DATA;
    var count = document.getElementById("explorer-count");
    if (!data || !data.sets || !data.sets.length) {
      count.textContent =
        "The explorer's data file was not found: build the book (or run this chapter) first.";
      return;
    }
    root.dataset.ready = "1";
    var $ = function (id) { return document.getElementById(id); };
    var setSel = $("explorer-set"), search = $("explorer-search"), goldSel = $("explorer-gold"),
        corrSel = $("explorer-correct"), boSel = $("explorer-backoff"), heurSel = $("explorer-heuristic"),
        list = $("explorer-list"), detail = $("explorer-detail");
    var current = null, active = null, haystack = [];

    data.sets.forEach(function (s, i) {
      var o = el("option", s.title + " (" + s.examples.premise.length + ")");
      o.value = String(i);
      setSel.appendChild(o);
    });
    function options(sel, first, names) {
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      var o = el("option", first); o.value = ""; sel.appendChild(o);
      names.forEach(function (n, i) { var p = el("option", n); p.value = String(i); sel.appendChild(p); });
    }
    function chooseSet(i) {
      current = data.sets[i];
      var ex = current.examples;
      haystack = ex.premise.map(function (p, j) { return (p + " " + ex.hypothesis[j]).toLowerCase(); });
      options(goldSel, "any", current.gold_names);
      var heur = ex.heuristic ? Array.from(new Set(ex.heuristic)).sort() : [];
      options(heurSel, heur.length ? "any" : "(not HANS)", heur);
      heurSel.disabled = !heur.length;
      heurSel.dataset.names = JSON.stringify(heur);
      refresh();
      if (ex.premise.length) show(0);
    }
    function goldName(s, g) { return s.gold_names[g]; }
    function predGold(s, c) { return s.label_map ? s.label_map[c] : c; }
    function matches(j) {
      var ex = current.examples;
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (var w = 0; w < words.length; w++) if (haystack[j].indexOf(words[w]) < 0) return false;
      if (goldSel.value !== "" && ex.gold[j] !== Number(goldSel.value)) return false;
      if (corrSel.value !== "" && ex.model_correct[j] !== Number(corrSel.value)) return false;
      if (boSel.value !== "" && ex.backed_off[j] !== Number(boSel.value)) return false;
      if (heurSel.value !== "" && ex.heuristic) {
        var names = JSON.parse(heurSel.dataset.names);
        if (ex.heuristic[j] !== names[Number(heurSel.value)]) return false;
      }
      return true;
    }
    function refresh() {
      var ex = current.examples, hits = [];
      for (var j = 0; j < ex.premise.length; j++) if (matches(j)) hits.push(j);
      while (list.firstChild) list.removeChild(list.firstChild);
      hits.slice(0, MAX_LIST).forEach(function (j) {
        var b = el("button", null, "explorer-item"); b.type = "button"; b.dataset.index = String(j);
        b.setAttribute("role", "option");
        var ok = ex.model_correct[j] === 1;
        b.appendChild(el("span", ok ? "model right" : "model wrong",
                         "ex-tag " + (ok ? "ex-right" : "ex-wrong")));
        b.appendChild(el("span", "gold: " + goldName(current, ex.gold[j]), "ex-tag"));
        if (ex.heuristic) b.appendChild(el("span", ex.heuristic[j], "ex-tag"));
        if (ex.backed_off[j]) b.appendChild(el("span", "backed off to kNN", "ex-tag"));
        b.appendChild(el("span", ex.premise[j] + "  \u2192  " + ex.hypothesis[j]));
        b.addEventListener("click", function () { show(j); });
        list.appendChild(b);
      });
      count.textContent = hits.length + " of " + ex.premise.length + " examples match" +
        (hits.length > MAX_LIST ? " (the first " + MAX_LIST + " are listed)" : "");
    }
    function probTable(title, p, names) {
      var t = el("table"), cap = el("caption", title); t.appendChild(cap);
      p.forEach(function (v, c) {
        var tr = el("tr"); tr.appendChild(el("td", names[c]));
        var td = el("td"); var bar = el("span", null, "ex-bar"); bar.style.width = (v * 8) + "rem";
        td.appendChild(bar); td.appendChild(el("span", fmt(v, 3))); tr.appendChild(td); t.appendChild(tr);
      });
      return t;
    }
    function show(j) {
      var s = current, ex = s.examples;
      if (active) active.classList.remove("ex-active");
      active = list.querySelector('[data-index="' + j + '"]');
      if (active) active.classList.add("ex-active");
      while (detail.firstChild) detail.removeChild(detail.firstChild);
      detail.dataset.index = String(j);
      detail.appendChild(el("h3", s.title + ", example " + ex.id[j]));
      var mp = ex.model_pred[j];
      var pairs = [
        ["Premise", ex.premise[j]], ["Hypothesis", ex.hypothesis[j]],
        ["Gold label", goldName(s, ex.gold[j]) +
          (ex.heuristic ? " (heuristic: " + ex.heuristic[j] + ")" : "")],
        ["Model predicts", s.class_names[mp] +
          (s.label_map ? " (counts as " + goldName(s, predGold(s, mp)) + ")" : "") +
          (ex.model_correct[j] ? ": right" : ": wrong")]];
      var facts = el("table", null, "explorer-pair");
      pairs.forEach(function (p) {
        var tr = el("tr");
        tr.appendChild(el("th", p[0])); tr.appendChild(el("td", p[1])); facts.appendChild(tr);
      });
      detail.appendChild(facts);
      var probs = el("div"); probs.style.display = "flex"; probs.style.gap = "2rem";
      probs.appendChild(probTable("Model probabilities", ex.p_model[j], s.class_names));
      probs.appendChild(probTable("kNN probabilities (k = " + s.k + ", T = " + s.T + ")",
                                  ex.p_knn[j], s.class_names));
      detail.appendChild(probs);
      var top = Math.max.apply(null, ex.p_model[j]);
      var verdict = ex.backed_off[j]
        ? "Backoff used kNN: the model's top probability " + fmt(top, 3) + " is not above tau = " + s.tau +
          ", so the prediction is kNN's, " + s.class_names[ex.pred[j]] + "."
        : "Backoff kept the model: its top probability " + fmt(top, 3) + " is above tau = " + s.tau + ".";
      detail.appendChild(el("p", verdict, "explorer-backoff"));
      detail.appendChild(el("p", "The " + ex.nn[j].length + " nearest of the k = " + s.k +
        " training pairs kNN used (from " + s.train_source + "); weights are softmax(-d / T) over all k. " +
        "Shaded rows: the neighbour's label differs from the model's prediction."));
      var t = el("table", null, "explorer-neighbours"), head = el("tr");
      ["#", "label", "distance", "weight", "premise", "hypothesis"].forEach(function (h) {
        head.appendChild(el("th", h));
      });
      t.appendChild(head);
      ex.nn[j].forEach(function (r, i) {
        var T = data.tables[s.table], lab = T.label[r];
        var tr = el("tr", null, "neighbour-row" + (lab !== mp ? " ex-disagree" : ""));
        tr.title = "training pair " + T.row[r];
        [i + 1, s.class_names[lab] + (lab !== mp ? " \u2260" : ""), fmt(ex.dist[j][i], 1), fmt(ex.w[j][i], 3),
         T.premise[r], T.hypothesis[r]].forEach(function (v) { tr.appendChild(el("td", v)); });
        t.appendChild(tr);
      });
      detail.appendChild(t);
    }
    [search].forEach(function (c) { c.addEventListener("input", refresh); });
    [goldSel, corrSel, boSel, heurSel].forEach(function (c) { c.addEventListener("change", refresh); });
    setSel.addEventListener("change", function () { chooseSet(Number(setSel.value)); });
    function openLinked() {
      // a link such as 07_explorer.html#ex=hans-val:123 (a shared link) opens that example
      var m = /ex=([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)/.exec(window.location.hash);
      var at = -1, set = -1;
      if (m) data.sets.forEach(function (s, i) { if (s.name === m[1]) set = i; });
      if (set < 0) return false;
      if (current !== data.sets[set]) { setSel.value = String(set); chooseSet(set); }
      at = current.examples.id.map(String).indexOf(m[2]);
      if (at < 0) return true;  // the set, but not this example: its first one stays shown
      search.value = ""; goldSel.value = ""; corrSel.value = ""; boSel.value = ""; heurSel.value = "";
      refresh();
      show(at);
      if (active) active.scrollIntoView({block: "nearest"});
      detail.scrollIntoView({block: "start"});
      return true;
    }
    setSel.value = "0";
    if (!openLinked()) chooseSet(0);
    window.addEventListener("hashchange", openLinked);
  }
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
