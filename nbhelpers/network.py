"""One fast network probe, asked before a data download or a hub backbone is fetched."""
from __future__ import annotations

import os
import socket

PROBE_TIMEOUT_S = 2.0
"""How long :func:`no_network_reason` waits for a TCP connection."""

_TRUE = {"1", "true", "yes", "on"}


def offline_requested() -> bool:
    """True when the environment asks for no downloads (HF_HUB_OFFLINE, HF_DATASETS_OFFLINE,
    TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def no_network_reason(host: str = "huggingface.co", port: int = 443,
                      timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why ``host`` cannot be reached, or None if a TCP connection to it opens.

    A DNS lookup, then one connection with a short timeout: without a network it
    answers in milliseconds (no DNS) or at most ``timeout`` seconds (no route), where
    the Hugging Face libraries retry for most of a minute. :mod:`nbhelpers.data` and
    :func:`nbhelpers.models.load_pretrained` both ask it before downloading.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        return f"{host} cannot be resolved ({err}); no network?"
    last = None
    for family, kind, proto, _, address in infos[:2]:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return None
        except OSError as err:
            last = err
    return f"{host}:{port} cannot be reached ({last}); no network?"
