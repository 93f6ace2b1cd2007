"""The package as a whole: every module listed, and importing it changes nothing."""
import json
import subprocess
import sys
from pathlib import Path

import nbhelpers

ROOT = Path(__file__).resolve().parents[1]


def test_init_lists_every_module():
    files = sorted(p.stem for p in (ROOT / "nbhelpers").glob("*.py") if p.stem != "__init__")
    assert sorted(nbhelpers.MODULES) == files
    for name in files:
        assert f":mod:`nbhelpers.{name}`" in nbhelpers.__doc__, f"{name} missing from the package docstring"


PROBE = """
import json, logging, os, warnings
def state():
    ours = [f for f in warnings.filters if f[1] is not None and "IProgress" in f[1].pattern]
    return os.environ.get("TOKENIZERS_PARALLELISM"), logging.getLogger("datasets").level, len(ours)
before = state()
import nbhelpers, nbhelpers.knn, nbhelpers.results
after_import = state()
nbhelpers.quiet()
print(json.dumps([before, after_import, state()]))
"""


def test_import_changes_nothing_and_quiet_silences_the_libraries():
    env = {k: v for k, v in __import__("os").environ.items() if k != "TOKENIZERS_PARALLELISM"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    before, after_import, after_quiet = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == [None, 0, 0]
    assert after_import == before  # environment, loggers and warning filters untouched
    assert after_quiet == ["false", 40, 1]  # logging.ERROR, and the IProgress warning filtered


def test_no_library_line_is_over_110_characters():
    long = [f"{p.name}:{i}" for p in sorted(Path(nbhelpers.__file__).parent.glob("*.py"))
            for i, line in enumerate(p.read_text().split("\n"), 1) if len(line) > 110]
    assert not long, f"lines over 110 characters: {long}"


def test_glue_quotes_numpy_scalars_as_python_numbers_without_displaying_them(monkeypatch):
    import myst_nb
    import numpy as np

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.update({name: (value, display)}))
    nbhelpers.glue(acc=np.float64(0.5), n=np.int64(3), words="a, b")
    assert seen == {"acc": (0.5, False), "n": (3, False), "words": ("a, b", False)}
    assert type(seen["acc"][0]) is float and type(seen["n"][0]) is int
