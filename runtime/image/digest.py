"""Content digests as OCI writes them: ``sha256:<hex>``."""
from __future__ import annotations

import json
import re

from ..errors import InvalidSpec

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


# hashlib is imported where it hashes: loading OpenSSL costs a container's start 3 ms, for nothing.


def of_bytes(data: bytes) -> str:
    import hashlib
    return "sha256:" + hashlib.sha256(data).hexdigest()


def of_file(f) -> str:
    import hashlib
    return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def canonical_json(obj) -> bytes:
    """JSON bytes whose digest is stable: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def hex_of(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise InvalidSpec(f"{digest!r} is not a sha256 digest")
    return digest.split(":", 1)[1]


class HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, out):
        import hashlib
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._out.write(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
