"""Helpers for the book *Explaining and Improving Model Behavior with kNN Representations*.

Importing the package changes nothing; a chapter calls :func:`quiet`, and :func:`glue` for its text.
The modules by :data:`LAYERS`, bottom first (a module imports only from its own layer or a lower one;
heavy libraries inside functions):

- base: :mod:`nbhelpers.checks`, :mod:`nbhelpers.timing`
- data and the paper's numbers: :mod:`nbhelpers.data`, :mod:`nbhelpers.paper`
- models: :mod:`nbhelpers.cache`, :mod:`nbhelpers.models`, :mod:`nbhelpers.settings`
- kNN and statistics: :mod:`nbhelpers.knn`, :mod:`nbhelpers.stats`
- uses of the neighbours: :mod:`nbhelpers.representations`, :mod:`nbhelpers.influence`,
  :mod:`nbhelpers.spurious`, :mod:`nbhelpers.mislabel`
- records: :mod:`nbhelpers.results`, and :mod:`nbhelpers.scorecard` (the verdict rule and the claim rows)
- training and timing runs: :mod:`nbhelpers.experiments`
- presentation: :mod:`nbhelpers.explorer` (static and live), :mod:`nbhelpers.viz`
"""
__version__ = "0.1.0"

from .data import NLI_LABELS as LABELS  # noqa: E402

LAYERS = (("checks", "timing"),
          ("data", "paper"),
          ("cache", "models", "settings"),
          ("knn", "stats"),
          ("representations", "influence", "spurious", "mislabel"),
          ("results", "scorecard"),
          ("experiments",),
          ("explorer", "viz"))
"""The modules by layer, bottom first (tests/test_layers.py checks the imports)."""

MODULES = tuple(name for layer in LAYERS for name in layer)
"""Every module of the package, bottom layer first."""


def quiet() -> None:
    """Silence the warnings, progress bars and logs of transformers, tokenizers and datasets."""
    import logging
    import os
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*TRANSFORMERS_CACHE.*")
    warnings.filterwarnings("ignore", message="IProgress not found")
    for name in ("transformers", "huggingface_hub", "datasets", "sentence_transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import transformers  # after the filters (importing it may warn); it keeps its own verbosity switch

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def glue(**values) -> None:
    """Glue each value for the chapter's markdown (MyST-NB's ``glue:text`` role), without displaying it.

    numpy scalars become Python numbers, so that formats such as ``:.1%`` apply. Where MyST-NB
    is absent (Colab) nothing is glued: the text's glue roles are not rendered there anyway."""
    import numpy as np

    try:
        from myst_nb import glue as glue_one
    except ImportError:  # pragma: no cover - MyST-NB is a dependency of the book, not of Colab
        return
    for name, value in values.items():
        glue_one(name, value.item() if isinstance(value, np.generic) else value, display=False)
