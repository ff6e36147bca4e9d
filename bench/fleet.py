"""Container runs through the API against three local host agents: API-to-running latency.

    .venv/bin/python bench/fleet.py [--runs 1000] [--rate 6] [--alive 150] [--peers]

Starts the fleet of tests/fleet (web, control worker, three agents each in its own
network namespace, a shared registry), builds a sleeping busybox app once, then POSTs
--runs runs to the API at --rate per second from a pool of clients. Each run's latency is
from the POST to the moment the database says running (the control worker recorded the
agent's report: what the page and the API then show), read every 10 ms. At most --alive
containers are kept: the oldest are removed as new ones start, and all at the end.
Reported: p50, p99 and max latency, the POST's own p50/p99, the runs per host, and the
control worker's CPU (its process and children) in percent of one core over the run.

--peers also times `docker run -d` and `podman run -d` (50 each, sequential) of the same
busybox on this machine, for scale: one daemon, no scheduler, no API hop.

Needs root. Everything is made under names of its own and removed at the end.
"""
from __future__ import annotations

import argparse
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import IMAGE, PODMAN, PODMAN_RUN  # noqa: E402
from tests.fleet.stack import start_fleet, stop_fleet  # noqa: E402

SLEEPER = 'FROM busybox\nCMD ["sleep", "3600"]\n'


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Watch(threading.Thread):
    """Reads the containers' states from the database every 10 ms; when each first ran."""

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.db, self.running_at, self.stopping = db, {}, threading.Event()

    def run(self) -> None:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            while not self.stopping.wait(0.01):
                now = time.perf_counter()
                for (cid,) in db.execute("SELECT id FROM containers_container WHERE status = 'running'"):
                    self.running_at.setdefault(cid, now)


def _cpu_seconds(pid: int) -> float:
    proc = psutil.Process(pid)
    total = proc.cpu_times().user + proc.cpu_times().system
    for child in proc.children(recursive=True):
        times = child.cpu_times()
        total += times.user + times.system
    return total


def _drive(fleet, app_id: int, runs: int, rate: float, alive: int) -> dict:
    watch = Watch(fleet.db_path)
    watch.start()
    posted, post_seconds, hosts = {}, [], Counter()
    order: list[int] = []
    lock = threading.Lock()

    def one_run(_):
        started = time.perf_counter()
        container = fleet.alice.call("POST", f"apps/{app_id}/run/", {})
        with lock:
            post_seconds.append(time.perf_counter() - started)
            posted[container["id"]] = started
            hosts[container["host"]] += 1
            order.append(container["id"])

    control = fleet.procs["control"].pid
    cpu_before, wall_before = _cpu_seconds(control), time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        futures = []
        for number in range(runs):
            futures.append(pool.submit(one_run, number))
            time.sleep(1 / rate)
            with lock:  # keep at most --alive: the oldest that run are removed
                extra = [cid for cid in order if cid in watch.running_at][:max(0, len(order) - alive)]
                for cid in extra:
                    order.remove(cid)
            for cid in extra:
                pool.submit(fleet.alice.call, "DELETE", f"containers/{cid}/?force=true")
        for future in futures:
            future.result()
    deadline = time.monotonic() + 120
    while set(posted) - set(watch.running_at) and time.monotonic() < deadline:
        time.sleep(0.1)
    cpu = (_cpu_seconds(control) - cpu_before) / (time.perf_counter() - wall_before) * 100
    watch.stopping.set()
    latencies = [watch.running_at[cid] - posted[cid] for cid in posted if cid in watch.running_at]
    for cid in order:
        fleet.alice.call("DELETE", f"containers/{cid}/?force=true")
    return {"latencies": latencies, "never_ran": len(posted) - len(latencies), "posts": post_seconds,
            "hosts": dict(hosts), "control_cpu": cpu, "agent_runs": _agent_run_seconds(fleet)}


def _agent_run_seconds(fleet) -> list[float]:
    """How long each agent.run job took in its agent, as Celery logged it."""
    done = re.compile(r"Task agent\.run\[[^]]+\] succeeded in ([0-9.]+)s")
    return [float(m.group(1)) for host in fleet.hosts
            for m in done.finditer((host.logs / "agent.log").read_text(errors="replace"))]


def _peer(cmd: list[str], run_flags: list[str], rm_flags: list[str], count: int = 50) -> float | None:
    """p50 seconds of ``cmd run -d`` of a sleeping busybox, each removed afterwards."""
    try:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            cid = subprocess.run([*cmd, "run", "-d", *run_flags, IMAGE, "sleep", "3600"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            times.append(time.perf_counter() - started)
            subprocess.run([*cmd, "rm", "-f", *rm_flags, cid], check=True, capture_output=True)
        return statistics.median(times)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"  ({cmd[0]} not measured: {exc})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=6.0, help="runs posted per second")
    parser.add_argument("--alive", type=int, default=150, help="containers kept running at most")
    parser.add_argument("--hosts", type=int, default=3, help="host agents, each in its own namespaces")
    parser.add_argument("--peers", action="store_true", help="also time docker and podman run -d")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-bench-fleet-") as tmp:
        Path(tmp).chmod(0o711)
        fleet = start_fleet(Path(tmp), secrets.token_hex(3), args.hosts,
                            env={"BERTH_DEFAULT_MAX_CONTAINERS": str(args.runs)})
        try:
            app_id = fleet.built_app("sleeper", SLEEPER, memory_mb=32, cpus=0.25)[0]["id"]
            print(f"{args.runs} runs at {args.rate:g}/s, at most {args.alive} alive, {args.hosts} hosts")
            result = _drive(fleet, app_id, args.runs, args.rate, args.alive)
        finally:
            left = stop_fleet(fleet)
    lat, posts = result["latencies"], result["posts"]
    print(f"API to running: p50 {_percentile(lat, 50) * 1000:.0f} ms, p99 {_percentile(lat, 99) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms ({len(lat)} runs; {result['never_ran']} never ran)")
    runs = result["agent_runs"]
    print(f"the run job in its agent: p50 {_percentile(runs, 50) * 1000:.0f} ms, "
          f"p99 {_percentile(runs, 99) * 1000:.0f} ms")
    print(f"the POST itself: p50 {_percentile(posts, 50) * 1000:.0f} ms, p99 {_percentile(posts, 99) * 1000:.0f} ms")
    print(f"runs per host: {result['hosts']}")
    print(f"control worker CPU: {result['control_cpu']:.1f} % of one core")
    if left:
        print(f"LEFT BEHIND: {left}")
    if args.peers:
        # podman's rm -f waits out the stop timeout (sleep ignores SIGTERM as PID 1): -t 0.
        for name, cmd, flags, rm_flags in (("docker", ["docker"], [], []), ("podman", PODMAN, PODMAN_RUN, ["-t", "0"])):
            p50 = _peer(cmd, flags, rm_flags)
            if p50:
                print(f"{name} run -d p50 {p50 * 1000:.0f} ms: Berth's API-to-running p50 is "
                      f"{_percentile(lat, 50) / p50:.2f}x")


if __name__ == "__main__":
    main()
