"""nbhelpers.network: offline mode is read from the Hugging Face variables (the probe itself is
tested in test_data.py, beside the downloads that ask it)."""
import pytest

from nbhelpers import network

VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize("value, offline",
                         [("1", True), (" TRUE ", True), ("yes", True), ("0", False), ("", False)])
def test_offline_requested_reads_each_variable(monkeypatch, variable, value, offline):
    for v in VARIABLES:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv(variable, value)
    assert network.offline_requested() is offline
