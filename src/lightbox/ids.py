"""Opaque, unguessable ids: a kind prefix and 22 random base62 characters."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 22  # about 131 bits of entropy

PREFIXES = frozenset(
    {"prod", "model", "scn", "preset", "ps", "img", "vid", "batch", "ord", "res",
     "team", "user", "key", "led", "inv"}
)


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix: {prefix!r}")
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
