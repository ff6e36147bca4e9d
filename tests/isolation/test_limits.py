"""Limits hold when measured: CPU time under a quota, read from the container's cgroup."""
from __future__ import annotations

import time


from runtime.cgroups.stats import cpu_percent
from runtime.container.manager import RunRequest


def test_a_busy_loop_under_half_a_cpu_gets_about_half_a_cpu(containers):
    manager, made = containers
    req = RunRequest(image="busybox", memory_bytes=32 << 20, cpus=0.5,
                     command=("sh", "-c", "while :; do :; done"))
    made.append(req.id)
    manager.run(req)
    time.sleep(0.5)  # past the start-up
    before, t0 = manager.stats(req.id), time.monotonic_ns()
    time.sleep(3)
    after, t1 = manager.stats(req.id), time.monotonic_ns()
    assert 40 <= cpu_percent(before, after, t1 - t0) <= 55
    assert after.cpu_throttled_periods > before.cpu_throttled_periods  # the quota is what held it


def test_a_pids_limit_of_20_stops_the_21st_process(containers):
    manager, made = containers
    # Counted from inside: sh itself is one process, so 19 sleeps fit and the 20th fork fails.
    script = "n=0; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); echo started=$n; done"
    req = RunRequest(image="busybox", memory_bytes=32 << 20, pids_limit=20, command=("sh", "-c", script))
    made.append(req.id)
    manager.run(req)
    deadline = time.monotonic() + 20
    while manager.get(req.id).status.state != "exited":
        assert time.monotonic() < deadline, "the shell did not give up"
        time.sleep(0.05)
    lines = [line.text for line in manager.logs(req.id)]
    started = [int(t.split("=")[1]) for t in lines if t.startswith("started=")]
    assert max(started) == 19, lines
    assert any("can't fork" in t for t in lines)
