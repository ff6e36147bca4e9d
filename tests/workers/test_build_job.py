"""The build job from the web reaches the builder whole: build args, no-cache, and the log says so."""
from __future__ import annotations

from workers import contracts, streams
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
