"""A content-addressed store for expensive artifacts: checkpoints, arrays and JSON.

Each artifact lives at ``<root>/<kind>/<key>``, ``key`` the SHA-256 of all that changes it and
the ``nbhelpers`` version (a kind or key over 100 bytes is stored under its SHA-256; JSON documents
add ``store="json"`` to their key: an array's manifest ``<key>.json`` is never read as one). Writes
are atomic renames; arrays (``np.save``, never unpickled) and folders carry SHA-256 manifests, and
an entry failing them or ``check=`` is rebuilt (a computed value failing ``check=`` is never
written). Builders hold a :mod:`filelock` lock.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from filelock import FileLock

from . import __version__
from .checks import check_path_component

logger = logging.getLogger(__name__)

MANIFEST = "nbhelpers-manifest.json"
LOCKS = ".locks"
TEMP_GLOB = ".*.tmp"
RESERVED_PARTS = ("kind", "nbhelpers_version")  # set by the cache ("name": arrays, "store": json)
MAX_COMPONENT = 100  # bytes: a longer kind or key is stored under its SHA-256 (names stay < 255 bytes)
_HASHES: dict[tuple, str] = {}  # file_sha256's memory


def _canonical(obj: Any, where: str = "parts") -> Any:
    """``obj`` as plain JSON values; dict keys must be strings (``{1: 0}``, ``{"1": 0}`` collide)."""
    if isinstance(obj, dict):
        if bad := [k for k in obj if not isinstance(k, str)]:
            raise TypeError(f"cache keys need string keys in dictionaries (so that {{1: 'x'}} "
                            f"and {{'1': 'x'}} cannot collide); got {bad[0]!r} in {where}")
        return {k: _canonical(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer, np.floating, Path)):
        return str(obj) if isinstance(obj, Path) else obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot use {type(obj).__name__} in a cache key: {obj!r} (at {where})")


def _key(kind: str, parts: Any, reserved: tuple = RESERVED_PARTS, **extra) -> str:
    """The key of ``parts`` as given to :meth:`Cache.array` and friends: a dict, string keys."""
    if not isinstance(parts, dict):
        raise TypeError(f"parts must be a dict of the things that change the artifact; "
                        f"got {type(parts).__name__}: {parts!r}")
    for k in set(_canonical(parts)) & set(reserved):
        raise ValueError(f"parts may not use the reserved name {k!r} (the cache sets "
                         f"{', '.join(reserved)} itself); rename that part")
    return make_key(kind=kind, **extra, **parts)


def make_key(**parts: Any) -> str:
    """SHA-256 hex digest (64 characters) of ``parts`` (JSON-like values: str, int, float,
    bool, None, lists, dicts) plus the ``nbhelpers`` version; equal in any order.

    Example
    -------
    >>> make_key(seed=0, lr=1e-4) == make_key(lr=1e-4, seed=0)
    True
    >>> make_key(seed=0, lr=1e-4) == make_key(seed=1, lr=1e-4)
    False
    """
    if "nbhelpers_version" in parts:
        raise ValueError(f"make_key adds nbhelpers_version itself; got {parts['nbhelpers_version']!r}")
    payload = json.dumps({"nbhelpers_version": __version__, **_canonical(parts)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _component(value: str, name: str) -> str:
    """``value`` as a folder or file name: checked, and hashed if longer than MAX_COMPONENT bytes."""
    raw = os.fsencode(check_path_component(value, name))
    return value if len(raw) <= MAX_COMPONENT else hashlib.sha256(raw).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes, remembered per (path, size, mtime_ns, inode)."""
    st = os.stat(path)
    stamp = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if stamp not in _HASHES:
        with open(path, "rb") as f:
            _HASHES[stamp] = hashlib.file_digest(f, "sha256").hexdigest()
    return _HASHES[stamp]


def write_atomic(path, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to a temporary sibling of its own, flush it to disk, then rename it into place:
    no reader sees half a file, and processes writing at once do not collide (the last wins).
    ``mode`` sets the permissions (a temporary file is created readable by its owner only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


class Cache:
    """Content-addressed artifact store rooted at ``root`` (default ``$NBHELPERS_CACHE``, else
    ``~/.cache/nbhelpers``).

    Example
    -------
    >>> cache, calls = Cache(tempfile.mkdtemp()), []
    >>> f = lambda: calls.append(1) or np.arange(3.0)
    >>> [cache.array("demo", {"x": 1}, f).tolist() for _ in range(2)], len(calls)  # 2nd: loaded
    ([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]], 1)
    """

    def __init__(self, root: str | os.PathLike | None = None):
        env = os.environ.get("NBHELPERS_CACHE")
        root = root if root is not None else env or Path.home() / ".cache" / "nbhelpers"
        self.root = Path(os.path.abspath(root))  # absolute once: a later os.chdir moves nothing

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def _lock(self, kind: str, key: str) -> FileLock:  # held by builders; readers don't need it
        folder = self.root / LOCKS / _component(kind, "kind")
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f"{_component(key, 'key')}.lock"))

    def path(self, kind: str, key: str, suffix: str = "") -> Path:
        """Where the artifact ``kind``/``key`` lives (it may not exist yet)."""
        if isinstance(kind, str) and kind.startswith("."):
            raise ValueError(f"kind must be a plain folder name, not hidden; got {kind!r}")
        return self.root / _component(kind, "kind") / f"{_component(key, 'key')}{suffix}"

    def load_array(self, kind: str, key: str, check: Callable | None = None) -> np.ndarray | None:
        """The cached array, or ``None`` if it is missing, differs from its manifest, or
        fails ``check(arr)`` (a ``ValueError``)."""
        path, meta_path = self.path(kind, key, ".npy"), self.path(kind, key, ".json")
        if not (path.exists() and meta_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if file_sha256(path) != meta["sha256"]:  # truncated or changed: not what was written
                raise ValueError("its SHA-256 differs from the manifest")
            arr = np.load(path, allow_pickle=False)
            if check is not None:
                check(arr)
            return arr
        except Exception as err:  # corrupted, truncated, a foreign file, or a wrong value
            logger.warning("cached array %s is invalid (%s); recomputing", path, err)
            return None

    def save_array(self, kind: str, key: str, arr: np.ndarray) -> Path:
        """Write ``arr`` (``np.save``), then its manifest, each atomically; return the path."""
        arr = np.asarray(arr)
        if arr.dtype == object:
            raise ValueError("refusing to cache an object array (it would need pickle)")
        np.save(buf := io.BytesIO(), arr, allow_pickle=False)
        data = buf.getvalue()
        meta = {"shape": list(arr.shape), "dtype": str(arr.dtype), "nbytes_file": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        write_atomic(self.path(kind, key, ".npy"), data)  # the array, then what vouches for it
        write_atomic(self.path(kind, key, ".json"), json.dumps(meta).encode())
        return self.path(kind, key, ".npy")

    def array(self, kind: str, parts: dict, compute: Callable[[], np.ndarray],
              check: Callable[[np.ndarray], Any] | None = None) -> np.ndarray:
        """Load the array keyed by ``parts``, or ``compute()`` it and store it.

        Parameters
        ----------
        kind : str
            The folder under the root, e.g. ``"proba"``.
        parts : dict
            Everything that changes the array (JSON-like values under string names).
        compute : callable
            ``compute() -> ndarray``, called on a miss only.
        check : callable, optional
            ``check(arr)`` raises ``ValueError`` on a wrong value: a computed array that
            fails it is never written, and a cached one that fails it is recomputed.

        Returns
        -------
        ndarray
        """
        key = _key(kind, parts)
        return self._arrays(kind, {"": key}, key, lambda: {"": compute()},
                            None if check is None else lambda _, arr: check(arr))[""]

    def arrays(self, kind: str, parts: dict, names: list[str], compute: Callable[[], dict],
               check: Callable[[str, np.ndarray], Any] | None = None) -> dict:
        """Like :meth:`array` for several arrays computed together, each keyed by its name too.

        Parameters
        ----------
        kind, parts : as in :meth:`array`
        names : list of str
        compute : callable
            ``compute() -> {name: ndarray}``, called if any array is missing.
        check : callable, optional
            ``check(name, arr)``; if any computed array fails it, none is written.

        Returns
        -------
        dict ``{name: ndarray}``
        """
        if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
            raise TypeError(f"names must be a non-empty list of strings; got {names!r}")
        keys = {n: _key(kind, parts, RESERVED_PARTS + ("name",), name=n) for n in names}
        return self._arrays(kind, keys, _key(kind, parts), compute, check)

    def _arrays(self, kind: str, keys: dict, lock_key: str, compute, check) -> dict:
        def load_all():
            found = {n: self.load_array(kind, k, check and (lambda a, n=n: check(n, a)))
                     for n, k in keys.items()}
            return None if any(a is None for a in found.values()) else found

        if (found := load_all()) is not None:
            return found
        with self._lock(kind, lock_key):
            if (found := load_all()) is not None:  # another process wrote them meanwhile
                return found
            result = compute()
            if missing := set(keys) - set(result):
                raise ValueError(f"compute() did not return the arrays {sorted(missing)}")
            result = {n: np.asarray(result[n]) for n in keys}
            for n in keys if check else ():
                check(n, result[n])
            for n, k in keys.items():
                self.save_array(kind, k, result[n])
        return result

    def load_dir(self, kind: str, key: str, check: Callable | None = None) -> Path | None:
        """The cached folder if every file matches its manifest's SHA-256 (a manifest without
        checksums is not trusted) and ``check(folder)`` (optional) passes, else ``None``."""
        path = self.path(kind, key)
        if not (path / MANIFEST).exists():
            return None
        try:
            files = json.loads((path / MANIFEST).read_text())["files"]
            if not isinstance(files, dict) or not files:
                raise ValueError("the manifest lists no files")
            for name, entry in files.items():
                if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)) or not name \
                        or Path(name).is_absolute() or ".." in Path(name).parts:
                    raise ValueError(f"the manifest has no checksum for {name!r} or names it outside")
                if file_sha256(path / name) != entry["sha256"]:
                    raise ValueError(f"{name}'s SHA-256 differs from the manifest (changed in place)")
            if check is not None:
                check(path)  # e.g. weights that pass the checksum but do not load
        except Exception as err:
            logger.warning("cached folder %s is invalid (%s); rebuilding", path, err)
            return None
        return path

    def directory(self, kind: str, parts: dict, build: Callable[[Path], Any],
                  check: Callable[[Path], Any] | None = None) -> Path:
        """The folder keyed by ``parts``, built once with ``build(tmpdir)``.

        Parameters
        ----------
        kind, parts : as in :meth:`array`
        build : callable
            ``build(tmp)`` writes the files into the temporary folder ``tmp``; then the
            manifest is written and the folder renamed into place (a crash leaves nothing).
        check : callable, optional
            ``check(folder)`` raises if the folder is unusable (a checkpoint that does not
            load): a cached folder that fails it is rebuilt, a fresh one is not cached.

        Returns
        -------
        Path ``<root>/<kind>/<key>``
        """
        key = _key(kind, parts)
        if (found := self.load_dir(kind, key, check)) is not None:
            return found
        final = self.path(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(kind, key):  # one builder; nobody deletes a copy just renamed in
            if (found := self.load_dir(kind, key, check)) is not None:  # built meanwhile
                return found
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
            try:
                build(tmp)
                files = {p.relative_to(tmp).as_posix(): {"size": p.stat().st_size,
                                                         "sha256": file_sha256(p)}
                         for p in sorted(tmp.rglob("*")) if p.is_file()}
                if not files:
                    raise ValueError(f"build() wrote no files for {kind}/{key}; nothing to cache")
                manifest = {"format": 2, "files": files, "parts": _canonical(parts)}
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
                if check is not None:
                    check(tmp)
                if final.exists() or final.is_symlink():  # an invalid leftover: away with it
                    shutil.rmtree(final) if final.is_dir() and not final.is_symlink() else final.unlink()
                os.rename(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def json(self, kind: str, parts: dict, compute: Callable[[], dict]) -> dict:
        """Load the JSON document keyed by ``parts``, or ``compute()`` it and store it.

        Parameters
        ----------
        kind, parts : as in :meth:`array`
        compute : callable
            ``compute() -> dict`` of JSON values with string keys.

        Returns
        -------
        dict
            The same on a hit and a miss (tuples become lists, as they would on reload).

        Example
        -------
        >>> Cache(tempfile.mkdtemp()).json("demo", {"x": 1}, lambda: {"pair": (1, 2)})
        {'pair': [1, 2]}
        """
        path = self.path(kind, _key(kind, parts, RESERVED_PARTS + ("store",), store="json"), ".json")
        legacy = self.path(kind, _key(kind, parts), ".json")  # the key before store="json"
        for p in (path, legacy):
            try:
                value = json.loads(p.read_text())
            except (FileNotFoundError, ValueError) as err:
                if not isinstance(err, FileNotFoundError):
                    logger.warning("cached JSON %s is invalid; recomputing", p)
                continue
            if p == legacy:  # an older document stays valid, unless it is the manifest of an array
                if p.with_suffix(".npy").exists() or isinstance(value, dict) \
                        and set(value) == {"shape", "dtype", "nbytes_file", "sha256"}:
                    continue
                write_atomic(path, p.read_bytes())  # copied to its own key
            return value
        text = json.dumps(_canonical(compute(), "the computed value"))
        write_atomic(path, text.encode())
        return json.loads(text)

    def prune_temp(self, older_than_hours: float = 24.0) -> tuple[list[Path], int]:
        """Delete what killed runs left; return ``(removed paths, bytes freed)``.

        Only hidden entries ending in ``.tmp`` last modified over ``older_than_hours`` ago go,
        so a run writing right now is safe.
        """
        if isinstance(older_than_hours, bool) or not isinstance(older_than_hours, (int, float, np.number)) \
                or not math.isfinite(older_than_hours) or older_than_hours < 0:
            raise ValueError(f"older_than_hours must be a finite number of hours >= 0 (NaN would delete "
                             f"what a running build writes); got {older_than_hours!r}")
        cutoff = time.time() - 3600 * older_than_hours
        removed, freed = [], 0
        for entry in sorted(self.root.glob(f"*/{TEMP_GLOB}")):
            try:
                if entry.lstat().st_mtime > cutoff:
                    continue
                folder = entry.is_dir() and not entry.is_symlink()
                size = sum(f.lstat().st_size for f in (entry.rglob("*") if folder else [entry])
                           if not f.is_dir())
                shutil.rmtree(entry) if folder else entry.unlink()
            except FileNotFoundError:  # another process cleaned it first
                continue
            removed.append(entry)
            freed += size
        return removed, freed
