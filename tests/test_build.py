"""The site build tool, scripts/build_book.py (scripts/ is on pytest's pythonpath, see pyproject.toml)."""
import build_book
import nbformat
import numpy as np
import pytest


def _cell(*texts):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in texts]
    nb.cells.append(cell)
    return nb


BAR = ("encode:   0%|     | 0/10\r", "encode:  50%|##   | 5/10\r", "encode: 100%|#####| 10/10\n")


def test_tidy_streams_keeps_a_progress_bars_final_state(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(_cell(*BAR, "done\n"), str(path))
    build_book.tidy_streams(path)
    (out,) = nbformat.read(str(path), as_version=4).cells[0].outputs
    assert out.text == "encode: 100%|#####| 10/10\ndone\n"


def test_myst_nb_merge_streams_would_keep_every_redraw():
    """Why the book keeps tidy_streams rather than MyST-NB's nb_merge_streams: MyST-NB adds a
    newline after every chunk before applying carriage returns, so a bar's every redraw stays."""
    from myst_nb.core.utils import coalesce_streams

    (out,) = coalesce_streams(_cell(*BAR).cells[0].outputs)
    assert out["text"].count("encode:") == 3


def test_drop_repeated_inline_scripts_keeps_the_first_copy(tmp_path):
    page = tmp_path / "a.html"
    line = "<script>const THEBE_JS_URL = 'x'</script>"
    page.write_text("\n".join(["<head>", line, "<script src='y.js'></script>", line, "</head>"]))
    assert build_book.drop_repeated_inline_scripts(tmp_path) == 1
    assert page.read_text().count("THEBE_JS_URL") == 1 and "y.js" in page.read_text()
    assert build_book.drop_repeated_inline_scripts(tmp_path) == 0


def test_chapters_are_found_in_reading_order():
    names = [p.name for p in build_book.chapters()]
    assert names[0] == "01_representations.ipynb" and names[-1] == "99_results.ipynb"
    assert names == sorted(names)


def test_prune_temp_removes_only_old_temporary_leftovers(tmp_path):
    import os
    import time

    from nbhelpers.cache import Cache

    cache = Cache(tmp_path)
    arr_path = cache.save_array("reps", "k1", np.arange(4.0))
    cache.directory("checkpoints", {"s": 1}, lambda tmp: (tmp / "w.bin").write_bytes(b"w"))
    old_dir = cache.root / "models" / ".deadbeef.x1.tmp"
    old_dir.mkdir(parents=True)
    (old_dir / "model.safetensors").write_bytes(b"\0" * 1000)
    old_file = cache.root / "reps" / ".k2.npy.abc.tmp"
    old_file.write_bytes(b"\0" * 24)
    fresh = cache.root / "models" / ".cafe.x2.tmp"  # a run writing right now
    fresh.mkdir()
    visible_old = cache.root / "models" / "done.tmp"  # not hidden: not ours to delete
    visible_old.write_bytes(b"keep")
    two_days_ago = time.time() - 2 * 86400
    for p in (old_dir, old_file, visible_old):
        os.utime(p, (two_days_ago, two_days_ago))

    removed, freed = build_book.prune_temp(cache.root, older_than_hours=24)

    assert sorted(p.name for p in removed) == [".deadbeef.x1.tmp", ".k2.npy.abc.tmp"]
    assert freed == 1024
    assert not old_dir.exists() and not old_file.exists()
    assert fresh.exists() and visible_old.exists() and arr_path.exists()
    assert cache.load_array("reps", "k1").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert build_book.prune_temp(cache.root, older_than_hours=0)[0] == [fresh]  # locks are kept
    assert build_book.prune_temp(tmp_path / "absent") == ([], 0)


@pytest.mark.parametrize("age", [float("nan"), -1, float("inf"), True])
def test_prune_temp_refuses_ages_that_are_not_finite_non_negative_numbers(tmp_path, age):
    with pytest.raises(ValueError, match="older_than_hours"):
        build_book.prune_temp(tmp_path, age)
