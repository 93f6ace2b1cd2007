"""Helpers for the book *Explaining and Improving Model Behavior with kNN Representations*.

Importing the package changes nothing (no environment variable, warning filter or logger
is touched); a chapter calls :func:`quiet` in its import cell to silence the libraries'
chatter in rendered pages. Every chapter imports the modules it needs. The modules form
layers (:data:`LAYERS`, bottom first): a module imports from its own layer or a lower one,
never from a higher one, not even inside a function (tests/test_layers.py checks it):

base:

- :mod:`nbhelpers.checks`          -- input checks: sklearn.utils calls, and what it lacks
- :mod:`nbhelpers.network`         -- one fast probe: is the hub reachable, is offline mode asked
- :mod:`nbhelpers.timing`          -- seconds per part of the work (fine-tuning, kNN, ...)
- :mod:`nbhelpers.device`          -- CUDA, then MPS, then CPU

data:

- :mod:`nbhelpers.data`            -- every NLI data set as one DataFrame schema; the label names
- :mod:`nbhelpers.paper`           -- every number quoted from the paper, once

models:

- :mod:`nbhelpers.cache`           -- content-addressed store for checkpoints and arrays
- :mod:`nbhelpers.models`          -- backbones, fine-tuning, ``predict_proba``, ``encode``
- :mod:`nbhelpers.settings`        -- the paper's four settings, their data, the model for each

kNN and statistics:

- :mod:`nbhelpers.knn`             -- normalisation, FAISS kNN, ``backoff`` (global or per slice), tuning
- :mod:`nbhelpers.stats`           -- intervals and tests on scipy.stats (bootstraps, McNemar, Newcombe, t)
- :mod:`nbhelpers.evaluation`      -- backoff evaluated on a split, accuracy per confidence bin

uses of the neighbours:

- :mod:`nbhelpers.tokenisation`    -- raw vs tokenised copies of the same pairs
- :mod:`nbhelpers.representations` -- kNN accuracy per pooling and layer, linear probes
- :mod:`nbhelpers.influence`       -- retrieval counts, removal sets, influence functions
- :mod:`nbhelpers.spurious`        -- patterns, slices, the neighbour token miner, LIME
- :mod:`nbhelpers.mislabel`        -- flagging mislabeled training examples, and baselines

records:

- :mod:`nbhelpers.scorecard`       -- the one rule that gives each claim its verdict
- :mod:`nbhelpers.claims`          -- the paper's claims, one row each, from the chapters' records
- :mod:`nbhelpers.schema`          -- checked numbers, nested shapes, a record that saves and loads itself
- :mod:`nbhelpers.summaries`       -- what each chapter's record says: tables and summary bullets
- :mod:`nbhelpers.results`         -- one typed record per chapter, built from its run; save, load

experiments:

- :mod:`nbhelpers.experiments`     -- everything that trains or times models, and the records it builds

presentation:

- :mod:`nbhelpers.explorer`        -- the data and page of the neighbour explorer
- :mod:`nbhelpers.interactive`     -- plotly figures embedded in the pages
- :mod:`nbhelpers.viz`             -- plots (take ``ax=None``, return the Axes)

torch is imported at the top of :mod:`~nbhelpers.device` and :mod:`~nbhelpers.models` only;
the heavy or optional libraries (transformers, datasets, lime, captum, cleanlab, and torch in
:mod:`~nbhelpers.influence`) are imported inside the functions that need them, so that
importing :mod:`nbhelpers.knn` or :mod:`nbhelpers.data` stays fast.
"""
__version__ = "0.1.0"

from .data import NLI_LABELS as LABELS  # noqa: E402  (class names, defined once in the data layer)

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
"""The modules by layer, bottom first: a module imports only from its own layer or a lower one."""

MODULES = tuple(name for layer in LAYERS for name in layer)
"""Every module of the package, bottom layer first (a test checks the list against the files)."""


def quiet() -> None:
    """Silence the warning and progress-bar spam of transformers, tokenizers and datasets.

    Sets ``TOKENIZERS_PARALLELISM=false`` (unless already set), ignores the warnings about
    ``TRANSFORMERS_CACHE`` and the missing ``IProgress`` widget (we use text bars), and turns
    the Hugging Face loggers down to errors. Chapters call it once in their import cell;
    importing :mod:`nbhelpers` alone changes none of this.
    """
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
