"""Helpers for the book *Explaining and Improving Model Behavior with kNN Representations*.

Importing the package changes nothing; a chapter calls :func:`quiet` in its import cell. The modules
form :data:`LAYERS` (bottom first); a module imports only from its own layer or a lower one:

- base: :mod:`nbhelpers.checks` (input checks), :mod:`nbhelpers.network` (is the hub reachable),
  :mod:`nbhelpers.timing` (seconds per part of the work), :mod:`nbhelpers.device` (CUDA, MPS, CPU)
- data: :mod:`nbhelpers.data` (every NLI data set as one schema), :mod:`nbhelpers.paper` (its numbers)
- models: :mod:`nbhelpers.cache` (content-addressed store), :mod:`nbhelpers.models` (fine-tuning,
  ``predict_proba``, ``encode``), :mod:`nbhelpers.settings` (the paper's four settings)
- kNN and statistics: :mod:`nbhelpers.knn` (FAISS kNN, backoff, tuning), :mod:`nbhelpers.stats`
  (intervals and tests), :mod:`nbhelpers.evaluation` (backoff evaluated on a split)
- uses of the neighbours: :mod:`nbhelpers.tokenisation` (raw vs tokenised pairs),
  :mod:`nbhelpers.representations` (kNN accuracy per pooling and layer), :mod:`nbhelpers.influence`
  (retrieval counts, influence functions), :mod:`nbhelpers.spurious` (patterns, slices, LIME),
  :mod:`nbhelpers.mislabel` (flagging mislabeled training examples)
- records: :mod:`nbhelpers.schema` (checked numbers, a record that saves itself),
  :mod:`nbhelpers.scorecard` (the one verdict rule), :mod:`nbhelpers.claims` (the paper's claims),
  :mod:`nbhelpers.summaries` (tables and bullets), :mod:`nbhelpers.results` (one record per chapter)
- experiments: :mod:`nbhelpers.experiments` (everything that trains or times models)
- presentation: :mod:`nbhelpers.explorer` (the neighbour explorer), :mod:`nbhelpers.interactive`
  (plotly figures), :mod:`nbhelpers.viz` (plots that take ``ax=None``)

torch, transformers and the other heavy libraries are imported inside the functions that need
them (torch also atop :mod:`nbhelpers.device` and :mod:`nbhelpers.models`).
"""
__version__ = "0.1.0"

from .data import NLI_LABELS as LABELS  # noqa: E402

LAYERS = (
    ("checks", "network", "timing", "device"),
    ("data", "paper"),
    ("cache", "models", "settings"),
    ("knn", "stats", "evaluation"),
    ("tokenisation", "representations", "influence", "spurious", "mislabel"),
    ("schema", "scorecard", "claims", "summaries", "results"),
    ("experiments",),
    ("explorer", "interactive", "viz"),
)
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
    try:  # transformers keeps its own verbosity switch
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a hard dependency
        pass
