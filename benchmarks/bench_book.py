"""The book, cold vs warm: seconds per chapter with an empty cache, then with the filled one.

Runs ``scripts/build_book.py --no-build`` (execute every chapter, skip the site) twice in a
subprocess with ``NBHELPERS_CACHE`` pointing at a new, empty temporary folder: the first run
is cold (fine-tunes, encodes and predicts everything), the second warm (the same folder:
everything expensive is loaded from the cache). Per-chapter seconds come from the
``_build/timings.json`` that build_book writes after each run.

build_book stages and executes the chapters into ``_build/src`` beside the ``scripts/`` it
runs from, so it runs from a temporary copy of ``book/``, ``scripts/``, ``_config.yml`` and
``_toc.yml``: the checkout's own ``_build/`` and ``results/`` are never touched.

    python benchmarks/bench_book.py           # smoke parameters (the tests' run): minutes
    python benchmarks/bench_book.py --full    # the real book: about 2 hours cold on 2 CPU cores
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, fmt, log, markdown_table, report  # noqa: E402

COPIED = ("book", "scripts", "_config.yml", "_toc.yml")
MATHJAX = Path("node_modules") / "mathjax" / "es5"


def copy_book(dest: Path) -> Path:
    """What build_book needs to execute the chapters, copied to ``dest``."""
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    # build_book's stage() insists on MathJax, which only the site build (skipped) uses
    if (ROOT / MATHJAX / "tex-chtml.js").exists():
        (dest / "node_modules").symlink_to(ROOT / "node_modules")
    else:
        (dest / MATHJAX).mkdir(parents=True)
        (dest / MATHJAX / "tex-chtml.js").write_text("// placeholder: the site is not built\n")
    return dest


def data_dir() -> str:
    if os.environ.get("NBHELPERS_DATA"):
        return os.environ["NBHELPERS_DATA"]
    from nbhelpers.data import DEFAULT_DATA_DIR

    return str(Path(DEFAULT_DATA_DIR).resolve())


def run_book(repo: Path, cache: Path, smoke: bool, only: str | None) -> tuple[dict, float]:
    """One ``build_book.py --no-build``; returns (seconds per chapter, wall seconds)."""
    env = dict(os.environ, NBHELPERS_CACHE=str(cache), NBHELPERS_DATA=data_dir(),
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, str(repo / "scripts" / "build_book.py"), "--no-build"]
    cmd += ["--smoke"] if smoke else []
    cmd += ["--only", only] if only else []
    timings = repo / "_build" / "timings.json"
    timings.unlink(missing_ok=True)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=repo, env=env, stdout=sys.stderr, stderr=sys.stderr)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {res.returncode}")
    if only:  # build_book writes no timings.json for a partial book
        return {"(--only " + only + ")": wall}, wall
    return json.loads(timings.read_text()), wall


def folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--smoke", dest="smoke", action="store_true", default=True,
                      help="tiny parameters, as the tests run the book (default)")
    mode.add_argument("--full", dest="smoke", action="store_false",
                      help="the real parameters (about 2 hours cold on 2 cores; not run by make bench)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="cold+warm pairs, each with its own empty cache; medians shown (default 1)")
    ap.add_argument("--only", help="only chapters whose file name starts with this (e.g. 01)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy and cache")
    args = ap.parse_args(argv)

    cold, warm, walls, cache_mib = {}, {}, {"cold": [], "warm": []}, []
    tmp = Path(tempfile.mkdtemp(prefix="bench-book-"))
    try:
        for r in range(args.repeats):
            repo = copy_book(tmp / f"repo{r}")
            cache = tmp / f"cache{r}"
            cache.mkdir()
            for label, store in (("cold", cold), ("warm", warm)):
                log(f"== {label} run {r + 1}/{args.repeats} ({'smoke' if args.smoke else 'full'}), "
                    f"NBHELPERS_CACHE={cache}")
                timings, wall = run_book(repo, cache, args.smoke, args.only)
                walls[label].append(wall)
                for chapter, secs in timings.items():
                    store.setdefault(chapter, []).append(secs)
            cache_mib.append(folder_mib(cache))
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for chapter in cold:
        c, w = statistics.median(cold[chapter]), statistics.median(warm[chapter])
        rows.append([chapter, fmt(c), fmt(w), f"{w / c:.2f}"])
    c, w = (sum(statistics.median(v) for v in d.values()) for d in (cold, warm))
    rows.append(["**all chapters**", f"**{fmt(c)}**", f"**{fmt(w)}**", f"**{w / c:.2f}**"])
    wc, ww = statistics.median(walls["cold"]), statistics.median(walls["warm"])
    rows.append(["build_book.py wall time", fmt(wc), fmt(ww), f"{ww / wc:.2f}"])

    n = args.repeats
    report(f"The book, cold vs warm cache ({'smoke' if args.smoke else 'full'} parameters)", "bench_book.py", argv,
           markdown_table(["chapter", "cold s", "warm s", "warm / cold"], rows),
           f"\n`scripts/build_book.py --no-build{' --smoke' if args.smoke else ''}` executed with "
          "papermill from a temporary copy of the book; cold = a new empty `NBHELPERS_CACHE`, "
          "warm = the same cache, second run. "
          + (f"Median of {n} cold/warm pairs. " if n > 1 else "One cold/warm pair (a cold run is "
             "a one-off; rerun with `--repeats`). ")
          + f"Cache after the cold run: {fmt(statistics.median(cache_mib))} MiB. Wall time adds "
          "the staging and Python start-up to the chapters' own seconds.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
