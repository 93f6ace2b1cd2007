"""Helpers for the book *Explaining and Improving Model Behavior with kNN Representations*.

Every chapter imports the modules it needs:

- :mod:`nbhelpers.data`   -- every NLI data set as one DataFrame schema
- :mod:`nbhelpers.models` -- backbones, fine-tuning, ``predict_proba``, ``encode``
- :mod:`nbhelpers.cache`  -- content-addressed store for checkpoints and arrays
- :mod:`nbhelpers.knn`    -- normalisation, FAISS kNN, ``backoff`` and tuning
- :mod:`nbhelpers.viz`    -- plots (take ``ax=None``, return the Axes)
"""
import logging as _logging
import os as _os
import warnings as _warnings

__version__ = "0.1.0"

LABELS = ("entailment", "neutral", "contradiction")
"""Class names; labels are always the integers 0, 1, 2 in this order."""


def _quiet_libraries():
    """Silence the warning spam of transformers/tokenizers in rendered notebooks."""
    _os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _warnings.filterwarnings("ignore", message=".*TRANSFORMERS_CACHE.*")
    # tqdm.auto (imported by datasets) complains when ipywidgets is absent; we use text bars
    _warnings.filterwarnings("ignore", message="IProgress not found")
    for name in ("transformers", "huggingface_hub", "datasets", "sentence_transformers"):
        _logging.getLogger(name).setLevel(_logging.ERROR)
    try:  # transformers keeps its own verbosity switch
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers is a hard dependency
        pass


_quiet_libraries()
