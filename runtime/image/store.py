"""The image store: an OCI image layout plus unpacked layers for overlayfs.

    images/oci-layout, images/index.json, images/blobs/sha256/<hex>
    layers/<hex>/        the layer with digest sha256:<hex>, in overlay form

Layers are kept uncompressed, so a layer's digest is also its diff ID.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import InvalidSpec, NotFound
from ..linux.files import locked, write_atomic
from . import digest as digests

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Image:
    name: str | None
    manifest_digest: str
    config_digest: str  # the image ID, as Docker names it
    config: dict
    layers: tuple[str, ...]  # bottom layer first

    @property
    def id(self) -> str:
        return self.config_digest

    @property
    def short_id(self) -> str:
        return digests.hex_of(self.config_digest)[:12]


# Docker's reference grammar, simplified: [host[:port]/]path[:tag], lower-case path components.
_NAME = re.compile(r"^(?:(?:[a-zA-Z0-9.-]+)(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                   r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")


def check_name(name: str) -> str:
    """``name`` if it is a valid image name (as Docker would accept it), else InvalidSpec."""
    if not _NAME.match(name):
        raise InvalidSpec(f"{name!r} is not a valid image name: lower-case letters, digits and . _ - "
                          "separators, an optional registry host[:port]/ in front and :tag at the end")
    return name


def normalize_ref(ref: str) -> str:
    """``busybox`` means ``busybox:latest``, as in Docker."""
    last = ref.rsplit("/", 1)[-1]
    return ref if (":" in last or "@" in ref) else f"{ref}:latest"


class ImageStore:
    def __init__(self, config: RuntimeConfig):
        self.root = config.images_dir
        self.layers_root = config.layers_dir
        self.tmp = config.tmp_dir
        for d in (self.root / "blobs" / "sha256", self.layers_root, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        layout = self.root / "oci-layout"
        if not layout.exists():
            write_atomic(layout, json.dumps({"imageLayoutVersion": "1.0.0"}))
        if not self._index_path.exists():
            write_atomic(self._index_path, json.dumps({"schemaVersion": 2, "manifests": []}))

    # blobs

    @property
    def _index_path(self) -> Path:
        return self.root / "index.json"

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digests.hex_of(digest)

    def put_blob(self, data: bytes) -> str:
        digest = digests.of_bytes(data)
        path = self.blob_path(digest)
        if not path.exists():
            write_atomic(path, data)
        return digest

    def read_json_blob(self, digest: str) -> dict:
        try:
            return json.loads(self.blob_path(digest).read_bytes())
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is missing from the image store") from None

    # layers

    def layer_dir(self, digest: str) -> Path:
        return self.layers_root / digests.hex_of(digest)

    def new_work_dir(self, prefix: str) -> Path:
        path = self.tmp / f"{prefix}-{os.urandom(6).hex()}"
        path.mkdir(parents=True)
        return path

    def commit_layer(self, diff_dir: Path) -> tuple[str, int]:
        """Store the overlay-form ``diff_dir`` as a layer; the directory is moved into the store."""
        from .layers import write_layer_tar  # here: tarfile is not for a container's start
        tmp_blob = self.tmp / f"layer-{os.urandom(16).hex()}.tar"
        with open(tmp_blob, "wb") as raw:
            writer = digests.HashingWriter(raw)
            write_layer_tar(diff_dir, writer)
            raw.flush()
            os.fsync(raw.fileno())
        digest, size = writer.digest, writer.size
        os.replace(tmp_blob, self.blob_path(digest))
        target = self.layer_dir(digest)
        try:
            os.rename(diff_dir, target)
        except OSError:  # the same layer is already stored: keep the stored one
            shutil.rmtree(diff_dir)
        return digest, size

    # images

    def add_layer(self, blob: Path, digest: str) -> None:
        """Move the uncompressed layer tar ``blob`` (already checked to have ``digest``, and
        on the state directory's filesystem) into the store, unpacked into the overlay form
        too; a layer already stored is kept as it is."""
        from .unpack import unpack_layer
        target = self.layer_dir(digest)
        if target.is_dir() and self.blob_path(digest).exists():
            return
        unpacked = self.new_work_dir("layer")
        try:
            with open(blob, "rb") as f:
                unpack_layer(f, unpacked)
            os.replace(blob, self.blob_path(digest))  # both in the state directory: a rename
            try:
                os.rename(unpacked, target)
            except OSError:  # stored meanwhile by another import
                pass
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)

    def write_image(self, config: dict, layers: list[str], name: str | None = None,
                    config_bytes: bytes | None = None) -> Image:
        """Index an image. ``config_bytes``, when given, are stored as they are (an imported
        image keeps its ID); otherwise the config is written canonically."""
        if config_bytes is None:
            config = {**config, "rootfs": {"type": "layers", "diff_ids": list(layers)}}
            config_bytes = digests.canonical_json(config)
        config_digest = self.put_blob(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": d,
                        "size": self.blob_path(d).stat().st_size} for d in layers],
        }
        manifest_bytes = digests.canonical_json(manifest)
        manifest_digest = self.put_blob(manifest_bytes)
        self._set_index_entry(manifest_digest, len(manifest_bytes), name)
        return Image(name and normalize_ref(name), manifest_digest, config_digest, config, tuple(layers))

    def _set_index_entry(self, manifest_digest: str, size: int, name: str | None) -> None:
        ref = normalize_ref(check_name(name)) if name else None
        with locked(self.root / ".index.lock"):
            index = json.loads(self._index_path.read_text())
            entries = []
            for m in index["manifests"]:
                if ref and m.get("annotations", {}).get(REF_ANNOTATION) == ref:
                    if m["digest"] != manifest_digest:
                        # The name moves on; the image it named stays, untagged, as Docker's
                        # <none>: containers made from it still restart, and prune removes it
                        # once none uses it.
                        entries.append({k: v for k, v in m.items() if k != "annotations"})
                    continue
                entries.append(m)
            entry = {"mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": size}
            if ref:
                entry["annotations"] = {REF_ANNOTATION: ref}
            entries.append(entry)
            index["manifests"] = _one_entry_each(entries)
            write_atomic(self._index_path, json.dumps(index, indent=1))

    def _entries(self) -> list[dict]:
        return json.loads(self._index_path.read_text())["manifests"]

    def _load(self, entry: dict) -> Image:
        manifest = self.read_json_blob(entry["digest"])
        config_digest = manifest["config"]["digest"]
        return Image(entry.get("annotations", {}).get(REF_ANNOTATION), entry["digest"], config_digest,
                     self.read_json_blob(config_digest), tuple(l["digest"] for l in manifest["layers"]))

    def resolve(self, ref: str) -> Image:
        """Find an image by name, image ID (``sha256:...``) or a unique ID prefix."""
        wanted = normalize_ref(ref)
        images = [self._load(e) for e in self._entries()]
        for image in images:
            if image.name == wanted:
                return image
        bare = ref.removeprefix("sha256:")
        matches = {i.config_digest: i for i in images if len(bare) >= 6
                   and digests.hex_of(i.config_digest).startswith(bare)}
        if len(matches) == 1:
            return next(iter(matches.values()))
        raise NotFound(f"image {ref!r} is not in the local store")

    def images(self) -> list[Image]:
        return [self._load(e) for e in self._entries()]

    def remove(self, ref: str) -> Image:
        image = self.resolve(ref)
        with locked(self.root / ".index.lock"):
            index = json.loads(self._index_path.read_text())
            index["manifests"] = [m for m in index["manifests"]
                                  if m.get("annotations", {}).get(REF_ANNOTATION) != image.name
                                  or m["digest"] != image.manifest_digest]
            write_atomic(self._index_path, json.dumps(index, indent=1))
        return image

    def remove_entry(self, manifest_digest: str) -> None:
        """Drop the unnamed index entry of ``manifest_digest`` (a dangling image)."""
        with locked(self.root / ".index.lock"):
            index = json.loads(self._index_path.read_text())
            index["manifests"] = [m for m in index["manifests"]
                                  if m.get("annotations") or m["digest"] != manifest_digest]
            write_atomic(self._index_path, json.dumps(index, indent=1))

    def tag(self, ref: str, name: str) -> Image:
        """Give the image ``ref`` the name ``name`` too (moving the name if another had it)."""
        image = self.resolve(ref)
        size = self.blob_path(image.manifest_digest).stat().st_size
        self._set_index_entry(image.manifest_digest, size, name)
        return self.resolve(name)

    def lower_dirs(self, image_layers: tuple[str, ...] | list[str]) -> list[Path]:
        """Layer directories in the order overlayfs wants them: top first."""
        return [self.layer_dir(d) for d in reversed(image_layers)]

    def size(self, image: Image) -> int:
        return sum(self.blob_path(d).stat().st_size for d in image.layers)


def _one_entry_each(entries: list[dict]) -> list[dict]:
    """An unnamed entry only for an image no named entry holds, and once."""
    named = {m["digest"] for m in entries if m.get("annotations")}
    seen, kept = set(), []
    for m in entries:
        if not m.get("annotations"):
            if m["digest"] in named or m["digest"] in seen:
                continue
            seen.add(m["digest"])
        kept.append(m)
    return kept
