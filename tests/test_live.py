"""nbhelpers.live: the ONNX export (cached, checked), the agreement with PyTorch, the choice of variant, the
page's files, and the browser's tokenizer (book/_static/live-tokenizer.js, run by Node) against Python's."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbhelpers import knn, live, models

ROOT = Path(__file__).resolve().parents[1]


def test_onnx_export_gives_pytorchs_answers_and_is_cached(tiny_model, tiny_pairs, cache, monkeypatch):
    p_torch = models.predict_proba(tiny_model, tiny_pairs, cache=False, progress=False)
    reps = models.encode(tiny_model, tiny_pairs, cache=False, progress=False)
    path = live.export_onnx(tiny_model, variant="fp32", cache=cache)
    p, cls = live._onnx_outputs(path, tiny_pairs, tokenizer=tiny_model.tokenizer)
    assert p.shape == (12, 3) and cls.shape == (12, tiny_model.hidden_size)
    np.testing.assert_allclose(p, p_torch, atol=1e-4)
    np.testing.assert_allclose(cls, reps, atol=1e-3)
    small = live.export_onnx(tiny_model, variant="fp16+int8-embeddings", cache=cache)
    assert small.stat().st_size < 0.45 * path.stat().st_size  # int8 table, float16 matrices
    p_small, _ = live._onnx_outputs(small, tiny_pairs, tokenizer=tiny_model.tokenizer)
    assert np.abs(p_small - p_torch).max() < 0.02
    monkeypatch.setattr(live, "_export", lambda *a: pytest.fail("exported again, not loaded from the cache"))
    assert live.export_onnx(tiny_model, variant="fp32", cache=cache) == path


def test_export_onnx_names_bad_arguments(tiny_model, cache):
    with pytest.raises(ValueError, match="variant='int4' but expected one of 'fp32'"):
        live.export_onnx(tiny_model, variant="int4", cache=cache)
    with pytest.raises(TypeError, match="model must be an NLIModel"):
        live.export_onnx("minilm", cache=cache)


def _store(train, labels, k=1):
    fitted = knn.KNN(k=k, temperature=1.0).fit(np.asarray(train, float), labels)
    return fitted, live.datastore(fitted)


def test_datastore_and_its_neighbors_match_knn():
    fitted, store = _store([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], [0, 1, 2])
    assert store["z"].dtype == np.float16 and store["labels"].tolist() == [0, 1, 2] and store["k"] == 1
    queries = np.array([[1.9, 0.1], [0.2, 3.0]])
    d, i = live._store_neighbors(store, queries)
    d_knn, i_knn = fitted.kneighbors(queries)
    assert i.tolist() == i_knn.tolist() == [[1], [2]]
    np.testing.assert_allclose(d, d_knn, rtol=1e-2)
    assert live._store_neighbors(store, queries, 3)[1].tolist() == fitted.kneighbors(queries, k=3)[1].tolist()


def _compare(tmp_path, monkeypatch, cache, p, reps, outputs, fitted, store, **kw):
    """compare_variants on fake exports (90, 23, 45, 34 bytes) whose ONNX outputs are ``outputs[variant]``."""
    for v, size in zip(live.VARIANTS, (90, 23, 45, 34)):
        (tmp_path / v).mkdir(exist_ok=True)
        (tmp_path / v / "model.onnx").write_bytes(b"x" * size)
    monkeypatch.setattr(live, "export_onnx", lambda model, variant, cache: tmp_path / variant / "model.onnx")
    monkeypatch.setattr(live, "_onnx_outputs", lambda path, pairs, tokenizer: outputs[path.parent.name])
    model = type("Model", (), {"tokenizer": None})()
    pairs = pd.DataFrame({"premise": list("abcd")[:len(p)], "hypothesis": list("efgh")[:len(p)]})
    return live.compare_variants(model, pairs, p, reps, fitted, store, cache=cache, **kw)


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
    outputs = {v: (p, reps) for v in live.VARIANTS} | {"int8": (p[:, [1, 0, 2]], reps)}  # int8 flips all
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
    sizes = live.write_live(tmp_path, "snli-original", model_path=model, store=store, train=train, tau=0.6,
                            tokenizer=tiny_model.tokenizer, titles={"snli-original": "SNLI original"})
    folder = tmp_path / live.LIVE_DIR
    assert sizes["snli-original.bin"] == 3 * 2 * 2 == (folder / "snli-original.bin").stat().st_size
    meta = json.loads((folder / "snli-original.json").read_text())
    assert (meta["n"], meta["dim"], meta["k"], meta["tau"]) == (3, 2, 1, 0.6)
    assert meta["premise"] == ["a", "b", "c"] and meta["label"] == [0, 1, 2]
    assert json.loads((folder / "index.json").read_text()) == {"snli-original": "SNLI original"}
    vocab = (folder / "vocab.txt").read_text().split("\n")
    assert vocab[tiny_model.tokenizer.cls_token_id] == "[CLS]"
    with pytest.raises(ValueError, match="titles lacks keys"):
        live.write_live(tmp_path, "x", model_path=model, store=store, train=train, tau=0.6,
                        tokenizer=tiny_model.tokenizer, titles={})
    with pytest.raises(ValueError, match="train is length 2 and the store.s states is length 3"):
        live.write_live(tmp_path, "x", model_path=model, store=store, train=train[:2], tau=0.6,
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
