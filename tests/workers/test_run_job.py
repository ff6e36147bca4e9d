"""The run job from the web reaches the runtime whole: team network, limits, bound ports."""
from __future__ import annotations

import json
import uuid

from workers import contracts
from workers.agent import tasks


def test_run_job_puts_the_container_on_its_teams_network_with_its_limits(agent, runtime_config):
    ctx, made = agent
    runtime_id = uuid.uuid4().hex
    made.append(runtime_id)
    job = contracts.run_job(301, runtime_id, "busybox", ["127.0.0.1:18195:80/tcp"], 32 << 20, None, [], "web",
                            init=False, options=contracts.run_options("7", 20, "0", 1 << 20, None))
    tasks._run(ctx, job)
    record = ctx.containers.get(runtime_id).record
    assert record.network["team"] == "7" and record.network["bridge"] != runtime_config.bridge
    assert record.network["ports"] == [[18195, 80, "tcp", "127.0.0.1"]]
    # The image's own command exits at once: the spec runc was given shows the limits.
    resources = json.loads((ctx.containers.bundle(runtime_id) / "config.json").read_text())["linux"]["resources"]
    assert resources["pids"] == {"limit": 20} and resources["cpu"]["cpus"] == "0"
