"""The paper's four settings (Tables 4 and 5): their splits, and one shared model per setting."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import data, models
from .checks import check_choice, check_frame, check_int, check_pairs, check_real

HANS_LABEL_MAP = np.array([0, 1, 1])  # 3-class prediction -> HANS label (0 entailment, 1 non-entailment)


@dataclass(frozen=True)
class Setting:
    """Where a setting's three splits come from (``(name, split)``), and the paper's k."""

    name: str
    train: tuple
    validation: tuple
    test: tuple
    paper_k: int
    label_map: tuple | None = None


SETTINGS = {  # the paper's Table 4, in its column order
    "snli-original": Setting("snli-original", ("cad-original", "train"), ("snli", "validation"),
                             ("snli", "test"), 16),
    "snli-augmented": Setting("snli-augmented", ("cad-augmented", "train"),
                              ("cad-augmented", "validation"), ("cad-augmented", "test"), 16),
    "anli": Setting("anli", ("anli", "train"), ("anli", "validation"), ("anli", "test"), 64),
    "hans": Setting("hans", ("anli", "train"), ("hans", "validation"), ("hans", "test"), 64,
                    label_map=tuple(HANS_LABEL_MAP)),
}
OFFLINE_STAND_INS = {("anli", "train"): ("mnli-matched", "validation")}
SMOKE_SIZES = {"train": 96, "validation": 100, "test": 100}  # rows per split in a smoke run
LARGE_TRAIN, LARGE_TRAIN_EPOCHS = 5000, 3  # larger training sets get fewer epochs (more steps per epoch)
ANLI_SOURCES = ("stand-in", "anli")  # MNLI dev-matched (offline, the default) or ANLI train (hub)


def load_setting(name: str, *, smoke: bool = False, data_dir=None, anli_source: str = "stand-in") -> dict:
    """The three splits of setting ``name`` (smoke: :data:`SMOKE_SIZES` random rows), with their sources.

    ``anli_source`` picks the ANLI/HANS training data (:data:`ANLI_SOURCES`; never a quiet fallback).
    Returns ``{"train": df, "validation": df, "test": df, "sources": {role: "name/split"}}``.

    >>> s = load_setting("snli-augmented", smoke=True)
    >>> [len(s[r]) for r in ("train", "validation", "test")], s["sources"]["train"]
    ([96, 100, 100], 'cad-augmented/train')
    """
    check_choice(name, "name", SETTINGS)
    check_choice(anli_source, "anli_source", ANLI_SOURCES)
    out = {"sources": {}}
    for role in ("train", "validation", "test"):
        spec = tuple(getattr(SETTINGS[name], role))
        if anli_source == "stand-in":
            spec = OFFLINE_STAND_INS.get(spec, spec)
        df = data.load_nli(*spec, data_dir=data_dir)
        if smoke and len(df) > SMOKE_SIZES[role]:
            df = df.sample(SMOKE_SIZES[role], random_state=0)
        out[role], out["sources"][role] = df.reset_index(drop=True), "/".join(spec)
    return out


def recipe_for(n_train: int, *, smoke: bool = False) -> dict:
    """``models.DEFAULT_RECIPE``, with fewer epochs above :data:`LARGE_TRAIN` pairs and one in a smoke run."""
    check_int(n_train, "n_train", 1)
    return dict(models.DEFAULT_RECIPE, **({"epochs": 1} if smoke else {"epochs": LARGE_TRAIN_EPOCHS}
                                          if n_train > LARGE_TRAIN else {}))


def model_for(name: str, *, backbone: str = "minilm", seed: int = 0, smoke: bool = False,
              splits: dict | None = None, cache=None, progress: bool = True):
    """The fine-tuned model of setting ``name`` (cached; ``hans`` shares ANLI's) and its splits."""
    splits = splits if splits is not None else load_setting(name, smoke=smoke)
    return models.fine_tune(splits["train"], backbone, seed=seed, cache=cache, progress=progress,
                            **recipe_for(len(splits["train"]), smoke=smoke)), splits


def adversarial_split(df: pd.DataFrame, *, train_fraction: float = 2 / 3, seed: int = 0,
                      strata=("round", "label")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split pairs (ANLI dev) into disjoint training and validation parts, stratified by ``strata``."""
    check_pairs(df, True, name="df"), check_frame(df, "df", strata), check_int(seed, "seed", 0)
    if not 0 < check_real(train_fraction, "train_fraction") < 1:
        raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction!r}")
    rng = np.random.default_rng(seed)
    is_train = np.zeros(len(df), dtype=bool)
    for _, idx in sorted(df.groupby(list(strata)).indices.items()):
        idx = rng.permutation(idx)
        is_train[idx[:int(round(len(idx) * train_fraction))]] = True
    return df[is_train].reset_index(drop=True), df[~is_train].reset_index(drop=True)
