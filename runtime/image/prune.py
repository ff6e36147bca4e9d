"""Tidying the store: removing an image by name, and pruning what nothing uses.

An image's blobs and layers are in use while an indexed image or a container
(running or stopped: it may start again) needs them. A container records its
image's ID, the config digest; the config lists the layers, so even an image
removed by force keeps its files until its last container is gone.

A build commits its layers before it indexes the image, so prune keeps any blob
or layer younger than a grace period: it never takes the ground from under a
build that is running.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from ..errors import InvalidState, NotFound
from . import digest as digests
from .store import Image, ImageStore

GRACE_SECONDS = 3600


@dataclass
class PruneReport:
    images: list[str] = field(default_factory=list)  # short IDs of the dangling images removed
    blobs: int = 0
    layers: int = 0
    bytes_freed: int = 0


def remove_image(store: ImageStore, ref: str, used_by: dict[str, list[str]], force: bool = False) -> Image:
    """Untag ``ref``; refused while containers use it (``used_by``: image ID -> container names)."""
    image = store.resolve(ref)
    users = used_by.get(image.id, [])
    if users and not force:
        raise InvalidState(f"image {image.name or image.short_id} is used by container(s) {', '.join(sorted(users))}: "
                           "remove them first, or force the removal (their files stay until they go)")
    return store.remove(ref)


def _needed(store: ImageStore, used_image_ids: set[str]) -> set[str]:
    """Every digest an indexed image or a container still needs."""
    needed: set[str] = set()
    for image in store.images():
        needed |= {image.manifest_digest, image.config_digest, *image.layers}
    for image_id in used_image_ids:
        needed.add(image_id)
        try:
            needed |= set(store.read_json_blob(image_id).get("rootfs", {}).get("diff_ids", []))
        except (NotFound, ValueError):  # a config already gone needs nothing more
            continue
    return needed


def _old(path, now: float, grace: float) -> bool:
    try:
        return now - os.lstat(path).st_mtime > grace
    except FileNotFoundError:
        return False


def prune(store: ImageStore, used_image_ids: set[str], grace_seconds: float = GRACE_SECONDS) -> PruneReport:
    """Remove dangling images (no name, no container) and the blobs and layers nothing needs."""
    report = PruneReport()
    for image in store.images():
        if image.name is None and image.id not in used_image_ids:
            store.remove_entry(image.manifest_digest)
            report.images.append(image.short_id)
    needed = {digests.hex_of(d) for d in _needed(store, used_image_ids)}
    now = time.time()
    blobs = store.root / "blobs" / "sha256"
    for name in os.listdir(blobs):
        path = blobs / name
        if name not in needed and _old(path, now, grace_seconds):
            report.bytes_freed += path.stat().st_size
            path.unlink()
            report.blobs += 1
    for name in os.listdir(store.layers_root):
        path = store.layers_root / name
        if name not in needed and _old(path, now, grace_seconds):
            shutil.rmtree(path)
            report.layers += 1
    return report
