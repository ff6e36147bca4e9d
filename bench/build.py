"""Build time: Berth's builder beside docker's classic builder and podman build.

    python bench/build.py [--runs 5]

Builds bench/Dockerfile (a COPY of 50 small files, a RUN writing 4 MB, a RUN
deleting it, metadata instructions) with each, uncached (--no-cache) and fully
cached (the same build again), and prints the medians and the ratios to
docker. Berth is timed twice: through its CLI (a new Python process each time)
and in one process, the way the host agent builds (as dockerd does for docker). Needs root, and docker and podman from `../shared/tools/peers.sh start`
(bench/build.sh runs it first).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BERTH, BERTH_NAMES, IMAGE, PODMAN, PODMAN_RUN, ROOT, out, remove_bench_network, timed

sys.path.insert(0, str(ROOT))
from runtime.build.builder import BuildOptions, build  # noqa: E402
from runtime.config import RuntimeConfig  # noqa: E402
from runtime.image.store import ImageStore  # noqa: E402

TAG = "berth-bench-build"
PEER_ARGS = ["--build-arg", f"BASE={IMAGE}", "-t", TAG, "-f", str(ROOT / "bench" / "Dockerfile")]


def make_context() -> Path:
    context = Path(tempfile.mkdtemp(prefix="berth-bench-build-"))
    files = context / "files"
    files.mkdir()
    for n in range(50):
        (files / f"file-{n:02}.txt").write_text(f"small file number {n}\n" * 8)
    return context


def builders(context: Path) -> dict[str, tuple[list[str], dict | None]]:
    """name -> (command without --no-cache, environment)."""
    docker_env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder, as the issue asks
    return {
        "berth (CLI)": (BERTH + ["build", "-t", TAG, "-f", str(ROOT / "bench" / "Dockerfile"), str(context)], None),
        "docker": (["docker", "build", "-q"] + PEER_ARGS + [str(context)], docker_env),
        "podman": (PODMAN + ["build", "-q"] + PODMAN_RUN + PEER_ARGS + [str(context)], None),
    }


def in_process(context: Path, runs: int) -> dict[str, float]:
    """Berth's builder called as the host agent calls it: no interpreter start, warm imports."""
    config = RuntimeConfig(**BERTH_NAMES)
    store = ImageStore(config)
    text = (ROOT / "bench" / "Dockerfile").read_text()

    def once(no_cache: bool) -> float:
        started = time.perf_counter()
        build(config, store, text, context, BuildOptions(tag=TAG, no_cache=no_cache), lambda _: None)
        return time.perf_counter() - started
    uncached = [once(True) for _ in range(runs)]
    once(False)
    return {"uncached": statistics.median(uncached), "cached": statistics.median(once(False) for _ in range(runs))}


def medians(context: Path, runs: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {"berth (agent)": in_process(context, runs)}
    for name, (cmd, env) in builders(context).items():
        uncached = [timed(cmd + ["--no-cache"], env) for _ in range(runs)]
        timed(cmd, env)  # fills the cache
        cached = [timed(cmd, env) for _ in range(runs)]
        results[name] = {"uncached": statistics.median(uncached), "cached": statistics.median(cached)}
    return results


def check_same_result(context: Path) -> None:
    """The three images answer alike: each counted the 50 files."""
    answers = {
        "berth": out(BERTH + ["run", "--rm", "--network", "none", TAG]),
        "docker": out(["docker", "run", "--rm", TAG]),
        "podman": out(PODMAN + ["run", "--rm"] + PODMAN_RUN + [TAG]),
    }
    if set(answers.values()) != {"50"}:
        raise SystemExit(f"the builds differ: {answers}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    out(BERTH + ["bootstrap", "busybox"])
    context = make_context()
    try:
        results = medians(context, args.runs)
        check_same_result(context)
    finally:
        shutil.rmtree(context)
        for rmi in (BERTH + ["rmi", TAG], ["docker", "rmi", TAG], PODMAN + ["rmi", TAG]):
            subprocess.run(rmi, capture_output=True)
        remove_bench_network()
    print(f"build of bench/Dockerfile, median of {args.runs}:")
    for mode in ("uncached", "cached"):
        docker = results["docker"][mode]
        for name, times in results.items():
            print(f"  {mode:9} {name:14} {times[mode]:7.3f} s   {times[mode] / docker:5.2f} x docker")


if __name__ == "__main__":
    main()
