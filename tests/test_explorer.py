"""nbhelpers.explorer: the compact data of the neighbour explorer, on hand-checkable arrays;
the page that reads it (chapter 7's HTML, book/_static/explorer.js and .css) is checked as files."""
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

import numpy as np
import pandas as pd
import pytest

from nbhelpers import explorer, knn, models

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "book" / "_static"
NODE = shutil.which("node")

TRAIN = pd.DataFrame({"premise": ["p0", "p1", "p2", "p3"], "hypothesis": ["h0", "h1", "h2", "h3"],
                      "label": [0, 1, 2, 2]})
QUERIES = pd.DataFrame({"premise": ["A dog runs.", "A man <b>sings</b>."],
                        "hypothesis": ["An animal moves.", "Nobody sings."], "label": [0, 2]},
                       index=[7, 9])
P_MODEL = [[0.9, 0.05, 0.05], [0.5, 0.1, 0.4]]
DIST = [[0.0, 1.0, 2.0], [0.0, 0.0, 5.0]]
IDX = [[0, 1, 3], [3, 2, 0]]


def records(**kw):
    args = dict(temperature=1.0, tau=0.6, name="snli", title="SNLI test", train_source="toy")
    args.update(kw)
    return explorer.explorer_records(QUERIES, TRAIN, P_MODEL, DIST, IDX, **args)


def test_weights_knn_probabilities_and_backoff_by_hand():
    r = records()
    ex = r["examples"]
    z = 1 + math.exp(-1) + math.exp(-2)
    assert ex["w"][0] == [round(1 / z, 3), round(math.exp(-1) / z, 3), round(math.exp(-2) / z, 3)]
    # example 1: two neighbours at 0 (labels 2, 2) and one far (label 0): p_knn ~ (0.003, 0, 0.997)
    assert ex["p_knn"][1][2] == pytest.approx(2 / (2 + math.exp(-5)), abs=1e-3)
    assert ex["model_pred"] == [0, 0]
    assert ex["backed_off"] == [0, 1]          # 0.9 > tau = 0.6; 0.5 is not
    assert ex["pred"] == [0, 2]                # the second goes to kNN: contradiction
    assert ex["model_correct"] == [1, 0]
    assert ex["id"] == [7, 9]
    assert ex["heuristic"] is None
    assert r["k"] == 3 and r["n_shown"] == 3 and r["tau"] == 0.6 and r["T"] == 1.0


def test_one_compact_training_table_holds_only_the_retrieved_rows():
    r = records()
    assert r["train"]["row"] == [0, 1, 2, 3]
    r = records(n_shown=1)
    assert r["train"]["row"] == [0, 3]         # only the nearest neighbour of each is listed
    assert r["examples"]["nn"] == [[0], [1]]   # indices into the compact table
    assert r["train"]["premise"] == ["p0", "p3"] and r["train"]["label"] == [0, 2]
    assert r["examples"]["w"][0] == [0.665]    # weights still from all k = 3
    assert r["k"] == 3 and r["n_shown"] == 1
    for i, row in enumerate(r["examples"]["nn"]):
        for j, t in enumerate(row):
            assert r["train"]["row"][t] == IDX[i][j]


def test_label_map_scores_hans_as_entailment_vs_not():
    q = QUERIES.assign(label=[0, 1], heuristic=["constituent", "lexical_overlap"])
    r = explorer.explorer_records(q, TRAIN, P_MODEL, DIST, IDX, temperature=1.0, tau=0.6,
                                  name="hans", title="HANS test", label_map=[0, 1, 1],
                                  gold_names=["entailment", "non-entailment"])
    assert r["examples"]["model_correct"] == [1, 0]
    assert r["examples"]["heuristic"] == ["constituent", "lexical_overlap"]
    assert r["label_map"] == [0, 1, 1] and r["gold_names"] == ["entailment", "non-entailment"]


@pytest.mark.parametrize("kw, message", [
    (dict(p_model=[[0.9, 0.1, 0.0]]), r"p_model must have shape \(2, 3\).*got shape \(1, 3\)"),
    (dict(p_model=[[0.9, 0.9, 0.0], [0.5, 0.1, 0.4]]), "p_model rows must each sum to 1"),
    (dict(distances=[[0.0, 1.0]]), r"distances must have shape \(2, k\).*got shape \(1, 2\)"),
    (dict(indices=[[0, 1], [3, 2]]), r"distances has shape \(2, 3\) and indices has shape \(2, 2\)"),
    (dict(indices=[[0, 1, 4], [3, 2, 0]]), r"indices must be integers in 0..3"),
    (dict(temperature=0.0), "temperature == 0.0, must be > 0"),
    (dict(tau=1.5), "tau == 1.5, must be <= 1"),
    (dict(n_shown=0), "n_shown == 0, must be >= 1"),
    (dict(label_map=[0, 1]), r"label_map must be 3 integers in 0..2.*got \[0, 1\]"),
])
def test_inputs_are_checked_with_clear_messages(kw, message):
    args = dict(p_model=P_MODEL, distances=DIST, indices=IDX, temperature=1.0, tau=0.6)
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        explorer.explorer_records(QUERIES, TRAIN, args.pop("p_model"), args.pop("distances"),
                                  args.pop("indices"), name="x", title="X", **args)


def test_missing_columns_and_bad_gold_labels_are_named():
    with pytest.raises(ValueError, match=r"queries lacks columns \['hypothesis'\]"):
        explorer.explorer_records(QUERIES.drop(columns="hypothesis"), TRAIN, P_MODEL, DIST, IDX,
                                  temperature=1.0, tau=0.5, name="x", title="X")
    with pytest.raises(ValueError, match=r"queries\['label'\] must be integers in 0..1"):
        explorer.explorer_records(QUERIES, TRAIN, P_MODEL, DIST, IDX, temperature=1.0, tau=0.5,
                                  name="x", title="X", gold_names=["entailment", "non-entailment"])


def test_written_file_is_a_script_whose_json_round_trips_and_cannot_close_the_tag(tmp_path):
    data = explorer.explorer_data(records(), smoke=True, backbone="minilm")
    size = explorer.write_explorer(data, tmp_path / "sub")
    text = (tmp_path / "sub" / "explorer-data.js").read_text()
    assert size == len(text.encode())
    assert text.startswith("window.EXPLORER_DATA = {") and text.endswith("};\n")
    assert "</" not in text and "<\\/b>" in text
    assert json.loads(text[len("window.EXPLORER_DATA = "):-2]) == json.loads(json.dumps(data))
    with pytest.raises(ValueError, match="set names must be unique"):
        explorer.explorer_data(records(), records())
    with pytest.raises(TypeError, match="data must be a dict"):
        explorer.write_explorer([1], tmp_path)


def test_stable_sample_ranks_each_id_alone_so_chapters_agree():
    full = explorer.stable_sample(np.arange(1000), 50, seed=0)
    assert len(full) == 50 and np.all(np.diff(full) > 0)
    assert set(explorer.stable_sample(np.arange(1000), 20, seed=0)) <= set(full)   # nested in n
    some = np.arange(0, 1000, 3)                                                   # a subset of the rows
    picked = some[explorer.stable_sample(some, 50, seed=0)]
    assert set(full) & set(some) <= set(picked)
    shuffled = np.random.default_rng(1).permutation(1000)                          # order does not matter
    assert set(shuffled[explorer.stable_sample(shuffled, 50, seed=0)]) == set(full)
    assert set(explorer.stable_sample(np.arange(1000), 50, seed=1)) != set(full)
    with pytest.raises(ValueError, match="ids must be a 1-D array of integer row ids.*got shape \\(2, 2\\)"):
        explorer.stable_sample([[1, 2], [3, 4]], 2)
    with pytest.raises(ValueError, match="n == 0, must be >= 1"):
        explorer.stable_sample([1, 2], 0)


def test_write_explorer_writes_the_data_file_only_and_returns_its_size(tmp_path):
    data = explorer.explorer_data(records(), records(name="hans-val", query_ids=[3, 4]))
    size = explorer.write_explorer(data, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [explorer.DATA_FILE]
    assert size == (tmp_path / explorer.DATA_FILE).stat().st_size
    with pytest.raises(ValueError, match=r"data lacks keys \['sets'\]"):
        explorer.write_explorer({"tables": []}, tmp_path)


def test_sets_with_one_datastore_share_one_table_and_keep_their_neighbours():
    a, b = records(n_shown=1), records(name="snli-val", n_shown=2)
    other = records(name="hans", train_source="mnli")
    data = explorer.explorer_data(a, b, other)
    assert [t["source"] for t in data["tables"]] == ["toy", "mnli"]
    shared = data["tables"][0]
    assert shared["row"] == [0, 1, 2, 3] and shared["premise"] == ["p0", "p1", "p2", "p3"]
    for original, packed in zip((a, b, other), data["sets"]):
        table = data["tables"][packed["table"]]
        assert "train" not in packed and "train" in original          # the records are not changed
        for nn_packed, nn_original in zip(packed["examples"]["nn"], original["examples"]["nn"]):
            assert [table["row"][t] for t in nn_packed] == [original["train"]["row"][t] for t in nn_original]
    clash = records(name="x")
    clash["train"] = dict(clash["train"], premise=["changed"] + clash["train"]["premise"][1:])
    with pytest.raises(ValueError, match="sets with train_source 'toy' disagree on training row 0"):
        explorer.explorer_data(a, clash)


INJECTIONS = ["</script><script>alert(1)</script>", "</SCRIPT >", "<!--<script>", "-->",
              "\"quoted\" 'single'", "back\\slash", "line\u2028separator\u2029paragraph", "nul\x00byte",
              "emoji \U0001F600", "${x} `tick`", "]]>", "<img src=x onerror=alert(1)>", "\r\nnew line"]


def _injected():
    q = QUERIES.assign(premise=INJECTIONS[:2], hypothesis=INJECTIONS[2:4])
    tr = TRAIN.assign(premise=INJECTIONS[4:8], hypothesis=INJECTIONS[8:12])
    r = explorer.explorer_records(q, tr, P_MODEL, DIST, IDX, temperature=1.0, tau=0.6, name="x",
                                  title=INJECTIONS[12], train_source=INJECTIONS[0])
    return explorer.explorer_data(r, backbone=INJECTIONS[6])


def test_injected_texts_stay_inert_ascii_data(tmp_path):
    data = _injected()
    path = tmp_path / explorer.DATA_FILE
    explorer.write_explorer(data, tmp_path)
    raw = path.read_bytes()
    assert max(raw) < 128                           # ASCII: U+2028/U+2029 and the emoji are escapes
    text = raw.decode()
    assert "</" not in text and "<!--" in text      # nothing can close a script element
    assert "\u2028" not in text and "\\u2028" in text
    assert json.loads(text[len("window.EXPLORER_DATA = "):-2]) == json.loads(json.dumps(data))


@pytest.mark.skipif(NODE is None, reason="node is not installed (make test installs it for MathJax)")
def test_injected_data_file_evaluates_to_the_same_data_in_javascript(tmp_path):
    data = _injected()
    explorer.write_explorer(data, tmp_path)
    script = ("const vm = require('vm'), fs = require('fs'); const window = {};"
              "vm.runInNewContext(fs.readFileSync(process.argv[1], 'ascii'), {window});"
              "process.stdout.write(JSON.stringify(window.EXPLORER_DATA));")
    out = subprocess.run([NODE, "-e", script, str(tmp_path / explorer.DATA_FILE)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert json.loads(out) == json.loads(json.dumps(data))


def _page_html():
    """The explorer's HTML: chapter 7's markdown cell with the raw html block."""
    nb = nbformat.read(ROOT / "book" / "07_explorer.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "markdown" and "```{raw} html" in c.source
               and 'id="knn-explorer"' in c.source]  # the live explorer has a raw html block of its own
    return cell.source


def test_the_page_is_files_the_chapter_loads_data_then_script_and_style():
    html = _page_html()
    data_at = html.index(f'<script src="{explorer.DATA_FILE}"></script>')
    script_at = html.index('<script src="../_static/explorer.js"></script>')
    assert data_at < script_at                      # the script finds the data already there
    assert '<link rel="stylesheet" href="../_static/explorer.css">' in html
    assert (STATIC / "explorer.js").is_file() and (STATIC / "explorer.css").is_file()
    assert "book/_static" in (ROOT / "_config.yml").read_text()   # html_static_path serves them
    assert "<script>" not in html and "<style" not in html        # no inline code in the chapter


def test_every_element_the_script_needs_is_on_the_page_and_texts_go_in_as_text():
    js = (STATIC / "explorer.js").read_text()
    html = _page_html()
    ids = set(re.findall(r'(?:getElementById|\$)\("([\w-]+)"\)', js))
    assert {"knn-explorer", "explorer-search", "explorer-list", "explorer-detail"} <= ids
    assert all(f'id="{i}"' in html for i in ids), sorted(i for i in ids if f'id="{i}"' not in html)
    for hook in ("explorer-item", "neighbour-row", "explorer-neighbours", "EXPLORER_DATA"):
        assert hook in js
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "explorer.css").read_text(), flags=re.S)
    selectors = [s for block in css.split("}") if "{" in block for s in block.split("{")[0].split(",")]
    assert len(selectors) > 15 and all(s.strip().startswith("#knn-explorer") for s in selectors)  # scoped


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_static_script_parses():
    subprocess.run([NODE, "--check", str(STATIC / "explorer.js")], check=True, timeout=60)


def test_the_module_writes_data_only():
    source = Path(explorer.__file__).read_text()
    assert not re.search(r"<script|<style|<div|function\s*\(|addEventListener|getElementById", source)
    assert not hasattr(explorer, "explorer_html")


def test_numbers_are_rounded_and_whole_ones_written_as_ints():
    q = pd.DataFrame({"premise": ["a"], "hypothesis": ["b"], "label": [1]})
    tr = pd.DataFrame({"premise": ["x", "y", "z"], "hypothesis": ["u", "v", "w"], "label": [0, 1, 1]})
    r = explorer.explorer_records(q, tr, [[0.5, 0.3, 0.2]], [[0.0, 1.0]], [[2, 0]], temperature=1.0, tau=0.6,
                                  name="t", title="T")
    assert r["examples"]["w"] == [[0.731, 0.269]] and r["examples"]["p_knn"] == [[0.269, 0.731, 0]]
    assert type(r["examples"]["p_knn"][0][2]) is int and r["examples"]["dist"] == [[0, 1]]
    assert r["examples"]["pred"] == [1] and r["train"]["row"] == [0, 2]


# the live explorer: the ONNX export (cached, checked), its agreement with PyTorch, the choice of
# variant, the page's files, and the browser's tokenizer (live-tokenizer.js, run by Node) against Python's
def test_onnx_export_gives_pytorchs_answers_and_is_cached(tiny_model, tiny_pairs, cache, monkeypatch):
    p_torch = models.predict_proba(tiny_model, tiny_pairs, cache=False, progress=False)
    reps = models.encode(tiny_model, tiny_pairs, cache=False, progress=False)
    path = explorer.export_onnx(tiny_model, variant="fp32", cache=cache)
    p, cls = explorer._onnx_outputs(path, tiny_pairs, tokenizer=tiny_model.tokenizer)
    assert p.shape == (12, 3) and cls.shape == (12, tiny_model.hidden_size)
    np.testing.assert_allclose(p, p_torch, atol=1e-4)
    np.testing.assert_allclose(cls, reps, atol=1e-3)
    small = explorer.export_onnx(tiny_model, variant="fp16+int8-embeddings", cache=cache)
    assert small.stat().st_size < 0.45 * path.stat().st_size  # int8 table, float16 matrices
    p_small, _ = explorer._onnx_outputs(small, tiny_pairs, tokenizer=tiny_model.tokenizer)
    assert np.abs(p_small - p_torch).max() < 0.02
    monkeypatch.setattr(explorer, "_export", lambda *a: pytest.fail("exported again, not loaded from the cache"))
    assert explorer.export_onnx(tiny_model, variant="fp32", cache=cache) == path


def test_export_onnx_names_bad_arguments(tiny_model, cache):
    with pytest.raises(ValueError, match="variant='int4' but expected one of 'fp32'"):
        explorer.export_onnx(tiny_model, variant="int4", cache=cache)
    with pytest.raises(TypeError, match="model must be an NLIModel"):
        explorer.export_onnx("minilm", cache=cache)


def _store(train, labels, k=1):
    fitted = knn.KNN(k=k, temperature=1.0).fit(np.asarray(train, float), labels)
    return fitted, explorer.datastore(fitted)


def test_datastore_and_its_neighbors_match_knn():
    fitted, store = _store([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], [0, 1, 2])
    assert store["z"].dtype == np.float16 and store["labels"].tolist() == [0, 1, 2] and store["k"] == 1
    queries = np.array([[1.9, 0.1], [0.2, 3.0]])
    d, i = explorer._store_neighbors(store, queries)
    d_knn, i_knn = fitted.kneighbors(queries)
    assert i.tolist() == i_knn.tolist() == [[1], [2]]
    np.testing.assert_allclose(d, d_knn, rtol=1e-2)
    assert explorer._store_neighbors(store, queries, 3)[1].tolist() == fitted.kneighbors(queries, k=3)[1].tolist()


def _compare(tmp_path, monkeypatch, cache, p, reps, outputs, fitted, store, **kw):
    """compare_variants on fake exports (90, 23, 45, 34 bytes) whose ONNX outputs are ``outputs[variant]``."""
    for v, size in zip(explorer.VARIANTS, (90, 23, 45, 34)):
        (tmp_path / v).mkdir(exist_ok=True)
        (tmp_path / v / "model.onnx").write_bytes(b"x" * size)
    monkeypatch.setattr(explorer, "export_onnx", lambda model, variant, cache: tmp_path / variant / "model.onnx")
    monkeypatch.setattr(explorer, "_onnx_outputs", lambda path, pairs, tokenizer: outputs[path.parent.name])
    model = type("Model", (), {"tokenizer": None})()
    pairs = pd.DataFrame({"premise": list("abcd")[:len(p)], "hypothesis": list("efgh")[:len(p)]})
    return explorer.compare_variants(model, pairs, p, reps, fitted, store, cache=cache, **kw)


def test_compare_variants_counts_argmax_probability_and_neighbour_overlap(tmp_path, monkeypatch, cache):
    fitted, store = _store([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [5.0, 5.0]], [0, 1, 2, 0])
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    reps = np.array([[0.1, 0.0], [4.0, 4.0]])
    moved = (p[:, [1, 0, 2]], np.array([[0.1, 0.0], [0.0, 4.0]]))
    outputs = {"fp32": (p, reps), "int8": moved, "fp16": moved, "fp16+int8-embeddings": moved}
    table, _ = _compare(tmp_path, monkeypatch, cache, p, reps, outputs, fitted, store, k=2)
    assert table.loc["fp32"].drop("MB").to_dict() == {
        "argmax agreement": 1.0, "max probability difference": 0.0, "mean overlap of 2 neighbours": 1.0}
    moved = table.loc["int8"]
    assert moved["argmax agreement"] == 0.0 and moved["max probability difference"] == pytest.approx(0.3)
    assert moved["mean overlap of 2 neighbours"] == 0.75  # first: {0, 1} both times; second: {3, 2} -> {2, 0}
    with pytest.raises(ValueError, match=r"p_torch has shape \(2, 2\) and the ONNX model's probabilities"):
        _compare(tmp_path, monkeypatch, cache, p[:, :2], reps, outputs, fitted, store, k=2)


def test_compare_variants_keeps_the_smallest_variant_meeting_both_bars(tmp_path, monkeypatch, cache):
    fitted, store = _store([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], [0, 1, 2])
    p, reps = np.array([[0.6, 0.3, 0.1]] * 4), np.array([[0.1, 0.0]] * 4)
    outputs = {v: (p, reps) for v in explorer.VARIANTS} | {"int8": (p[:, [1, 0, 2]], reps)}  # int8 flips all
    table, chosen = _compare(tmp_path, monkeypatch, cache, p, reps, outputs, fitted, store, k=2)
    assert chosen == "fp16+int8-embeddings" and table.loc["int8", "argmax agreement"] == 0.0
    assert table["MB"].tolist() == [90e-6, 23e-6, 45e-6, 34e-6]
    again, chosen = _compare(tmp_path, monkeypatch, cache, p, reps, None, fitted, store, k=2,
                             min_overlap=1.01)  # a rerun reads the outputs from the cache, runs none
    assert chosen == "fp32" and again.equals(table)  # none meets the bars: PyTorch's own weights


def test_write_live_writes_what_the_page_reads(tmp_path, tiny_model):
    _, store = _store([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], [0, 1, 2])
    train = pd.DataFrame({"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, 1, 2]})
    (model := tmp_path / "m.onnx").write_bytes(b"onnx")
    sizes = explorer.write_live(tmp_path, "snli-original", model_path=model, store=store, train=train, tau=0.6,
                            tokenizer=tiny_model.tokenizer, titles={"snli-original": "SNLI original"})
    folder = tmp_path / explorer.LIVE_DIR
    assert sizes["snli-original.bin"] == 3 * 2 * 2 == (folder / "snli-original.bin").stat().st_size
    meta = json.loads((folder / "snli-original.json").read_text())
    assert (meta["n"], meta["dim"], meta["k"], meta["tau"]) == (3, 2, 1, 0.6)
    assert meta["premise"] == ["a", "b", "c"] and meta["label"] == [0, 1, 2]
    assert json.loads((folder / "index.json").read_text()) == {"snli-original": "SNLI original"}
    vocab = (folder / "vocab.txt").read_text().split("\n")
    assert vocab[tiny_model.tokenizer.cls_token_id] == "[CLS]"
    with pytest.raises(ValueError, match="titles lacks keys"):
        explorer.write_live(tmp_path, "x", model_path=model, store=store, train=train, tau=0.6,
                        tokenizer=tiny_model.tokenizer, titles={})
    with pytest.raises(ValueError, match="train is length 2 and the store.s states is length 3"):
        explorer.write_live(tmp_path, "x", model_path=model, store=store, train=train[:2], tau=0.6,
                        tokenizer=tiny_model.tokenizer, titles={"x": "X"})


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_browser_tokenizer_gives_pythons_token_ids_on_200_snli_test_pairs(tmp_path):
    from transformers import AutoTokenizer

    from nbhelpers import data, explorer

    try:
        snli = data.load_nli("snli", "test")
    except (ValueError, OSError) as err:
        pytest.skip(f"SNLI test is not available here: {err}")
    tokenizer = AutoTokenizer.from_pretrained(models.resolve_backbone("minilm"))
    sample = snli.iloc[explorer.stable_sample(snli.index, 200)]
    pairs = [[p, h] for p, h in zip(sample["premise"], sample["hypothesis"])]
    pairs += [["Café naïve — ÅNGSTRÖM 東京!", "It's \"quoted\"\u00a0text\tand\u200bzero-width..."],
              ["x" * 120, "a"]]  # accents, CJK, odd spaces and controls, a word too long for WordPiece
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    (tmp_path / "vocab.txt").write_text("".join(f"{w}\n" for w, _ in vocab))
    out = subprocess.run(["node", str(ROOT / "tests" / "live_tokenize.js")], capture_output=True, text=True,
                         input=json.dumps({"vocab": str(tmp_path / "vocab.txt"), "pairs": pairs}), check=True)
    ids = json.loads(out.stdout)
    expected = [tokenizer(a, b, truncation=True, max_length=128)["input_ids"] for a, b in pairs]
    wrong = [i for i in range(len(pairs)) if ids[i] != expected[i]]
    assert not wrong, f"{len(wrong)} of {len(pairs)} pairs differ, e.g. {pairs[wrong[0]]}"
