"""The agent removes an image only when no container uses it, and says so to the control queue."""
from __future__ import annotations

import base64
import json

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.container.manager import RunRequest
from runtime.errors import NotFound
from workers import contracts
from workers.agent import image_tasks
from workers.config import CONTROL_QUEUE


def build_events(ctx, build_id: int) -> list[dict]:
    """The build's events on the control queue, oldest first."""
    events = []
    for raw in reversed(ctx.redis.lrange(CONTROL_QUEUE, 0, -1)):  # kombu pushes on the left
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        if message["headers"]["task"] == contracts.CONTROL_BUILD_EVENT and args[0] == build_id:
            events.append(args[1])
    return events


def test_an_image_in_use_is_kept_and_removed_once_its_container_is_gone(agent, runtime_config, tmp_path):
    ctx, made = agent
    image = build(runtime_config, ctx.store, "FROM busybox\nRUN echo removable > /r\n", tmp_path,
                  BuildOptions(tag="team9/removable:latest", memory_bytes=64 << 20), lambda _: None)
    info = image_tasks.image_info(ctx.store, image)
    assert info["size"] == ctx.store.size(image) and len(info["layers"]) == 2
    container = ctx.containers.run(RunRequest(image=image.name, memory_bytes=32 << 20, network="none",
                                              command=("true",)))
    made.append(container.id)

    image_tasks._remove_image(ctx, 501, image.id, image.name)
    refused = build_events(ctx, 501)[-1]
    assert "is used by container(s)" in refused["image_error"]["message"]
    assert ctx.store.resolve(image.name).id == image.id  # nothing touched

    ctx.containers.remove(container.id, force=True)
    made.remove(container.id)
    image_tasks._remove_image(ctx, 501, image.id, image.name)
    assert build_events(ctx, 501)[-1] == {"image_removed": True, "freed_bytes": 0}  # young files: kept a while
    with pytest.raises(NotFound):
        ctx.store.resolve(image.name)
