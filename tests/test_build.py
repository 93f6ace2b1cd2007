"""The site build tool, scripts/build_book.py (scripts/ is on pytest's pythonpath, see pyproject.toml)."""
import build_book
import nbformat


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
