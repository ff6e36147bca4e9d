"""The build cache: a step that would do what it did before reuses its layer.

A step's key is a digest of everything its layer depends on: the parent layers,
the instruction after expansion, the environment, working directory and user
it runs with (build args included, since RUN sees them) and, for COPY and ADD,
the content and metadata of the source files (not their mtimes, as in Docker).
A record maps the key to the layer's digest; it counts only while the store
still has that layer. Records are written atomically, so concurrent builds on
one host share the cache without tearing it.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from ..image import digest as digests
from ..image.store import ImageStore
from ..linux.files import write_atomic


class BuildCache:
    def __init__(self, store: ImageStore, directory: Path):
        self.store = store
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(**fields) -> str:
        return digests.hex_of(digests.of_bytes(digests.canonical_json(fields)))

    def get(self, key: str) -> str | None:
        try:
            layer = json.loads((self.directory / key).read_text())["layer"]
        except (FileNotFoundError, ValueError, KeyError):
            return None
        if not (self.store.blob_path(layer).exists() and self.store.layer_dir(layer).is_dir()):
            return None  # pruned since
        return layer

    def put(self, key: str, layer: str) -> None:
        write_atomic(self.directory / key, json.dumps({"layer": layer}))

    def get_image(self, key: str) -> bytes | None:
        """The config of the image a build with ``key`` made, while the store still has it."""
        try:
            config = json.loads((self.directory / key).read_text())["config"]
            return self.store.blob_path(config).read_bytes()
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def put_image(self, key: str, config_digest: str) -> None:
        write_atomic(self.directory / key, json.dumps({"config": config_digest}))


def sources_digest(sources: list[Path]) -> str:
    """Content and metadata of COPY sources (walking directories), not their mtimes."""
    h = hashlib.sha256()
    for source in sources:
        h.update(f"source {source.name}\0".encode())
        for path in _walk(source):
            st = os.lstat(path)
            rel = os.path.relpath(path, source)
            h.update(f"{rel}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode() + b"\0")
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def _walk(source: Path):
    yield source
    if source.is_dir() and not source.is_symlink():
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                yield Path(dirpath) / name
