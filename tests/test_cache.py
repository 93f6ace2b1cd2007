"""The cache: keys, atomic writes, corruption detection, no pickles."""
import json
import multiprocessing as mp

import numpy as np
import pytest

from nbhelpers.cache import Cache, make_key


def test_key_changes_with_every_part():
    base = dict(backbone="minilm", weights="sha:1", data="d1", split="train", seed=0,
                recipe={"lr": 1e-4, "epochs": 5}, pooling="cls", layer=6)
    k0 = make_key(**base)
    for name, other in [("backbone", "mpnet"), ("weights", "sha:2"), ("data", "d2"),
                        ("split", "test"), ("seed", 1), ("recipe", {"lr": 3e-5, "epochs": 5}),
                        ("pooling", "mean"), ("layer", 5)]:
        assert make_key(**{**base, name: other}) != k0, name
    assert make_key(**dict(reversed(list(base.items())))) == k0


def test_key_includes_package_version(monkeypatch):
    import nbhelpers.cache as c

    k0 = make_key(x=1)
    monkeypatch.setattr(c, "__version__", "999")
    assert make_key(x=1) != k0


def test_key_rejects_unhashable_objects():
    with pytest.raises(TypeError, match="cannot use object in a cache key"):
        make_key(x=object())


def test_array_hit_on_second_call(cache):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    a = cache.array("reps", {"x": 1}, compute)
    b = cache.array("reps", {"x": 1}, compute)
    assert len(calls) == 1 and np.array_equal(a, b) and b.dtype == np.float32
    cache.array("reps", {"x": 2}, compute)
    assert len(calls) == 2


def test_truncated_array_is_detected_and_recomputed(cache):
    calls = []
    compute = lambda: calls.append(1) or np.ones((100, 4))
    cache.array("reps", {"x": 1}, compute)
    path = cache.path("reps", make_key(kind="reps", x=1), ".npy")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    out = cache.array("reps", {"x": 1}, compute)
    assert len(calls) == 2 and out.shape == (100, 4)


def test_flipped_byte_is_detected(cache):
    cache.array("reps", {"x": 1}, lambda: np.zeros(50))
    path = cache.path("reps", make_key(kind="reps", x=1), ".npy")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cache.load_array("reps", make_key(kind="reps", x=1)) is None


def test_object_arrays_are_refused(cache):
    with pytest.raises(ValueError, match="pickle"):
        cache.save_array("reps", "k", np.array([{"a": 1}], dtype=object))


def test_no_pickle_on_load(cache, monkeypatch):
    seen = {}
    real_load = np.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    cache.array("reps", {"x": 1}, lambda: np.zeros(3))
    cache.array("reps", {"x": 1}, lambda: np.zeros(3))
    assert seen.get("allow_pickle") is False


def test_directory_is_built_once_and_failed_build_leaves_nothing(cache):
    builds = []

    def build(tmp):
        builds.append(1)
        (tmp / "weights.bin").write_bytes(b"123")

    p1 = cache.directory("checkpoints", {"s": 1}, build)
    p2 = cache.directory("checkpoints", {"s": 1}, build)
    assert p1 == p2 and len(builds) == 1 and (p1 / "weights.bin").read_bytes() == b"123"

    def crash(tmp):
        (tmp / "half.bin").write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.directory("checkpoints", {"s": 2}, crash)
    assert cache.load_dir("checkpoints", make_key(kind="checkpoints", s=2)) is None
    assert [p.name for p in (cache.root / "checkpoints").iterdir()] == [p1.name]


def test_directory_with_a_shrunken_file_is_rebuilt(cache):
    build = lambda tmp: (tmp / "w.bin").write_bytes(b"0123456789")
    p = cache.directory("checkpoints", {"s": 1}, build)
    (p / "w.bin").write_bytes(b"01")
    assert cache.load_dir("checkpoints", p.name) is None
    p2 = cache.directory("checkpoints", {"s": 1}, build)
    assert (p2 / "w.bin").read_bytes() == b"0123456789"


def _race(root, barrier):
    barrier.wait()
    Cache(root).array("reps", {"x": 1}, lambda: np.arange(100000, dtype=np.float64))


def test_two_processes_computing_the_same_array_leave_one_valid_copy(tmp_path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_race, args=(tmp_path, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    files = sorted(f.name for f in (tmp_path / "reps").iterdir())
    assert len(files) == 2 and not any(f.endswith(".tmp") for f in files)  # .npy + .json
    key = make_key(kind="reps", x=1)
    assert np.array_equal(Cache(tmp_path).load_array("reps", key), np.arange(100000.0))


def test_json_roundtrip(cache):
    calls = []
    f = lambda: calls.append(1) or {"a": 1.5}
    assert cache.json("results", {"x": 1}, f) == {"a": 1.5}
    assert cache.json("results", {"x": 1}, f) == {"a": 1.5} and len(calls) == 1
    path = cache.path("results", make_key(kind="results", x=1), ".json")
    assert json.loads(path.read_text()) == {"a": 1.5}


def test_prune_temp_removes_only_old_temporary_leftovers(cache):
    import os
    import time

    arr_path = cache.save_array("reps", "k1", np.arange(4.0))
    old_dir = cache.root / "models" / ".deadbeef.x1.tmp"
    old_dir.mkdir(parents=True)
    (old_dir / "model.safetensors").write_bytes(b"\0" * 1000)
    old_file = cache.root / "reps" / ".k2.npy.abc.tmp"
    old_file.write_bytes(b"\0" * 24)
    fresh = cache.root / "models" / ".cafe.x2.tmp"  # a run writing right now
    fresh.mkdir()
    visible_old = cache.root / "models" / "done.tmp"  # not hidden: not ours to delete
    visible_old.write_bytes(b"keep")
    two_days_ago = time.time() - 2 * 86400
    for p in (old_dir, old_file, visible_old):
        os.utime(p, (two_days_ago, two_days_ago))

    removed, freed = cache.prune_temp(older_than_hours=24)

    assert sorted(p.name for p in removed) == [".deadbeef.x1.tmp", ".k2.npy.abc.tmp"]
    assert freed == 1024
    assert not old_dir.exists() and not old_file.exists()
    assert fresh.exists() and visible_old.exists() and arr_path.exists()
    assert cache.load_array("reps", "k1").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert cache.prune_temp(older_than_hours=0)[0] == [fresh]
    with pytest.raises(ValueError, match="older_than_hours"):
        cache.prune_temp(older_than_hours=-1)


def test_prune_temp_on_a_missing_root_does_nothing(tmp_path):
    assert Cache(tmp_path / "absent").prune_temp() == ([], 0)
