"""What every benchmark shares: a median timer, a markdown table, the machine, peak memory.

Timings on a shared 2-core machine are noisy; every script therefore compares methods
measured in the same run, interleaved round by round, and reports medians and ratios.
"""
from __future__ import annotations

import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(*args) -> None:
    """Progress on stderr, so stdout holds only the markdown report."""
    print(*args, file=sys.stderr, flush=True)


def median_times(fns: dict, repeats: int = 3, warmup: int = 1) -> dict:
    """``{name: (median seconds, [all seconds])}`` for each zero-argument callable.

    Each callable runs ``warmup`` untimed times, then the callables take turns, ``repeats``
    rounds of one run each: a burst of load from another process then slows every method
    a little instead of one method a lot.
    """
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            log(f"  round {r + 1}/{repeats} {name}: {times[name][-1]:.3f} s")
    return {name: (statistics.median(ts), ts) for name, ts in times.items()}


def markdown_table(headers, rows) -> str:
    """A GitHub markdown table; floats keep the precision they were formatted with."""
    lines = ["| " + " | ".join(map(str, headers)) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line: CPU model, cores, memory, no GPU, Python and torch thread count."""
    cores = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB RAM"
    except (ValueError, OSError):
        mem_s = ""
    return (f"{cpu_model()} ({cores} cores{mem_s}), CPU only, "
            f"Python {platform.python_version()}, {platform.system()}")


def header(title: str, command: str) -> str:
    """The report's heading: what, when, where and how to rerun it."""
    today = datetime.date.today().isoformat()
    return f"## {title}\n\n{today} · {machine()} · `{command}`\n"


def report(title: str, script: str, argv, *sections: str) -> None:
    """Print a benchmark's report to stdout: :func:`header` (with the command that reruns
    ``script`` with ``argv``, or the command line's arguments when ``argv`` is None), then
    each section in turn (tables, headings, notes)."""
    args = argv if argv is not None else sys.argv[1:]
    print(header(title, " ".join(["python", f"benchmarks/{script}", *args]).strip()))
    for section in sections:
        print(section)


def fmt(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant figures, without scientific notation for normal sizes."""
    if x == 0 or x != x:
        return str(x)
    if abs(x) < 0.001:
        return "<0.001"
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:,.0f}"


# ---- memory --------------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> int:
    """Reset the peak-RSS mark (Linux ``clear_refs``) and return the current RSS in KiB.

    Where the mark cannot be reset, :func:`peak_rss_increase_mib` falls back to
    ``ru_maxrss``, whose earlier peak may hide a smaller increase (reported as 0).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_increase_mib(rss_before_kib: int) -> float:
    """Peak resident memory since :func:`reset_peak_rss`, minus the RSS then, in MiB.

    Counts every allocation of the process (FAISS, torch and BLAS included), which
    ``tracemalloc`` cannot see.
    """
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(0.0, (peak - rss_before_kib) / 1024)
