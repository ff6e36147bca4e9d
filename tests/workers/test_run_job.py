"""The run job from the web reaches the runtime whole: team network, limits, bound ports."""
from __future__ import annotations

import base64
import json
import uuid

from workers import contracts, streams
from workers.agent import tasks
from tests.processes import port_for


def test_run_job_puts_the_container_on_its_teams_network_with_its_limits(agent, runtime_config):
    ctx, made = agent
    runtime_id = uuid.uuid4().hex
    made.append(runtime_id)
    published = f"127.0.0.1:{port_for(18195)}:80/tcp"
    job = contracts.run_job(301, runtime_id, "busybox", [published], 32 << 20, None, [], "web",
                            init=False, options=contracts.run_options("7", 20, "0", 1 << 20, None))
    tasks._run(ctx, job)
    record = ctx.containers.get(runtime_id).record
    assert record.network["team"] == "7" and record.network["bridge"] != runtime_config.bridge
    assert record.network["ports"] == [[port_for(18195), 80, "tcp", "127.0.0.1"]]
    # The image's own command exits at once: the spec runc was given shows the limits.
    resources = json.loads((ctx.containers.bundle(runtime_id) / "config.json").read_text())["linux"]["resources"]
    assert resources["pids"] == {"limit": 20} and resources["cpu"]["cpus"] == "0"


def _reported(ctx) -> list[list]:
    """The arguments of the events the agent sent to the control queue, oldest first."""
    return [json.loads(base64.b64decode(json.loads(raw)["body"]))[0] for raw in reversed(ctx.redis.lrange("control", 0, -1))]


def test_a_run_withdrawn_while_its_job_waited_starts_nothing(agent):
    """Removed while pending, or lost with its host: the job still in the queue does nothing."""
    ctx, _ = agent
    runtime_id = uuid.uuid4().hex
    ctx.redis.set(streams.run_withdrawn(runtime_id), 1)
    job = contracts.run_job(302, runtime_id, "busybox", [], 32 << 20, None, [], "web", init=False)
    tasks.run(job)
    assert not ctx.containers.exists(runtime_id)
    assert _reported(ctx) == [[302, {"status": contracts.C_REMOVED}]]
