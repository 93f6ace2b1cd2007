"""Shared fixtures: a throw-away cache, tiny NLI frames, a tiny fine-tuned model, no network."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests never need the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


SLOW_FIXTURES = {"executed", "site"}
"""Fixtures that execute every chapter or build the site: a test using one is slow."""


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` exactly the tests that need the executed book, so static checks beside
    them still run under ``-m 'not slow'``."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def cache(tmp_path):
    from nbhelpers.cache import Cache

    return Cache(tmp_path / "cache")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    from nbhelpers.cache import Cache

    return Cache(tmp_path_factory.mktemp("session-cache"))


@pytest.fixture(scope="session")
def tiny_pairs():
    """12 hand-made pairs, 4 per label."""
    rows = [
        ("A man is playing a guitar.", "A man plays music.", 0),
        ("Two dogs run in the park.", "Animals are outside.", 0),
        ("A woman reads a book.", "Someone is reading.", 0),
        ("Kids swim in a lake.", "Children are in water.", 0),
        ("A man is playing a guitar.", "The man is a famous star.", 1),
        ("Two dogs run in the park.", "The dogs are chasing a ball.", 1),
        ("A woman reads a book.", "The book is a novel.", 1),
        ("Kids swim in a lake.", "The kids are on holiday.", 1),
        ("A man is playing a guitar.", "The man is asleep.", 2),
        ("Two dogs run in the park.", "The dogs sleep indoors.", 2),
        ("A woman reads a book.", "Nobody is reading.", 2),
        ("Kids swim in a lake.", "The kids are in a desert.", 2),
    ]
    return pd.DataFrame(rows, columns=["premise", "hypothesis", "label"])


@pytest.fixture(scope="session")
def tiny_model(tiny_pairs, session_cache):
    """MiniLM fine-tuned for one epoch on the 12 tiny pairs (a few seconds)."""
    from nbhelpers import models

    return models.fine_tune(tiny_pairs, "minilm", seed=0, epochs=1, batch_size=4,
                            cache=session_cache, progress=False)


import build_book  # noqa: E402  (scripts/build_book.py; scripts/ is on pytest's pythonpath)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Stage the book and execute every chapter once (smoke); record each outcome."""
    base = tmp_path_factory.mktemp("book")
    src = build_book.stage(base / "src")
    results = base / "results"
    saved = os.environ.get("NBHELPERS_CACHE")
    os.environ["NBHELPERS_CACHE"] = str(base / "cache")  # inherited by the kernels
    outcome = {}
    try:
        for nb in build_book.chapters():
            try:
                build_book.execute(nb, src / "book" / nb.name,
                                   {"smoke": True, "results_dir": str(results)})
                outcome[nb.name] = None
            except Exception as err:  # reported by the chapter's own test
                outcome[nb.name] = err
    finally:
        if saved is None:
            os.environ.pop("NBHELPERS_CACHE", None)
        else:
            os.environ["NBHELPERS_CACHE"] = saved
    return src, results, outcome


@pytest.fixture(scope="session")
def site(request, tmp_path_factory):
    """The smoke-executed book built with jupyter-book -W (once).

    With ``NBHELPERS_SITE=<folder>`` (e.g. ``_build/html`` of ``scripts/build_book.py
    --smoke``) the tests open that built site instead of executing and building the book.
    """
    built = os.environ.get("NBHELPERS_SITE")
    if built:
        if not (Path(built) / "book" / "intro.html").exists():
            pytest.fail(f"NBHELPERS_SITE={built} is not a built site: expected book/intro.html in it")
        return Path(built)
    src, _, outcome = request.getfixturevalue("executed")
    if any(v is not None for v in outcome.values()):
        pytest.skip("a chapter failed to execute (its own test says why)")
    return build_book.build(src, tmp_path_factory.mktemp("site"))


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

    monkeypatch.setattr(socket, "getaddrinfo", fail)  # socket.create_connection looks up through it
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for module, attr in [("huggingface_hub.constants", "HF_HUB_OFFLINE")]:
        if module in sys.modules:
            monkeypatch.setattr(sys.modules[module], attr, False)
    return calls
