"""Every NLI data set as one DataFrame schema, from local files or the public source.

``load_nli(name, split)`` returns a :class:`pandas.DataFrame` with the columns

- ``premise`` (str) and ``hypothesis`` (str): the text as in the source file, with
  trailing whitespace stripped and nothing else changed;
- ``label`` (int64): 0 entailment, 1 neutral, 2 contradiction. HANS keeps its two
  classes: 0 entailment, 1 non-entailment;

plus a few data-set specific columns: ``round`` and ``uid`` (ANLI), ``heuristic``
(HANS) and ``n_bert_correct`` (MNLI, local copy only).

Where the files come from
-------------------------
The first directory that holds every file a (name, split) needs wins, in this order:
the ``data_dir`` argument, the directories in ``$NBHELPERS_DATA`` (``os.pathsep``
separated), then ``../shared/data`` beside the repository root (``DEFAULT_DATA_DIR``).
Paths inside a directory follow ``shared/data/SOURCES.md``. If no directory holds the
files, the canonical public source is tried: Hugging Face ``datasets.load_dataset``, or
the raw GitHub files for the counterfactually augmented SNLI (CAD). If that fails too,
:class:`DataNotFoundError` lists what was searched and why the download failed.

============== ======================================= ===================================
name           local files (validation / test / train) public source
============== ======================================= ===================================
snli           snli/{dev,test}.tsv, snli/train.tsv      stanfordnlp/snli
cad-original   snli_cad/original/{train,dev,test}.tsv   acmi-lab/counterfactually-augmented-data
cad-augmented  snli_cad/all_combined/{...}.tsv          (same repository)
anli           anli/R{1,2,3}/{dev,test,train}.jsonl     facebook/anli (R1-R3 concatenated)
hans           hans/heuristics_{evaluation,train}_set   jhu-cogsci/hans
mnli-matched   ``mnli/dev_matched_*.tsv``               nyu-mll/multi_nli validation_matched
============== ======================================= ===================================

Offline, SNLI train and ANLI train are not available (see ``SOURCES.md``); chapters then
train on ``load_nli("mnli-matched", "validation")`` as a stated stand-in. HANS has no
official validation/test split: its 30,000 evaluation examples are split 10,000 / 20,000,
stratified by heuristic and label with a fixed seed (see :func:`load_nli`).

Results are cached in-process; every call returns a fresh copy.

Your own data
-------------
:func:`load_files` reads your own pairs: one CSV, TSV or JSON Lines file (split 60 / 20 /
20 by label) or three (train, validation, test), each with ``premise``, ``hypothesis`` and
``label`` (0/1/2 or entailment/neutral/contradiction), with the same checks as the
built-in sets. Chapters 1, 2, 3 and 5 take it as the ``data_files`` parameter.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import network

__all__ = [
    "DATASETS", "SPLITS", "NLI_LABELS", "HANS_LABELS", "HANS_HEURISTICS", "LABEL_NAMES",
    "DEFAULT_DATA_DIR", "ENV_VAR",
    "DataNotFoundError", "load_nli", "data_hash", "candidate_dirs", "find_data_dir",
    "clear_cache", "OWN_COLUMNS", "OWN_LABELS", "OWN_SPLIT_FRACTIONS", "read_nli_file",
    "load_files",
]

SPLITS = ("train", "validation", "test")
"""Split names every data set uses (a data set may offer fewer, see ``DATASETS``)."""

DATASETS = {
    "snli": ("train", "validation", "test"),
    "cad-original": ("train", "validation", "test"),
    "cad-augmented": ("train", "validation", "test"),
    "anli": ("train", "validation", "test"),
    "hans": ("train", "validation", "test"),
    "mnli-matched": ("validation",),
}
"""Data set name -> the splits :func:`load_nli` accepts for it."""

NLI_LABELS = ("entailment", "neutral", "contradiction")
"""The NLI class names; labels are always the integers 0, 1, 2 in this order (``nbhelpers.LABELS``)."""

HANS_LABELS = ("entailment", "non-entailment")
"""HANS's two class names, in the order of its integer labels."""

HANS_HEURISTICS = ("lexical_overlap", "subsequence", "constituent")
"""HANS's three syntactic heuristics (its ``heuristic`` column), in the paper's order (Table 6)."""

LABEL_NAMES = {name: NLI_LABELS for name in DATASETS}
LABEL_NAMES["hans"] = HANS_LABELS
"""Data set name -> class names, in the order of the integer labels."""

ENV_VAR = "NBHELPERS_DATA"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``<repository root>/../shared/data``: where a developer's checkout and CI keep the data."""

CAD_URL = ("https://raw.githubusercontent.com/acmi-lab/counterfactually-augmented-data/"
           "master/NLI/{folder}/{split}.tsv")
DOWNLOAD_TIMEOUT_S = 10
HANS_SEED = 0
HANS_VALIDATION_FRACTION = 1 / 3  # 10,000 of the 30,000 evaluation examples

_FILE_SPLIT = {"train": "train", "validation": "dev", "test": "test"}


class DataNotFoundError(FileNotFoundError, ValueError):
    """No directory holds the files a data set needs, and the download failed.

    A :class:`FileNotFoundError` and, like every other data error here, a
    :class:`ValueError`.
    """


# ---------------------------------------------------------------------------
# File formats and readers
# ---------------------------------------------------------------------------
@dataclass
class _Format:
    """How one file type maps onto the schema."""

    columns: dict  # source column/key -> output column (must include premise, hypothesis, label)
    labels: dict  # source label string -> int
    quoting: int = csv.QUOTE_NONE
    drop_labels: tuple = ()  # labels whose rows are dropped and counted
    ints: tuple = ()  # output columns parsed as integers
    extra_str: tuple = ()  # output columns kept as plain strings
    casefold: bool = False  # match label strings case-insensitively


_NLI3_LABELS = {name: i for i, name in enumerate(NLI_LABELS)}
_SNLI_COLUMNS = {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label"}

_CAD = _Format(_SNLI_COLUMNS, _NLI3_LABELS, quoting=csv.QUOTE_MINIMAL, drop_labels=("-",))
_SNLI = _Format(_SNLI_COLUMNS, _NLI3_LABELS, drop_labels=("-",))
_MNLI = _Format(
    {"premise": "premise", "hypothesis": "hypothesis", "gold_label": "label",
     "number of correct responses (out of 100)": "n_bert_correct"},
    _NLI3_LABELS, drop_labels=("-",), ints=("n_bert_correct",))
_HANS = _Format(
    {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label",
     "heuristic": "heuristic"},
    {name: i for i, name in enumerate(HANS_LABELS)}, extra_str=("heuristic",))
_ANLI = _Format(
    {"uid": "uid", "context": "premise", "hypothesis": "hypothesis", "label": "label"},
    {"e": 0, "n": 1, "c": 2}, extra_str=("uid",))


def _expected_labels(fmt):
    names = ", ".join(repr(k) for k in fmt.labels)
    if fmt.drop_labels:
        names += " (or " + ", ".join(repr(k) for k in fmt.drop_labels) + ", dropped)"
    return names


def _convert(record, fmt, out, where):
    """Check one row (a dict source column -> raw value) and append it to ``out``.

    Returns True if the row was kept, False if its label is one of ``fmt.drop_labels``.
    """
    label_column = next(src for src, dst in fmt.columns.items() if dst == "label")
    raw_label = str(record[label_column]).strip()
    key = raw_label.casefold() if fmt.casefold else raw_label
    if key in fmt.drop_labels:
        return False
    if key not in fmt.labels:
        raise ValueError(f"{where}: unknown label {raw_label!r}; expected one of "
                         f"{_expected_labels(fmt)} (column {label_column!r})")
    for src, dst in fmt.columns.items():
        value = record[src]
        if dst == "label":
            out[dst].append(fmt.labels[key])
        elif dst in fmt.ints:
            try:
                out[dst].append(int(str(value).strip()))
            except ValueError:
                raise ValueError(f"{where}: column {src!r} should be an integer, "
                                 f"found {value!r}") from None
        else:
            if not isinstance(value, str):
                raise ValueError(f"{where}: {src!r} should be a string, found {value!r}")
            value = value.rstrip()
            if not value and dst in ("premise", "hypothesis"):
                raise ValueError(f"{where}: empty {dst} (column {src!r})")
            out[dst].append(value)
    return True


def _frame(out, fmt):
    """Columns collected by ``_convert`` -> DataFrame in schema order and dtypes."""
    order = ["premise", "hypothesis", "label"]
    order += [c for c in fmt.columns.values() if c not in order]
    df = pd.DataFrame({c: out[c] for c in order})
    dtypes = {c: "int64" for c in ("label", *fmt.ints)}
    dtypes.update({c: "str" for c in ("premise", "hypothesis", *fmt.extra_str)})
    return df.astype(dtypes)


def _warn_dropped(n, source, fmt):
    if n:
        warnings.warn(f"{source}: dropped {n} row(s) labelled "
                      f"{' or '.join(map(repr, fmt.drop_labels))} (no gold label)",
                      UserWarning, stacklevel=6)  # points at the caller of load_nli


def _read_tsv(path, fmt, source=None, delimiter="\t"):
    """Read one tab-separated (or, with ``delimiter=","``, comma-separated) file with a
    header into the schema.

    ``source`` names the file in messages (default: ``path``). Line numbers count the
    header as line 1.
    """
    source = source or str(path)
    kind = "tab-separated" if delimiter == "\t" else "comma-separated"
    out = {c: [] for c in fmt.columns.values()}
    dropped = 0
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quoting=fmt.quoting)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as err:
            raise _read_error(path, source, 1, err, kind) from None
        expected = list(fmt.columns)
        if header is None:
            raise ValueError(f"{source}: empty file; expected a header with the columns "
                             f"{expected}")
        header = [h.strip() for h in header]
        if any(c not in header for c in expected):
            raise ValueError(f"{source}: unexpected header; expected the columns "
                             f"{expected}, found {header}")
        position = {c: header.index(c) for c in expected}
        start = reader.line_num + 1  # the line the next row starts on
        try:
            for row in reader:
                where = f"{source}, line {start}"
                first, start = start, reader.line_num + 1
                if not row:  # a blank line
                    continue
                if reader.line_num > first or any("\n" in f or "\r" in f for f in row):
                    # a quoted field ran on over a line break (to the end of the file?)
                    raise ValueError(
                        f"{where}: a quote opened on this line does not close before line "
                        f"{reader.line_num + 1}; expected one row per line (a stray '\"'?)")
                if len(row) != len(header):
                    raise ValueError(f"{where}: expected {len(header)} {kind} fields "
                                     f"(as in the header), found {len(row)}")
                record = {c: row[i] for c, i in position.items()}
                dropped += not _convert(record, fmt, out, where)
        except (csv.Error, UnicodeDecodeError) as err:
            raise _read_error(path, source, start, err, kind) from None
    _warn_dropped(dropped, source, fmt)
    return _frame(out, fmt)


def _read_error(path, source, line, err, kind="tab-separated"):
    """A ValueError naming the file and line for a csv or decoding error."""
    if isinstance(err, UnicodeDecodeError):
        line = _first_undecodable_line(path) or line
        return ValueError(f"{source}, line {line}: not valid UTF-8 ({err.reason} at byte "
                          f"{err.object[err.start:err.start + 1]!r}); expected UTF-8 text")
    if "field larger than field limit" in str(err):
        return ValueError(
            f"{source}, line {line}: a field is longer than the csv module's limit of "
            f"{csv.field_size_limit()} characters ({err}); usually a quote that never "
            f"closes and swallows the rest of the file")
    return ValueError(f"{source}, line {line}: malformed {kind} row ({err}); "
                      f"a quote that never closes?")


def _first_undecodable_line(path):
    """The 1-based number of the first line of ``path`` that is not valid UTF-8."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _read_jsonl(path, fmt, source=None):
    """Read one JSON Lines file (one object per line) into the schema."""
    source = source or str(path)
    out = {c: [] for c in fmt.columns.values()}
    dropped = 0
    number = 0
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{source}, line {number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{where}: not valid JSON ({err.msg})") from None
                missing = [k for k in fmt.columns if not isinstance(record, dict) or k not in record]
                if missing:
                    found = sorted(record) if isinstance(record, dict) else type(record).__name__
                    raise ValueError(f"{where}: expected the keys {list(fmt.columns)}, "
                                     f"found {found}")
                dropped += not _convert(record, fmt, out, where)
        except UnicodeDecodeError as err:
            raise _read_error(path, source, number + 1, err) from None
    _warn_dropped(dropped, source, fmt)
    return _frame(out, fmt)


# ---------------------------------------------------------------------------
# What each (name, split) needs
# ---------------------------------------------------------------------------
def _local_files(name, split):
    """Relative paths a (name, split) is read from; all must lie in one directory."""
    if name == "snli":
        return (f"snli/{_FILE_SPLIT[split]}.tsv",)
    if name in ("cad-original", "cad-augmented"):
        folder = "original" if name == "cad-original" else "all_combined"
        return (f"snli_cad/{folder}/{_FILE_SPLIT[split]}.tsv",)
    if name == "anli":
        return tuple(f"anli/R{r}/{_FILE_SPLIT[split]}.jsonl" for r in (1, 2, 3))
    if name == "hans":
        kind = "train" if split == "train" else "evaluation"
        return (f"hans/heuristics_{kind}_set.tsv",)
    if name == "mnli-matched":
        return ("mnli/dev_matched_with_bert_correct_counts.tsv",)
    raise AssertionError(name)  # pragma: no cover - names are checked first


def _parse_local(name, split, paths):
    """Parse the files of ``_local_files(name, split)`` (absolute ``paths``)."""
    if name == "anli":
        parts = []
        for rnd, path in enumerate(paths, start=1):
            part = _read_jsonl(path, _ANLI)
            part.insert(3, "round", np.int64(rnd))
            parts.append(part)
        return pd.concat(parts, ignore_index=True)
    fmt = {"snli": _SNLI, "cad-original": _CAD, "cad-augmented": _CAD,
           "hans": _HANS, "mnli-matched": _MNLI}[name]
    df = _read_tsv(paths[0], fmt)
    if name == "hans" and split != "train":
        df = _split_hans(df, split)
    return df


def _split_hans(df, split):
    """The fixed 1/3 validation, 2/3 test split of the HANS evaluation set.

    Rows are first sorted by content, so the split depends only on which examples the
    file holds, not on their order (the local copy and the hub copy are ordered
    differently). The split is stratified by heuristic x label; the returned rows keep
    the (seeded, shuffled) order of ``train_test_split``.
    """
    from sklearn.model_selection import train_test_split

    key = df.sort_values(["heuristic", "label", "premise", "hypothesis"],
                         kind="stable", ignore_index=True)
    strata = key["heuristic"] + "|" + key["label"].astype(str)
    n_validation = int(round(len(key) * HANS_VALIDATION_FRACTION))
    try:
        validation, test = train_test_split(
            np.arange(len(key)), train_size=n_validation,
            test_size=len(key) - n_validation, stratify=strata, random_state=HANS_SEED)
    except ValueError as err:
        raise ValueError(f"cannot split {len(key)} HANS examples into {n_validation} "
                         f"validation / {len(key) - n_validation} test rows stratified by "
                         f"heuristic x label: {err}") from err
    rows = validation if split == "validation" else test
    return key.iloc[rows].reset_index(drop=True)


def _check_name_split(name, split):
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    if split not in DATASETS[name]:
        raise ValueError(f"unknown split {split!r} for {name!r}; expected one of "
                         f"{', '.join(DATASETS[name])}")


# ---------------------------------------------------------------------------
# Directories
# ---------------------------------------------------------------------------
def _candidates(data_dir=None):
    """``[(directory, where it came from), ...]`` in search order, duplicates removed."""
    found = []
    if data_dir is not None:
        found.append((Path(data_dir).expanduser(), "data_dir argument"))
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            found.append((Path(entry.strip()).expanduser(), f"${ENV_VAR}"))
    found.append((Path(DEFAULT_DATA_DIR), "default, beside the repository"))
    unique, seen = [], set()
    for path, origin in found:
        try:
            key = path.resolve()
        except (RuntimeError, OSError) as err:  # Python < 3.13 raises RuntimeError on a loop
            raise ValueError(f"data directory {path} ({origin}) cannot be resolved: {err}; "
                             "expected a directory (is it a symlink loop?)") from None
        if key not in seen:
            seen.add(key)
            unique.append((path, origin))
    return unique


def candidate_dirs(data_dir=None):
    """The directories :func:`load_nli` searches, in order.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Searched first when given.

    Returns
    -------
    list of pathlib.Path
        ``data_dir``, then each directory in ``$NBHELPERS_DATA`` (``os.pathsep``
        separated), then ``DEFAULT_DATA_DIR``; duplicates removed. Directories that do
        not exist are listed too.

    Examples
    --------
    >>> dirs = candidate_dirs("my_data")
    >>> dirs[0].name, dirs[-1] == DEFAULT_DATA_DIR
    ('my_data', True)
    """
    return [path for path, _ in _candidates(data_dir)]


def find_data_dir(files, data_dir=None):
    """The first directory of :func:`candidate_dirs` that holds all ``files``.

    Parameters
    ----------
    files : sequence of str
        Paths relative to a data directory, e.g. ``["snli/dev.tsv"]``.
    data_dir : str or os.PathLike, optional
        Searched first when given.

    Returns
    -------
    pathlib.Path or None
        The directory, or None when no candidate holds every file.

    Examples
    --------
    >>> (find_data_dir(["snli/dev.tsv"]) / "snli" / "dev.tsv").is_file()
    True
    >>> find_data_dir(["no/such/file.tsv"]) is None
    True
    """
    for directory in candidate_dirs(data_dir):
        if all((directory / f).is_file() for f in files):
            return directory
    return None


# ---------------------------------------------------------------------------
# SHA-256 of the shared files (SOURCES.md), checked once per file and process
# ---------------------------------------------------------------------------
_SHA_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\S.*?)\s*$")


@functools.lru_cache(maxsize=16)
def _recorded_hashes(sources_md, _stamp):
    """``{relative path: sha256}`` from the ``<sha256>  <path>`` lines of a SOURCES.md."""
    hashes = {}
    with open(sources_md, encoding="utf-8-sig") as fh:
        for line in fh:
            match = _SHA_LINE.match(line)
            if match:
                hashes[match.group(2)] = match.group(1).lower()
    return hashes


@functools.lru_cache(maxsize=256)
def _verify_file(directory, relative, _stamp):
    """Warn if ``directory/relative`` differs from the hash its SOURCES.md records."""
    sources_md = Path(directory) / "SOURCES.md"
    if not sources_md.is_file():
        return
    expected = _recorded_hashes(str(sources_md), _file_stamp(sources_md)).get(relative)
    if expected is None:
        return
    digest = hashlib.sha256()
    with open(Path(directory) / relative, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        warnings.warn(f"{Path(directory) / relative}: SHA-256 {digest.hexdigest()} differs "
                      f"from {expected} recorded in {sources_md}; using the file anyway",
                      UserWarning, stacklevel=4)


def _file_stamp(path):
    stat = os.stat(path)
    return (stat.st_mtime_ns, stat.st_size)


# ---------------------------------------------------------------------------
# Public sources (need internet)
# ---------------------------------------------------------------------------
_HUB = {
    # name -> (repository ids to try, {split: hub split(s)})
    "snli": (("stanfordnlp/snli",),
             {"train": "train", "validation": "validation", "test": "test"}),
    "anli": (("facebook/anli",),
             {s: tuple(f"{_FILE_SPLIT[s]}_r{r}" for r in (1, 2, 3)) for s in SPLITS}),
    "hans": (("jhu-cogsci/hans", "hans"),
             {"train": "train", "validation": "validation", "test": "validation"}),
    "mnli-matched": (("nyu-mll/multi_nli",), {"validation": "validation_matched"}),
}


def _offline():
    """True when the environment asks for no downloads (HF_HUB_OFFLINE, HF_DATASETS_OFFLINE)."""
    return network.offline_requested()


def _hub_frame(dataset, names, extra):
    """A Hugging Face split -> the schema; checks the label order, drops label -1."""
    label_names = getattr(dataset.features.get("label"), "names", None)
    if label_names is not None and tuple(label_names) != tuple(names):
        raise ValueError(f"hub labels are {label_names}; expected {list(names)}")
    df = dataset.to_pandas()
    df = df[df["label"] >= 0]
    out = df[["premise", "hypothesis", "label", *extra]].reset_index(drop=True)
    out["premise"] = out["premise"].astype("str").str.rstrip()
    out["hypothesis"] = out["hypothesis"].astype("str").str.rstrip()
    return out.astype({"label": "int64"})


def _load_from_hub(name, split):
    """Download (name, split) from its public source; raise RuntimeError saying what failed.

    Needs internet (or, for the Hugging Face sets, a filled ``datasets`` cache).
    """
    if name in ("cad-original", "cad-augmented"):
        return _download_cad(name, split)
    repos, splits = _HUB[name]
    if not _offline():  # offline mode reads datasets' own cache; otherwise probe first
        reason = network.no_network_reason()
        if reason:
            raise RuntimeError(f"download from the Hugging Face hub not attempted: {reason}")
    hub_splits = splits[split]
    hub_splits = (hub_splits,) if isinstance(hub_splits, str) else hub_splits
    errors = []
    for repo in repos:
        tried = f"datasets.load_dataset({repo!r}, split={'/'.join(hub_splits)!r})"
        try:
            import datasets

            parts = []
            for rnd, hub_split in enumerate(hub_splits, start=1):
                ds = datasets.load_dataset(repo, split=hub_split)
                if name == "anli":
                    part = _hub_frame(ds, LABEL_NAMES[name], ["uid"])
                    part.insert(3, "round", np.int64(rnd))
                elif name == "hans":
                    part = _hub_frame(ds, LABEL_NAMES[name], ["heuristic"])
                else:
                    part = _hub_frame(ds, LABEL_NAMES[name], [])
                parts.append(part)
            df = pd.concat(parts, ignore_index=True)
        except Exception as err:  # any failure is reported, with its cause
            errors.append(f"{tried} failed: {type(err).__name__}: {err}")
            continue
        if name == "hans" and split != "train":
            df = _split_hans(df, split)
        return df
    raise RuntimeError("; ".join(errors))


def _download_cad(name, split):
    """Fetch one CAD file from GitHub into a temporary file and parse it."""
    folder = "original" if name == "cad-original" else "all_combined"
    url = CAD_URL.format(folder=folder, split=_FILE_SPLIT[split])
    if _offline():
        raise RuntimeError(f"download of {url} not attempted: offline mode is set "
                           f"(HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)")
    reason = network.no_network_reason("raw.githubusercontent.com")
    if reason:
        raise RuntimeError(f"download of {url} not attempted: {reason}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cad.tsv"
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                path.write_bytes(response.read())
            return _read_tsv(path, _CAD, source=url)
    except ValueError:
        raise  # the file came but is malformed: say so, not "not found"
    except Exception as err:
        raise RuntimeError(f"download of {url} failed: {type(err).__name__}: {err}") from err


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _load_local_cached(name, split, directory, stamps):
    """Parse (name, split) from ``directory``; ``stamps`` (mtime, size) key the cache."""
    relatives = _local_files(name, split)
    for relative, stamp in zip(relatives, stamps):
        _verify_file(directory, relative, stamp)
    return _parse_local(name, split, [Path(directory) / r for r in relatives])


@functools.lru_cache(maxsize=8)
def _load_hub_cached(name, split):
    return _load_from_hub(name, split)


def load_nli(name, split, data_dir=None):
    """Load one split of an NLI data set as a DataFrame with one schema.

    Parameters
    ----------
    name : str
        One of ``DATASETS``: ``"snli"``, ``"cad-original"``, ``"cad-augmented"``,
        ``"anli"``, ``"hans"``, ``"mnli-matched"``.
    split : str
        ``"train"``, ``"validation"`` or ``"test"`` (``DATASETS[name]`` lists what a
        data set offers; ``mnli-matched`` has only ``"validation"``, which chapters
        use as the offline stand-in for ANLI train).
    data_dir : str or os.PathLike, optional
        Searched before ``$NBHELPERS_DATA`` and ``DEFAULT_DATA_DIR``.

    Returns
    -------
    pandas.DataFrame
        N rows with ``premise`` (str), ``hypothesis`` (str) and ``label`` (int64: 0
        entailment, 1 neutral, 2 contradiction; HANS: 0 entailment, 1 non-entailment),
        plus ``round`` (int64, 1-3) and ``uid`` (str) for ANLI, ``heuristic`` (str) for
        HANS and ``n_bert_correct`` (int64, 0-100; local file only) for MNLI. Rows
        labelled ``-`` (no gold label) are dropped with a warning.

    Raises
    ------
    ValueError
        For an unknown name or split, and for a malformed file (wrong header, wrong
        number of fields, empty text, unknown label), naming the file and line.
    DataNotFoundError
        (a ValueError and FileNotFoundError) when no directory holds the files and the
        download fails; the message lists the directories searched and the error.

    Notes
    -----
    HANS validation / test are a fixed split of the 30,000 evaluation examples into
    10,000 / 20,000, stratified by heuristic x label (``random_state=0``); rows come in
    a fixed shuffled order. Local SNLI validation / test text is tokenised ("does n't",
    "packages ."), unlike the raw CAD files the chapters train on; the hub copy is raw
    text. Chapter 1 measures what the tokenised form costs one model on the 400
    CAD-original test pairs (:func:`nbhelpers.tokenisation.match_tokenised`). Each file
    is checked once against the SHA-256 in its directory's ``SOURCES.md`` (a mismatch
    warns). Results are cached per process (see
    :func:`clear_cache`); each call returns a copy.

    Examples
    --------
    >>> df = load_nli("cad-original", "validation")
    >>> df.shape, df.columns.tolist()
    ((200, 3), ['premise', 'hypothesis', 'label'])
    >>> df["label"].value_counts().sort_index().tolist()
    [74, 75, 51]
    """
    _check_name_split(name, split)
    relatives = _local_files(name, split)
    directory = find_data_dir(relatives, data_dir)
    if directory is not None:
        stamps = tuple(_file_stamp(directory / r) for r in relatives)
        df = _load_local_cached(name, split, str(directory.resolve()), stamps)
        return df.copy()
    try:
        df = _load_hub_cached(name, split)
    except RuntimeError as err:
        searched = "\n".join(
            f"  - {path} ({origin}{'' if path.is_dir() else '; does not exist'})"
            for path, origin in _candidates(data_dir))
        raise DataNotFoundError(
            f"no local copy of {name!r} {split!r} and the download failed.\n"
            f"Looked for {', '.join(relatives)} in:\n{searched}\n"
            f"Tried: {err}\n"
            f"Put the file(s) in one of these directories, set ${ENV_VAR}, or connect "
            f"to the internet.") from err
    return df.copy()


def clear_cache():
    """Forget parsed data sets and checked hashes, so the next call rereads the files.

    Returns
    -------
    None

    Examples
    --------
    >>> clear_cache()
    """
    for cached in (_load_local_cached, _load_hub_cached, _verify_file, _recorded_hashes):
        cached.cache_clear()


def data_hash(df):
    """SHA-256 of a DataFrame's content: column names, index and values.

    Stable across processes and machines with the same pandas version; use it to key
    cached models and representations by the data they came from.

    Parameters
    ----------
    df : pandas.DataFrame
        Any frame, e.g. from :func:`load_nli`.

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> df = pd.DataFrame({"premise": ["A dog runs."], "hypothesis": ["An animal moves."],
    ...                    "label": [0]})
    >>> h = data_hash(df)
    >>> len(h), h == data_hash(df.copy())
    (64, True)
    >>> h == data_hash(df.assign(label=[2]))
    False
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in df.columns]).encode("utf-8"))
    rows = pd.util.hash_pandas_object(df, index=True).to_numpy().astype("<u8")
    digest.update(rows.tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Your own data: CSV, TSV or JSON Lines files with premise, hypothesis, label
# ---------------------------------------------------------------------------
OWN_COLUMNS = ("premise", "hypothesis", "label")
"""The columns (CSV, TSV) or keys (JSON Lines) a file of your own must have."""

OWN_LABELS = {**{name: i for i, name in enumerate(NLI_LABELS)}, **{str(i): i for i in range(3)}}
"""Label values a file of your own may use: the names (any case) or the integers 0, 1, 2."""

OWN_SPLIT_FRACTIONS = {"train": 0.6, "validation": 0.2, "test": 0.2}
"""How one file is split when no separate validation and test files are given."""

OWN_SPLIT_SEED = 0

_OWN = _Format({c: c for c in OWN_COLUMNS}, OWN_LABELS, quoting=csv.QUOTE_MINIMAL,
               drop_labels=("-",), casefold=True)
_OWN_READERS = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}


def read_nli_file(path):
    """Read one file of your own NLI pairs into the schema of :func:`load_nli`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.tsv`` (a header row, then one pair per row; fields may be quoted
        as spreadsheets and ``pandas.to_csv`` quote them) or ``.jsonl`` file (one JSON
        object per line) with the columns or keys ``premise``, ``hypothesis`` and
        ``label``. Other columns are ignored.

    Returns
    -------
    pandas.DataFrame
        ``premise`` (str), ``hypothesis`` (str), ``label`` (int64). A label may be given
        as ``0``/``1``/``2`` or as ``entailment``/``neutral``/``contradiction`` (any case);
        rows labelled ``-`` are dropped with a warning, as in SNLI.

    Raises
    ------
    ValueError
        For a missing file, an unknown extension, a missing column, an empty premise or
        hypothesis, or a label outside the label set; the message names the file, the line,
        the column and the value found.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.csv"
    >>> _ = path.write_text("premise,hypothesis,label\\nA dog runs.,An animal moves.,entailment\\n"
    ...                     "A dog runs.,A cat sleeps.,2\\n")
    >>> read_nli_file(path)["label"].tolist()
    [0, 2]
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in _OWN_READERS:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; expected one of "
                         f"{', '.join(_OWN_READERS)}")
    if not path.is_file():
        raise ValueError(f"{path}: no such file (resolved to {path.resolve()}; relative paths "
                         f"start from the working directory {Path.cwd()}, which papermill's "
                         f"--cwd sets); expected a {suffix} file")
    if _OWN_READERS[suffix] is None:
        df = _read_jsonl_own(path)
    else:
        df = _read_own_table(path, _OWN_READERS[suffix])
    if df.empty:
        raise ValueError(f"{path}: no labelled pairs; expected at least one row with the "
                         f"columns {list(OWN_COLUMNS)}")
    return df


def _read_own_table(path, delimiter):
    """A CSV or TSV of your own: the header must hold the columns, in any order."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            header = next(csv.reader(fh, delimiter=delimiter), None)
        except (csv.Error, UnicodeDecodeError) as err:
            raise _read_error(path, str(path), 1, err) from None
    header = [h.strip() for h in header or []]
    missing = [c for c in OWN_COLUMNS if c not in header]
    if missing:
        kind = "tab" if delimiter == "\t" else "comma"
        raise ValueError(f"{path}: missing column(s) {missing} in the header; expected the "
                         f"columns {list(OWN_COLUMNS)} ({kind}-separated), found {header}")
    fmt = _Format({**{h: h for h in header if h not in OWN_COLUMNS}, **_OWN.columns},
                  _OWN.labels, quoting=_OWN.quoting, drop_labels=_OWN.drop_labels,
                  casefold=True)
    df = _read_tsv(path, fmt, delimiter=delimiter)
    return df[list(OWN_COLUMNS)]


def _read_jsonl_own(path):
    return _read_jsonl(path, _OWN)[list(OWN_COLUMNS)]


def _own_split(df, seed=OWN_SPLIT_SEED):
    """Split one frame into train / validation / test (:data:`OWN_SPLIT_FRACTIONS`),
    stratified by label, reproducibly."""
    rng = np.random.default_rng(seed)
    parts = {role: [] for role in OWN_SPLIT_FRACTIONS}
    for _, idx in sorted(df.groupby("label").indices.items()):
        idx = rng.permutation(idx)
        n_val = int(round(len(idx) * OWN_SPLIT_FRACTIONS["validation"]))
        n_test = int(round(len(idx) * OWN_SPLIT_FRACTIONS["test"]))
        parts["validation"].extend(idx[:n_val])
        parts["test"].extend(idx[n_val:n_val + n_test])
        parts["train"].extend(idx[n_val + n_test:])
    return {role: df.iloc[sorted(rows)].reset_index(drop=True) for role, rows in parts.items()}


def load_files(data_files, *, max_rows=None, seed=OWN_SPLIT_SEED):
    """Your own NLI data, as the three splits a chapter needs.

    Parameters
    ----------
    data_files : str, os.PathLike, list of 3 or dict
        One file (split into train / validation / test, 60 / 20 / 20 per label, with
        ``seed``), or three: ``[train, validation, test]`` or
        ``{"train": ..., "validation": ..., "test": ...}``. Each file as in
        :func:`read_nli_file` (CSV, TSV or JSON Lines with ``premise``, ``hypothesis``,
        ``label``). papermill parses ``-p data_files`` as YAML, so
        ``-p data_files '{train: a.csv, validation: b.csv, test: c.csv}'`` works.
    max_rows : dict or int, optional
        At most this many rows per split (a dict: per role), drawn at random with
        ``random_state=0``, as a chapter's smoke run does with the built-in sets.
    seed : int, default=0
        Seeds the split of a single file.

    Returns
    -------
    dict
        ``{"train": df, "validation": df, "test": df, "sources": {role: str}}``, the shape
        of :func:`nbhelpers.settings.load_setting`, so a chapter can use either.

    Raises
    ------
    ValueError
        For a malformed file (see :func:`read_nli_file`), a wrong ``data_files`` shape, or
        a split left with no pairs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
    >>> rows = [{"premise": f"P{i}.", "hypothesis": f"H{i}.", "label": i % 3} for i in range(15)]
    >>> _ = path.write_text("\\n".join(json.dumps(r) for r in rows))
    >>> splits = load_files(path)
    >>> [len(splits[r]) for r in ("train", "validation", "test")]
    [9, 3, 3]
    """
    if isinstance(data_files, str) and data_files.strip()[:1] in ("[", "{"):
        raise ValueError(f"data_files is the text {data_files!r}, not a list or dict: papermill's "
                         f"-p passes lists as strings; use -y 'data_files: [train.csv, "
                         f"validation.csv, test.csv]' (YAML), or one file")
    if isinstance(data_files, (str, os.PathLike)):
        frame = read_nli_file(data_files)
        out = _own_split(frame, seed=seed)
        share = {r: f"{f:.0%}" for r, f in OWN_SPLIT_FRACTIONS.items()}
        sources = {r: f"{data_files} ({share[r]}, split by label with seed {seed})" for r in out}
    else:
        if isinstance(data_files, dict):
            roles = set(data_files)
            if roles != set(SPLITS):
                raise ValueError(f"data_files has the keys {sorted(map(str, roles))}; expected "
                                 f"exactly {list(SPLITS)} (or one file, which is split)")
            paths = {r: data_files[r] for r in SPLITS}
        elif isinstance(data_files, (list, tuple)) and len(data_files) == 3:
            paths = dict(zip(SPLITS, data_files))
        else:
            raise ValueError(f"data_files should be one file, [train, validation, test] or a "
                             f"dict with those keys; got {data_files!r}")
        out = {r: read_nli_file(p) for r, p in paths.items()}
        sources = {r: str(p) for r, p in paths.items()}
    for role, df in out.items():
        if df.empty:
            raise ValueError(f"the {role} split of {sources[role]} has no pairs; expected at "
                             f"least one (a single file needs at least 5 pairs per label)")
        limit = max_rows.get(role) if isinstance(max_rows, dict) else max_rows
        if limit is not None and len(df) > int(limit):
            out[role] = df.sample(int(limit), random_state=0).reset_index(drop=True)
    out["sources"] = sources
    return out
