"""A content-addressed store for expensive artifacts: checkpoints and arrays.

Every artifact lives under one root folder (``$NBHELPERS_CACHE``, default
``~/.cache/nbhelpers``) at ``<root>/<kind>/<key>``, where ``key`` is the SHA-256
of a canonical JSON of everything that changes the result (backbone and its
weights' hash, data hash, seed, hyper-parameters, pooling, layer, and the
``nbhelpers`` version). Change any of them and the key changes: a cache miss,
never a stale hit.

Writes are atomic: an artifact is written under a temporary name in the same
folder and renamed into place, so an interrupted run leaves no half-written
file behind under the final name. Arrays carry a small JSON manifest with their
shape, dtype and SHA-256; a truncated or corrupted file fails the check and is
recomputed. Checkpoint folders carry a manifest with every file's size and
SHA-256, verified on load; a folder that fails, or whose manifest has no checksums,
is rebuilt. Computed values are vetted before they are written (``check=``), so a
wrong array never enters the cache. Building or repairing an entry happens under an
inter-process file lock (``<root>/.locks/<kind>/<key>.lock``, :mod:`filelock`), so
concurrent processes build it once. Nothing is ever unpickled: arrays load with
``allow_pickle=False`` and checkpoints are safetensors folders.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .checks import check_path_component

logger = logging.getLogger(__name__)

MANIFEST = "nbhelpers-manifest.json"
LOCKS = ".locks"
"""Folder under the root holding one lock file per entry being built (``<kind>/<key>.lock``)."""
# every write goes to a hidden ``.<name>.<random>.tmp`` beside its final name first;
# Cache.prune_temp removes the ones a killed run left behind
TEMP_GLOB = ".*.tmp"


def _temp_sibling(path: Path) -> Path:
    """A fresh temporary name beside ``path``, matching :data:`TEMP_GLOB`."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


# folders whose checksums were verified in this process, with the (size, mtime) of each
# file at that time: unchanged files are not hashed again on the next load
_VERIFIED: dict[str, list] = {}


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def check_manifest_name(name: str) -> None:
    """A file named in a manifest stays inside its folder."""
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts:
        raise ValueError(f"the manifest names a file outside its folder: {name!r}")


def default_root() -> Path:
    """The cache folder: ``$NBHELPERS_CACHE`` if set, else ``~/.cache/nbhelpers``."""
    env = os.environ.get("NBHELPERS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "nbhelpers"


RESERVED_PARTS = ("kind", "nbhelpers_version")
"""Key parts the cache sets itself; a caller's ``parts`` may not use these names
(nor ``name`` in :meth:`Cache.arrays`, which keys each array by its name)."""


def _canonical(obj: Any, where: str = "parts") -> Any:
    """Turn ``obj`` into something ``json.dumps(sort_keys=True)`` renders stably.

    Dictionary keys must be strings: ``{1: "x"}`` and ``{"1": "x"}`` would otherwise
    render the same and collide.
    """
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"cache key dictionaries need string keys (so that {{1: 'x'}} "
                                f"and {{'1': 'x'}} cannot collide); got key {k!r} "
                                f"({type(k).__name__}) in {where}")
        return {k: _canonical(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot use {type(obj).__name__} in a cache key: {obj!r} (at {where})")


def _check_parts(parts: Any, reserved: tuple = RESERVED_PARTS) -> dict:
    """``parts`` as given to :meth:`Cache.array` and friends: a dict of string names."""
    if not isinstance(parts, dict):
        raise TypeError(f"parts must be a dict of the things that change the artifact; "
                        f"got {type(parts).__name__}: {parts!r}")
    for k in parts:
        if not isinstance(k, str):
            raise TypeError(f"parts needs string names (so that {{1: 'x'}} and {{'1': 'x'}} "
                            f"cannot collide); got {k!r} ({type(k).__name__})")
        if k in reserved:
            raise ValueError(f"parts may not use the reserved name {k!r} (the cache sets "
                             f"{', '.join(reserved)} itself); rename that part")
    return parts


def make_key(**parts: Any) -> str:
    """SHA-256 hex digest of ``parts`` plus the ``nbhelpers`` version.

    Parameters
    ----------
    **parts : JSON-like values (str, int, float, bool, None, lists, dicts)
        Everything that changes the artifact.

    Returns
    -------
    str
        64 hex characters; equal parts give equal keys, in any order.

    Example
    -------
    >>> make_key(seed=0, lr=1e-4) == make_key(lr=1e-4, seed=0)
    True
    >>> make_key(seed=0, lr=1e-4) == make_key(seed=1, lr=1e-4)
    False
    """
    if "nbhelpers_version" in parts:
        raise ValueError("make_key adds nbhelpers_version itself; a part may not override it "
                         f"(got nbhelpers_version={parts['nbhelpers_version']!r})")
    payload = json.dumps(
        {"nbhelpers_version": __version__, **_canonical(parts)}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class Cache:
    """Content-addressed artifact store rooted at one folder.

    Parameters
    ----------
    root : path, optional
        Defaults to :func:`default_root`.

    Example
    -------
    >>> import tempfile, numpy as np
    >>> cache = Cache(tempfile.mkdtemp())
    >>> calls = []
    >>> f = lambda: calls.append(1) or np.arange(3.0)
    >>> cache.array("demo", {"x": 1}, f).tolist(), cache.array("demo", {"x": 1}, f).tolist()
    ([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    >>> len(calls)  # the second call loaded instead of recomputing
    1
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # -- paths -----------------------------------------------------------
    def lock(self, kind: str, key: str):
        """An inter-process lock (``filelock.FileLock``) for the entry ``kind``/``key``.

        Whoever computes, repairs or replaces an entry holds it, so that concurrent
        processes build it once and never delete a copy another has just renamed in.
        Readers do not take it: every write is an atomic rename.
        """
        from filelock import FileLock

        self.path(kind, key)  # validates kind and key
        folder = self.root / LOCKS / kind
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f"{key}.lock"))

    def path(self, kind: str, key: str, suffix: str = "") -> Path:
        """Where the artifact ``kind``/``key`` lives (it may not exist yet)."""
        if not isinstance(kind, str) or not kind or kind.startswith(".") or any(
                c in kind for c in "/\\\0"):
            raise ValueError(f"kind must be a plain folder name, got {kind!r}")
        check_path_component(key, "key")
        if suffix and (not isinstance(suffix, str) or any(c in suffix for c in "/\\\0")):
            raise ValueError(f"suffix must be a file extension such as '.npy', got {suffix!r}")
        return self.root / kind / f"{key}{suffix}"

    # -- arrays ----------------------------------------------------------
    def load_array(self, kind: str, key: str) -> np.ndarray | None:
        """The cached array, or ``None`` if it is missing or fails its check."""
        path = self.path(kind, key, ".npy")
        meta_path = self.path(kind, key, ".json")
        if not (path.exists() and meta_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if path.stat().st_size != meta["nbytes_file"] or file_sha256(path) != meta["sha256"]:
                raise ValueError("size or checksum differs from the manifest")
            arr = np.load(path, allow_pickle=False)
            if list(arr.shape) != meta["shape"] or str(arr.dtype) != meta["dtype"]:
                raise ValueError("shape or dtype differs from the manifest")
            return arr
        except Exception as err:  # corrupted, truncated, or a foreign file
            logger.warning("cached array %s is invalid (%s); recomputing", path, err)
            return None

    def save_array(self, kind: str, key: str, arr: np.ndarray) -> Path:
        """Write ``arr`` atomically with its manifest; returns the final path."""
        arr = np.asarray(arr)
        if arr.dtype == object:
            raise ValueError("refusing to cache an object array (it would need pickle)")
        path = self.path(kind, key, ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_sibling(path)
        try:
            with open(tmp, "wb") as f:
                np.save(f, arr, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            meta = {
                "shape": list(arr.shape),
                "dtype": str(arr.dtype),
                "nbytes_file": tmp.stat().st_size,
                "sha256": file_sha256(tmp),
            }
            meta_tmp = tmp.with_suffix(".json.tmp")
            meta_tmp.write_text(json.dumps(meta))
            # the array first, then the manifest that vouches for it
            os.replace(tmp, path)
            os.replace(meta_tmp, self.path(kind, key, ".json"))
        finally:
            for leftover in (tmp, tmp.with_suffix(".json.tmp")):
                leftover.unlink(missing_ok=True)
        return path

    def array(self, kind: str, parts: dict, compute: Callable[[], np.ndarray],
              check: Callable[[np.ndarray], Any] | None = None) -> np.ndarray:
        """Load the array keyed by ``parts``, or ``compute()`` and store it.

        ``check(arr)`` (optional) raises ``ValueError`` on a wrong value: a computed array
        that fails it is never written, and a cached one that fails it is recomputed.
        """
        key = make_key(kind=kind, **_check_parts(parts))
        arr = self._checked(self.load_array(kind, key), check, kind, key)
        if arr is not None:
            return arr
        with self.lock(kind, key):
            arr = self._checked(self.load_array(kind, key), check, kind, key)  # built meanwhile?
            if arr is None:
                arr = np.asarray(compute())
                if check is not None:
                    check(arr)
                self.save_array(kind, key, arr)
        return arr

    @staticmethod
    def _checked(arr, check, kind, key, *args):
        if arr is None or check is None:
            return arr
        try:
            check(*args, arr)
        except ValueError as err:
            logger.warning("cached array %s/%s fails its check (%s); recomputing", kind, key, err)
            return None
        return arr

    def arrays(self, kind: str, parts: dict, names: list[str], compute: Callable[[], dict],
               check: Callable[[str, np.ndarray], Any] | None = None) -> dict:
        """Like :meth:`array` for several named arrays computed together.

        ``check(name, arr)`` (optional) vets each array as in :meth:`array`; if any
        computed array fails it, none is written.
        """
        _check_parts(parts, RESERVED_PARTS + ("name",))
        if isinstance(names, str) or not all(isinstance(n, str) for n in names) or not names:
            raise TypeError(f"names must be a non-empty list of strings; got {names!r}")
        keys = {n: make_key(kind=kind, name=n, **parts) for n in names}

        def load_all():
            found = {n: self._checked(self.load_array(kind, k), check, kind, k, n)
                     for n, k in keys.items()}
            return found if all(v is not None for v in found.values()) else None

        found = load_all()
        if found is not None:
            return found
        with self.lock(kind, make_key(kind=kind, **parts)):
            found = load_all()  # another process may have written them meanwhile
            if found is not None:
                return found
            result = compute()
            missing = set(names) - set(result)
            if missing:
                raise ValueError(f"compute() did not return the arrays {sorted(missing)}")
            if check is not None:
                for n in names:
                    check(n, np.asarray(result[n]))
            for n, k in keys.items():
                self.save_array(kind, k, result[n])
        return {n: np.asarray(result[n]) for n in names}

    # -- folders (checkpoints) ---------------------------------------------
    def load_dir(self, kind: str, key: str) -> Path | None:
        """The cached folder if it is complete and intact, else ``None``.

        Its manifest must list every file with its size and SHA-256, and each file must
        match: a file changed in place at the same size fails, and so does a manifest
        written before checksums were recorded (such a folder is rebuilt, never trusted).
        A folder verified once in this process is not hashed again while its files'
        sizes and modification times stay the same.
        """
        path = self.path(kind, key)
        manifest = path / MANIFEST
        if not manifest.exists():
            return None
        try:
            files = json.loads(manifest.read_text())["files"]
            if not isinstance(files, dict) or not files:
                raise ValueError("the manifest lists no files")
            signature = [(MANIFEST, *_stamp(manifest))]
            for name, entry in files.items():
                if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)):
                    raise ValueError(f"the manifest has no checksum for {name} "
                                     "(written by an older nbhelpers)")
                check_manifest_name(name)
                stamp = _stamp(path / name)
                if stamp[0] != entry["size"]:
                    raise ValueError(f"{name} has {stamp[0]} bytes; the manifest says {entry['size']}")
                signature.append((name, *stamp))
            if _VERIFIED.get(str(path)) != signature:
                for name, entry in files.items():
                    if file_sha256(path / name) != entry["sha256"]:
                        raise ValueError(f"{name}'s SHA-256 differs from the manifest "
                                         "(changed in place)")
                _VERIFIED[str(path)] = signature
        except Exception as err:
            _VERIFIED.pop(str(path), None)
            logger.warning("cached folder %s is invalid (%s); rebuilding", path, err)
            return None
        return path

    def directory(self, kind: str, parts: dict, build: Callable[[Path], Any],
                  meta: dict | None = None, check: Callable[[Path], Any] | None = None) -> Path:
        """Return the folder keyed by ``parts``, building it with ``build(tmpdir)`` once.

        ``build`` writes files into the temporary folder it is given; only after it
        returns is a manifest (each file's size and SHA-256, plus ``meta``) written and
        the folder renamed into place. A crash in ``build`` leaves nothing under the
        final name.

        ``check(folder)`` (optional) raises if the folder is unusable, e.g. a checkpoint
        that does not load. A cached folder that fails it is rebuilt; a freshly built
        folder that fails it is not cached and the error propagates.
        """
        key = make_key(kind=kind, **_check_parts(parts))
        found = self._usable_dir(kind, key, check)
        if found is not None:
            return found
        final = self.path(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self.lock(kind, key):  # one builder; nobody deletes a copy just renamed in
            found = self._usable_dir(kind, key, check)
            if found is not None:  # another process built it while we waited
                return found
            # hidden and ending in .tmp, like _temp_sibling: TEMP_GLOB matches it
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
            try:
                build(tmp)
                files = {p.relative_to(tmp).as_posix(): {"size": p.stat().st_size,
                                                         "sha256": file_sha256(p)}
                         for p in sorted(tmp.rglob("*")) if p.is_file()}
                if not files:
                    raise ValueError(f"build() wrote no files for {kind}/{key}; nothing to cache")
                manifest = {"format": 2, "files": files, "parts": _canonical(parts),
                            "meta": _canonical(meta or {})}
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
                if check is not None:
                    check(tmp)
                if final.exists() or final.is_symlink():  # an invalid leftover: move it aside
                    self._discard(final)
                os.rename(tmp, final)
                _VERIFIED.pop(str(final), None)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def _usable_dir(self, kind: str, key: str, check) -> Path | None:
        path = self.load_dir(kind, key)
        if path is None or check is None:
            return path
        try:
            check(path)
        except Exception as err:  # e.g. weights that pass the checksum but do not load
            logger.warning("cached folder %s fails its check (%s); rebuilding", path, err)
            _VERIFIED.pop(str(path), None)
            return None
        return path

    @staticmethod
    def _discard(path: Path) -> None:
        """Rename ``path`` out of the way (atomic), then delete it."""
        aside = _temp_sibling(path)
        os.rename(path, aside)
        _VERIFIED.pop(str(path), None)
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.unlink(missing_ok=True)

    # -- housekeeping --------------------------------------------------------
    def prune_temp(self, older_than_hours: float = 24.0) -> tuple[list[Path], int]:
        """Delete temporary leftovers of killed runs; return ``(removed, bytes_freed)``.

        Writes go to ``.<name>.<random>.tmp`` beside their final name and are removed when
        the writer fails, but a process killed outright (``kill -9``, out of memory, a
        closed laptop) leaves them behind; a half-written checkpoint folder is hundreds
        of MB. Only entries that are hidden, end in ``.tmp`` and were last modified more
        than ``older_than_hours`` ago are removed, so a run writing right now is safe.

        >>> import tempfile, os, time
        >>> cache = Cache(tempfile.mkdtemp())
        >>> stale = cache.root / "models" / ".abc.123.tmp"
        >>> stale.mkdir(parents=True)
        >>> (stale / "weights").write_bytes(b"x" * 10)  # a killed run's half-written folder
        10
        >>> os.utime(stale, (time.time() - 2 * 86400,) * 2)
        >>> removed, freed = cache.prune_temp()
        >>> [p.name for p in removed], freed, stale.exists()
        (['.abc.123.tmp'], 10, False)
        """
        if older_than_hours < 0:
            raise ValueError(f"older_than_hours must be >= 0, got {older_than_hours}")
        if not self.root.is_dir():
            return [], 0
        cutoff = time.time() - 3600 * older_than_hours
        removed, freed = [], 0
        for kind in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for entry in sorted(kind.glob(TEMP_GLOB)):
                try:
                    if entry.lstat().st_mtime > cutoff:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
                        shutil.rmtree(entry)
                    else:
                        size = entry.lstat().st_size
                        entry.unlink()
                except FileNotFoundError:  # another process cleaned it first
                    continue
                removed.append(entry)
                freed += size
        return removed, freed

    def read_meta(self, path: Path) -> dict:
        """The ``meta`` stored with a cached folder."""
        return json.loads((Path(path) / MANIFEST).read_text()).get("meta", {})

    def json(self, kind: str, parts: dict, compute: Callable[[], dict]) -> dict:
        """Load the JSON document keyed by ``parts``, or ``compute()`` and store it.

        A hit and a miss return the same thing: the computed value goes through
        JSON before it is returned (tuples become lists, as they would on reload).
        """
        key = make_key(kind=kind, **_check_parts(parts))
        path = self.path(kind, key, ".json")
        if path.exists():
            try:
                return json.loads(path.read_text())
            except ValueError:
                logger.warning("cached JSON %s is invalid; recomputing", path)
        text = json.dumps(_canonical(compute(), "the computed value"))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_sibling(path)
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return json.loads(text)
