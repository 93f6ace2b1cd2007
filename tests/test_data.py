"""Tests for nbhelpers.data: counts on the real files, exact text, determinism, one test
per malformed-input error (built in tmp_path with the shared layout), and the one fast
network probe that data downloads share with the model loader."""
import csv
import re
import socket
import sys
import warnings

import pytest

from nbhelpers import data, network
from nbhelpers.data import DATASETS, DataNotFoundError, clear_cache, data_hash, load_nli

real_data = pytest.mark.skipif(
    data.find_data_dir(["snli/dev.tsv"]) is None,
    reason=f"real data not found: no snli/dev.tsv in {data.DEFAULT_DATA_DIR} or "
           f"${data.ENV_VAR} (expected ../shared/data beside the repository)")

HEADER = "sentence1\tsentence2\tgold_label\n"


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def cad_file(tmp_path, body, header=HEADER):
    """tmp_path/snli_cad/original/train.tsv with the given header and rows."""
    return write(tmp_path / "snli_cad" / "original" / "train.tsv", header + body)


GOOD = "A man .\tA person .\tentailment\n"


def cad_bytes(tmp_path, body: bytes):
    """tmp_path/snli_cad/original/train.tsv: the header, then ``body`` as raw bytes."""
    path = tmp_path / "snli_cad" / "original" / "train.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HEADER.encode() + body)
    return path


def anli_dev(tmp_path, lines: bytes):
    """ANLI dev R1-R3 with one good line each; ``lines`` (raw bytes) follow it in R2."""
    for r in (1, 2, 3):
        path = tmp_path / "anli" / f"R{r}" / "dev.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        good = b'{"uid": "u", "context": "p", "hypothesis": "h", "label": "e"}\n'
        path.write_bytes(good + (lines if r == 2 else b""))
    return tmp_path / "anli" / "R2" / "dev.jsonl"


# ---------------------------------------------------------------------------
# Real files: counts
# ---------------------------------------------------------------------------
@real_data
@pytest.mark.parametrize("name, split, rows", [
    ("cad-original", "train", 1666), ("cad-original", "validation", 200),
    ("cad-original", "test", 400),
    ("cad-augmented", "train", 8330), ("cad-augmented", "validation", 1000),
    ("cad-augmented", "test", 2000),
    ("snli", "validation", 9842), ("snli", "test", 9824),
    ("anli", "validation", 3200), ("anli", "test", 3200),
    ("hans", "train", 30000), ("hans", "validation", 10000), ("hans", "test", 20000),
    ("mnli-matched", "validation", 9815),
])
def test_row_counts_and_schema(name, split, rows):
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
def test_mnli_keeps_bert_counts():
    df = load_nli("mnli-matched", "validation")
    assert df["n_bert_correct"].dtype == "int64"
    assert df["n_bert_correct"].between(0, 100).all()


@real_data
def test_hans_split_is_balanced_and_disjoint():
    validation = load_nli("hans", "validation")
    test = load_nli("hans", "test")
    for df, sizes in ((validation, {1666, 1667}), (test, {3333, 3334})):
        cells = df.groupby(["heuristic", "label"]).size()
        assert len(cells) == 6 and set(cells) <= sizes
    in_validation = set(zip(validation["premise"], validation["hypothesis"]))
    in_test = set(zip(test["premise"], test["hypothesis"]))
    assert not in_validation & in_test
    assert len(in_validation | in_test) == 30000


@real_data
def test_hans_split_is_deterministic():
    first = load_nli("hans", "validation")
    assert load_nli("hans", "validation").equals(first)
    clear_cache()
    again = load_nli("hans", "validation")
    assert again.equals(first)
    assert data_hash(again) == data_hash(first)


# ---------------------------------------------------------------------------
# Real files: text read exactly
# ---------------------------------------------------------------------------
@real_data
def test_cad_quoted_field_is_unquoted():
    df = load_nli("cad-original", "train")
    row = df[df["premise"].str.contains("TheFaceShop")].iloc[0]
    assert row["premise"] == ('A boy stands outside of "TheFaceShop" looking at an electronic '
                              'device, while a man leans against the corner of the store.')
    assert row["hypothesis"] == "A boy is window shopping."
    assert row["label"] == 0


@real_data
def test_mnli_quote_characters_kept_verbatim():
    df = load_nli("mnli-matched", "validation")
    # Line 30 of the file: a stray quote at the end (and a double space) stays as is.
    assert df.loc[28, "premise"] == 'She seemed so different  "'
    # A field that starts with a quote is not treated as a quoted field.
    starts = df[df["premise"].str.startswith('"If you people only knew')]
    assert len(starts) >= 1
    assert starts["premise"].iloc[0] == ('"If you people only knew how fatally easy it is to '
                                         "poison some one by mistake, you wouldn't joke about it.")


@real_data
def test_returns_a_copy():
    df = load_nli("cad-original", "validation")
    df.loc[0, "label"] = 99
    assert load_nli("cad-original", "validation").loc[0, "label"] != 99


# ---------------------------------------------------------------------------
# Names and splits
# ---------------------------------------------------------------------------
def test_unknown_name():
    with pytest.raises(ValueError, match=r"unknown data set 'snli2'; expected one of snli, "):
        load_nli("snli2", "validation")


def test_unknown_split():
    with pytest.raises(ValueError, match=r"unknown split 'valid' for 'snli'.*train, validation, test"):
        load_nli("snli", "valid")
    with pytest.raises(ValueError, match=r"'train' for 'mnli-matched'.*validation$"):
        load_nli("mnli-matched", "train")


def test_every_name_has_splits():
    assert set(DATASETS) == {"snli", "cad-original", "cad-augmented", "anli", "hans",
                             "mnli-matched"}
    assert all(set(s) <= set(data.SPLITS) for s in DATASETS.values())


# ---------------------------------------------------------------------------
# Malformed files
# ---------------------------------------------------------------------------
def test_wrong_header(tmp_path):
    path = cad_file(tmp_path, "A man .\tA person .\tentailment\n",
                    header="premise\thypothesis\tlabel\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: unexpected header") + r".*sentence1.*found.*premise"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_wrong_field_count_names_the_line(tmp_path):
    path = cad_file(tmp_path, "A man .\tA person .\tentailment\nA man .\tentailment\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 3: ") + r".*3 tab-separated fields.*found 2"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_empty_premise(tmp_path):
    path = cad_file(tmp_path, "A man .\tA person .\tentailment\n  \tA person .\tneutral\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 3: empty premise")):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_unknown_label_names_file_and_line(tmp_path):
    path = cad_file(tmp_path, "A man .\tA person .\tmaybe\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 2: unknown label 'maybe'") + ".*contradiction"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_dash_label_is_dropped_and_counted(tmp_path):
    path = write(tmp_path / "snli" / "dev.tsv",
                 HEADER + "A man .\tA person .\t-\nA man .\tA dog .\tcontradiction\n"
                          "A man .\tA cat .\t-\n")
    with pytest.warns(UserWarning, match=re.escape(f"{path}: dropped 2 row(s) labelled '-'")):
        df = load_nli("snli", "validation", data_dir=tmp_path)
    assert df["hypothesis"].tolist() == ["A dog ."]
    assert df["label"].tolist() == [2]


def test_crlf_and_bom(tmp_path):
    write(tmp_path / "snli" / "test.tsv",
          "\ufeff" + HEADER.replace("\n", "\r\n")
          + "A man sleeps .\tA person rests .  \tentailment\r\n\r\n"
          + "A man sleeps .\tA man runs .\tcontradiction\r\n", encoding="utf-8")
    df = load_nli("snli", "test", data_dir=tmp_path)
    assert df.to_dict("list") == {"premise": ["A man sleeps .", "A man sleeps ."],
                                  "hypothesis": ["A person rests .", "A man runs ."],
                                  "label": [0, 2]}


def test_quoted_field(tmp_path):
    cad_file(tmp_path, '"She said ""hi""\tand left."\tShe spoke.\tentailment\n'
                       'A "plain" quote.\tNo quotes.\tneutral\n')
    df = load_nli("cad-original", "train", data_dir=tmp_path)
    assert df["premise"].tolist() == ['She said "hi"\tand left.', 'A "plain" quote.']


def test_anli_bad_lines(tmp_path):
    line = '{"uid": "a", "context": "P.", "hypothesis": "H.", "label": "e"}\n'
    for r in (1, 2):
        write(tmp_path / "anli" / f"R{r}" / "dev.jsonl", line)
    path = write(tmp_path / "anli" / "R3" / "dev.jsonl", line + '{"uid": "b", "context": "P."}\n')
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 2: expected the keys")):
        load_nli("anli", "validation", data_dir=tmp_path)
    write(path, line + '{"uid": "b", "context": "P.", "hypothesis": "H.", "label": "x"}\n')
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 2: unknown label 'x'")):
        load_nli("anli", "validation", data_dir=tmp_path)
    write(path, line)
    df = load_nli("anli", "validation", data_dir=tmp_path)
    assert df["round"].tolist() == [1, 2, 3] and df["label"].tolist() == [0, 0, 0]


def test_a_field_over_the_csv_limit_names_file_and_line(tmp_path):
    big = "x" * (csv.field_size_limit() + 10)
    path = cad_bytes(tmp_path, (GOOD + f'"{big}\tA person .\tentailment\n').encode())
    with pytest.raises(ValueError, match=r"train\.tsv, line 3: .*csv module's limit"):
        load_nli("cad-original", "train", data_dir=tmp_path)
    assert path.exists()


@pytest.mark.parametrize("body, line", [
    (GOOD + 'A "man .\tA person .\tentailment\n' + GOOD, None),  # mid-field quote: literal in csv
    (GOOD + '"A man .\tA person .\tentailment\n' + GOOD + GOOD, 3),
    (GOOD + GOOD + 'A man .\t"A person .\tentailment\n' + GOOD, 4),
    ('"A man .\tA person .\tentailment\n', 2),  # the last row: the quote runs to the end
])
def test_a_quote_that_never_closes_names_its_line(tmp_path, body, line):
    cad_bytes(tmp_path, body.encode())
    if line is None:  # a quote inside a field is kept verbatim, as the csv module does
        assert len(load_nli("cad-original", "train", data_dir=tmp_path)) == 3
        return
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}: a quote .*does not close"):
        load_nli("cad-original", "train", data_dir=tmp_path)


@pytest.mark.parametrize("bad, line", [(b"\xff\xfe", 2), (b"caf\xe9", 3)])
def test_invalid_utf8_in_a_tsv_names_file_and_line(tmp_path, bad, line):
    rows = [b"A man .\tA person .\tentailment\n"] * 4
    rows[line - 2] = b"A man " + bad + b" .\tA person .\tentailment\n"
    cad_bytes(tmp_path, b"".join(rows))
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}: not valid UTF-8"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_invalid_utf8_in_a_header_names_line_one(tmp_path):
    path = tmp_path / "snli_cad" / "original" / "train.tsv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"sentence1\xff\tsentence2\tgold_label\n" + GOOD.encode())
    with pytest.raises(ValueError, match=r"train\.tsv, line 1: not valid UTF-8"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_invalid_utf8_in_jsonl_names_file_and_line(tmp_path):
    anli_dev(tmp_path, b'{"uid": "u", "context": "p\xff", "hypothesis": "h", "label": "e"}\n')
    with pytest.raises(ValueError, match=r"R2/dev\.jsonl, line 2: not valid UTF-8"):
        load_nli("anli", "validation", data_dir=tmp_path)


def test_sha_mismatch_warns_once(tmp_path):
    path = write(tmp_path / "snli" / "dev.tsv", HEADER + "A man .\tA person .\tentailment\n")
    write(tmp_path / "SOURCES.md", "```\n" + "0" * 64 + "  snli/dev.tsv\n```\n")
    with pytest.warns(UserWarning, match=re.escape(f"{path}: SHA-256 ")):
        assert len(load_nli("snli", "validation", data_dir=tmp_path)) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_nli("snli", "validation", data_dir=tmp_path)


# ---------------------------------------------------------------------------
# Where files are looked for
# ---------------------------------------------------------------------------
def test_env_var_is_honoured(tmp_path, monkeypatch):
    write(tmp_path / "env" / "snli" / "dev.tsv", HEADER + "From env .\tH .\tneutral\n")
    write(tmp_path / "arg" / "snli" / "dev.tsv", HEADER + "From arg .\tH .\tneutral\n")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    assert data.candidate_dirs()[0] == tmp_path / "env"
    assert load_nli("snli", "validation")["premise"].tolist() == ["From env ."]
    # The argument comes before the environment.
    df = load_nli("snli", "validation", data_dir=tmp_path / "arg")
    assert df["premise"].tolist() == ["From arg ."]


def test_a_symlink_loop_as_data_dir_is_a_clear_value_error(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ValueError, match=r"data directory .*a \(data_dir argument\) cannot be "
                                         r"resolved.*symlink loop"):
        load_nli("cad-original", "train", data_dir=tmp_path / "a")


def test_a_symlink_loop_in_the_environment_variable_is_named(tmp_path, monkeypatch):
    (tmp_path / "a").symlink_to(tmp_path / "a")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"\$NBHELPERS_DATA\) cannot be resolved"):
        data.candidate_dirs()


@pytest.fixture
def offline_nowhere(tmp_path, monkeypatch):
    """No local data anywhere, and downloads forbidden (set before and after import)."""
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "nowhere")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # Libraries read these variables at import; patch them if already imported.
    for module, attr in [("huggingface_hub.constants", "HF_HUB_OFFLINE"),
                         ("datasets.config", "HF_HUB_OFFLINE"),
                         ("datasets.config", "HF_DATASETS_OFFLINE")]:
        if module in sys.modules:
            monkeypatch.setattr(sys.modules[module], attr, True)
    return tmp_path


def test_nothing_found_offline_cad(offline_nowhere):
    empty = offline_nowhere / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"(?s)no local copy of 'cad-original' 'train'.*"
                                         r"snli_cad/original/train\.tsv.*"
                                         + re.escape(str(empty)) + r" \(data_dir argument\).*"
                                         r"nowhere \(default.*does not exist\).*"
                                         r"raw\.githubusercontent\.com.*not attempted") as err:
        load_nli("cad-original", "train", data_dir=empty)
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, DataNotFoundError)


def test_nothing_found_offline_hub(offline_nowhere):
    with pytest.raises(ValueError, match=r"(?s)no local copy of 'snli' 'train'.*snli/train\.tsv"
                                         r".*nowhere.*load_dataset\('stanfordnlp/snli', "
                                         r"split='train'\) failed"):
        load_nli("snli", "train", data_dir=offline_nowhere)


# ---------------------------------------------------------------------------
# data_hash
# ---------------------------------------------------------------------------
def test_data_hash(tmp_path):
    cad_file(tmp_path, "A man .\tA person .\tentailment\nA man .\tA dog .\tcontradiction\n")
    df = load_nli("cad-original", "train", data_dir=tmp_path)
    same = load_nli("cad-original", "train", data_dir=tmp_path)
    assert data_hash(df) == data_hash(same)
    changed = df.copy()
    changed.loc[1, "label"] = 1
    assert data_hash(changed) != data_hash(df)
    assert data_hash(df.rename(columns={"label": "y"})) != data_hash(df)


# ---------------------------------------------------------------------------
# One fast network probe (network.no_network_reason), shared with the model loader
# ---------------------------------------------------------------------------
def test_the_probe_reports_a_missing_network(no_dns):
    reason = network.no_network_reason()
    assert "huggingface.co cannot be resolved" in reason and len(no_dns) == 1


def test_the_probe_reports_an_unreachable_host(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 443))])

    def refuse(self, addr):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert "huggingface.co:443 cannot be reached" in network.no_network_reason()


def test_data_download_uses_the_same_probe(no_dns, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "nowhere")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    seen = []
    real = network.no_network_reason
    monkeypatch.setattr(network, "no_network_reason", lambda *a, **k: seen.append(1) or real(*a, **k))
    with pytest.raises(data.DataNotFoundError, match="cannot be resolved"):
        load_nli("anli", "train", data_dir=tmp_path)
    assert seen == [1]
