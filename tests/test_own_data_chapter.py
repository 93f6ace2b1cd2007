"""A chapter reruns on a reader's own files: chapter 1, smoke, through papermill."""
import json
import os

import nbformat
import pytest

from conftest import build_book

pytestmark = pytest.mark.slow

SUBJECTS = ["man", "woman", "child", "dog", "cat", "boy", "girl", "cook", "farmer", "singer"]
VERBS = ["running", "sleeping", "eating", "singing", "reading", "swimming"]


def own_pairs(n_per_label=30):
    """Template pairs a reader might write: 3 labels, premise/hypothesis/label as words."""
    rows = []
    for i in range(n_per_label):
        s, v = SUBJECTS[i % len(SUBJECTS)], VERBS[i % len(VERBS)]
        premise = f"A {s} is {v} in the park number {i}."
        rows += [(premise, f"A {s} is outside.", "entailment"),
                 (premise, f"The {s} is {v} with a friend.", "neutral"),
                 (premise, f"Nobody is {v}.", "contradiction")]
    return rows


def test_chapter_1_runs_on_a_readers_csv(tmp_path):
    path = tmp_path / "my_pairs.csv"
    path.write_text("premise,hypothesis,label\n"
                    + "".join(f'"{p}","{h}",{y}\n' for p, h, y in own_pairs()), encoding="utf-8")
    src = build_book.stage(tmp_path / "src")
    results = tmp_path / "results"
    saved = os.environ.get("NBHELPERS_CACHE")
    os.environ.setdefault("NBHELPERS_CACHE", str(tmp_path / "cache"))  # inherited by the kernel
    try:
        out = src / "book" / "01_representations.ipynb"
        build_book.execute(build_book.ROOT / "book" / "01_representations.ipynb", out,
                           {"smoke": True, "data_files": str(path), "results_dir": str(results)})
    finally:
        if saved is None:
            os.environ.pop("NBHELPERS_CACHE", None)
    nb = nbformat.read(out, as_version=4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    # the chapter's counts table names the data that ran: the reader's file, split 60/20/20 by label
    assert f"train: {path} (60%, split by label with seed 0)" in text
    assert f"validation: {path} (20%, split by label with seed 0)" in text
    assert (results / "representations.json").exists()
