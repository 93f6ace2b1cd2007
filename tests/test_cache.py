"""The cache: keys, atomic writes, corruption detection, no pickles, damaged checkpoints,
concurrent processes."""
import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from nbhelpers.cache import MANIFEST, Cache, file_sha256, make_key


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


RECIPE = {"epochs": 5, "lr": 0.0001, "batch_size": 32, "warmup_ratio": 0.1,
          "weight_decay": 0.01, "max_length": 128}


# ---------------------------------------------------------------------------------------
# keys: stable, confined to the cache root, typed
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("parts, kind, extra, digest", [
    # recorded keys: ordinary keys must never move (a filled cache would be lost)
    ({"backbone": "minilm", "weights": "sha256:model.safetensors=ab", "data": "d0", "seed": 0,
      "recipe": RECIPE}, "checkpoints", {},
     "6585b031b26fcc089a8984f2bab2635ba0f5fa1c4e8e18a3cbe83a0f478e024b"),
    ({"model": "k1", "data": "d0", "max_length": 128}, "reps", {"name": "cls-layer6"},
     "fd9d0d8f2bcf3ae16b6de3beb807c4f3a76aa65259d1fb1215b63b6938b47cdc"),
    ({"model": "pretrained:hub:x:seed=0", "data": "d0", "max_length": 64}, "proba", {},
     "f144a99d1a34604200349a244f289cde583105611ae9744b14aa3a9513353c21"),
    ({"name": "mpnet", "parts": [("a.zip.001", 10), ("a.zip.002", 20)]}, "backbones", {},
     "1444febef262fffee10ea2f34863d028230cce024a3828ee18434647a26f642c"),
])
def test_ordinary_keys_are_unchanged(cache, parts, kind, extra, digest):
    assert make_key(kind=kind, **extra, **parts) == digest
    if kind in ("checkpoints", "backbones"):
        path = cache.directory(kind, parts, lambda tmp: (tmp / "w").write_bytes(b"1"))
        assert path.name == digest
    elif not extra:
        cache.array(kind, parts, lambda: np.full((2, 3), 1 / 3))
        assert cache.path(kind, digest, ".npy").exists()
    else:
        cache.arrays(kind, parts, [extra["name"]], lambda: {extra["name"]: np.ones((2, 2))})
        assert cache.path(kind, digest, ".npy").exists()


@pytest.mark.parametrize("key", ["../evil", "../../etc/passwd", "a/b", "..", ".", "", "a\\b", "x\0y"])
def test_key_names_cannot_leave_the_cache_root(cache, key):
    with pytest.raises(ValueError, match="key must be a plain file name"):
        cache.save_array("reps", key, np.zeros(2))
    with pytest.raises(ValueError, match="key must be a plain file name"):
        cache.load_dir("checkpoints", key)
    assert not (cache.root.parent / "evil.npy").exists()


@pytest.mark.parametrize("kind", ["../x", "a/b", "..", ".hidden", "", "a\\b"])
def test_kind_names_cannot_leave_the_cache_root(cache, kind):
    with pytest.raises(ValueError, match="kind must be a plain"):
        cache.array(kind, {"x": 1}, lambda: np.zeros(2))


def test_key_type_is_checked(cache):
    with pytest.raises(TypeError, match="key must be a string"):
        cache.load_array("reps", 3)


def test_parts_cannot_override_the_package_version(cache):
    with pytest.raises(ValueError, match="nbhelpers_version"):
        make_key(x=1, nbhelpers_version="0.0.0")
    with pytest.raises(ValueError, match="reserved name 'nbhelpers_version'"):
        cache.array("reps", {"nbhelpers_version": "old"}, lambda: np.zeros(2))


@pytest.mark.parametrize("method, name", [("array", "kind"), ("arrays", "kind"), ("arrays", "name"),
                                          ("directory", "kind")])
def test_reserved_part_names_give_a_clear_error(cache, method, name):
    calls = {"array": lambda: cache.array("reps", {name: "x"}, lambda: np.zeros(2)),
             "arrays": lambda: cache.arrays("reps", {name: "x"}, ["a"], lambda: {"a": np.zeros(2)}),
             "directory": lambda: cache.directory("checkpoints", {name: "x"}, lambda t: None)}
    with pytest.raises(ValueError, match=f"reserved name '{name}'"):
        calls[method]()


def test_int_and_str_dictionary_keys_cannot_collide(cache):
    with pytest.raises(TypeError, match="string keys"):
        make_key(x={1: "x"})
    assert make_key(x={"1": "x"})  # the string form is an ordinary key
    with pytest.raises(TypeError, match="string keys"):
        cache.array("reps", {1: "x"}, lambda: np.zeros(2))
    with pytest.raises(TypeError, match="string keys"):
        cache.array("reps", {"recipe": {("lr",): 1}}, lambda: np.zeros(2))


def test_parts_must_be_a_dict(cache):
    with pytest.raises(TypeError, match="parts must be a dict"):
        cache.array("reps", [("x", 1)], lambda: np.zeros(2))


# ---------------------------------------------------------------------------------------
# garbage never enters the cache (the cache's own check hook; models.py uses it)
# ---------------------------------------------------------------------------------------
def _finite(arr):
    if not np.isfinite(arr).all():
        raise ValueError("not finite")


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf, 0.0])])
def test_array_failing_its_check_is_not_written(cache, bad):
    with pytest.raises(ValueError, match="not finite"):
        cache.array("reps", {"x": 1}, lambda: bad, check=_finite)
    assert not (cache.root / "reps").exists() or not list((cache.root / "reps").iterdir())
    good = cache.array("reps", {"x": 1}, lambda: np.ones(2), check=_finite)
    assert good.tolist() == [1.0, 1.0]


def test_cached_array_failing_its_check_is_recomputed(cache):
    cache.array("reps", {"x": 1}, lambda: np.array([np.nan, 1.0]))  # written without a check
    out = cache.array("reps", {"x": 1}, lambda: np.array([2.0, 1.0]), check=_finite)
    assert out.tolist() == [2.0, 1.0]
    assert cache.load_array("reps", make_key(kind="reps", x=1)).tolist() == [2.0, 1.0]


def test_arrays_write_none_when_one_fails_its_check(cache):
    check = lambda name, arr: _finite(arr)
    with pytest.raises(ValueError, match="not finite"):
        cache.arrays("reps", {"x": 1}, ["a", "b"],
                     lambda: {"a": np.ones(2), "b": np.array([np.nan])}, check=check)
    assert cache.load_array("reps", make_key(kind="reps", name="a", x=1)) is None


# ---------------------------------------------------------------------------------------
# a damaged checkpoint is never trusted
# ---------------------------------------------------------------------------------------
def _build(tmp):
    (tmp / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    (tmp / "config.json").write_text('{"a": 1}')


def test_manifest_records_size_and_sha256_of_every_file(cache):
    path = cache.directory("checkpoints", {"s": 1}, _build)
    files = json.loads((path / MANIFEST).read_text())["files"]
    assert set(files) == {"model.safetensors", "config.json"}
    assert files["config.json"]["size"] == 8 and len(files["config.json"]["sha256"]) == 64


@pytest.mark.parametrize("offset", [0, 500, -1])
def test_a_byte_changed_at_the_same_size_is_detected_and_rebuilt(cache, offset):
    builds = []
    build = lambda tmp: builds.append(1) or _build(tmp)
    path = cache.directory("checkpoints", {"s": 1}, build)
    data = bytearray((path / "model.safetensors").read_bytes())
    data[offset] ^= 0x01
    (path / "model.safetensors").write_bytes(bytes(data))
    assert Cache(cache.root).load_dir("checkpoints", path.name) is None
    again = cache.directory("checkpoints", {"s": 1}, build)
    assert len(builds) == 2 and (again / "model.safetensors").read_bytes() == bytes(range(256)) * 4


def test_a_manifest_without_checksums_is_rebuilt_not_trusted(cache):
    path = cache.directory("checkpoints", {"s": 1}, _build)
    old = {"files": {"model.safetensors": 1024, "config.json": 8}, "parts": {"s": 1}, "meta": {}}
    (path / MANIFEST).write_text(json.dumps(old))  # the older format, sizes only
    assert cache.load_dir("checkpoints", path.name) is None
    builds = []
    cache.directory("checkpoints", {"s": 1}, lambda tmp: builds.append(1) or _build(tmp))
    assert builds == [1] and cache.load_dir("checkpoints", path.name) == path


@pytest.mark.parametrize("manifest", ['{"files": {}}', '{"files": {"../x": {"size": 1, "sha256": "0"}}}',
                                      "not json", '{"nofiles": 1}'])
def test_odd_manifests_are_invalid(cache, manifest):
    path = cache.directory("checkpoints", {"s": 1}, _build)
    (path / MANIFEST).write_text(manifest)
    assert cache.load_dir("checkpoints", path.name) is None


def test_a_folder_that_fails_to_load_is_rebuilt(cache):
    def check(folder):
        json.loads((folder / "config.json").read_text())  # stands in for from_pretrained

    path = cache.directory("checkpoints", {"s": 1}, _build, check=check)
    # damage config.json and make the manifest vouch for it: the checksums pass, the load fails
    (path / "config.json").write_text("{broken")
    m = json.loads((path / MANIFEST).read_text())
    m["files"]["config.json"] = {"size": 7, "sha256": file_sha256(path / "config.json")}
    (path / MANIFEST).write_text(json.dumps(m))
    assert cache.load_dir("checkpoints", path.name) == path  # intact by its manifest...
    again = cache.directory("checkpoints", {"s": 1}, _build, check=check)  # ...but rebuilt
    assert json.loads((again / "config.json").read_text()) == {"a": 1}


def test_a_fresh_build_that_fails_its_check_is_not_cached(cache):
    def check(folder):
        raise ValueError("does not load")

    with pytest.raises(ValueError, match="does not load"):
        cache.directory("checkpoints", {"s": 1}, _build, check=check)
    assert cache.load_dir("checkpoints", make_key(kind="checkpoints", s=1)) is None
    assert [p for p in (cache.root / "checkpoints").iterdir() if not p.name.startswith(".")] == []


def test_a_build_that_writes_nothing_is_refused(cache):
    with pytest.raises(ValueError, match="wrote no files"):
        cache.directory("checkpoints", {"s": 1}, lambda tmp: None)


# ---------------------------------------------------------------------------------------
# concurrent processes (a file lock serialises building and repairing an entry)
# ---------------------------------------------------------------------------------------
N_PROCS, N_CALLS = 4, 15
CONTENT = bytes(range(256)) * 64


def _build_logged(tmp):
    log = Path(tmp).parent.parent / "builds.log"
    with open(log, "a") as f:  # O_APPEND: one short line per build, never interleaved
        f.write(f"{tmp.name}\n")
    (tmp / "model.safetensors").write_bytes(CONTENT)


def _resolve_many(root, barrier, errors):
    cache = Cache(root)
    barrier.wait()
    try:
        for _ in range(N_CALLS):
            path = cache.directory("checkpoints", {"s": 1}, _build_logged)
            if (path / "model.safetensors").read_bytes() != CONTENT:
                errors.put("wrong content")
            if cache.load_dir("checkpoints", path.name) is None:
                errors.put("invalid copy returned")
    except Exception as err:  # noqa: BLE001 - reported to the parent
        errors.put(f"{type(err).__name__}: {err}")


def _compute_many(root, barrier, errors):
    cache = Cache(root)
    barrier.wait()
    try:
        for _ in range(N_CALLS):
            def compute():
                with open(Path(root) / "computes.log", "a") as f:
                    f.write("x\n")
                return np.arange(5000, dtype=np.float64)
            out = cache.array("reps", {"x": 1}, compute)
            if not np.array_equal(out, np.arange(5000.0)):
                errors.put("wrong array")
    except Exception as err:  # noqa: BLE001
        errors.put(f"{type(err).__name__}: {err}")


def _run(target, root):
    ctx = mp.get_context("spawn")
    barrier, errors = ctx.Barrier(N_PROCS), ctx.Queue()
    procs = [ctx.Process(target=target, args=(root, barrier, errors)) for _ in range(N_PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    return [p.exitcode for p in procs], found


def test_processes_repairing_an_invalid_leftover_build_once_and_all_succeed(tmp_path):
    root = tmp_path / "cache"
    cache = Cache(root)
    key = make_key(kind="checkpoints", s=1)
    leftover = cache.path("checkpoints", key)
    leftover.mkdir(parents=True)
    (leftover / "model.safetensors").write_bytes(b"old")
    (leftover / MANIFEST).write_text(json.dumps({"files": {"model.safetensors": 3}}))  # no checksums
    codes, errors = _run(_resolve_many, root)
    assert codes == [0] * N_PROCS and errors == []
    assert len((root / "builds.log").read_text().splitlines()) == 1  # built once, by one process
    assert (leftover / "model.safetensors").read_bytes() == CONTENT
    assert not [p for p in (root / "checkpoints").iterdir() if p.name.endswith(".tmp")]


def test_processes_computing_a_corrupted_array_compute_it_once(tmp_path):
    root = tmp_path / "cache"
    cache = Cache(root)
    cache.array("reps", {"x": 1}, lambda: np.zeros(5000))
    npy = cache.path("reps", make_key(kind="reps", x=1), ".npy")
    npy.write_bytes(npy.read_bytes()[:100])  # truncated by a killed run
    codes, errors = _run(_compute_many, root)
    assert codes == [0] * N_PROCS and errors == []
    assert len((root / "computes.log").read_text().splitlines()) == 1
    assert np.array_equal(cache.load_array("reps", make_key(kind="reps", x=1)), np.arange(5000.0))


def test_locks_live_outside_the_entries(cache):
    cache.directory("checkpoints", {"s": 1}, _build)
    assert [p.name for p in (cache.root / "checkpoints").iterdir()] == [make_key(kind="checkpoints", s=1)]



# ---------------------------------------------------------------------------------------
# file_sha256 remembers a hash only while the file's size, mtime and inode stay the same
# ---------------------------------------------------------------------------------------
def test_file_sha256_follows_a_rewritten_file(tmp_path):
    import hashlib
    import time

    f = tmp_path / "w.bin"
    f.write_bytes(b"a" * 100)
    assert file_sha256(f) == hashlib.sha256(b"a" * 100).hexdigest()
    time.sleep(0.05)  # a later write: a new modification time
    f.write_bytes(b"b" * 100)  # in place, same size
    assert file_sha256(f) == hashlib.sha256(b"b" * 100).hexdigest()
    replacement = tmp_path / "new.bin"
    replacement.write_bytes(b"c" * 100)
    replacement.replace(f)  # renamed over it: a new inode
    assert file_sha256(f) == hashlib.sha256(b"c" * 100).hexdigest()


# ---------------------------------------------------------------------------------------
# edges: long names hashed, the root absolute
# ---------------------------------------------------------------------------------------
def test_long_kinds_and_keys_are_stored_under_their_hash(cache):
    import hashlib

    key, kind = "k" * 230, "kind-" + "x" * 200
    path = cache.save_array(kind, key, np.arange(3.0))
    assert all(len(part.encode()) <= 100 for part in path.relative_to(cache.root).parts)
    assert path.name == hashlib.sha256(key.encode()).hexdigest() + ".npy"
    assert cache.load_array(kind, key).tolist() == [0.0, 1.0, 2.0]
    assert cache.load_array(kind, "k" * 229) is None
    out = cache.directory(kind, {"name": "n" * 300}, lambda tmp: (tmp / "w").write_bytes(b"1"))
    assert (out / "w").read_bytes() == b"1"
    assert cache.array("é" * 60, {"p": "v" * 400}, lambda: np.ones(1)).tolist() == [1.0]  # 120 bytes in UTF-8
    short = cache.save_array("reps", "k" * 100, np.zeros(1))                      # 100 bytes: unchanged
    assert short.name == "k" * 100 + ".npy"


def test_the_root_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = Cache("rel")
    assert cache.root == tmp_path / "rel" and cache.root.is_absolute()
    cache.array("reps", {"x": 1}, lambda: np.ones(2))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cache.array("reps", {"x": 1}, lambda: pytest.fail("recomputed")).tolist() == [1.0, 1.0]
    assert not (tmp_path / "elsewhere" / "rel").exists()
    monkeypatch.setenv("NBHELPERS_CACHE", "env-rel")
    assert Cache().root == tmp_path / "elsewhere" / "env-rel"


def test_write_atomic_replaces_in_one_step_with_the_mode_asked(tmp_path):
    from nbhelpers.cache import write_atomic

    path = tmp_path / "sub" / "a.json"
    assert write_atomic(path, b"{}") == path and path.read_bytes() == b"{}"
    assert path.stat().st_mode & 0o777 == 0o644  # readable by all (the site serves these files), by default
    write_atomic(path, b"[1]", mode=0o600)
    assert path.read_bytes() == b"[1]" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]  # no temporary file left
