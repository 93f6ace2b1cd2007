"""Every data set, the paper's NLI sets and your own files, as one DataFrame schema."""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
import socket
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import checks

SPLITS = ("train", "validation", "test")
DATASETS = {"snli": SPLITS, "cad-original": SPLITS, "cad-augmented": SPLITS, "anli": SPLITS,
            "hans": SPLITS, "mnli-matched": ("validation",)}  # name -> the splits load_nli accepts
NLI_LABELS = ("entailment", "neutral", "contradiction")  # labels 0, 1, 2 (nbhelpers.LABELS)
HANS_LABELS = ("entailment", "non-entailment")
HANS_HEURISTICS = ("lexical_overlap", "subsequence", "constituent")  # the paper's order (Table 6)
LABEL_NAMES = {**{name: NLI_LABELS for name in DATASETS}, "hans": HANS_LABELS}  # in label order

ENV_VAR = "NBHELPERS_DATA"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # beside the repository
GITHUB_URL = "https://raw.githubusercontent.com/acmi-lab/counterfactually-augmented-data/master/"
HANS_SEED, HANS_VALIDATION_FRACTION = 0, 1 / 3  # 10,000 of the 30,000 evaluation examples validate
_FILE_SPLIT = {"train": "train", "validation": "dev", "test": "test"}
_CAD_FOLDER = {"cad-original": "original", "cad-augmented": "all_combined"}


def offline_requested() -> bool:
    """True when HF_HUB_OFFLINE, HF_DATASETS_OFFLINE or TRANSFORMERS_OFFLINE asks for no downloads."""
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def no_network_reason(host: str = "huggingface.co", port: int = 443, timeout: float = 2.0) -> str | None:
    """Why ``host`` cannot be reached, or None: a fast probe (Hugging Face would retry for a minute)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror as err:
        return f"{host} cannot be resolved ({err}); no network?"
    except OSError as err:
        return f"{host}:{port} cannot be reached ({err}); no network?"
    return None


class DataNotFoundError(FileNotFoundError, ValueError):
    """No directory holds the files a data set needs, and the download failed."""


# Each format: ({column as written: schema column}, {label as written: int}, quoting; None: JSON Lines)
_NLI3 = {name: i for i, name in enumerate(NLI_LABELS)}
_SNLI = {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label"}
_CAD = (_SNLI, _NLI3, csv.QUOTE_MINIMAL)  # a field that holds a quote is CSV-quoted (SOURCES.md)
_FORMATS = {
    "snli": (_SNLI, _NLI3, csv.QUOTE_NONE), "cad-original": _CAD, "cad-augmented": _CAD,
    "hans": ({**_SNLI, "heuristic": "heuristic"}, dict(zip(HANS_LABELS, (0, 1))), csv.QUOTE_NONE),
    "mnli-matched": ({"premise": "premise", "hypothesis": "hypothesis", "gold_label": "label"}, _NLI3,
                     csv.QUOTE_NONE),
    "anli": ({"uid": "uid", "context": "premise", "hypothesis": "hypothesis", "label": "label"},
             {"e": 0, "n": 1, "c": 2}, None),
}
_TEXTS = ("premise", "hypothesis", "text")


def _read_raw(path, quoting, sep="\t"):
    """A file as written (str values; JSON Lines as decoded) and the line each row starts on."""
    source = str(path)
    try:
        if quoting is None:  # JSON Lines: an object per line (a line that is not one holds no keys)
            rows, numbers = [], []
            for number, line in enumerate(Path(path).read_text(encoding="utf-8-sig").split("\n"), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{source}, line {number}: expected a JSON object ({err.msg})") from None
                rows.append(row if isinstance(row, dict) else {})
                numbers.append(number)
            return pd.DataFrame(rows), np.array(numbers, dtype=int)
        raw = pd.read_csv(path, sep=sep, quoting=quoting, header=None, dtype=str, keep_default_na=False,
                          skip_blank_lines=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        rows = Path(path).read_bytes().split(b"\n") if Path(path).is_file() else [b""]
        n = next((n for n, r in enumerate(rows) if r.decode(errors="ignore").encode() != r), 0)
        raise ValueError(f"{source}, line {n + 1}: not valid UTF-8 (found {rows[n][:60]!r}); expected UTF-8 "
                         f"text") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{source}: empty file; expected a header row") from None
    except pd.errors.ParserError as err:
        if found := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err)):
            kind = "tab-separated" if sep == "\t" else "comma-separated"
            raise ValueError(f"{source}, line {found[2]}: expected {found[1]} {kind} fields (as in the "
                             f"header), found {found[3]}") from None
        found = re.search(r"inside string starting at row (\d+)", str(err))
        raise ValueError(f"{source}{f', line {int(found[1]) + 1}' if found else ''}: a quote opened here "
                         f"never closes; expected a closing '\"' (a stray quote?)") from None
    raw = raw.iloc[1:].set_axis([str(h).strip() for h in raw.iloc[0]], axis=1)
    newlines = raw.apply(lambda column: column.str.count("\n")).sum(axis=1).to_numpy()
    lines = 2 + np.arange(len(raw)) + np.cumsum(newlines) - newlines
    if sep == "\t" and quoting != csv.QUOTE_NONE and newlines.any():  # a TSV row is one line
        raise ValueError(f"{source}, line {lines[np.flatnonzero(newlines)[0]]}: a quote opened on this line "
                         f"does not close on it; expected one row per line (a stray '\"'?)")
    keep = (raw != "").any(axis=1).to_numpy()  # not a blank line
    return raw[keep].reset_index(drop=True), lines[keep]


def _check_columns(raw, columns, source, expected=None):
    found = list(raw.columns)
    if missing := [c for c in columns if c not in found]:
        raise ValueError(f"{source}: missing column(s) {missing}; expected the columns "
                         f"{expected or list(columns)}, found {found}")
    if twice := [c for c in columns if found.count(c) > 1]:
        raise ValueError(f"{source}: the column {twice[0]!r} occurs {found.count(twice[0])} times in the "
                         f"header; expected it once")


def _to_schema(raw, lines, columns, labels, source):
    """Checked schema frame: text columns, ``label``, the others; ``-`` rows dropped; errors name a line."""
    _check_columns(raw, columns, source)
    df = raw[list(columns)].rename(columns=columns)

    def refuse(mask, message):  # raise for the first row where mask holds
        if np.any(mask):
            raise ValueError(f"{source}, line {lines[np.argmax(mask)]}: {message(int(np.argmax(mask)))}")
    for src, dst in columns.items():
        refuse(df[dst].isna().to_numpy(), lambda i: f"no {src!r}; expected the keys {list(columns)}")
    written = df["label"].astype(str).str.strip()
    key = written.str.casefold()  # 'Entailment' is 'entailment'
    dropped = (key == "-").to_numpy()
    refuse(~key.isin(list(labels)).to_numpy() & ~dropped, lambda i: (
        f"unknown label {written[i]!r}; expected one of {', '.join(map(repr, labels))} (or '-', dropped) "
        f"(column 'label')" + " (an empty field: fewer fields than the header?)" * (written[i] == "")))
    if dropped.any():
        warnings.warn(f"{source}: dropped {dropped.sum()} row(s) labelled '-' (no gold label)", stacklevel=2)
    df, lines = df.assign(label=key.map(labels))[~dropped].reset_index(drop=True), lines[~dropped]
    for src, dst in columns.items():
        if dst != "label":
            refuse(~df[dst].map(lambda v: isinstance(v, str)).to_numpy(dtype=bool),
                   lambda i: f"{src!r} should be a string, found {df[dst][i]!r}")
            df[dst] = df[dst].str.rstrip()
            refuse((dst in _TEXTS) & (df[dst] == "").to_numpy(), lambda i: f"empty {dst} (column {src!r})")
    order = [c for c in _TEXTS if c in df] + ["label"]
    df = df[order + [c for c in df if c not in order]]
    return df.astype({c: "int64" if c == "label" else "str" for c in df})


def _read_file(path, name):
    columns, labels, quoting = _FORMATS[name]
    return _to_schema(*_read_raw(path, quoting), columns, labels, str(path))


def _local_files(name, split):
    """Paths, relative to a data directory, that a (name, split) is read from."""
    s = _FILE_SPLIT[split]
    return {"snli": (f"snli/{s}.tsv",), "anli": tuple(f"anli/R{r}/{s}.jsonl" for r in (1, 2, 3)),
            "hans": (f"hans/heuristics_{'train' if s == 'train' else 'evaluation'}_set.tsv",),
            "mnli-matched": ("mnli/dev_matched_with_bert_correct_counts.tsv",),
            }.get(name) or (f"snli_cad/{_CAD_FOLDER[name]}/{s}.tsv",)


def _assemble(name, split, parts):
    """Concatenate a split's parts; split HANS evaluation 1/3 validation, 2/3 test (local and hub alike)."""
    from sklearn.model_selection import train_test_split
    if name == "anli":
        parts = [p.assign(round=np.int64(r))[["premise", "hypothesis", "label", "round", "uid"]]
                 for r, p in enumerate(parts, start=1)]
    df = pd.concat(parts, ignore_index=True)
    if name != "hans" or split == "train":
        return df
    df = df.sort_values(["heuristic", "label", "premise", "hypothesis"], kind="stable", ignore_index=True)
    n_val = int(round(len(df) * HANS_VALIDATION_FRACTION))
    rows = train_test_split(np.arange(len(df)), train_size=n_val, test_size=len(df) - n_val,
                            stratify=df["heuristic"] + "|" + df["label"].astype(str),
                            random_state=HANS_SEED)[split != "validation"]
    return df.iloc[rows].reset_index(drop=True)


_HUB = {"snli": ("stanfordnlp/snli",), "anli": ("facebook/anli",), "hans": ("jhu-cogsci/hans", "hans"),
        "mnli-matched": ("nyu-mll/multi_nli",)}  # repository ids to try


@functools.lru_cache(maxsize=8)
def _load_from_hub(name, split):
    """Download (name, split) from its public source; a RuntimeError says what failed."""
    offline = offline_requested()  # offline, datasets may still read its own cache
    if name in _CAD_FOLDER:  # the GitHub file, which pandas fetches
        url = GITHUB_URL + _local_files(name, split)[0].replace("snli_cad/", "NLI/")
        if reason := ("offline mode is set (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)" if offline
                      else no_network_reason("raw.githubusercontent.com")):
            raise RuntimeError(f"download of {url} not attempted: {reason}")
        try:
            return _read_file(url, name)
        except ValueError:
            raise  # the file came but is malformed: say so, not "not found"
        except Exception as err:
            raise RuntimeError(f"download of {url} failed: {type(err).__name__}: {err}") from err
    if not offline and (reason := no_network_reason()):
        raise RuntimeError(f"download from the Hugging Face hub not attempted: {reason}")
    hub = {"anli": [f"{_FILE_SPLIT[split]}_r{r}" for r in (1, 2, 3)], "mnli-matched": ["validation_matched"],
           "hans": ["train" if split == "train" else "validation"]}.get(name, [split])
    columns = ["premise", "hypothesis", "label", *{"anli": ["uid"], "hans": ["heuristic"]}.get(name, [])]
    errors = []
    for repo in _HUB[name]:
        try:
            import datasets
            parts = [datasets.load_dataset(repo, split=s) for s in hub]
            found = getattr(parts[0].features.get("label"), "names", None)
            if found not in (None, list(LABEL_NAMES[name])):
                raise ValueError(f"hub labels are {found}; expected {list(LABEL_NAMES[name])}")
        except Exception as err:  # any failure is reported, with its cause
            errors.append(f"datasets.load_dataset({repo!r}, split={'/'.join(hub)!r}) failed: "
                          f"{type(err).__name__}: {err}")
            continue
        frames = [p.to_pandas().query("label >= 0")[columns].reset_index(drop=True) for p in parts]  # -1: no
        return _assemble(name, split, [f.astype({"label": "int64"}).assign(
            **{c: f[c].astype("str").str.rstrip() for c in ("premise", "hypothesis")}) for f in frames])
    raise RuntimeError("; ".join(errors))


def _candidate_dirs(data_dir=None):
    """``[(directory, origin), ...]`` that :func:`load_nli` searches, in order, each directory once."""
    found = [(checks.check_path(data_dir, "data_dir"), "data_dir argument")] if data_dir is not None else []
    found += [(entry.strip(), f"${ENV_VAR}") for entry in os.environ.get(ENV_VAR, "").split(os.pathsep)
              if entry.strip()] + [(DEFAULT_DATA_DIR, "default, beside the repository")]
    unique = {}
    for path, origin in found:
        path = Path(path).expanduser()
        try:
            unique.setdefault(path.resolve(), (path, origin))
        except (RuntimeError, OSError) as err:  # Python < 3.13 raises RuntimeError on a loop
            raise ValueError(f"data directory {path} ({origin}) cannot be resolved: {err}; "
                             "expected a directory (is it a symlink loop?)") from None
    return list(unique.values())


def _find_data_dir(files, data_dir=None):
    """The first of :func:`_candidate_dirs` that holds all ``files`` (relative paths), or None."""
    return next((d for d, _ in _candidate_dirs(data_dir) if all((d / f).is_file() for f in files)), None)


@functools.lru_cache(maxsize=32)
def _load_local(name, split, directory, stamps):  # stamps: (mtime, size) of each file
    return _assemble(name, split, [_read_file(Path(directory) / r, name) for r in _local_files(name, split)])


def load_nli(name, split, data_dir=None):
    """Load one split (``DATASETS[name]``) of an NLI data set as a DataFrame (a copy, cached per process).

    Looks in ``data_dir``, ``$NBHELPERS_DATA``, ``DEFAULT_DATA_DIR`` (laid out as ``shared/data/SOURCES.md``
    says), then the public source. Columns: ``premise``, ``hypothesis``, ``label`` (int64; HANS:
    0 entailment, 1 non-entailment), and ``round``, ``uid`` (ANLI), ``heuristic`` (HANS).

    >>> df = load_nli("cad-original", "validation")
    >>> df.shape, df.columns.tolist()
    ((200, 3), ['premise', 'hypothesis', 'label'])
    >>> df["label"].value_counts().sort_index().tolist()
    [74, 75, 51]
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set name={name!r}; expected one of {', '.join(DATASETS)}")
    if split not in DATASETS[name]:
        raise ValueError(f"unknown split {split!r} for {name!r}; expected one of {', '.join(DATASETS[name])}")
    relatives = _local_files(name, split)
    if (directory := _find_data_dir(relatives, data_dir)) is not None:
        stamps = tuple((s.st_mtime_ns, s.st_size) for s in (os.stat(directory / r) for r in relatives))
        return _load_local(name, split, str(directory.resolve()), stamps).copy()
    try:
        return _load_from_hub(name, split).copy()
    except RuntimeError as err:
        searched = "\n".join(f"  - {path} ({origin}{'' if path.is_dir() else '; does not exist'})"
                             for path, origin in _candidate_dirs(data_dir))
        raise DataNotFoundError(
            f"no local copy of {name!r} {split!r} and the download failed.\nLooked for "
            f"{', '.join(relatives)} in:\n{searched}\nTried: {err}\nPut the file(s) in one of these "
            f"directories, set ${ENV_VAR}, or connect to the internet.") from err


def clear_cache():
    """Forget parsed data sets, so the next call rereads the files."""
    _load_local.cache_clear()
    _load_from_hub.cache_clear()


def data_hash(df):
    """SHA-256 of a DataFrame's column names, index and values (it keys cached models by their data).

    >>> df = pd.DataFrame({"premise": ["A dog runs."], "hypothesis": ["An animal moves."], "label": [0]})
    >>> data_hash(df) == data_hash(df.copy()), data_hash(df) == data_hash(df.assign(label=2))
    (True, False)
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a DataFrame; got {type(df).__name__}")
    digest = hashlib.sha256(json.dumps([str(c) for c in df.columns]).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(df, index=True).to_numpy().astype("<u8").tobytes())
    return digest.hexdigest()


def pair_groups(df: pd.DataFrame) -> np.ndarray:
    """A group id per row: rows linked through a shared premise, hypothesis or text, as an SNLI caption's
    hypotheses or a CAD original and its revisions are, form one group (for a cluster bootstrap).

    >>> pair_groups(pd.DataFrame({"premise": ["a", "a", "b", "c"], "hypothesis": ["x", "y", "y", "z"]}))
    array([0, 0, 0, 1])
    """
    from scipy.sparse import coo_matrix, csgraph
    cols = [c for c in ("premise", "hypothesis", "text") if c in checks.check_frame(df, "df")]
    if not cols or df[cols].isna().any(axis=None):  # a missing text would link unrelated rows
        raise ValueError(f"df needs premise and hypothesis, or text, none missing; got {list(df.columns)}")
    n, texts = len(df), np.concatenate([pd.factorize(df[c])[0] + i * len(df) for i, c in enumerate(cols, 1)])
    edges = coo_matrix((np.ones(texts.size), (np.arange(texts.size) % n, texts)), shape=(texts.size + n,) * 2)
    return pd.factorize(csgraph.connected_components(edges, directed=False)[1][:n])[0]


OWN_COLUMNS = ("premise", "hypothesis", "label")  # a file of single texts has "text", "label"
OWN_SPLIT_FRACTIONS = {"train": 0.6, "validation": 0.2, "test": 0.2}  # when one file is split
_OWN_QUOTING = {".csv": (csv.QUOTE_MINIMAL, ","), ".tsv": (csv.QUOTE_NONE, "\t"), ".jsonl": (None,),
                ".ndjson": (None,)}


def _read_own(path):
    """A file of your own as written, its line numbers, its columns (pairs or texts) and its name."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in _OWN_QUOTING:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; expected {', '.join(_OWN_QUOTING)}")
    if not path.is_file():
        raise ValueError(f"{path}: no such file (resolved to {path.resolve()}; relative paths start from the "
                         f"working directory {Path.cwd()}, which papermill's --cwd sets)")
    raw, lines = _read_raw(path, *_OWN_QUOTING[path.suffix.lower()])
    columns = OWN_COLUMNS if "text" not in raw or {"premise", "hypothesis"} & set(raw) else ("text", "label")
    _check_columns(raw, columns, str(path), f"{list(OWN_COLUMNS)} or ['text', 'label']")
    return raw, lines, columns, str(path)


def _own_frames(raws):
    """Schema frames of files read by :func:`_read_own`, with one label mapping: NLI's for pairs, the
    distinct labels (sorted; integers: '0' .. the largest) for texts. Returns (frames, names)."""
    if any("premise" in columns for _, _, columns, _ in raws):
        names = NLI_LABELS
    else:
        keys = set().union(*(r["label"].astype(str).str.strip().str.casefold() for r, *_ in raws)) - {"-", ""}
        digits = keys and all(k.isdigit() for k in keys)
        names = tuple(str(i) for i in range(max(map(int, keys)) + 1)) if digits else tuple(sorted(keys))
    labels = {**{n.casefold(): i for i, n in enumerate(names)}, **{str(i): i for i in range(len(names))}}
    frames = []
    for raw, lines, columns, source in raws:
        if (df := _to_schema(raw, lines, {c: c for c in columns}, labels, source)).empty:
            raise ValueError(f"{source}: no labelled rows; expected at least one with columns "
                             f"{list(columns)}")
        frames.append(df)
    return frames, tuple(names)


def load_files(data_files, *, max_rows=None, seed=0):
    """Your own data (pairs or single texts), as the three splits a chapter needs.

    ``data_files``: one ``.csv``, ``.tsv`` or ``.jsonl`` file (split 60 / 20 / 20 per label, seeded by
    ``seed``), or ``[train, validation, test]`` or a dict with those keys; columns ``premise``,
    ``hypothesis``, ``label`` or ``text``, ``label``. ``max_rows``: an int or a dict per split. Returns
    ``{"train", "validation", "test": df, "sources": {role: str}, "label_names": tuple}``.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.jsonl"
    >>> rows = [{"text": f"Review {i}.", "label": ["bad", "good"][i % 2]} for i in range(10)]
    >>> _ = path.write_text("\\n".join(json.dumps(r) for r in rows))
    >>> splits = load_files(path)
    >>> [len(splits[r]) for r in SPLITS], splits["label_names"]
    ([6, 2, 2], ('bad', 'good'))
    """
    checks.check_int(seed, "seed", low=0)
    limits = max_rows if isinstance(max_rows, dict) else dict.fromkeys(SPLITS, max_rows)
    for role, limit in limits.items():
        checks.check_choice(role, "a key of max_rows", SPLITS)
        if limit is not None:
            checks.check_int(limit, f"max_rows[{role!r}]" if max_rows is limits else "max_rows", low=0)
    if isinstance(data_files, dict) and set(data_files) == set(SPLITS):
        data_files = [data_files[role] for role in SPLITS]
    if isinstance(data_files, (list, tuple)) and len(data_files) == 3:
        raws = [_read_own(p) for p in data_files]
        frames, names = _own_frames(raws)
        out, sources = dict(zip(SPLITS, frames)), {r: raw[3] for r, raw in zip(SPLITS, raws)}
    elif not isinstance(data_files, (str, os.PathLike)) or str(data_files).strip()[:1] in ("[", "{"):
        raise ValueError(f"data_files should be one file, [train, validation, test] or a dict with exactly "
                         f"those keys; got {data_files!r} (papermill's -p passes a list as text: use -y)")
    else:  # split 60 / 20 / 20 (OWN_SPLIT_FRACTIONS) per label, reproducibly
        (df,), names = _own_frames([_read_own(data_files)])
        rng, rows = np.random.default_rng(seed), {role: [] for role in OWN_SPLIT_FRACTIONS}
        for _, idx in sorted(df.groupby("label").indices.items()):
            idx = rng.permutation(idx)
            n_val, n_test = (int(round(len(idx) * OWN_SPLIT_FRACTIONS[r])) for r in ("validation", "test"))
            for role, part in zip(("validation", "test", "train"), np.split(idx, [n_val, n_val + n_test])):
                rows[role].extend(part)
        out = {role: df.iloc[sorted(r)].reset_index(drop=True) for role, r in rows.items()}
        sources = {r: f"{data_files} ({f:.0%}, split by label with seed {seed})"
                   for r, f in OWN_SPLIT_FRACTIONS.items()}
    for role, df in out.items():
        if df.empty:
            raise ValueError(f"the {role} split of {sources[role]} has no rows; expected at least one "
                             f"(a single file needs at least 5 rows per label)")
        if limits.get(role) is not None and len(df) > limits[role]:
            out[role] = df.sample(limits[role], random_state=0).reset_index(drop=True)
    return {**out, "sources": sources, "label_names": names}


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _text_key(premise: str, hypothesis: str) -> str:
    """A key equal for the raw and the tokenised form of a pair: lowercase letters and digits only.

    >>> _text_key("He doesn't eat lunch.", "No."), _text_key("He does n't eat lunch .", "No .")
    ('hedoesnteatlunch|no', 'hedoesnteatlunch|no')
    """
    return f"{_NOT_ALNUM.sub('', premise.lower())}|{_NOT_ALNUM.sub('', hypothesis.lower())}"


def match_tokenised(raw_df: pd.DataFrame, tokenised_df: pd.DataFrame) -> pd.DataFrame:
    """Position of each raw pair's first copy in ``tokenised_df`` (equal :func:`_text_key`); ``same_text``.

    >>> raw = pd.DataFrame({"premise": ["A dog's toy.", "Rain."], "hypothesis": ["Toy.", "Sun."]})
    >>> tok = pd.DataFrame({"premise": ["x", "A dog 's toy ."], "hypothesis": ["y", "Toy ."]})
    >>> match_tokenised(raw, tok).to_dict("records")
    [{'raw': 0, 'tokenised': 1, 'same_text': False}]
    """
    checks.check_pairs(raw_df, need_label=False, name="raw_df")
    checks.check_pairs(tokenised_df, need_label=False, name="tokenised_df")
    keys = list(map(_text_key, tokenised_df["premise"], tokenised_df["hypothesis"]))
    first = {key: j for j, key in reversed(list(enumerate(keys)))}  # the first copy of each key
    tok_p, tok_h = tokenised_df["premise"].tolist(), tokenised_df["hypothesis"].tolist()
    rows = [{"raw": i, "tokenised": j, "same_text": p == tok_p[j] and h == tok_h[j]}
            for i, (p, h) in enumerate(zip(raw_df["premise"], raw_df["hypothesis"]))
            if (j := first.get(_text_key(p, h))) is not None]
    return pd.DataFrame(rows, columns=["raw", "tokenised", "same_text"]).astype(
        {"raw": int, "tokenised": int, "same_text": bool})
