"""The package's layers (nbhelpers.LAYERS): no module imports one from a higher layer.

Two checks: an AST scan of every import statement in nbhelpers/*.py, the ones inside
functions included, and a fresh interpreter per module that lists the nbhelpers modules
``import nbhelpers.<name>`` actually loads.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbhelpers

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nbhelpers"
LAYER = {name: i for i, layer in enumerate(nbhelpers.LAYERS) for name in layer}
ROOT_MODULE = "__init__"


def test_every_module_is_in_exactly_one_layer():
    names = [name for layer in nbhelpers.LAYERS for name in layer]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != ROOT_MODULE)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(nbhelpers module, line) for every import in ``path``; ``__init__`` for the package root."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or (node.level == 0 and (node.module or "").split(".")[0] == "nbhelpers"):
                parts = (node.module or "").split(".")
                module = parts[0] if node.level == 1 else (parts[1] if len(parts) > 1 else "")
                if module:  # from .x import y / from nbhelpers.x import y
                    found.append((module, node.lineno))
                else:  # from . import x, y: a submodule, or a name of the package root
                    found += [(a.name if a.name in LAYER else ROOT_MODULE, node.lineno) for a in node.names]
            elif node.level > 1:
                raise AssertionError(f"{path.name}:{node.lineno}: relative import beyond the package")
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "nbhelpers":
                    found.append((parts[1] if len(parts) > 1 else ROOT_MODULE, node.lineno))
    return found


GRAPH = {p.stem: imports_of(p) for p in sorted(PACKAGE.glob("*.py"))}
# the package root re-exports the label names, so it sits in the layer of what it imports
LAYER_OF = dict(LAYER, **{ROOT_MODULE: max((LAYER[m] for m, _ in GRAPH[ROOT_MODULE]), default=0)})


def test_the_package_root_imports_only_the_data_layer():
    assert LAYER_OF[ROOT_MODULE] <= LAYER["data"]


@pytest.mark.parametrize("name", sorted(LAYER))
def test_no_import_of_a_higher_layer(name):
    """Top-level and function-level imports alike."""
    upward = [f"{name}.py:{line} imports {target} (layer {LAYER_OF[target]} > {LAYER[name]})"
              for target, line in GRAPH[name] if LAYER_OF[target] > LAYER[name]]
    assert not upward, upward


def test_no_import_cycle():
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {' -> '.join(path + [name])}"
        state[name] = "open"
        for target, _ in GRAPH[name]:
            if target != ROOT_MODULE:  # every module loads the root first; the root is checked above
                visit(target, path + [name])
        state[name] = "done"

    for name in GRAPH:
        visit(name, [])


LOADED = """
import json, sys
import {module}
print(json.dumps(sorted(m.split(".")[1] for m in sys.modules if m.startswith("nbhelpers."))))
"""


def loaded_by(module: str) -> set:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's nbhelpers
    out = subprocess.run([sys.executable, "-c", LOADED.format(module=module)], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=env)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def baseline():
    """What ``import nbhelpers`` alone loads (the root re-exports the label names from data)."""
    return loaded_by("nbhelpers")


def test_a_fresh_import_of_the_package_loads_only_the_data_layer(baseline):
    assert {LAYER[m] for m in baseline} <= set(range(LAYER["data"] + 1)), baseline


@pytest.mark.parametrize("name", sorted(LAYER))
def test_a_fresh_import_loads_no_higher_layer(name, baseline):
    higher = {m for m in loaded_by(f"nbhelpers.{name}") - baseline if LAYER[m] > LAYER[name]}
    assert not higher, f"import nbhelpers.{name} loads {sorted(higher)} from higher layers"
