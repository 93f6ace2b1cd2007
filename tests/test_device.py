"""nbhelpers.device: one place picks the device; the CPU path and its cache keys stay as they were."""
import pytest
import torch

from nbhelpers import device, models
from nbhelpers.cache import Cache


def test_env_override_and_default(monkeypatch):
    monkeypatch.setenv("NBHELPERS_DEVICE", "cpu")
    assert device.get_device() == torch.device("cpu")
    monkeypatch.delenv("NBHELPERS_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device.get_device().type == expected


@pytest.mark.parametrize("value, words", [
    ("gpu", "is not a device"),
    ("tpu:0", "is not a device|expected cpu, cuda"),
])
def test_bad_device_names_the_variable(monkeypatch, value, words):
    monkeypatch.setenv("NBHELPERS_DEVICE", value)
    with pytest.raises(ValueError, match=words):
        device.get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NBHELPERS_DEVICE", "cuda")
    with pytest.raises(ValueError, match="NBHELPERS_DEVICE='cuda' but torch finds no CUDA device"):
        device.get_device()


def test_precision(monkeypatch):
    monkeypatch.setenv("NBHELPERS_DEVICE", "cpu")
    monkeypatch.setenv("NBHELPERS_PRECISION", "bf16")
    assert device.get_precision() == "fp32"          # bf16 only on a GPU
    assert device.cache_parts() == {}
    monkeypatch.setenv("NBHELPERS_PRECISION", "fp8")
    with pytest.raises(ValueError, match="NBHELPERS_PRECISION='fp8'; expected one of"):
        device.get_precision()


def test_cpu_keys_unchanged_and_a_gpu_run_gets_its_own(tiny_pairs, tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    pretrained = models.load_pretrained("minilm", cache=cache)
    monkeypatch.setattr(models, "_train", lambda df, path, *, seed, progress, **recipe:
                        (pretrained.model, pretrained.tokenizer, {"train_loss": [1.0]}))
    kw = dict(epochs=1, batch_size=4, cache=cache, progress=False)
    monkeypatch.setenv("NBHELPERS_DEVICE", "cpu")
    cpu_key = models.fine_tune(tiny_pairs, **kw).key
    # the key an older nbhelpers (no device module) computed: the parts without a device entry
    monkeypatch.setattr(device, "cache_parts", lambda: {})
    assert models.fine_tune(tiny_pairs, **kw).key == cpu_key
    monkeypatch.setattr(device, "cache_parts", lambda: {"device": "cuda", "precision": "fp32"})
    gpu_key = models.fine_tune(tiny_pairs, **kw).key
    assert gpu_key != cpu_key
    # inference keys too
    reps_keys = []
    real = cache.array
    monkeypatch.setattr(cache, "array", lambda kind, parts, *a, **k: reps_keys.append(dict(parts)) or real(kind, parts, *a, **k))
    models.predict_proba(pretrained, tiny_pairs, cache=cache, progress=False)
    assert reps_keys and reps_keys[-1].get("device") == "cuda"
