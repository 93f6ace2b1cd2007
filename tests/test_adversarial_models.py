"""Adversarial cases for nbhelpers.models (issue 18): arguments checked at the door,
nothing wrong written to the cache, damaged checkpoints rebuilt, clear errors."""
import numpy as np
import pandas as pd
import pytest

from nbhelpers import models
from nbhelpers.cache import Cache, make_key


def _cached_files(cache, kind):
    folder = cache.root / kind
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------
# class 1: garbage never enters the cache
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size, words", [
    (-1, "batch_size=-1 but expected batch_size >= 1"),
    (0, "batch_size=0 but expected batch_size >= 1"),
    (2.5, r"batch_size must be an integer; got 2.5"),
    (True, r"batch_size must be an integer; got True"),
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
    (0, "max_length=0 but expected max_length >= 1"),
    (100_000, "max_length=100000 but the 'minilm' backbone has 512 positions"),
    (513, "expected max_length <= 512"),
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
# class 8: errors that are clear errors (text inputs, labels)
# ---------------------------------------------------------------------------------------
def test_predict_texts_refuses_strings_instead_of_lists(tiny_model):
    with pytest.raises(TypeError, match=r"premises must be a list of strings.*single str 'A dog runs.'"):
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
    with pytest.raises(ValueError, match=rf"column 'premise' must hold strings; row 4 .*holds {shown}"):
        models.predict_proba(tiny_model, df, cache=cache, progress=False)
    with pytest.raises(ValueError, match="column 'premise' must hold strings"):
        models.fine_tune(df, epochs=1, cache=cache, progress=False)


@pytest.mark.parametrize("labels, words", [
    ([True, False] * 6, "labels must be 0, 1 or 2; found booleans"),
    ([0.5] * 12, "labels must be 0, 1 or 2; found non-integers"),
    ([-1] + [0] * 11, r"labels must be 0, 1 or 2; found \[-1\]"),
    (["0"] * 12, "labels must be 0, 1 or 2; found non-integers"),
])
def test_fine_tune_refuses_bool_and_odd_labels(tiny_pairs, cache, labels, words):
    with pytest.raises(ValueError, match=words):
        models.fine_tune(tiny_pairs.assign(label=labels), epochs=1, cache=cache, progress=False)
    assert _cached_files(cache, "checkpoints") == []


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_size": True}, "batch_size must be a positive integer, got True"),
    ({"lr": float("nan")}, "lr must be a positive number"),
    ({"weight_decay": -0.1}, "weight_decay=-0.1 but expected weight_decay >= 0"),
    ({"max_length": 0}, "max_length=0 but expected max_length >= 1"),
    ({"seed": -1}, "seed=-1 but expected seed >= 0"),
    ({"warmup_ratio": "0.1"}, "warmup_ratio must be a real number"),
])
def test_fine_tune_checks_every_argument_first(tiny_pairs, cache, kwargs, words):
    with pytest.raises(ValueError, match=words):
        models.fine_tune(tiny_pairs, cache=cache, progress=False, **kwargs)
    assert _cached_files(cache, "checkpoints") == []


def test_fine_tune_refuses_max_length_beyond_the_positions(tiny_pairs, cache):
    with pytest.raises(ValueError, match="max_length=600 but the backbone .* has 512 positions"):
        models.fine_tune(tiny_pairs, epochs=1, max_length=600, cache=cache, progress=False)
    assert [p for p in _cached_files(cache, "checkpoints") if not p.endswith(".lock")] == []


# ---------------------------------------------------------------------------------------
# class 2: damaged checkpoints are rebuilt, not trusted
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
    from pathlib import Path
    f = Path(weights) / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x40  # same size, different bytes
    f.write_bytes(bytes(data))
    models.backbone_fingerprint.__globals__["_FINGERPRINTS"].clear()
    from nbhelpers import cache as cache_module
    cache_module._VERIFIED.clear()  # as in a new process
    m2 = tune(tiny_pairs)
    assert len(builds) == 2 and m2.key == m.key
    assert np.allclose(models.predict_texts(m2, ["A dog runs."], ["An animal moves."]), before)


def test_a_checkpoint_that_does_not_load_is_rebuilt(fast_fine_tune, tiny_pairs):
    import json
    from pathlib import Path
    from nbhelpers.cache import MANIFEST, file_sha256
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
