"""Execute every chapter with papermill and build the site with Jupyter Book.

The site build tool, kept out of the package: ``nbhelpers`` holds the method, this script
runs the chapters and builds the pages. The tests import its steps as ``build_book``
(``scripts/`` is on pytest's ``pythonpath``, see pyproject.toml).

The notebooks in ``book/`` stay clean (no outputs in git): each chapter is executed
into a staging copy of the book, ``_build/src/``, which Jupyter Book then renders
into ``_build/html``. ``make book`` and the tests (with ``smoke=True``) both use it.

    python scripts/build_book.py                  # every chapter, default parameters
    python scripts/build_book.py --smoke          # tiny subsets (what the tests run)
    python scripts/build_book.py --only 01 -p k 8 # one chapter, a parameter overridden
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (this script lives in ``scripts/``; the book is built from a checkout)."""
sys.path.insert(0, str(ROOT))  # this checkout's nbhelpers first

from nbhelpers.cache import Cache  # noqa: E402


BOOK_FILES = ("_config.yml", "_toc.yml")
ASSETS = "site-assets"  # copied to the site's root by html_extra_path (see _config.yml)
ORT = Path("node_modules") / "onnxruntime-web" / "dist"  # ONNX Runtime Web (package.json pins it)
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""Chapter 7's live explorer runs on these (WebAssembly, CPU); copied to ``ASSETS/onnxruntime/``."""
SITE_FILES = ("explorer-data.js", "live")
"""Files (or folders) a chapter writes into its ``results_dir`` for its page to load: after the chapter
runs, each one it wrote is copied to ``ASSETS/book/``, so it lands next to the pages."""


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks in reading order (book/NN_*.ipynb)."""
    return sorted((root / "book").glob("[0-9][0-9]_*.ipynb"))


def stage(dest: Path, root: Path = ROOT) -> Path:
    """Copy the book's config and prose (not the notebooks) into ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "book").mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(root / name, dest / name)
    for path in (root / "book").iterdir():
        if path.suffix != ".ipynb" and not path.name.startswith("."):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, dest / "book" / path.name)
    mathjax = root / "node_modules" / "mathjax" / "es5"
    if not (mathjax / "tex-chtml.js").exists():
        raise FileNotFoundError(
            f"MathJax is not installed at {mathjax}: run `npm install` in {root} "
            "(make book and make test do it), so that equations render without internet")
    shutil.copytree(mathjax, dest / ASSETS / "mathjax")
    if missing := [name for name in ORT_FILES if not (root / ORT / name).exists()]:
        raise FileNotFoundError(f"ONNX Runtime Web lacks {missing} in {root / ORT}: run `npm install` in "
                                f"{root} (make book and make test do it); chapter 7's live explorer needs it")
    (dest / ASSETS / "onnxruntime").mkdir(parents=True)
    for name in ORT_FILES:
        shutil.copy2(root / ORT / name, dest / ASSETS / "onnxruntime" / name)
    return dest


def execute(notebook: Path, dest: Path, parameters: dict | None = None,
            root: Path = ROOT) -> float:
    """Run one chapter with papermill (cwd ``book/``) into ``dest``; returns seconds.

    The :data:`SITE_FILES` the chapter writes into its ``results_dir`` during this run are
    copied into the staged book's ``ASSETS/book/`` (``dest`` is ``<src>/book/NN_x.ipynb``).
    """
    import papermill

    start, wall = time.perf_counter(), time.time()
    papermill.execute_notebook(
        str(notebook), str(dest), parameters=parameters or {}, cwd=str(root / "book"),
        kernel_name="python3", progress_bar=False, log_output=False)
    tidy_streams(dest)
    results = root / "book" / (parameters or {}).get("results_dir", "../results")
    for name in SITE_FILES:
        made = results / name
        if made.exists() and made.stat().st_mtime >= wall - 1:
            (dest.parent.parent / ASSETS / "book").mkdir(parents=True, exist_ok=True)
            if made.is_dir():
                shutil.copytree(made, dest.parent.parent / ASSETS / "book" / name, dirs_exist_ok=True)
            else:
                shutil.copy2(made, dest.parent.parent / ASSETS / "book" / name)
    return time.perf_counter() - start


def tidy_streams(path: Path) -> None:
    """Render progress bars as a static page would want them: their final state only.

    Merges consecutive stream outputs of a cell and applies carriage returns (a tqdm bar
    redraws its line with ``\\r``), as a live notebook does on screen.

    Why not MyST-NB's ``nb_merge_streams: true``: its ``coalesce_streams`` (myst-nb 1.4)
    appends a newline after every stream chunk before it applies the carriage returns,
    so each redraw of a bar becomes a line of its own (tests/test_build.py shows both).
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                lines = out.text.split("\n")
                out.text = "\n".join(line.rstrip("\r").split("\r")[-1] for line in lines)
        cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]
    nbformat.write(nb, str(path))


def drop_repeated_inline_scripts(html_dir: Path) -> int:
    """Remove the second copy of identical inline ``<script>`` lines on each page.

    Under Jupyter Book 1.x (Sphinx 7.4), every inline script that an extension registers
    with ``app.add_js_file(None, body=...)`` (sphinx-thebe 0.3.1's ``const THEBE_JS_URL``,
    sphinx-togglebutton's configuration) is written twice, and the browser logs
    "redeclaration of const THEBE_JS_URL". The cause is upstream in Sphinx: the builder
    stores the file name ``None`` once and ``''`` once, so its duplicate check misses,
    fixed by sphinx-doc/sphinx#13402 (Sphinx 8.2). Jupyter Book 1.x requires Sphinx < 8, so
    the fix cannot reach us; drop this function when the book moves to Sphinx >= 8.2.
    Returns the number of lines removed.
    """
    removed = 0
    for page in html_dir.rglob("*.html"):
        lines, seen, kept = page.read_text().split("\n"), set(), []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("<script>") and stripped.endswith("</script>"):
                if stripped in seen:
                    removed += 1
                    continue
                seen.add(stripped)
            kept.append(line)
        if len(kept) != len(lines):
            page.write_text("\n".join(kept))
    return removed


def build(src: Path, out: Path = ROOT) -> Path:
    """``jupyter-book build -W`` of the staged book; the site lands in ``out/_build/html``."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", "-W", "--keep-going",
           "--path-output", str(out), str(src)]
    subprocess.run(cmd, check=True)
    html = out / "_build" / "html"
    drop_repeated_inline_scripts(html)
    return html

def prune_temp(root: Path, older_than_hours: float = 24.0) -> tuple[list[Path], int]:
    """Delete the cache's hidden ``*.tmp`` leftovers of killed runs older than ``older_than_hours``;
    return ``(removed paths, bytes freed)``."""
    if isinstance(older_than_hours, bool) or not 0 <= older_than_hours < math.inf:
        raise ValueError(f"older_than_hours must be a finite number >= 0; got {older_than_hours!r}")
    removed, freed = [], 0
    for entry in sorted(Path(root).glob("*/.*.tmp")):
        try:
            if entry.lstat().st_mtime > time.time() - 3600 * older_than_hours:
                continue
            folder = entry.is_dir() and not entry.is_symlink()
            size = sum(f.lstat().st_size for f in (entry.rglob("*") if folder else [entry])
                       if not f.is_dir())
            shutil.rmtree(entry) if folder else entry.unlink()
        except FileNotFoundError:  # another process cleaned it first
            continue
        removed.append(entry)
        freed += size
    return removed, freed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="run every chapter with smoke=True")
    ap.add_argument("--only", default=None, help="run only chapters whose file name starts with this")
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a parameter for every chapter run (VALUE parsed as JSON if it can be)")
    ap.add_argument("--no-build", action="store_true", help="execute only; skip jupyter-book")
    args = ap.parse_args(argv)

    params = {}
    for name, value in args.p:
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    if args.smoke:
        params["smoke"] = True

    removed, freed = prune_temp(Cache().root)
    if removed:
        print(f"removed {len(removed)} leftovers of interrupted runs from the cache "
              f"({freed / 2**20:.0f} MiB)", flush=True)
    src = stage(ROOT / "_build" / "src")
    timings = {}
    for nb in chapters():
        if args.only and not nb.name.startswith(args.only):
            continue
        print(f"== executing {nb.name} {params or ''}", flush=True)
        timings[nb.name] = execute(nb, src / "book" / nb.name, params)
        print(f"   done in {timings[nb.name]:.0f} s", flush=True)
    if args.only:  # a partial book would fail -W on the missing chapters
        print("--only given: not building the site")
        return 0
    if not args.no_build:
        html = build(src)
        print(f"site: {html / 'index.html'}")
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "timings.json").write_text(json.dumps(timings, indent=1))
    for name, secs in timings.items():
        print(f"{name:40s} {secs:7.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
