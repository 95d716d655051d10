"""How hacc records bytes: each file's in a state file, the spec's in `inputs`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:  # the built-in sha256, without loading OpenSSL: digests are on `validate`'s path
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["digest", "sha256"]


def digest(data: bytes) -> str:
    """`sha256:` and the hex digest of `data`."""
    return "sha256:" + sha256(data).hexdigest()
