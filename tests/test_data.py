"""Tests for nbhelpers.data: counts on the real files, exact text, determinism, the malformed-input
errors (files built in tmp_path with the shared layout), the public-source fallback (offline: its
no-network errors, and a mocked hub), and your own files (pairs or single texts) via load_files."""
import json
import re
import socket
import sys
import warnings

import pandas as pd
import pytest

from nbhelpers import data, models
from nbhelpers.cache import Cache
from nbhelpers.data import DATASETS, DataNotFoundError, clear_cache, data_hash, load_files, load_nli

real_data = pytest.mark.skipif(
    data._find_data_dir(["snli/dev.tsv"]) is None,
    reason=f"real data not found: no snli/dev.tsv in {data.DEFAULT_DATA_DIR} or "
           f"${data.ENV_VAR} (expected ../shared/data beside the repository)")

HEADER = "sentence1\tsentence2\tgold_label\n"
GOOD = "A man .\tA person .\tentailment\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def cad_file(tmp_path, body, header=HEADER):
    """tmp_path/snli_cad/original/train.tsv with the given header and rows (str or bytes)."""
    if isinstance(body, bytes):
        header = header if isinstance(header, bytes) else header.encode()
    return write(tmp_path / "snli_cad" / "original" / "train.tsv", header + body)


# ---------------------------------------------------------------------------
# Real files: counts, exact text, determinism
# ---------------------------------------------------------------------------
@real_data
@pytest.mark.parametrize("name, split, rows", [
    ("cad-original", "train", 1666), ("cad-original", "validation", 200), ("cad-original", "test", 400),
    ("cad-augmented", "train", 8330), ("cad-augmented", "validation", 1000), ("cad-augmented", "test", 2000),
    ("snli", "validation", 9842), ("snli", "test", 9824), ("anli", "validation", 3200), ("anli", "test", 3200),
    ("hans", "train", 30000), ("hans", "validation", 10000), ("hans", "test", 20000),
    ("mnli-matched", "validation", 9815),
])
def test_row_counts_and_schema(name, split, rows):
    clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the full files: no dropped-row warning
        df = load_nli(name, split)
    assert len(df) == rows
    assert df.columns[:3].tolist() == ["premise", "hypothesis", "label"]
    assert df["label"].dtype == "int64"
    assert set(df["label"]) == set(range(len(data.LABEL_NAMES[name])))
    assert (df["premise"].str.len() > 0).all() and (df["hypothesis"].str.len() > 0).all()
    assert not df["premise"].str.endswith((" ", "\n", "\r", "\t")).any()


@real_data
@pytest.mark.parametrize("name, split, counts", [
    ("cad-original", "train", [562, 554, 550]),
    ("snli", "validation", [3329, 3235, 3278]),
    ("mnli-matched", "validation", [3479, 3123, 3213]),
])
def test_label_counts(name, split, counts):
    assert load_nli(name, split)["label"].value_counts().sort_index().tolist() == counts


@real_data
@pytest.mark.parametrize("split", ["validation", "test"])
def test_anli_rounds(split):
    df = load_nli("anli", split)
    assert df.columns.tolist() == ["premise", "hypothesis", "label", "round", "uid"]
    assert df["round"].value_counts().sort_index().to_dict() == {1: 1000, 2: 1000, 3: 1200}
    assert df["uid"].is_unique


@real_data
def test_hans_split_is_balanced_disjoint_and_deterministic():
    validation_, test = load_nli("hans", "validation"), load_nli("hans", "test")
    for df, sizes in ((validation_, {1666, 1667}), (test, {3333, 3334})):
        cells = df.groupby(["heuristic", "label"]).size()
        assert len(cells) == 6 and set(cells) <= sizes
    in_validation = set(zip(validation_["premise"], validation_["hypothesis"]))
    in_test = set(zip(test["premise"], test["hypothesis"]))
    assert not in_validation & in_test and len(in_validation | in_test) == 30000
    clear_cache()
    again = load_nli("hans", "validation")
    assert again.equals(validation_) and data_hash(again) == data_hash(validation_)


@real_data
def test_cad_quoted_field_is_unquoted():
    df = load_nli("cad-original", "train")
    row = df[df["premise"].str.contains("TheFaceShop")].iloc[0]
    assert row["premise"] == ('A boy stands outside of "TheFaceShop" looking at an electronic '
                              'device, while a man leans against the corner of the store.')
    assert row["hypothesis"] == "A boy is window shopping." and row["label"] == 0


@real_data
def test_mnli_quote_characters_kept_verbatim():
    df = load_nli("mnli-matched", "validation")
    assert df.loc[28, "premise"] == 'She seemed so different  "'  # line 30: a stray quote stays
    starts = df[df["premise"].str.startswith('"If you people only knew')]  # not a quoted field
    assert starts["premise"].iloc[0] == ('"If you people only knew how fatally easy it is to '
                                         "poison some one by mistake, you wouldn't joke about it.")


@real_data
def test_returns_a_copy():
    df = load_nli("cad-original", "validation")
    df.loc[0, "label"] = 99
    assert load_nli("cad-original", "validation").loc[0, "label"] != 99


# ---------------------------------------------------------------------------
# Names, splits, and malformed files
# ---------------------------------------------------------------------------
def test_unknown_name_and_split():
    with pytest.raises(ValueError, match=r"unknown data set name='snli2'.*expected.*snli"):
        load_nli("snli2", "validation")
    with pytest.raises(ValueError, match=r"unknown split 'valid' for 'snli'.*expected.*validation"):
        load_nli("snli", "valid")
    with pytest.raises(ValueError, match=r"unknown split 'train' for 'mnli-matched'"):
        load_nli("mnli-matched", "train")
    assert all(set(s) <= set(data.SPLITS) for s in DATASETS.values())


def test_wrong_header(tmp_path):
    path = cad_file(tmp_path, "A man .\tA person .\tentailment\n", header="premise\thypothesis\tlabel\n")
    with pytest.raises(ValueError, match=re.escape(str(path)) + r": missing column.*sentence1.*found.*premise"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_a_duplicate_label_column_is_refused(tmp_path):
    cad_file(tmp_path, GOOD.replace("\n", "\tneutral\n"), header=HEADER.replace("\n", "\tgold_label\n"))
    with pytest.raises(ValueError, match=r"column 'gold_label' occurs 2 times.*once"):
        load_nli("cad-original", "train", data_dir=tmp_path)


@pytest.mark.parametrize("row, pattern", [
    ("A man .\tA person .\tentailment\textra\n", r"line 3: expected 3 tab-separated fields.*found 4"),
    ("A man .\tentailment\n", r"line 3: unknown label ''.*fewer fields"),
    ("  \tA person .\tneutral\n", r"line 3: empty premise"),
    ("A man .\tA person .\tmaybe\n", r"line 3: unknown label 'maybe'.*contradiction"),
])
def test_a_bad_row_names_file_and_line(tmp_path, row, pattern):
    path = cad_file(tmp_path, GOOD + row)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ", " + pattern):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_dash_label_is_dropped_with_a_warning(tmp_path):
    path = write(tmp_path / "snli" / "dev.tsv", HEADER + "A man .\tA person .\t-\nA man .\tA dog .\t"
                 "contradiction\nA man .\tA cat .\t-\n")
    with pytest.warns(UserWarning) as caught:
        df = load_nli("snli", "validation", data_dir=tmp_path)
    messages = [str(w.message) for w in caught]
    assert f"{path}: dropped 2 row(s) labelled '-' (no gold label)" in messages
    assert df["hypothesis"].tolist() == ["A dog ."] and df["label"].tolist() == [2]


def test_crlf_bom_and_blank_lines(tmp_path):
    write(tmp_path / "snli" / "test.tsv", "\ufeff" + HEADER.replace("\n", "\r\n")
          + "A man sleeps .\tA person rests .  \tentailment\r\n\r\nA man sleeps .\tA man runs .\tcontradiction\r\n")
    df = load_nli("snli", "test", data_dir=tmp_path)
    assert df.to_dict("list") == {"premise": ["A man sleeps ."] * 2, "label": [0, 2],
                                  "hypothesis": ["A person rests .", "A man runs ."]}


def test_quotes_in_tsv_files(tmp_path):
    cad_file(tmp_path, '"She said ""hi""\tand left."\tShe spoke.\tentailment\nA "plain" quote.\tNo.\tneutral\n')
    df = load_nli("cad-original", "train", data_dir=tmp_path)  # CAD: CSV-style quoting (SOURCES.md)
    assert df["premise"].tolist() == ['She said "hi"\tand left.', 'A "plain" quote.']
    write(tmp_path / "snli" / "dev.tsv", HEADER + '"Stop!" he yelled .\tA man yells .\tentailment\n')
    assert load_nli("snli", "validation", data_dir=tmp_path)["premise"][0] == '"Stop!" he yelled .'


@pytest.mark.parametrize("body, line", [
    ('"A man .\tA person .\tentailment\n' + GOOD + GOOD, 3),
    (GOOD + 'A man .\t"A person .\tentailment\n' + GOOD, 4),
    ('"A man .\tA person .\tentailment\n', 3),  # the last row: the quote runs to the end
    ('"A man .\tA person .\tentailment\nA man .\tA person" .\tentailment\n', 3),  # closes a line later
])
def test_a_quote_that_never_closes_names_its_line(tmp_path, body, line):
    cad_file(tmp_path, GOOD + body)
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}: a quote opened"):
        load_nli("cad-original", "train", data_dir=tmp_path)
    cad_file(tmp_path, GOOD + 'A "man .\tA person .\tentailment\n')  # mid-field: a plain character
    assert load_nli("cad-original", "train", data_dir=tmp_path)["premise"][1] == 'A "man .'


@pytest.mark.parametrize("body, line", [(b"\xff\xfe", 2), (b"caf\xe9", 3)])
def test_invalid_utf8_names_file_and_line(tmp_path, body, line):
    rows = [GOOD.encode()] * 3
    rows[line - 2] = b"A man " + body + b" .\tA person .\tentailment\n"
    cad_file(tmp_path, b"".join(rows))
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}: not valid UTF-8"):
        load_nli("cad-original", "train", data_dir=tmp_path)
    cad_file(tmp_path, GOOD.encode(), header="sentence1\xff\tsentence2\tgold_label\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"train\.tsv, line 1: not valid UTF-8"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_anli_bad_lines(tmp_path):
    line = '{"uid": "a", "context": "P.", "hypothesis": "H.", "label": "e"}\n'
    for r in (1, 2):
        write(tmp_path / "anli" / f"R{r}" / "dev.jsonl", line)
    path = tmp_path / "anli" / "R3" / "dev.jsonl"
    for bad, pattern in [('{"uid": "b", "context": "P.", "label": "c"}', r"line 3: no 'hypothesis'"),
                         ('{"uid": "b", "context": "P.", "hypothesis": "H.", "label": "x"}', "line 3: unknown label 'x'"),
                         ('{"uid": "b", "context": ', r"line 3: expected a JSON object"),
                         ('["P.", "H."]', r"line 3: no 'uid'; expected the keys"),
                         (b'{"uid": "b", "context": "P\xff"}', "line 3: not valid UTF-8")]:
        write(path, (line + "\n").encode() + (bad.encode() if isinstance(bad, str) else bad) + b"\n")
        with pytest.raises(ValueError, match=re.escape(str(path)) + ", " + pattern):
            load_nli("anli", "validation", data_dir=tmp_path)
    write(path, line)
    df = load_nli("anli", "validation", data_dir=tmp_path)
    assert df["round"].tolist() == [1, 2, 3] and df["label"].tolist() == [0, 0, 0]


# ---------------------------------------------------------------------------
# Where files are looked for, and the public source
# ---------------------------------------------------------------------------
def test_env_var_is_honoured(tmp_path, monkeypatch):
    write(tmp_path / "env" / "snli" / "dev.tsv", HEADER + "From env .\tH .\tneutral\n")
    write(tmp_path / "arg" / "snli" / "dev.tsv", HEADER + "From arg .\tH .\tneutral\n")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    assert data._candidate_dirs()[0] == (tmp_path / "env", "$NBHELPERS_DATA")
    assert load_nli("snli", "validation")["premise"].tolist() == ["From env ."]
    assert load_nli("snli", "validation", data_dir=tmp_path / "arg")["premise"].tolist() == ["From arg ."]


def test_a_symlink_loop_is_a_clear_value_error(tmp_path, monkeypatch):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ValueError, match=r"data directory .*a \(data_dir argument\) cannot be resolved.*symlink"):
        load_nli("cad-original", "train", data_dir=tmp_path / "a")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "b"))
    with pytest.raises(ValueError, match=r"\$NBHELPERS_DATA\) cannot be resolved"):
        data._candidate_dirs()


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No local data anywhere."""
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "nowhere")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    clear_cache()
    return tmp_path


@pytest.fixture
def offline_nowhere(nowhere, monkeypatch):
    """No local data, and downloads forbidden (set before and after import)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for module, attr in [("huggingface_hub.constants", "HF_HUB_OFFLINE"), ("datasets.config", "HF_HUB_OFFLINE"),
                         ("datasets.config", "HF_DATASETS_OFFLINE")]:
        if module in sys.modules:  # libraries read these variables at import
            monkeypatch.setattr(sys.modules[module], attr, True)
    return nowhere


def test_nothing_found_offline_cad(offline_nowhere):
    empty = offline_nowhere / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"(?s)no local copy of 'cad-original' 'train'.*snli_cad/original/"
                                         r"train\.tsv.*" + re.escape(str(empty)) + r" \(data_dir argument\).*"
                                         r"nowhere \(default.*does not exist\).*raw\.githubusercontent\.com.*"
                                         r"not attempted") as err:
        load_nli("cad-original", "train", data_dir=empty)
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, DataNotFoundError)


def test_nothing_found_offline_hub(offline_nowhere):
    with pytest.raises(ValueError, match=r"(?s)no local copy of 'snli' 'train'.*snli/train\.tsv"
                                         r".*nowhere.*load_dataset\('stanfordnlp/snli', split='train'\) failed"):
        load_nli("snli", "train", data_dir=offline_nowhere)


def test_cad_falls_back_to_its_github_file(nowhere, monkeypatch):
    """With the network up (mocked), CAD comes from GitHub; a file:// URL stands in for it."""
    write(nowhere / "github" / "NLI" / "original" / "dev.tsv", HEADER + GOOD)
    monkeypatch.setattr(data, "GITHUB_URL", (nowhere / "github").as_uri() + "/")
    monkeypatch.setattr(data, "offline_requested", lambda: False)
    monkeypatch.setattr(data, "no_network_reason", lambda *a, **k: None)
    df = load_nli("cad-original", "validation", data_dir=nowhere)
    assert df.to_dict("list") == {"premise": ["A man ."], "hypothesis": ["A person ."], "label": [0]}


def test_hub_fallback_gives_the_schema(nowhere, monkeypatch):
    """The Hugging Face path, with datasets.load_dataset mocked: label -1 dropped, rounds numbered."""
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"uid": datasets.Value("string"), "premise": datasets.Value("string"),
                                  "hypothesis": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=list(data.NLI_LABELS))})
    asked = []

    def load_dataset(repo, split):
        asked.append((repo, split))
        rows = {"uid": ["a", "b"], "premise": ["P. ", "Q."], "hypothesis": ["H.", "I."], "label": [2, -1]}
        return datasets.Dataset.from_dict(rows, features=features)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(data, "no_network_reason", lambda *a, **k: None)
    df = load_nli("anli", "train", data_dir=nowhere)
    assert asked == [("facebook/anli", f"train_r{r}") for r in (1, 2, 3)]
    assert df.to_dict("list") == {"premise": ["P."] * 3, "hypothesis": ["H."] * 3, "label": [2] * 3,
                                  "round": [1, 2, 3], "uid": ["a"] * 3}
    assert df.dtypes.astype(str).tolist() == ["str", "str", "int64", "int64", "str"]


def test_data_download_uses_the_one_network_probe(no_dns, nowhere, monkeypatch):
    seen = []
    real = data.no_network_reason
    monkeypatch.setattr(data, "no_network_reason", lambda *a, **k: seen.append(1) or real(*a, **k))
    monkeypatch.setattr(data, "offline_requested", lambda: False)
    with pytest.raises(data.DataNotFoundError, match="cannot be resolved"):
        load_nli("anli", "train", data_dir=nowhere)
    assert seen == [1]


def test_the_probe_reports_a_missing_network_or_an_unreachable_host(no_dns, monkeypatch):
    reason = data.no_network_reason()
    assert "huggingface.co cannot be resolved" in reason and len(no_dns) == 1
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 443))])

    def refuse(self, addr):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert "huggingface.co:443 cannot be reached" in data.no_network_reason()


def test_data_hash(tmp_path):
    cad_file(tmp_path, "A man .\tA person .\tentailment\nA man .\tA dog .\tcontradiction\n")
    df = load_nli("cad-original", "train", data_dir=tmp_path)
    assert data_hash(df) == data_hash(load_nli("cad-original", "train", data_dir=tmp_path))
    assert data_hash(df.assign(label=[0, 1])) != data_hash(df)
    assert data_hash(df.rename(columns={"label": "y"})) != data_hash(df)


# ---------------------------------------------------------------------------
# Your own files: load_files
# ---------------------------------------------------------------------------
def read_own(path):
    """One file of your own as load_files reads it (given as all three splits)."""
    return load_files([path] * 3)["train"]


ROWS = [("A dog runs.", "An animal moves.", "entailment"), ("A dog runs.", "The dog is fast.", "neutral"),
        ("A dog runs.", "A cat sleeps.", "contradiction")]


def test_csv_tsv_and_jsonl_give_the_same_frame(tmp_path):
    csv_path = write(tmp_path / "a.csv", "label,premise,hypothesis,id\n"
                     + "".join(f'{y},"{p}",{h},{i}\n' for i, (p, h, y) in enumerate(ROWS)))
    tsv_path = write(tmp_path / "a.tsv", "premise\thypothesis\tlabel\n"
                     + "".join(f"{p}\t{h}\t{i}\n" for i, (p, h, _) in enumerate(ROWS)))
    jsonl_path = write(tmp_path / "a.jsonl", "\n".join(
        json.dumps({"premise": p, "hypothesis": h, "label": y.upper()}) for p, h, y in ROWS))
    expected = {"premise": ["A dog runs."] * 3, "label": [0, 1, 2],
                "hypothesis": ["An animal moves.", "The dog is fast.", "A cat sleeps."]}
    for path in (csv_path, tsv_path, jsonl_path):
        df = read_own(path)
        assert df.to_dict("list") == expected, path.name
        assert df["label"].dtype == "int64" and list(df.columns) == ["premise", "hypothesis", "label"]


def test_own_tsv_keeps_quotes_and_own_csv_reads_line_breaks(tmp_path):
    tsv = write(tmp_path / "q.tsv", 'premise\thypothesis\tlabel\n"Stop!" he yelled.\tHe spoke.\t0\n'
                                    'He said "no\tHe spoke.\t0\n')
    assert read_own(tsv)["premise"].tolist() == ['"Stop!" he yelled.', 'He said "no']
    csv_path = write(tmp_path / "q.csv", 'premise,hypothesis,label\n"Line one,\nline two.",Two lines.,0\r\n'
                                         '"A ""quoted"" word.",Quotes.,1\nA.,B.,maybe\n')
    with pytest.raises(ValueError, match=r"q\.csv, line 5: unknown label 'maybe'"):  # lines still counted
        read_own(csv_path)
    write(csv_path, csv_path.read_text().replace("maybe", "2"))
    assert read_own(csv_path)["premise"].tolist() == ["Line one,\nline two.", 'A "quoted" word.', "A."]


def test_bad_own_files_name_file_line_column_and_value(tmp_path):
    cases = [("bad.csv", "premise,hypothesis,label\nA.,B.,0\nA.,B.,maybe\n",
              r"bad\.csv, line 3: unknown label 'maybe'.*'entailment'.*'2'.*column 'label'"),
             ("bad.jsonl", '{"premise": "A.", "hypothesis": "B.", "label": 3}\n', r"line 1: unknown label '3'"),
             ("cols.tsv", "sentence1\tsentence2\tlabel\nA.\tB.\t0\n",
              r"cols\.tsv: missing column.*'premise', 'hypothesis'.*or \['text', 'label'\].*found.*'sentence1'"),
             ("twice.csv", "premise,hypothesis,label,label\nA.,B.,0,2\n", r"column 'label' occurs 2 times"),
             ("empty.csv", "premise,hypothesis,label\nA.,B.,0\nA.,  ,1\n", r"line 3: empty hypothesis"),
             ("keys.jsonl", '{"premise": "A.", "label": 0}\n', r"missing column.*'hypothesis'.*found"),
             ("none.csv", "premise,hypothesis,label\n", r"none\.csv: no labelled rows"),
             ("pairs.txt", "premise,hypothesis,label\n", r"unknown file type '\.txt'; expected \.csv, \.tsv"),
             ]
    for name, text, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            read_own(write(tmp_path / name, text))
    with pytest.raises(ValueError, match=r"nowhere\.csv: no such file"):
        read_own(tmp_path / "nowhere.csv")


def test_own_dash_rows_are_dropped_with_a_warning(tmp_path):
    path = write(tmp_path / "dash.csv", "premise,hypothesis,label\nA.,B.,-\nA.,C.,2\n")
    with pytest.warns(UserWarning, match=re.escape(f"{path}: dropped 1 row(s) labelled '-'")):
        assert read_own(path)["label"].tolist() == [2]


def test_one_file_is_split_by_label_reproducibly(tmp_path):
    rows = [(f"P{i}.", f"H{i}.", i % 3) for i in range(30)]  # 10 per label
    path = write(tmp_path / "all.csv", "premise,hypothesis,label\n" + "".join(f"{p},{h},{y}\n" for p, h, y in rows))
    splits = load_files(str(path))
    sizes = {r: len(splits[r]) for r in data.SPLITS}
    assert sizes == {"train": 18, "validation": 6, "test": 6}
    for role in data.SPLITS:  # 60 / 20 / 20 of each label
        assert splits[role]["label"].value_counts().tolist() == [sizes[role] // 3] * 3
    seen = sum((splits[r]["premise"].tolist() for r in data.SPLITS), [])
    assert sorted(seen) == sorted(p for p, _, _ in rows)  # disjoint, together everything
    for seed in (0, 1):  # the same seed, the same split: on every call
        first, again = load_files(path, seed=seed), load_files(path, seed=seed)
        assert all(again[r].equals(first[r]) for r in data.SPLITS)
    assert not load_files(path, seed=1)["test"].equals(splits["test"])
    assert "all.csv (60%, split by label with seed 0)" in splits["sources"]["train"]
    small = load_files(path, max_rows={"train": 4, "validation": 2, "test": 2})
    assert [len(small[r]) for r in data.SPLITS] == [4, 2, 2]
    assert [len(load_files(path, max_rows=3)[r]) for r in data.SPLITS] == [3, 3, 3]


@pytest.mark.parametrize("kwargs, pattern", [
    ({"max_rows": 2.9}, r"max_rows must be an integer; got 2\.9"),
    ({"max_rows": True}, r"max_rows must be an integer; got True"),
    ({"max_rows": -1}, r"max_rows.*-1.*>= 0"),
    ({"max_rows": {"train": True}}, r"max_rows\['train'\] must be an integer"),
    ({"max_rows": {"dev": 3}}, r"a key of max_rows='dev'.*'validation'"),
    ({"seed": None}, r"seed must be an integer; got None"),
    ({"seed": 1.0}, r"seed must be an integer"),
    ({"seed": False}, r"seed must be an integer"),
])
def test_max_rows_and_seed_must_be_ints(tmp_path, kwargs, pattern):
    path = write(tmp_path / "all.csv", "premise,hypothesis,label\n" + "P.,H.,0\n" * 10)
    with pytest.raises(ValueError, match=pattern):
        load_files(path, **kwargs)


def test_three_files_as_list_or_dict(tmp_path):
    paths = [write(tmp_path / f"{role}.tsv", f"premise\thypothesis\tlabel\nA.\t{role}.\t{y}\n")
             for role, y in zip(data.SPLITS, ("entailment", "neutral", "contradiction"))]
    for splits in (load_files(paths), load_files({"test": paths[2], "train": paths[0], "validation": paths[1]})):
        assert [splits[r]["label"].tolist() for r in data.SPLITS] == [[0], [1], [2]]
        assert splits["sources"] == {r: str(p) for r, p in zip(data.SPLITS, paths)}
    for bad in ({"train": paths[0], "dev": paths[1]}, paths[:2], "[a.csv, b.csv, c.csv]", 3):
        with pytest.raises(ValueError, match=r"data_files should be one file, \[train, validation, test\] or a "
                                             r"dict.*got .*-y"):
            load_files(bad)


def test_too_few_rows_to_split_says_so(tmp_path):
    path = write(tmp_path / "two.csv", "premise,hypothesis,label\nA.,B.,0\nA.,C.,1\n")
    with pytest.raises(ValueError, match=r"the validation split of .*two\.csv .* has no rows"):
        load_files(path)


def test_single_texts_with_any_number_of_classes(tmp_path):
    rows = [{"text": f"Text {i}.", "label": ["b", "a", "c", "d"][i % 4]} for i in range(20)]
    splits = load_files(write(tmp_path / "t.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert splits["label_names"] == ("a", "b", "c", "d") and splits["train"].columns.tolist() == ["text", "label"]
    assert [len(splits[r]) for r in data.SPLITS] == [12, 4, 4]
    assert splits["train"]["label"].value_counts().sort_index().tolist() == [3, 3, 3, 3]
    ints = read_own(write(tmp_path / "t.tsv", 'label\ttext\n0\t"Fine" film.\n4\tBad film.\n'))
    assert ints.to_dict("list") == {"text": ['"Fine" film.', "Bad film."], "label": [0, 4]}
    # three files share one label mapping, even where one of them lacks a class
    paths = [write(tmp_path / f"{r}.csv", "text,label\n" + "".join(f"{r} {y}.,{y}\n" for y in ys))
             for r, ys in zip(data.SPLITS, (["neg", "pos", "mixed"], ["pos"], ["neg", "mixed"]))]
    splits = load_files(paths)
    assert splits["label_names"] == ("mixed", "neg", "pos")
    assert [splits[r]["label"].tolist() for r in data.SPLITS] == [[1, 2, 0], [2], [1, 0]]


@pytest.mark.skipif(data._find_data_dir(["sentiment_cad/orig/train.tsv"]) is None, reason="no sentiment_cad")
def test_200_imdb_reviews_as_single_texts(tmp_path):
    """SOURCES.md section 6: IMDb reviews (two classes, single texts) through the own-data path."""
    source = data._find_data_dir(["sentiment_cad/orig/train.tsv"]) / "sentiment_cad" / "orig" / "train.tsv"
    reviews = pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False).head(200)
    own = reviews.rename(columns={"Text": "text", "Sentiment": "label"})[["text", "label"]]
    for path in (tmp_path / "reviews.csv", tmp_path / "reviews.jsonl"):
        if path.suffix == ".csv":
            own.to_csv(path, index=False)  # quotes the reviews that hold commas, quotes or line breaks
        else:
            own.to_json(path, orient="records", lines=True)
        splits = load_files(path)
        assert splits["label_names"] == ("negative", "positive")
        together = pd.concat([splits[r] for r in data.SPLITS])
        assert len(together) == 200 and sorted(together["text"]) == sorted(own["text"].str.rstrip())
        assert together["label"].value_counts().to_dict() == (own["label"] == "Positive").astype(int).value_counts().to_dict()


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


# Offline mode is read from the Hugging Face variables.
VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize("value, offline",
                         [("1", True), (" TRUE ", True), ("yes", True), ("0", False), ("", False)])
def test_offline_requested_reads_each_variable(monkeypatch, variable, value, offline):
    for v in VARIABLES:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv(variable, value)
    assert data.offline_requested() is offline


# raw pairs matched to their tokenised copies (SNLI test writes "does n't")
def _texts(rows):
    return pd.DataFrame(rows, columns=["premise", "hypothesis"])


def test_text_key_ignores_case_spacing_and_punctuation():
    assert data._text_key("A man doesn't eat lunch.", "He's hungry!") == \
        data._text_key("a man does n't eat lunch .", "He 's hungry !")
    assert data._text_key("A dog.", "Cats.") != data._text_key("A dog.", "Cat.")
    # the separator keeps the sentences apart: moving a word across them changes the key
    assert data._text_key("A dog runs", "fast.") != data._text_key("A dog", "runs fast.")


def test_match_tokenised_finds_copies_and_leaves_out_the_rest():
    raw = _texts([("He doesn't eat lunch.", "He is full."),      # copy at 2
                  ("Nobody is here.", "A crowd."),                # no copy
                  ("Two dogs run.", "Animals move.")])            # identical copy at 0
    tok = _texts([("Two dogs run.", "Animals move."),
                  ("Something else .", "Other ."),
                  ("He does n't eat lunch .", "He is full .")])
    m = data.match_tokenised(raw, tok)
    assert m.to_dict("records") == [{"raw": 0, "tokenised": 2, "same_text": False},
                                    {"raw": 2, "tokenised": 0, "same_text": True}]
    assert m.dtypes.tolist() == ["int64", "int64", "bool"]


def test_match_tokenised_takes_the_first_of_duplicate_copies_and_ignores_the_index():
    raw = _texts([("A cat sits.", "A cat.")]).set_index(pd.Index([7]))
    tok = _texts([("x", "y"), ("A cat sits .", "A cat ."), ("a cat sits .", "a cat .")])
    tok.index = [10, 20, 30]
    assert data.match_tokenised(raw, tok).to_dict("records") == [{"raw": 0, "tokenised": 1, "same_text": False}]


def test_match_tokenised_with_nothing_in_common_is_empty():
    m = data.match_tokenised(_texts([("a", "b")]), _texts([("c", "d")]))
    assert len(m) == 0 and list(m.columns) == ["raw", "tokenised", "same_text"]


def test_match_tokenised_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"tokenised_df lacks columns \['hypothesis'\]"):
        data.match_tokenised(_texts([("a", "b")]), pd.DataFrame({"premise": ["a"]}))
    with pytest.raises(TypeError, match=r"raw_df must be a DataFrame; got list"):
        data.match_tokenised([("a", "b")], _texts([("a", "b")]))


def test_pair_groups_links_rows_through_shared_texts():
    df = pd.DataFrame({"premise": ["a", "a", "b", "c", "y"], "hypothesis": ["x", "y", "y", "z", "w"]})
    # "y" as a premise is not "y" as a hypothesis: row 4 stays alone
    assert data.pair_groups(df).tolist() == [0, 0, 0, 1, 2]
    assert data.pair_groups(pd.DataFrame({"text": ["u", "v", "u"]})).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="premise and hypothesis, or text"):
        data.pair_groups(pd.DataFrame({"label": [0]}))
    with pytest.raises(ValueError, match="none missing"):  # NaN would link rows that share nothing
        data.pair_groups(pd.DataFrame({"premise": ["a", None, "b"], "hypothesis": ["x", "y", "z"]}))
