"""What the benchmarks share: Berth's CLI on a runtime of its own, the peers, timing.

Berth runs here under names of its own (/var/lib/berth-bench, bridge
berthbench0, ...), so a benchmark never touches a Berth started with make run.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
BERTH_NAMES = {"state_dir": "/var/lib/berth-bench", "run_dir": "/run/berth-bench", "bridge": "berthbench0",
               "subnet": "10.197.0.0/16", "nft_table": "berth_bench", "cgroup_parent": "/berth-bench",
               "netns_prefix": "bbench"}
_NAME_ARGS = [arg for key, value in BERTH_NAMES.items() for arg in (f"--{key.replace('_', '-')}", value)]
BERTH = [PY, "-m", "runtime"] + _NAME_ARGS  # the CLI in a process of its own
# The CLI as users call it: the C client make builds, served by a fork server (bench/run.py
# starts one for these names), or running python -m runtime itself without one.
BERTH_CLIENT = [str(ROOT / ".venv" / "bin" / "berth-runtime")] + _NAME_ARGS
PODMAN = ["podman", "--runtime", "runc"]
# Here rlimits cannot be raised past the hard limit, which podman's defaults would try.
PODMAN_RUN = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE = "localhost/busybox:latest"  # what ../shared/tools/peers.sh loads into docker and podman


def timed(cmd: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    return time.perf_counter() - started


def out(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()


def remove_bench_network() -> None:
    sys.path.insert(0, str(ROOT))
    from runtime.cgroups import paths as cgroups
    from runtime.config import RuntimeConfig
    from runtime.network import provider

    config = RuntimeConfig(**BERTH_NAMES)
    provider.remove_host(config)
    cgroups.remove(config.cgroup_parent, cgroups.detect_version())
    sys.stdout.flush()
