"""A content-addressed store: ``<root>/<kind>/<key>``, the key the SHA-256 of all that changes the
artifact. Atomic writes; SHA-256 manifests (an entry failing them or its ``check`` is rebuilt); locks."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
from filelock import FileLock

from . import __version__
from .checks import check_dict, check_path, check_str

logger = logging.getLogger(__name__)

MANIFEST = "nbhelpers-manifest.json"
RESERVED_PARTS = ("kind", "nbhelpers_version")  # set by the cache (and "name" for arrays)
MAX_COMPONENT = 100  # bytes: a longer kind or key is stored under its SHA-256
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
    check_dict(parts, "parts", allow_empty=True)
    for k in set(_canonical(parts)) & set(reserved):
        raise ValueError(f"parts may not use the reserved name {k!r} (the cache sets "
                         f"{', '.join(reserved)} itself); rename that part")
    return make_key(kind=kind, **extra, **parts)


def make_key(**parts: Any) -> str:
    """SHA-256 hex digest of ``parts`` (JSON-like values) and the ``nbhelpers`` version, in any order.

    >>> make_key(seed=0, lr=1e-4) == make_key(lr=1e-4, seed=0), make_key(seed=0) == make_key(seed=1)
    (True, False)
    """
    if "nbhelpers_version" in parts:
        raise ValueError(f"make_key adds nbhelpers_version itself; got {parts['nbhelpers_version']!r}")
    payload = json.dumps({"nbhelpers_version": __version__, **_canonical(parts)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _component(value: str, name: str) -> str:
    """A plain file name (no separator, not ``.`` or ``..``); a long one is replaced by its SHA-256."""
    check_str(value, name)
    if not value or value in (".", "..") or any(c in value for c in "/\\\0"):
        raise ValueError(f"{name} must be a plain file name (no '/', '\\\\', NUL, '.' or '..'); "
                         f"got {value!r}")
    raw = os.fsencode(value)
    return value if len(raw) <= MAX_COMPONENT else hashlib.sha256(raw).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes, remembered per (path, size, mtime_ns, inode)."""
    st = os.stat(path)
    stamp = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if stamp not in _HASHES:
        with open(path, "rb") as f:
            _HASHES[stamp] = hashlib.file_digest(f, "sha256").hexdigest()
    return _HASHES[stamp]


def write_atomic(path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to a temporary sibling, fsync it, rename it to ``path``; ``mode`` whatever the umask."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    (path := Path(check_path(path, "path"))).parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _verified(folder: Path, manifest: Path, digests: Callable[[dict], dict], load: Callable, check) -> Any:
    """``load()`` if the files in ``digests(manifest)`` match their SHA-256 and ``check`` passes, or None."""
    if not manifest.exists():
        return None
    try:
        files = digests(json.loads(manifest.read_text()))
        if not files:
            raise ValueError("the manifest lists no files")
        for name, digest in files.items():
            if Path(name).is_absolute() or ".." in Path(name).parts or file_sha256(folder / name) != digest:
                raise ValueError(f"{name!r} lies outside the entry or its SHA-256 differs from the manifest")
        out = load()
        if check is not None:
            check(out)
        return out
    except Exception as err:  # corrupted, truncated, a foreign file, or a wrong value
        logger.warning("cached entry %s is invalid (%s); rebuilding", manifest, err)
        return None


class Cache:
    """Artifact store rooted at ``root`` (default ``$NBHELPERS_CACHE``, else ``~/.cache/nbhelpers``).

    >>> cache, calls = Cache(tempfile.mkdtemp()), []
    >>> f = lambda: calls.append(1) or np.arange(3.0)
    >>> [cache.array("demo", {"x": 1}, f).tolist() for _ in range(2)], len(calls)  # 2nd: loaded
    ([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]], 1)
    """

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            root = os.environ.get("NBHELPERS_CACHE") or Path.home() / ".cache" / "nbhelpers"
        self.root = Path(os.path.abspath(check_path(root, "root")))  # absolute: os.chdir moves nothing

    def _lock(self, kind: str, key: str) -> FileLock:  # held by builders; readers don't need it
        (folder := self.root / ".locks" / _component(kind, "kind")).mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f"{_component(key, 'key')}.lock"))

    def path(self, kind: str, key: str, suffix: str = "") -> Path:
        """Where the artifact ``kind``/``key`` lives (it may not exist yet)."""
        if isinstance(kind, str) and kind.startswith("."):
            raise ValueError(f"kind must be a plain folder name, not hidden; got {kind!r}")
        return self.root / _component(kind, "kind") / f"{_component(key, 'key')}{suffix}"

    def load_array(self, kind: str, key: str, check: Callable | None = None) -> np.ndarray | None:
        """The cached array, or None if missing, unlike its manifest, or failing ``check(arr)``."""
        path = self.path(kind, key, ".npy")
        return _verified(path.parent, self.path(kind, key, ".json"), lambda m: {path.name: m["sha256"]},
                         lambda: np.load(path, allow_pickle=False), check)

    def save_array(self, kind: str, key: str, arr: np.ndarray) -> Path:
        """Write ``arr`` (``np.save``), then its manifest, each atomically; return the path."""
        if (arr := np.asarray(arr)).dtype == object:
            raise ValueError("refusing to cache an object array (it would need pickle)")
        np.save(buf := io.BytesIO(), arr, allow_pickle=False)
        meta = {"shape": list(arr.shape), "dtype": str(arr.dtype), "nbytes_file": len(buf.getvalue()),
                "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
        write_atomic(path := self.path(kind, key, ".npy"), buf.getvalue())  # the array, then its manifest
        write_atomic(self.path(kind, key, ".json"), json.dumps(meta).encode())
        return path

    def array(self, kind: str, parts: dict, compute: Callable[[], np.ndarray],
              check: Callable[[np.ndarray], Any] | None = None) -> np.ndarray:
        """Load the array keyed by ``parts`` (a dict of all that changes it: JSON-like values, string keys),
        or ``compute()`` it on a miss and store it; ``check(arr)`` raises on a wrong value (never cached)."""
        key = _key(kind, parts)
        return self._arrays(kind, {"": key}, key, lambda: {"": compute()},
                            None if check is None else lambda _, arr: check(arr))[""]

    def arrays(self, kind: str, parts: dict, names: list[str], compute: Callable[[], dict],
               check: Callable[[str, np.ndarray], Any] | None = None) -> dict:
        """Like :meth:`array` for several arrays computed together: ``compute() -> {name: ndarray}``,
        ``check(name, arr)``; if any fails its check, none is written. Returns ``{name: ndarray}``."""
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
            result = {n: np.asarray(result[n]) for n in keys}
            for n in keys if check else ():
                check(n, result[n])
            for n, k in keys.items():
                self.save_array(kind, k, result[n])
        return result

    def load_dir(self, kind: str, key: str, check: Callable | None = None) -> Path | None:
        """The cached folder if every file matches its manifest and ``check(folder)`` passes, else None."""
        path = self.path(kind, key)
        return _verified(path, path / MANIFEST, lambda m: {n: e["sha256"] for n, e in m["files"].items()},
                         lambda: path, check)

    def directory(self, kind: str, parts: dict, build: Callable[[Path], Any],
                  check: Callable[[Path], Any] | None = None) -> Path:
        """``<root>/<kind>/<key>``, the folder keyed by ``parts``, built once: ``build(tmp)`` writes its files
        into a temporary folder, renamed into place; ``check(folder)`` raises if it is unusable (rebuilt)."""
        key = _key(kind, parts)
        if (found := self.load_dir(kind, key, check)) is not None:
            return found
        (final := self.path(kind, key)).parent.mkdir(parents=True, exist_ok=True)
        with self._lock(kind, key):  # one builder; nobody deletes a copy just renamed in
            if (found := self.load_dir(kind, key, check)) is not None:  # built meanwhile
                return found
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
            try:
                build(tmp)
                files = {p.relative_to(tmp).as_posix(): {"size": p.stat().st_size, "sha256": file_sha256(p)}
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
