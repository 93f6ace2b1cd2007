"""The paper's four settings, their data, and "the model for setting S", in one place.

A *setting* fixes the training data (the kNN datastore and the fine-tuning data), the
validation split on which k, T, tau and lambda are tuned, and the test split that is
touched once for the reported number (Rajani et al., 2020, Tables 4 and 5):

============== ============================== ======================== ===================
setting        train                          validation               test
============== ============================== ======================== ===================
snli-original  cad-original train (1,666)     snli validation (9,842)  snli test (9,824)
snli-augmented cad-augmented train (8,330)    its validation (1,000)   its test (2,000)
anli           ANLI train R1-R3 (*)           anli validation (3,200)  anli test (3,200)
hans           the ANLI model's training set  hans validation (10,000) hans test (20,000)
============== ============================== ======================== ===================

(*) Offline, ANLI train is not available; ``mnli-matched`` validation (9,815 pairs)
stands in for it, and the chapters say so.

Every chapter that needs a setting's model asks :func:`model_for`, which decides the
recipe (:func:`recipe_for`) and the seed: chapters share checkpoints through the cache
instead of each passing the same recipe and hoping it matches. For HANS the model and kNN
still predict 3 classes; neutral and contradiction both count as non-entailment
(:data:`HANS_LABEL_MAP`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import data, models

HANS_LABEL_MAP = np.array([0, 1, 1])
"""3-class prediction -> HANS label (0 entailment, 1 non-entailment)."""


@dataclass(frozen=True)
class Setting:
    """Where a setting's three splits come from, and the paper's k."""

    name: str
    train: tuple
    validation: tuple
    test: tuple
    paper_k: int
    label_map: tuple | None = None
    note: str = ""


SETTINGS = {
    "snli-original": Setting("snli-original", ("cad-original", "train"), ("snli", "validation"),
                             ("snli", "test"), 16),
    "snli-augmented": Setting("snli-augmented", ("cad-augmented", "train"),
                              ("cad-augmented", "validation"), ("cad-augmented", "test"), 16),
    "anli": Setting("anli", ("anli", "train"), ("anli", "validation"), ("anli", "test"), 64,
                    note="offline stand-in for ANLI train: mnli-matched validation"),
    "hans": Setting("hans", ("anli", "train"), ("hans", "validation"), ("hans", "test"), 64,
                    label_map=tuple(HANS_LABEL_MAP),
                    note="the ANLI model and datastore; neutral+contradiction = non-entailment"),
}
"""The four settings of the paper's Table 4, in its column order."""

OFFLINE_STAND_INS = {("anli", "train"): ("mnli-matched", "validation")}
"""Training sets that are not available offline, and what replaces them."""

def load_split(spec: tuple, data_dir=None) -> tuple[pd.DataFrame, str]:
    """Load ``(name, split)``; where it is missing offline, its stated stand-in.

    Returns
    -------
    df : DataFrame
    source : str
        ``"name/split"`` of what was actually loaded.

    Example
    -------
    >>> df, source = load_split(("cad-original", "validation"))
    >>> len(df), source
    (200, 'cad-original/validation')
    """
    name, split = spec
    try:
        return data.load_nli(name, split, data_dir), f"{name}/{split}"
    except data.DataNotFoundError:
        if tuple(spec) not in OFFLINE_STAND_INS:
            raise
        name, split = OFFLINE_STAND_INS[tuple(spec)]
        return data.load_nli(name, split, data_dir), f"{name}/{split}"


SMOKE_SIZES = {"train": 96, "validation": 150, "test": 150}
"""Rows per split in a smoke run (random subsets, fixed seed)."""

LARGE_TRAIN = 5000
"""Training sets above this size get :data:`LARGE_TRAIN_EPOCHS` instead of the default epochs."""

LARGE_TRAIN_EPOCHS = 3
"""Epochs on the 8-10k-pair training sets: several times more optimisation steps per epoch
than the 1,666 CAD-original pairs get, so fewer epochs."""


ANLI_SOURCES = ("stand-in", "anli")
"""What the ANLI and HANS settings train on: ``"stand-in"`` (MNLI dev-matched, 9,815 pairs,
offline; the default, so the site and every rerun compute the same thing) or ``"anli"``
(ANLI train R1-R3, 162,865 pairs from the hub: hours of fine-tuning on a CPU)."""


def load_setting(name: str, *, smoke: bool = False, data_dir=None,
                 anli_source: str = "stand-in") -> dict:
    """The three splits of one setting (smoke: small random subsets), with their sources.

    ``anli_source`` (one of :data:`ANLI_SOURCES`) chooses the training set of the ``anli``
    and ``hans`` settings explicitly: ``"stand-in"`` always loads MNLI dev-matched, also
    where ANLI train could be downloaded; ``"anli"`` loads ANLI train and fails where it
    is missing, never falling back quietly.

    Returns
    -------
    dict
        ``{"train": df, "validation": df, "test": df, "sources": {role: "name/split"}}``.

    Example
    -------
    >>> s = load_setting("snli-augmented", smoke=True)
    >>> [len(s[r]) for r in ("train", "validation", "test")], s["sources"]["train"]
    ([96, 150, 150], 'cad-augmented/train')
    """
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; expected one of {', '.join(SETTINGS)}")
    if anli_source not in ANLI_SOURCES:
        raise ValueError(f"unknown anli_source {anli_source!r}; expected one of {', '.join(ANLI_SOURCES)}")
    setting = SETTINGS[name]
    out = {"sources": {}}
    for role in ("train", "validation", "test"):
        spec = tuple(getattr(setting, role))
        if spec in OFFLINE_STAND_INS:  # the choice is the caller's, never the network's
            spec = OFFLINE_STAND_INS[spec] if anli_source == "stand-in" else spec
            df, source = data.load_nli(*spec, data_dir=data_dir), "/".join(spec)
        else:
            df, source = load_split(spec, data_dir)
        if smoke and len(df) > SMOKE_SIZES[role]:
            df = df.sample(SMOKE_SIZES[role], random_state=0)
        out[role] = df.reset_index(drop=True)
        out["sources"][role] = source
    return out


def recipe_for(n_train: int, *, smoke: bool = False, large_train_epochs: int = LARGE_TRAIN_EPOCHS) -> dict:
    """The fine-tuning recipe the chapters use for a training set of ``n_train`` pairs.

    :data:`nbhelpers.models.DEFAULT_RECIPE`, with ``large_train_epochs`` epochs above
    :data:`LARGE_TRAIN` pairs (several times more steps per epoch already), and one
    epoch in a smoke run.

    Example
    -------
    >>> recipe_for(1666)["epochs"], recipe_for(8330)["epochs"], recipe_for(8330, smoke=True)["epochs"]
    (5, 3, 1)
    """
    recipe = dict(models.DEFAULT_RECIPE)
    if smoke:
        recipe["epochs"] = 1
    elif n_train > LARGE_TRAIN:
        recipe["epochs"] = int(large_train_epochs)
    return recipe



def model_for(name: str, *, backbone: str = "minilm", seed: int = 0, smoke: bool = False,
              splits: dict | None = None, cache=None, progress: bool = True):
    """The fine-tuned model of setting ``name``: the one answer every chapter asks for.

    Fine-tunes ``backbone`` on the setting's training split with :func:`recipe_for`'s recipe
    (cached: the first chapter to ask trains it, every later one loads it). ``hans`` shares
    the ANLI setting's model, as in the paper.

    Parameters
    ----------
    name : str
        A key of :data:`SETTINGS`.
    backbone : str, default="minilm"
    seed : int, default=0
    smoke : bool, default=False
        Small random subsets and one epoch (what the tests run).
    splits : dict, optional
        What :func:`load_setting` returned for this setting, to save loading it again.

    Returns
    -------
    model : nbhelpers.models.NLIModel
    splits : dict
        :func:`load_setting`'s splits and sources.
    """
    splits = splits if splits is not None else load_setting(name, smoke=smoke)
    train = splits["train"]
    model = models.fine_tune(train, backbone, seed=seed, cache=cache, progress=progress,
                             **recipe_for(len(train), smoke=smoke))
    return model, splits


def adversarial_split(df: pd.DataFrame, *, train_fraction: float = 2 / 3, seed: int = 0,
                      strata=("round", "label")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split adversarial pairs (ANLI dev) into a training part and a validation part.

    Offline, ANLI train is missing; its dev set (3,200 pairs, rounds R1-R3) is then the only
    source of adversarial pairs. Splitting it about 2:1, stratified by round and label, gives
    a small adversarial training set (to continue fine-tuning and to serve as the kNN
    datastore) and a validation part to tune k, T and tau on; ANLI *test* stays untouched.

    Parameters
    ----------
    df : DataFrame with ``premise``, ``hypothesis``, ``label`` and the ``strata`` columns
    train_fraction : float, default=2/3
        Share of each stratum that goes to the training part (rounded per stratum).
    seed : int, default=0
    strata : tuple of str
        Columns whose every combination is split in the same proportion.

    Returns
    -------
    train, validation : DataFrame
        Disjoint, together all of ``df``, each with a fresh index.

    Example
    -------
    >>> df = pd.DataFrame({"premise": list("abcdef"), "hypothesis": list("uvwxyz"),
    ...                    "label": [0, 0, 0, 1, 1, 1], "round": [1] * 6})
    >>> tr, va = adversarial_split(df, seed=0)
    >>> len(tr), len(va), sorted(tr["label"].tolist())
    (4, 2, [0, 0, 1, 1])
    """
    if not 0 < float(train_fraction) < 1:
        raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction!r}")
    missing = [c for c in ("premise", "hypothesis", "label", *strata) if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks the columns {missing}; expected premise, hypothesis, label and {list(strata)}")
    if len(df) < 2:
        raise ValueError(f"need at least 2 pairs to split, got {len(df)}")
    rng = np.random.default_rng(seed)
    train_rows = []
    for _, idx in sorted(df.groupby(list(strata)).indices.items()):
        idx = rng.permutation(idx)
        n_train = int(round(len(idx) * train_fraction))
        train_rows.extend(idx[:n_train].tolist())
    is_train = np.zeros(len(df), dtype=bool)
    is_train[train_rows] = True
    return df[is_train].reset_index(drop=True), df[~is_train].reset_index(drop=True)
