"""The figures the agent samples match the container's cgroup files, read here independently."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from runtime.cgroups.paths import detect_version
from workers import streams
from workers.agent.loops import Sampler

from .. import shipping

CGROUP_ROOT = Path("/sys/fs/cgroup")
MB = 1 << 20


def read_files(cgroup_path: str) -> tuple[int, int, int]:
    """(monotonic ns, CPU ns used, working set bytes) straight from the kernel's files."""
    rel = cgroup_path.lstrip("/")
    now = time.monotonic_ns()
    if detect_version() == 2:
        base = CGROUP_ROOT / rel
        cpu_ns = int(dict(line.split() for line in (base / "cpu.stat").read_text().splitlines())["usage_usec"]) * 1000
        usage = int((base / "memory.current").read_text())
        inactive_file = int(dict(line.split() for line in (base / "memory.stat").read_text().splitlines())["inactive_file"])
    else:
        cpu_ns = int((CGROUP_ROOT / "cpuacct" / rel / "cpuacct.usage").read_text())
        memory = CGROUP_ROOT / "memory" / rel
        usage = int((memory / "memory.usage_in_bytes").read_text())
        stat = dict(line.split() for line in (memory / "memory.stat").read_text().splitlines())
        inactive_file = int(stat["total_inactive_file"])
    return now, cpu_ns, usage - inactive_file


def test_cpu_and_working_set_of_a_busy_container_holding_40_mb(agent):
    ctx, made = agent
    # 40 MB in the container's tmpfs /dev/shm (charged to its memory cgroup), then a busy loop under half a CPU.
    info = shipping.start(ctx, "head -c 41943040 /dev/zero > /dev/shm/hold && while :; do :; done", 201,
                          memory_mb=128, cpus=0.5)
    made.append(info.id)
    cgroup_path = ctx.containers.get(info.id).record.cgroup_path
    deadline = time.monotonic() + 10
    while read_files(cgroup_path)[2] < 40 * MB:
        assert time.monotonic() < deadline, "the container never held 40 MB"
        time.sleep(0.1)
    time.sleep(0.5)

    sampler = Sampler(ctx, threading.Event())
    t0, cpu0, _ = read_files(cgroup_path)
    sampler.tick()
    time.sleep(2)
    t1, cpu1, working_set = read_files(cgroup_path)
    sampler.tick()

    entries = ctx.redis.xrange(streams.container_stats(201))
    assert len(entries) == 1
    figures = json.loads(entries[0][1][b"j"])
    from_files = (cpu1 - cpu0) / (t1 - t0) * 100
    assert abs(figures["cpu"] - 50) <= 10, figures
    assert abs(figures["cpu"] - from_files) <= 5, (figures["cpu"], from_files)
    assert abs(figures["cpu_of_limit"] - figures["cpu"] / 0.5) < 0.1  # percent of its own limit
    assert abs(figures["mem"] - working_set) <= 0.05 * working_set, (figures["mem"], working_set)
    assert figures["mem_limit"] == 128 * MB
    assert figures["throttled_periods"] > 0  # the quota held it back
    assert figures["pids"] == 1  # the shell, whose loop is a builtin
    # The running totals (for /metrics counters) lie between the two independent reads.
    assert cpu0 / 1e9 <= figures["cpu_seconds_total"] <= cpu1 / 1e9 + 0.01
    assert figures["throttled_periods_total"] >= figures["throttled_periods"]
