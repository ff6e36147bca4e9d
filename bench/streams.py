"""Live streams under load: the agent's sampling cost and the delay from a line to the viewers.

    .venv/bin/python bench/streams.py [--containers 200] [--viewers 300] [--seconds 15] [--only sampling|delay]

1. Starts --containers sleeping busybox containers (network none) and runs the
   agent's Sampler once a second over all of them for --seconds, reporting the
   CPU it used in percent of one core (and the same with the log Shipper too).
2. Starts the web server (Uvicorn, the real ASGI app) and one container that
   prints a line every 20 ms; the agent's Shipper copies its log to Redis, and
   websocket clients, logged in as a team member, watch it. The delay of each
   line is the time it reaches a client minus conmon's timestamp on the line.
   Reported for 1 viewer and for --viewers viewers, p50 and p99.

Needs root. Uses a Redis of its own on a free port and runtime names of its
own (berth-bench-streams), and removes everything it started.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import redis
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The agent's reports go to Celery's broker: make it the bench's own Redis, before workers/ reads it.
REDIS_PORT = free_port()
os.environ["BERTH_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"

from runtime.cgroups import paths as cgroups  # noqa: E402
from runtime.config import RuntimeConfig  # noqa: E402
from runtime.container.manager import Containers, RunRequest  # noqa: E402
from runtime.image.bootstrap import bootstrap_busybox  # noqa: E402
from runtime.image.store import ImageStore  # noqa: E402
from runtime.network import provider  # noqa: E402
from workers.agent.context import CONTAINER_LABEL, AgentContext  # noqa: E402
from workers.agent.loops import Sampler, Shipper  # noqa: E402

CONFIG = RuntimeConfig(state_dir=Path("/var/lib/berth-bench-streams"), run_dir=Path("/run/berth-bench-streams"),
                       bridge="berthbs0", subnet="10.196.0.0/16", nft_table="berth_bench_streams",
                       cgroup_parent="/berth-bench-streams", netns_prefix="bbs")

SEED = """
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from webui.containers.models import Container
from webui.hosts.models import Host
from webui.images.models import App, Build
user = get_user_model().objects.create_user("bench", password="bench-only")
team = user.teams.get(personal=True)
host = Host.objects.create(name="bench", cpus=2, memory_bytes=1 << 30, last_seen=timezone.now())
app = App.objects.create(team=team, name="ticker", dockerfile="FROM busybox\\n", ports=[], memory_mb=64,
                         cpus=0.5, created_by=user)
build = Build.objects.create(app=app, host=host, status="succeeded", image="ticker")
container = Container.objects.create(app=app, build=build, host=host, ports=[], memory_mb=64, status="running")
client = Client()
client.force_login(user)
print(container.id, client.cookies["sessionid"].value)
"""


def wait_for(what: str, check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def conmon_time_ns(stamp: str) -> int:
    """conmon's RFC 3339 time with nanoseconds, e.g. 2026-12-03T21:33:11.145334083+00:00."""
    whole, _, rest = stamp.partition(".")
    digits = rest[:9]
    offset = rest[len(digits):]
    seconds = datetime.fromisoformat(whole + offset).timestamp()
    return int(seconds) * 1_000_000_000 + int(digits.ljust(9, "0"))


class Services:
    """A Redis and, when asked, the web server, each a process of the bench's own."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.redis_port = REDIS_PORT
        self._start(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(tmp)])
        self.redis = redis.Redis(port=self.redis_port)
        wait_for("Redis", self._redis_up)

    def _redis_up(self) -> bool:
        try:
            return self.redis.ping()
        except redis.ConnectionError:
            return False

    def _start(self, args, env=None) -> subprocess.Popen:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(self.tmp / f"{Path(args[0]).name}.log", "ab"), start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_web(self) -> tuple[str, int, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env.update({"DJANGO_SETTINGS_MODULE": "webui.settings", "PYTHONPATH": str(ROOT),
                    "BERTH_VAR_DIR": str(self.tmp / "var"), "BERTH_DB_PATH": str(self.tmp / "db.sqlite3"),
                    "BERTH_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                    "BERTH_SECRET_KEY": "bench-only", "BERTH_LOG_LEVEL": "WARNING"})
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        seeded = subprocess.run([*manage, "shell", "-c", SEED], cwd=ROOT, env=env, check=True,
                                capture_output=True, text=True).stdout.split()
        port = free_port()
        self._start([sys.executable, "-m", "uvicorn", "webui.asgi:application", "--host", "127.0.0.1",
                     "--port", str(port), "--ws", "websockets", "--log-level", "warning"], env)

        def answers() -> bool:
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=1).status == 200
            except OSError:
                return False
        wait_for("the web server", answers)
        print(f"  seeded: {seeded}", flush=True)
        return f"127.0.0.1:{port}", int(seeded[-2]), seeded[-1]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)


def cpu_of_loops(ctx: AgentContext, loops: list, seconds: float) -> float:
    """Percent of one core the loops use, each run in its own thread at its own interval."""
    stop = threading.Event()
    threads = [loop(ctx, stop) for loop in loops]
    for thread in threads:
        thread.tick()  # the first sample only sets the baseline
    cpu0, wall0 = time.process_time(), time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100


def sampling_cost(ctx: AgentContext, count: int, seconds: float) -> dict:
    started = time.monotonic()
    for n in range(count):
        ctx.containers.run(RunRequest(image="busybox", memory_bytes=16 << 20, network="none",
                                      command=("sleep", "3600"), labels=((CONTAINER_LABEL, str(100_000 + n)),)))
    print(f"  started {count} containers in {time.monotonic() - started:.0f} s", flush=True)
    sampler = cpu_of_loops(ctx, [Sampler], seconds)
    both = cpu_of_loops(ctx, [Sampler, Shipper], seconds)
    samples = ctx.redis.xlen("berth:container:100000:stats")
    return {"containers": count, "sampler_cpu_percent": round(sampler, 2),
            "sampler_and_shipper_cpu_percent": round(both, 2), "samples_of_first_container": samples}


def caught_up(msg: dict, since_ns: int) -> bool:
    return msg["type"] == "log" and conmon_time_ns(msg["entries"][-1][1]["t"]) >= since_ns


async def watch(address: str, container_id: int, session: str, viewers: int, seconds: float) -> dict:
    """Connects ``viewers`` clients, then for ``seconds`` records the delay in ms of every
    line stamped after the last of them was connected, as each client got it."""
    delays: list[float] = []
    url = f"ws://{address}/ws/containers/{container_id}/?log=last:5000&stats=0"  # as the page opens
    headers = {"Cookie": f"sessionid={session}", "Origin": f"http://{address}"}
    connected = 0
    all_connected = asyncio.Event()
    since = [0]

    async def viewer():
        nonlocal connected
        async with websockets.connect(url, additional_headers=headers, max_size=None, open_timeout=60) as ws:
            opened = time.time_ns()
            while not caught_up(json.loads(await ws.recv()), opened):
                pass  # connected, the page's first lines have come, and then a live one
            connected += 1
            if connected == viewers:
                since[0] = time.time_ns()
                all_connected.set()
            await all_connected.wait()
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=left)
                except asyncio.TimeoutError:
                    break
                arrived = time.time_ns()
                msg = json.loads(raw)
                if msg["type"] != "log":
                    continue
                for _, fields in msg["entries"]:
                    stamped = conmon_time_ns(fields["t"])
                    if stamped >= since[0]:
                        delays.append((arrived - stamped) / 1e6)
    started = time.monotonic()
    await asyncio.gather(*(viewer() for _ in range(viewers)))
    return {"delays": delays, "connect_seconds": round(time.monotonic() - started - seconds, 1)}


def line_delays(ctx: AgentContext, services: Services, viewers: int, seconds: float) -> dict:
    address, container_id, session = services.start_web()
    ctx.containers.run(RunRequest(image="busybox", memory_bytes=16 << 20, network="none",
                                  command=("sh", "-c", "while :; do echo tick; usleep 20000; done"),
                                  labels=((CONTAINER_LABEL, str(container_id)),)))
    stop = threading.Event()
    shipper = Shipper(ctx, stop)
    shipper.start()
    results = {}
    try:
        for count in (1, viewers):
            watched = asyncio.run(watch(address, container_id, session, count, seconds))
            delays = watched["delays"]
            if not delays:
                raise SystemExit("no line reached the viewers: see the web server's log in " + str(services.tmp))
            results[f"{count}_viewers"] = {"connect_all_s": watched["connect_seconds"], "lines": len(delays),
                                           "p50_ms": round(statistics.median(delays), 1),
                                           "p99_ms": round(percentile(delays, 99), 1)}
            print(f"  {count} viewer(s): {results[f'{count}_viewers']}", flush=True)
    finally:
        stop.set()
        shipper.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--only", choices=("sampling", "delay"), help="run one of the two parts")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (runc, cgroups)")
    store = ImageStore(CONFIG)
    bootstrap_busybox(store)
    tmp = Path(tempfile.mkdtemp(prefix="berth-bench-streams-"))
    services = Services(tmp)
    ctx = AgentContext("bench", Containers(CONFIG, store), store, services.redis)
    report = {}
    try:
        if args.only != "delay":
            print("sampling cost", flush=True)
            report["sampling"] = sampling_cost(ctx, args.containers, args.seconds)
            print(f"  {report['sampling']}", flush=True)
            for info in ctx.containers.list():
                ctx.containers.remove(info.id, force=True)
        if args.only != "sampling":
            print("line delay", flush=True)
            report["line_delay"] = line_delays(ctx, services, args.viewers, args.seconds)
    finally:
        for info in ctx.containers.list():
            ctx.containers.remove(info.id, force=True)
        services.stop()
        provider.remove_host(CONFIG)
        cgroups.remove(CONFIG.cgroup_parent, cgroups.detect_version())
        print("web log:", (tmp / "python.log").read_text()[-2000:] if (tmp / "python.log").exists() else "")
        if not os.environ.get("BERTH_BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
