"""Images between hosts: what a host builds goes to the fleet's shared registry, and a host
asked to run an image it lacks pulls it from there (skopeo, through runtime.image.transfer)."""
from __future__ import annotations

import logging

from runtime.errors import BerthError, NotFound
from runtime.image import transfer
from runtime.image.store import Image

from .settings import registries, shared_registry

log = logging.getLogger(__name__)


def share(ctx, image: Image, tag: str, build_id: int, output) -> dict:
    """Push a built image; the build event's fields: ``registry_ref`` (a name that stays this
    image: one tag per build) or ``registry_error``; nothing without a shared registry."""
    registry = shared_registry()
    if registry is None:
        return {}
    repository = tag.rsplit(":", 1)[0]
    ref = f"{registry.host}/{repository}:build-{build_id}"
    output(f"Pushing to the shared registry as {ref}")
    try:
        transfer.push(ctx.store, image.id, ref, registries())
    except BerthError as exc:
        output(f"WARNING: the image stays on this host only: {exc.message}")
        return {"registry_error": exc.to_dict()}
    return {"registry_ref": ref}


def ensure_local(ctx, ref: str) -> None:
    """Pull ``ref`` unless the store has it already."""
    try:
        ctx.store.resolve(ref)
    except NotFound:
        log.info("pulling %s", ref)
        transfer.pull(ctx.store, ref, registries())
