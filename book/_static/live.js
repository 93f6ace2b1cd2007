/* The live explorer (chapter 7, book/07_explorer.ipynb): the reader types a premise and a hypothesis,
   and the fine-tuned model runs in the browser (ONNX Runtime Web, WebAssembly), with its k nearest
   training neighbours, the kNN probabilities at the tuned k and T, and the backoff decision (tau).

   The page holds #live-explorer, whose data-runtime and data-files name the folders of the runtime
   (copied from node_modules by scripts/build_book.py) and of the files nbhelpers.explorer wrote:
   index.json {name: title}, vocab.txt, and per model <name>.onnx, <name>.bin (the normalised
   training states, float16) and <name>.json (statistics, labels, texts, k, T, tau). Nothing is
   fetched before the reader focuses a box or presses a button; nothing comes from another site.
   live-tokenizer.js (loaded before this file) gives the token ids. Texts go in with textContent. */
(function () {
  "use strict";
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(x, d) { return Number(x).toFixed(d); }
  function argmax(a) { var j = 0; for (var i = 1; i < a.length; i++) if (a[i] > a[j]) j = i; return j; }

  var HALF = null;  // float16 bits -> float32, built once
  function halfTable() {
    if (HALF) return HALF;
    HALF = new Float32Array(65536);
    for (var h = 0; h < 65536; h++) {
      var s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
      HALF[h] = e === 0 ? s * f * Math.pow(2, -24) : e === 31 ? (f ? NaN : s * Infinity)
        : s * (1 + f / 1024) * Math.pow(2, e - 15);
    }
    return HALF;
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }
  function fetchOk(url, how) {
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " for " + url);
      return r[how]();
    });
  }

  function start() {
    var root = document.getElementById("live-explorer");
    if (!root || root.dataset.ready) return;
    root.dataset.ready = "1";
    var $ = function (id) { return document.getElementById(id); };
    var premise = $("live-premise"), hypothesis = $("live-hypothesis"), run = $("live-run"),
        keep = $("live-compare"), status = $("live-status"), switcher = $("live-model"),
        answerBox = $("live-answer"), keptBox = $("live-kept");
    var runtime = root.dataset.runtime, files = root.dataset.files;
    var models = {}, tokenizer = null, ortReady = null, current = null, last = null, kept = null;
    var api = window.LiveExplorer = {answers: [], readyMs: {}};

    if (location.protocol === "file:") {  // WebAssembly and fetch() do not load from file://
      $("live-file-note").hidden = false;
      [premise, hypothesis, run, keep].forEach(function (x) { x.disabled = true; });
      status.textContent = "The live explorer needs the site served over http (see the note above).";
      return;
    }
    function say(text) { status.textContent = text; }

    function runtimeReady() {
      if (!ortReady) {
        ortReady = loadScript(runtime + "ort.wasm.min.js").then(function () {
          window.ort.env.wasm.wasmPaths = new URL(runtime, location.href).href;
          window.ort.env.wasm.numThreads = window.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
          window.ort.env.logLevel = "error";
        });
      }
      return ortReady;
    }
    function tokenizerReady() {
      if (!tokenizer) {
        tokenizer = fetchOk(files + "vocab.txt", "text").then(function (v) { return new LiveTokenizer.Tokenizer(v); });
      }
      return tokenizer;
    }
    function model(name) {  // {session, meta, z (Float32Array n * dim)}, loaded once
      if (!models[name]) {
        var t0 = performance.now();
        say("Loading the model and its " + "datastore (once)...");
        models[name] = Promise.all([
          runtimeReady().then(function () {
            return window.ort.InferenceSession.create(files + name + ".onnx", {executionProviders: ["wasm"]});
          }),
          fetchOk(files + name + ".json", "json"),
          fetchOk(files + name + ".bin", "arrayBuffer"),
          tokenizerReady()
        ]).then(function (r) {
          var bits = new Uint16Array(r[2]), table = halfTable(), z = new Float32Array(bits.length);
          for (var i = 0; i < bits.length; i++) z[i] = table[bits[i]];
          if (z.length !== r[1].n * r[1].dim) throw new Error(name + ".bin does not hold n x dim states");
          api.readyMs[name] = performance.now() - t0;
          say("Model ready in " + fmt(api.readyMs[name] / 1000, 1) + " s (measured now, in your browser).");
          return {session: r[0], meta: r[1], z: z, tok: r[3]};
        });
        models[name].catch(function (err) { say("The model could not be loaded: " + err.message); });
      }
      return models[name];
    }

    function answer(m, a, b) {
      var t0 = performance.now(), meta = m.meta, enc = m.tok.encodePair(a, b), n = enc.input_ids.length;
      var feeds = {};
      ["input_ids", "attention_mask", "token_type_ids"].forEach(function (key) {
        feeds[key] = new window.ort.Tensor("int64", BigInt64Array.from(enc[key].map(BigInt)), [1, n]);
      });
      return m.session.run(feeds).then(function (out) {
        var pModel = Array.from(out.proba.data), cls = out.cls.data, dim = meta.dim;
        var q = new Float32Array(dim);
        for (var j = 0; j < dim; j++) q[j] = (cls[j] - meta.mean[j]) / meta.scale[j];
        var d = new Float32Array(meta.n);
        for (var i = 0; i < meta.n; i++) {
          var s = 0, off = i * dim;
          for (j = 0; j < dim; j++) { var t = q[j] - m.z[off + j]; s += t * t; }
          d[i] = s;
        }
        var order = Array.from(d.keys()).sort(function (x, y) { return d[x] - d[y] || x - y; }).slice(0, meta.k);
        var logits = order.map(function (i) { return -d[i] / meta.T; }), top = Math.max.apply(null, logits);
        var w = logits.map(function (l) { return Math.exp(l - top); }), sum = w.reduce(function (x, y) { return x + y; });
        w = w.map(function (x) { return x / sum; });
        var pKnn = meta.class_names.map(function () { return 0; });
        order.forEach(function (i, r) { pKnn[meta.label[i]] += w[r]; });
        var backedOff = Math.max.apply(null, pModel) <= meta.tau;
        return {premise: a, hypothesis: b, model: meta.name, title: meta.title, tokens: n, p_model: pModel,
                p_knn: pKnn, nn: order, dist: order.map(function (i) { return d[i]; }), w: w,
                backed_off: backedOff, pred: backedOff ? argmax(pKnn) : argmax(pModel),
                model_pred: argmax(pModel), ms: performance.now() - t0, meta: meta};
      });
    }

    function probTable(title, p, names) {
      var t = el("table", null, "live-probs"), head = el("tr");
      t.appendChild(el("caption", title));
      ["label", "probability"].forEach(function (h) { var th = el("th", h); th.scope = "col"; head.appendChild(th); });
      t.appendChild(head);
      names.forEach(function (name, c) {
        var tr = el("tr"), cell = el("td"), bar = el("span", null, "live-bar");
        bar.style.width = fmt(4 * p[c], 2) + "rem";
        cell.appendChild(bar); cell.appendChild(document.createTextNode(fmt(p[c], 3)));
        tr.appendChild(el("td", name)); tr.appendChild(cell); t.appendChild(tr);
      });
      return t;
    }
    function render(box, r, other, heading) {
      while (box.firstChild) box.removeChild(box.firstChild);
      if (!r) return;
      var meta = r.meta, names = meta.class_names;
      box.appendChild(el("h3", heading));
      box.appendChild(el("p", "Premise: " + r.premise, "live-pair"));
      box.appendChild(el("p", "Hypothesis: " + r.hypothesis, "live-pair"));
      box.appendChild(el("p", r.title + " · " + r.tokens + " tokens · answered in " + fmt(r.ms, 0) + " ms", "live-meta"));
      var probs = el("div", null, "live-prob-pair");
      probs.appendChild(probTable("Model", r.p_model, names));
      probs.appendChild(probTable("kNN (k = " + meta.k + ", T = " + meta.T + ")", r.p_knn, names));
      box.appendChild(probs);
      var top = Math.max.apply(null, r.p_model);
      box.appendChild(el("p", (r.backed_off
        ? "Backoff used kNN: the model's top probability " + fmt(top, 3) + " is not above tau = " + meta.tau
        : "Backoff kept the model: its top probability " + fmt(top, 3) + " is above tau = " + meta.tau) +
        ". Prediction: " + names[r.pred] + ".", "live-backoff"));
      var wrap = el("div", null, "live-table-wrap"), t = el("table", null, "live-neighbours"), head = el("tr");
      t.appendChild(el("caption", "The " + meta.k + " nearest training pairs" +
        (other ? " (★: also among the other answer's)" : "")));
      ["#", "label", "squared distance", "weight", "premise", "hypothesis"].forEach(function (h) {
        var th = el("th", h); th.scope = "col"; head.appendChild(th);
      });
      t.appendChild(head);
      var shared = other && other.model === r.model ? new Set(other.nn) : new Set();
      r.nn.forEach(function (i, rank) {
        var lab = meta.label[i], tr = el("tr", null, "live-row" + (lab !== r.model_pred ? " live-disagree" : ""));
        [String(rank + 1) + (shared.has(i) ? " ★" : ""), names[lab], fmt(r.dist[rank], 1), fmt(r.w[rank], 3),
         meta.premise[i], meta.hypothesis[i]].forEach(function (c, col) {
          tr.appendChild(el("td", c, col >= 4 ? "live-text" : null));
        });
        tr.dataset.row = String(i);
        t.appendChild(tr);
      });
      wrap.appendChild(t); box.appendChild(wrap);
    }
    function show() {
      render(answerBox, last, kept, kept ? "New answer" : "Answer");
      render(keptBox, kept, last, "Kept answer");
      root.classList.toggle("live-comparing", !!kept);
    }

    function ask() {
      var a = premise.value.trim(), b = hypothesis.value.trim(), name = switcher.value;
      if (!a || !b) { say("Type a premise and a hypothesis first."); return Promise.resolve(null); }
      run.disabled = true;
      return model(name).then(function (m) { return answer(m, a, b); }).then(function (r) {
        last = r; api.answers.push(r); api.last = r;
        show();
        keep.disabled = false;
        say("Answered in " + fmt(r.ms, 0) + " ms (model ready in " + fmt(api.readyMs[name] / 1000, 1) + " s).");
        return r;
      }).catch(function (err) { say("No answer: " + err.message); }).finally(function () { run.disabled = false; });
    }
    api.ask = ask;

    fetchOk(files + "index.json", "json").then(function (index) {
      Object.keys(index).forEach(function (name) {
        var o = el("option", index[name]); o.value = name; switcher.appendChild(o);
      });
      switcher.disabled = Object.keys(index).length < 2;
      [premise, hypothesis].forEach(function (x) {
        x.addEventListener("focus", function () { model(switcher.value); });
      });
      switcher.addEventListener("change", function () { if (last) ask(); else model(switcher.value); });
      run.addEventListener("click", ask);
      keep.addEventListener("click", function () { kept = last; show(); });
      [premise, hypothesis].forEach(function (x) {
        x.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(); } });
      });
      run.disabled = false;
      say("Type a pair and press Answer (the model loads on first use).");
    }).catch(function () { say("The live explorer's files were not found: build the book (chapter 7 writes them)."); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
