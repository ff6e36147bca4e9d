"""The agent's jobs on its image store: removing an image a team no longer wants.

A removal untags the image if its name still points at it (refused while a
container, running or not, uses it), then prunes what nothing needs any more.
The outcome goes back as an event of the build that made the image.
"""
from __future__ import annotations

from runtime.errors import BerthError, InvalidState, NotFound
from runtime.image import prune as pruning
from runtime.image.store import Image, ImageStore

from .. import contracts
from ..celery_app import app
from .context import context


def image_info(store: ImageStore, image: Image) -> dict:
    """What the web's images page shows of an image: size, layers and history."""
    return {"size": store.size(image),
            "layers": [[digest, store.blob_path(digest).stat().st_size] for digest in image.layers],
            "history": image.config.get("history", []), "created": image.config.get("created", "")}


def _untag_if_current(store: ImageStore, name: str, image_id: str, used: dict) -> None:
    try:
        current = store.resolve(name) if name else None
    except NotFound:
        current = None
    if current is not None and current.id == image_id:
        pruning.remove_image(store, name, used)
    elif image_id in used:  # the name moved on, but containers still run this build's image
        raise InvalidState(f"image {image_id[7:19]} is used by container(s) {', '.join(sorted(used[image_id]))}: "
                           "remove them first")


@app.task(name=contracts.AGENT_REMOVE_IMAGE)
def remove_image(build_id: int, image_id: str, name: str) -> None:
    _remove_image(context(), build_id, image_id, name)


def _remove_image(ctx, build_id: int, image_id: str, name: str) -> None:
    try:
        used = ctx.containers.image_users()
        _untag_if_current(ctx.store, name, image_id, used)
        report = pruning.prune(ctx.store, set(used))
        event = {"image_removed": True, "freed_bytes": report.bytes_freed}
    except BerthError as exc:
        event = {"image_error": exc.to_dict()}
    ctx.report(contracts.CONTROL_BUILD_EVENT, build_id, event)
