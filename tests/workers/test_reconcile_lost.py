"""A web container whose monitor died while no agent ran fails once, with the reconciler's reason."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from runtime.container.manager import RunRequest
from runtime.reconcile import reconcile
from workers import contracts
from workers.agent.context import CONTAINER_LABEL
from workers.agent.loops import Sampler
from workers.agent.recovery import report_lost

from .test_restarts import _events

pytestmark = pytest.mark.root


def test_a_lost_container_is_reported_failed_with_the_reason_once(agent):
    ctx, made = agent
    ctx.redis.delete("control")
    req = RunRequest(image="busybox", memory_bytes=32 << 20, command=("sleep", "600"),
                     labels=((CONTAINER_LABEL, "401"),))
    made.append(req.id)
    info = ctx.containers.run(req)
    ctx.remember(info.id, 401, "running")  # as the dead agent's sampler had
    os.kill(int((ctx.containers.bundle(info.id) / "conmon.pid").read_text()), signal.SIGKILL)
    time.sleep(0.1)

    report = reconcile(ctx.containers.config, ctx.containers)
    report_lost(ctx, report)
    Sampler(ctx, threading.Event()).tick()  # the restarted agent's first look

    events = _events(ctx, 401)
    assert events == [{"status": contracts.C_FAILED, "error": contracts.error("lost", report.lost[info.id])}]
    assert "monitor (conmon) is gone" in events[0]["error"]["message"]
