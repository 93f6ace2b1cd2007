"""Shared fixtures: a throw-away cache, tiny NLI frames, a tiny fine-tuned model, no network."""
from __future__ import annotations

import json
import os
import socket
import subprocess
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


def _uses(item, fixtures=SLOW_FIXTURES) -> bool:
    return bool(fixtures & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` exactly the tests that need the executed book, so static checks beside
    them still run under ``-m 'not slow'``, and run them last (the book executes meanwhile)."""
    for item in filter(_uses, items):
        item.add_marker(pytest.mark.slow)
    items.sort(key=_uses)


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

_BOOK_RUN = r"""
import json, os, sys, traceback
from pathlib import Path
import build_book
base = Path(sys.argv[1])
src, outcome = build_book.stage(base / "src"), {}
for nb in build_book.chapters():
    if (base / "alone").exists():  # the unit tests are done: the next chapters get every core back
        os.environ["OMP_NUM_THREADS"] = os.environ["BOOK_THREADS"]
    try:
        build_book.execute(nb, src / "book" / nb.name, {"smoke": True, "results_dir": str(base / "results")})
        outcome[nb.name] = None
    except Exception as err:  # reported by the chapter's own test
        outcome[nb.name] = "".join(traceback.format_exception_only(err))
(base / "outcome.json").write_text(json.dumps(outcome))
"""
_book = {}  # the child process executing the smoke book, started once the tests are known


def pytest_collection_finish(session):
    """Start executing the book in a child process as soon as a selected test needs it: the unit
    tests (which run first, see above) then run on the other core while the chapters execute."""
    needs = {"executed"} if os.environ.get("NBHELPERS_SITE") else SLOW_FIXTURES
    if not session.config.option.collectonly and any(_uses(item, needs) for item in session.items):
        _start_book(session.config._tmp_path_factory.mktemp("book"))


def _start_book(base):
    """One thread each for the chapters and for this process while both run (on 2 cores, two processes of
    2 threads each spin against each other and take longer than one after the other); the chapters that
    start after the unit tests are done get every thread again (``alone``, see :func:`executed`)."""
    import torch

    threads = torch.get_num_threads()
    env = {**os.environ, "NBHELPERS_CACHE": str(base / "cache"), "OMP_NUM_THREADS": "1",  # for the kernels
           "BOOK_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
    log = open(base / "book.log", "w")
    _book.update(base=base, log=log, threads=threads, proc=subprocess.Popen(
        [sys.executable, "-c", _BOOK_RUN, str(base)], env=env, stdout=log, stderr=subprocess.STDOUT))
    torch.set_num_threads(1)


def pytest_sessionfinish(session):
    if _book and _book["proc"].poll() is None:  # interrupted: stop the chapters too
        _book["proc"].kill()


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Every chapter executed once (smoke), in a child process: ``(src, results, outcome)``, where
    ``outcome`` maps each chapter to ``None`` or the error it raised."""
    if not _book:
        _start_book(tmp_path_factory.mktemp("book"))
    (_book["base"] / "alone").touch()  # chapters started from now on run on every core
    base, failed = _book["base"], _book["proc"].wait() != 0
    _book["log"].close()
    __import__("torch").set_num_threads(_book["threads"])  # the book is done: this process has every core
    if failed or not (base / "outcome.json").exists():
        pytest.fail(f"executing the book failed:\n{(base / 'book.log').read_text()[-3000:]}")
    outcome = {name: None if err is None else RuntimeError(err)
               for name, err in json.loads((base / "outcome.json").read_text()).items()}
    return base / "src", base / "results", outcome


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
