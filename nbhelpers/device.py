"""Where models train and run: CUDA, then Apple's MPS, then the CPU, chosen in one place.

Set ``NBHELPERS_DEVICE`` to override the choice (``cpu``, ``cuda``, ``cuda:1``, ``mps``)
and ``NBHELPERS_PRECISION`` to ``bf16`` for bfloat16 autocast on a GPU (default ``fp32``).
On the CPU nothing changes: same seed, same bits, same cache keys as before this module
existed. A GPU or another precision gives slightly different floating-point results, so
the checkpoint and array cache keys then carry the device type and precision
(:func:`cache_parts`), and a GPU run never reads a CPU result as its own, nor the reverse.
"""
from __future__ import annotations

import contextlib
import os

import torch

ENV_DEVICE = "NBHELPERS_DEVICE"
ENV_PRECISION = "NBHELPERS_PRECISION"
PRECISIONS = ("fp32", "bf16")


def get_device() -> torch.device:
    """The device every model in the book uses: ``$NBHELPERS_DEVICE``, else CUDA, MPS, CPU.

    Raises
    ------
    ValueError
        When ``$NBHELPERS_DEVICE`` names a device torch does not know, or one this
        machine does not have.

    Example
    -------
    >>> import os; os.environ["NBHELPERS_DEVICE"] = "cpu"
    >>> get_device()
    device(type='cpu')
    >>> del os.environ["NBHELPERS_DEVICE"]
    """
    wanted = os.environ.get(ENV_DEVICE, "").strip()
    if wanted:
        try:
            dev = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"{ENV_DEVICE}={wanted!r} is not a device; expected cpu, cuda, "
                             f"cuda:N or mps ({err})") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{ENV_DEVICE}={wanted!r} but torch finds no CUDA device here")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{ENV_DEVICE}={wanted!r} but there are only "
                             f"{torch.cuda.device_count()} CUDA devices")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"{ENV_DEVICE}={wanted!r} but MPS is not available here")
        if dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"{ENV_DEVICE}={wanted!r}: expected cpu, cuda, cuda:N or mps")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_precision() -> str:
    """``$NBHELPERS_PRECISION`` (``fp32`` or ``bf16``); ``fp32`` when unset or on the CPU."""
    value = os.environ.get(ENV_PRECISION, "fp32").strip().lower() or "fp32"
    if value not in PRECISIONS:
        raise ValueError(f"{ENV_PRECISION}={value!r}; expected one of {PRECISIONS}")
    return "fp32" if get_device().type == "cpu" else value


def cache_parts() -> dict:
    """What the device adds to a cache key: nothing on the CPU at fp32, else type and precision.

    Example
    -------
    >>> import os; os.environ["NBHELPERS_DEVICE"] = "cpu"
    >>> cache_parts()
    {}
    >>> del os.environ["NBHELPERS_DEVICE"]
    """
    dev, prec = get_device(), get_precision()
    if dev.type == "cpu" and prec == "fp32":
        return {}
    return {"device": dev.type, "precision": prec}


def autocast():
    """A context that runs the forward pass in bfloat16 where ``get_precision()`` says so."""
    dev = get_device()
    if get_precision() == "bf16":
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
