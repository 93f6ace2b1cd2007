"""One fast network probe, asked before a data download or a hub backbone is fetched."""
from __future__ import annotations

import os
import socket


def offline_requested() -> bool:
    """True when HF_HUB_OFFLINE, HF_DATASETS_OFFLINE or TRANSFORMERS_OFFLINE asks for no downloads."""
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def no_network_reason(host: str = "huggingface.co", port: int = 443, timeout: float = 2.0) -> str | None:
    """Why ``host`` cannot be reached, or None: a DNS lookup and one short TCP connection (the
    Hugging Face libraries would retry for most of a minute)."""
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
