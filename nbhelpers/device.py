"""Where models train and run: ``$NBHELPERS_DEVICE`` (cpu, cuda, cuda:N, mps), else CUDA, MPS, CPU;
``$NBHELPERS_PRECISION=bf16`` for bfloat16 autocast on a GPU. Off the CPU at fp32, cache keys carry the
device type and precision (:func:`cache_parts`): CPU keys are unchanged.
"""
from __future__ import annotations

import contextlib
import os

import torch

ENV_DEVICE, ENV_PRECISION = "NBHELPERS_DEVICE", "NBHELPERS_PRECISION"
PRECISIONS = ("fp32", "bf16")


def get_device() -> torch.device:
    """The device every model in the book uses: ``$NBHELPERS_DEVICE``, else CUDA, MPS, CPU.

    >>> import os; os.environ["NBHELPERS_DEVICE"] = "cpu"
    >>> get_device()
    device(type='cpu')
    >>> del os.environ["NBHELPERS_DEVICE"]
    """
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


def get_precision() -> str:
    """``$NBHELPERS_PRECISION`` (``fp32`` or ``bf16``); ``fp32`` when unset or on the CPU."""
    value = os.environ.get(ENV_PRECISION, "fp32").strip().lower() or "fp32"
    if value not in PRECISIONS:
        raise ValueError(f"{ENV_PRECISION}={value!r}; expected one of {PRECISIONS}")
    return "fp32" if get_device().type == "cpu" else value


def cache_parts() -> dict:
    """What the device adds to a cache key: nothing on the CPU at fp32, else type and precision."""
    dev, prec = get_device(), get_precision()
    return {} if dev.type == "cpu" and prec == "fp32" else {"device": dev.type, "precision": prec}


def autocast():
    """A context that runs the forward pass in bfloat16 where ``get_precision()`` says so."""
    if get_precision() == "bf16":
        return torch.autocast(device_type=get_device().type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
