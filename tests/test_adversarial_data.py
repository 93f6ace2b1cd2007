"""Adversarial cases for nbhelpers.data (issue 18): clear errors naming file and line
(class 8) and one fast network probe shared with the model loader (class 7)."""
import csv
import os
import socket
import sys

import pytest

from nbhelpers import data, models, validation
from nbhelpers.data import clear_cache, load_nli

HEADER = "sentence1\tsentence2\tgold_label\n"
GOOD = "A man .\tA person .\tentailment\n"


@pytest.fixture(autouse=True)
def fresh():
    clear_cache()
    yield
    clear_cache()


def cad(tmp_path, body: bytes):
    path = tmp_path / "snli_cad" / "original" / "train.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HEADER.encode() + body)
    return path


def anli(tmp_path, lines: bytes):
    for r in (1, 2, 3):
        path = tmp_path / "anli" / f"R{r}" / "dev.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        good = b'{"uid": "u", "context": "p", "hypothesis": "h", "label": "e"}\n'
        path.write_bytes(good + (lines if r == 2 else b""))
    return tmp_path / "anli" / "R2" / "dev.jsonl"


# ---------------------------------------------------------------------------------------
# class 8: malformed files
# ---------------------------------------------------------------------------------------
def test_a_field_over_the_csv_limit_names_file_and_line(tmp_path):
    big = "x" * (csv.field_size_limit() + 10)
    path = cad(tmp_path, (GOOD + f'"{big}\tA person .\tentailment\n').encode())
    with pytest.raises(ValueError, match=rf"train\.tsv, line 3: a field is longer than the csv "
                                         rf"module's limit of {csv.field_size_limit()}"):
        load_nli("cad-original", "train", data_dir=tmp_path)
    assert path.exists()


@pytest.mark.parametrize("body, line", [
    (GOOD + 'A "man .\tA person .\tentailment\n' + GOOD, None),  # mid-field quote: literal in csv
    (GOOD + '"A man .\tA person .\tentailment\n' + GOOD + GOOD, 3),
    (GOOD + GOOD + 'A man .\t"A person .\tentailment\n' + GOOD, 4),
    ('"A man .\tA person .\tentailment\n', 2),  # the last row: the quote runs to the end
])
def test_a_quote_that_never_closes_names_its_line(tmp_path, body, line):
    cad(tmp_path, body.encode())
    if line is None:  # a quote inside a field is kept verbatim, as the csv module does
        assert len(load_nli("cad-original", "train", data_dir=tmp_path)) == 3
        return
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}: a quote opened on this line "
                                         r"does not close"):
        load_nli("cad-original", "train", data_dir=tmp_path)


@pytest.mark.parametrize("bad, line", [(b"\xff\xfe", 2), (b"caf\xe9", 3)])
def test_invalid_utf8_in_a_tsv_names_file_and_line(tmp_path, bad, line):
    rows = [b"A man .\tA person .\tentailment\n"] * 4
    rows[line - 2] = b"A man " + bad + b" .\tA person .\tentailment\n"
    cad(tmp_path, b"".join(rows))
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}: not valid UTF-8"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_invalid_utf8_in_a_header_names_line_one(tmp_path):
    path = tmp_path / "snli_cad" / "original" / "train.tsv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"sentence1\xff\tsentence2\tgold_label\n" + GOOD.encode())
    with pytest.raises(ValueError, match=r"train\.tsv, line 1: not valid UTF-8"):
        load_nli("cad-original", "train", data_dir=tmp_path)


def test_invalid_utf8_in_jsonl_names_file_and_line(tmp_path):
    anli(tmp_path, b'{"uid": "u", "context": "p\xff", "hypothesis": "h", "label": "e"}\n')
    with pytest.raises(ValueError, match=r"R2/dev\.jsonl, line 2: not valid UTF-8"):
        load_nli("anli", "validation", data_dir=tmp_path)


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


# ---------------------------------------------------------------------------------------
# class 7: one fast offline probe for data and models
# ---------------------------------------------------------------------------------------
@pytest.fixture
def no_dns(monkeypatch):
    """The network is gone: DNS fails at once; count every lookup and connection."""
    calls = []

    def fail(*args, **kwargs):
        calls.append(args[:2])
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    def no_connect(*args, **kwargs):
        calls.append(("connect", args[:1]))
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    monkeypatch.setattr(socket, "create_connection", no_connect)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for module, attr in [("huggingface_hub.constants", "HF_HUB_OFFLINE")]:
        if module in sys.modules:
            monkeypatch.setattr(sys.modules[module], attr, False)
    return calls


def test_the_probe_reports_a_missing_network(no_dns):
    reason = validation.no_network_reason()
    assert "huggingface.co cannot be resolved" in reason and len(no_dns) == 1


def test_the_probe_reports_an_unreachable_host(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 443))])

    def refuse(self, addr):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert "huggingface.co:443 cannot be reached" in validation.no_network_reason()


@pytest.mark.parametrize("name", ["bert-base-uncased", "nbhelpers-test/no-such-model"])
def test_hub_backbone_without_network_fails_at_once_with_the_probes_reason(no_dns, name, monkeypatch):
    import transformers

    asked = []
    for cls in (transformers.AutoTokenizer, transformers.AutoModelForSequenceClassification):
        real = cls.from_pretrained
        monkeypatch.setattr(cls, "from_pretrained",
                            lambda *a, _real=real, **k: asked.append(k.get("local_files_only")) or _real(*a, **k))
    with pytest.raises(ValueError, match=rf"could not load backbone '{name}'.*no network: "
                                         r"huggingface.co cannot be resolved"):
        models.load_pretrained(name)
    # the probe looked up the host once, and transformers was told to use only its local
    # cache: no download, so none of huggingface_hub's retries
    assert [c for c in no_dns if c[0] == "huggingface.co"] == [("huggingface.co", 443)]
    assert asked == [True]


def test_a_local_backbone_never_probes_the_network(no_dns):
    assert models.load_pretrained("minilm").num_layers == 6
    assert no_dns == []


def test_data_download_uses_the_same_probe(no_dns, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tmp_path / "nowhere")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    seen = []
    real = validation.no_network_reason
    monkeypatch.setattr(validation, "no_network_reason", lambda *a, **k: seen.append(1) or real(*a, **k))
    with pytest.raises(data.DataNotFoundError, match="cannot be resolved"):
        load_nli("anli", "train", data_dir=tmp_path)
    assert seen == [1]
