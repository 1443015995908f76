"""Whether the Hugging Face hub can be reached: the hub libraries retry for ~25 s a file when it cannot,
so data and model loaders ask this first and fail (or go offline) at once."""

from __future__ import annotations

import socket
from urllib.parse import urlparse


def hub_reachable() -> bool:
    """Whether the hub's host resolves."""
    from huggingface_hub import constants

    try:
        socket.getaddrinfo(urlparse(constants.ENDPOINT).hostname, 443)
        return True
    except OSError:
        return False
