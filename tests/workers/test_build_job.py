"""The build job from the web reaches the builder whole: build args, no-cache, and the log says so."""
from __future__ import annotations

import threading
import time

from workers import client, contracts, streams
from workers.agent import tasks

DOCKERFILE = 'FROM busybox\nARG GREETING=unset\nRUN echo "greeting is $GREETING"\n'


def log_lines(ctx, build_id: int) -> list[str]:
    return [fields[b"line"].decode() for _, fields in ctx.redis.xrange(streams.build_log(build_id))
            if b"line" in fields]


def test_build_args_and_no_cache_are_honoured(agent):
    ctx, _ = agent
    job = contracts.build_job(401, DOCKERFILE, "build-job-test:1", 64 << 20, None, False, 300,
                              build_args={"GREETING": "hello from the form"}, no_cache=True)
    tasks._build(ctx, job)
    assert "greeting is hello from the form" in log_lines(ctx, 401)

    again = contracts.build_job(402, DOCKERFILE, "build-job-test:1", 64 << 20, None, False, 300,
                                build_args={"GREETING": "hello from the form"})
    tasks._build(ctx, again)
    lines = log_lines(ctx, 402)
    assert " ---> Using cache" in lines and "greeting is hello from the form" not in lines
    assert any(line.startswith("Step 3/3 : RUN") for line in lines)


def test_a_build_cancelled_from_the_web_stops_its_step_and_fails_with_the_reason(agent):
    ctx, _ = agent
    job = contracts.build_job(403, 'FROM busybox\nRUN echo "step started"; sleep 60\n', "cancel-job:1",
                              64 << 20, None, False, 300, no_cache=True)

    def cancel_once_running():
        deadline = time.monotonic() + 20
        while "step started" not in log_lines(ctx, 403) and time.monotonic() < deadline:
            time.sleep(0.05)
        client.cancel_build(403)  # what the web's Cancel button does
    threading.Thread(target=cancel_once_running, daemon=True).start()
    started = time.monotonic()
    tasks._build(ctx, job)
    assert time.monotonic() - started < 10  # the 60 s step was stopped
    assert log_lines(ctx, 403)[-1] == "ERROR: the build was cancelled; the running step was stopped"
    assert not [image for image in ctx.store.images() if image.name == "cancel-job:1"]


def test_a_build_cancelled_while_queued_runs_no_step(agent):
    ctx, _ = agent
    client.cancel_build(404)
    tasks._build(ctx, contracts.build_job(404, 'FROM busybox\nRUN echo "ran"\n', "cancel-job:2", 64 << 20, None,
                                          False, 300))
    lines = log_lines(ctx, 404)
    assert "ran" not in lines and lines[-1] == "ERROR: the build was cancelled"
