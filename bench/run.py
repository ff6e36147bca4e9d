"""Container start-up and idle cost: Berth beside docker, podman and bare runc.

    python bench/run.py [--runs 15] [--idle 50]

Times `run --rm busybox true` with each, in rounds (each command once per round, so a
slow moment of the host falls on all of them alike; the median of --runs rounds), then
starts --idle sleeping containers with Berth and with the peers and measures the host
memory each costs beyond its own process: the monitor (conmon, containerd-shim) as PSS.
Berth is timed as users call it (.venv/bin/berth-runtime, served by the fork server this
starts for the bench's names, as `make run` starts one) and as `python -m runtime`, the
CLI in a process of its own. Needs root, `make` (the client), and docker and podman from
`../shared/tools/peers.sh start`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from common import BERTH, BERTH_CLIENT, BERTH_NAMES, IMAGE, PODMAN, PODMAN_RUN, PY, ROOT, out, \
    remove_bench_network, timed


def median_times(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Each command's median time over ``runs`` rounds, after one round to warm caches."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, cmd in commands.items():
            seconds = timed(cmd)
            if round_:
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def fork_server() -> subprocess.Popen:
    socket_path = Path(BERTH_NAMES["run_dir"]) / "forkserver.sock"
    server = subprocess.Popen([PY, "-m", "runtime.forkserver", "--run-dir", BERTH_NAMES["run_dir"]], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not socket_path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the bench's fork server did not start")
        time.sleep(0.05)
    return server


def runc_bundle() -> Path:
    bundle = Path(tempfile.mkdtemp(prefix="berth-bench-runc-"))
    rootfs = bundle / "rootfs" / "bin"
    rootfs.mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "busybox")
    os.symlink("busybox", rootfs / "true")
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(terminal=False, args=["/bin/true"],
                           rlimits=[{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def start_times(runs: int) -> dict[str, float]:
    bundle = runc_bundle()
    server = fork_server()
    try:
        return median_times({
            "berth (bridge network)": BERTH_CLIENT + ["run", "--rm", "busybox", "true"],
            "berth (no network)": BERTH_CLIENT + ["run", "--rm", "--network", "none", "busybox", "true"],
            "berth, no fork server": BERTH + ["run", "--rm", "busybox", "true"],
            "docker": ["docker", "run", "--rm", IMAGE, "true"],
            "podman": PODMAN + ["run", "--rm"] + PODMAN_RUN + [IMAGE, "true"],
            "bare runc": ["runc", "run", "--bundle", str(bundle), f"bench-{os.getpid()}"],
        }, runs)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(bundle)


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def monitors(name: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == name]


def idle_cost(count: int, start, stop, monitor: str) -> float:
    before = set(monitors(monitor))
    ids = [start() for _ in range(count)]
    time.sleep(2)
    new = [pid for pid in monitors(monitor) if pid not in before]
    per_container = sum(pss(pid) for pid in new) / count
    for cid in ids:
        try:
            stop(cid)
        except subprocess.CalledProcessError as exc:  # a peer's removal failing must not lose the figures
            print(f"  (removing {cid[:12]} failed: {exc.stderr.strip()})", file=sys.stderr)
    return per_container


def idle_costs(count: int):
    """(name, bytes per container) of each, as soon as it is measured."""
    yield "berth (conmon)", idle_cost(count, lambda: out(BERTH + ["run", "-d", "busybox", "sleep", "3600"]),
                                      lambda c: out(BERTH + ["rm", "-f", c]), "conmon")
    yield "docker (containerd-shim)", idle_cost(count, lambda: out(["docker", "run", "-d", IMAGE, "sleep", "3600"]),
                                                lambda c: out(["docker", "rm", "-f", c]), "containerd-shim-runc-v2")
    yield "podman (conmon)", idle_cost(count, lambda: out(PODMAN + ["run", "-d"] + PODMAN_RUN + [IMAGE, "sleep", "3600"]),
                                       lambda c: out(PODMAN + ["rm", "-f", "-t", "0", c]), "conmon")  # -t 0: kill now, as docker rm -f


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--idle", type=int, default=50)
    args = parser.parse_args()
    out(BERTH + ["bootstrap", "busybox"])
    times = start_times(args.runs)
    docker = times["docker"]
    print(f"run --rm busybox true, median of {args.runs}:")
    for name, seconds in times.items():
        print(f"  {name:24} {seconds * 1000:8.1f} ms   {seconds / docker:5.2f} x docker", flush=True)
    print(f"host memory per idle container ({args.idle} sleeping), PSS of its monitor:")
    for name, size in idle_costs(args.idle):
        print(f"  {name:24} {size / 1024 / 1024:8.2f} MB", flush=True)
    remove_bench_network()


if __name__ == "__main__":
    main()
