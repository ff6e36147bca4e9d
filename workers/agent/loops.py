"""The agent's background loops: heartbeat, stats sampler with exit watch, log shipper.

Each loop keeps what it must not forget (log positions, the last state it
reported) in files under the state directory, so a restarted agent resumes
where the previous one stopped: no line shipped twice, no exit unreported.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import psutil
import redis

from runtime.cgroups.paths import CgroupReader
from runtime.container.logs import LogReader
from runtime.container.state import CREATED, EXITED, LOST, RUNNING
from runtime.errors import BerthError

from .. import contracts, streams
from ..env import SettingError
from . import figures
from .context import CONTAINER_LABEL, AgentContext
from .history import Minutes
from .restarts import Restarts
from .settings import join_token

log = logging.getLogger(__name__)
VERSION = "0.1.0"
# The control marks a host down once its alive key (streams.HOST_ALIVE_SECONDS) expires.
HEARTBEAT_SECONDS = 3.0
SAMPLE_SECONDS = 1.0
SHIP_SECONDS = 0.1
LIST_SECONDS = 1.0
_READ_CHUNK = 4 * 1024 * 1024


def _labelled(ctx: AgentContext):
    for info in ctx.containers.list():
        label = info.record.labels.get(CONTAINER_LABEL)
        if label:
            yield int(label), info


def _agent_dir(ctx: AgentContext, name: str) -> Path:
    path = ctx.containers.config.state_dir / "agent" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _forget_removed(directory: Path, present: set[str]) -> None:
    """Drop the bookkeeping files of containers that no longer exist."""
    for path in directory.iterdir():
        if path.name not in present:
            path.unlink(missing_ok=True)


class Loop(threading.Thread):
    interval = 1.0

    def __init__(self, ctx: AgentContext, stop: threading.Event):
        super().__init__(name=self.__class__.__name__, daemon=True)
        self.ctx = ctx
        self.stopping = stop

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except (BerthError, OSError, redis.RedisError):
                # Redis down or a container vanishing mid-read: try again next tick.
                log.warning("%s tick failed", self.name, exc_info=True)
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def tick(self) -> None:
        raise NotImplementedError


class Heartbeat(Loop):
    interval = HEARTBEAT_SECONDS

    def tick(self) -> None:
        state_dir = self.ctx.containers.config.state_dir
        # Every container's state, so containers the control thought lost are found again.
        states = {str(cid): contracts.C_RUNNING if i.status.state == RUNNING else contracts.C_EXITED
                  for cid, i in _labelled(self.ctx)}
        memory, disk = psutil.virtual_memory(), shutil.disk_usage(state_dir)
        self.ctx.redis.set(streams.host_alive(self.ctx.host), str(time.time()), ex=streams.HOST_ALIVE_SECONDS)
        self.ctx.report(contracts.CONTROL_HEARTBEAT, {
            "name": self.ctx.host, "cpus": psutil.cpu_count() or 1, "time": time.time(),
            "memory_bytes": memory.total, "memory_used_bytes": memory.total - memory.available,
            "disk_free_bytes": disk.free, "disk_total_bytes": disk.total,
            "load": os.getloadavg()[0], "cpu_percent": psutil.cpu_percent(),
            "containers": sum(1 for state in states.values() if state == contracts.C_RUNNING),
            "version": VERSION, "states": states, "join_token": self._join_token(),
        })
        refused = self.ctx.redis.getdel(streams.join_refusal(self.ctx.host))
        if refused:
            log.error("the control refuses this host: %s", refused.decode(errors="replace"))

    @staticmethod
    def _join_token() -> str:
        """Read at every beat: a token file written after the agent started still counts."""
        try:
            return join_token()
        except SettingError as exc:
            log.error("%s", exc)
            return ""


class Sampler(Loop):
    """Once a second: a stats sample per running container, and a report of each exit
    and of each container removed behind the agent's back (with the CLI, say).

    The agent's file per known container lets a restarted agent tell what it
    already reported and what vanished meanwhile.
    """

    interval = SAMPLE_SECONDS

    def __init__(self, ctx, stop):
        super().__init__(ctx, stop)
        self.previous: dict[str, tuple] = {}  # container -> (monotonic ns, cgroup stats, traffic)
        self.readers: dict[str, CgroupReader] = {}
        self.minutes = Minutes()
        self.known = ctx.known_dir
        self.restarts = Restarts(ctx)

    def tick(self) -> None:
        markers = {entry.name: entry.path for entry in os.scandir(self.known)}
        seen = set()
        samples = self.ctx.redis.pipeline(transaction=False)  # one round trip for every container
        for container_id, info in _labelled(self.ctx):
            seen.add(info.id)
            state = info.status.state
            if state == CREATED:
                continue  # still being set up: the run job reports how that ends
            if info.id not in markers:
                self.ctx.remember(info.id, container_id, RUNNING)
            elif state in (EXITED, LOST) and self.ctx.reported_state(info.id) != state:
                self._report_end(container_id, info)
                self.ctx.remember(info.id, container_id, state)
                self.restarts.exited(info)
            elif state == RUNNING and self.ctx.reported_state(info.id) != RUNNING:
                # Started again by a hand the agent did not see (`python -m runtime restart`).
                self.ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, self.ctx.running_event(info))
                self.ctx.remember(info.id, container_id, RUNNING)
            if state == RUNNING:
                try:
                    self._sample(samples, container_id, info)
                except BerthError:  # went away while sampled; a new reader next time
                    self.readers.pop(info.id, None)
        samples.execute()
        for gone in set(self.readers) - seen:
            self.previous.pop(gone, None)
            self.readers.pop(gone).close()
        self._report_vanished(markers, seen)

    def _report_vanished(self, markers: dict[str, str], present: set[str]) -> None:
        for name, path in markers.items():
            if name not in present:
                container_id = int(Path(path).read_text().split()[0])
                self.ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"status": contracts.C_REMOVED})
                self.ctx.forget(name)

    def _sample(self, samples, container_id: int, info) -> None:
        reader = self.readers.get(info.id)
        if reader is None:
            reader = self.readers[info.id] = CgroupReader(info.record.cgroup_path, self.ctx.containers.cgroup_version)
        now = time.monotonic_ns()
        reading = (now, reader.read(), self.ctx.containers.traffic(info.record))
        prev = self.previous.get(info.id)
        self.previous[info.id] = reading
        if prev is None:
            return
        fields = figures.sample(prev[1], reading[1], now - prev[0], prev[2], reading[2], int(time.time() * 1000))
        samples.xadd(streams.container_stats(container_id), {"j": json.dumps(fields, separators=(",", ":"))},
                     maxlen=streams.STATS_MAXLEN, approximate=True)
        finished = self.minutes.add(container_id, fields)
        if finished:
            self.ctx.report(contracts.CONTROL_STATS_MINUTE, self.ctx.host, *finished)

    def _report_end(self, container_id: int, info) -> None:
        status = info.status
        event = ({"status": contracts.C_EXITED, "exit_code": status.exit_code, "oom_killed": status.oom_killed}
                 if status.state == EXITED else
                 {"status": contracts.C_FAILED,
                  "error": contracts.error("lost", "the container's monitor is gone; its state is unknown")})
        self.ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, event)


class Shipper(Loop):
    """Copies new log lines from each container's log file to its Redis stream.

    The last entry of each batch carries the file offset after it ("o"), written
    in the same round trip as the lines, so an agent killed between shipping and
    saving its position file resumes from the stream and ships no line twice.
    """

    interval = SHIP_SECONDS

    def __init__(self, ctx, stop):
        super().__init__(ctx, stop)
        self.positions = _agent_dir(ctx, "log-positions")
        self.readers: dict[str, LogReader] = {}
        self.saved: dict[str, int] = {}  # offset last written to each position file
        self.done: dict[str, int] = {}   # containers whose whole log is shipped -> its size then
        self.watched: dict[str, tuple[int, object]] = {}
        self.next_listing = 0.0

    def tick(self) -> None:
        # Listing every container costs more than checking their log files, so the list
        # (which brings new containers and exits) is refreshed once a second, the files each tick.
        if time.monotonic() >= self.next_listing:
            self.watched = {info.id: (container_id, info) for container_id, info in _labelled(self.ctx)}
            self.next_listing = time.monotonic() + LIST_SECONDS
            _forget_removed(self.positions, set(self.watched))
            for gone in set(self.saved) - set(self.watched):
                self.saved.pop(gone, None)
                self.readers.pop(gone, None)
            self._reopen_grown_logs()
        for container_id, info in self.watched.values():
            if info.id not in self.done:
                self._ship(container_id, info)

    def _reopen_grown_logs(self) -> None:
        """A container started again (a restart, perhaps exited again since) writes on in the
        same log: one whose size moved since it was all shipped is shipped again."""
        for cid, size in list(self.done.items()):
            if cid not in self.watched or self.log_size(cid) != size:
                del self.done[cid]

    def log_size(self, cid: str) -> int | None:
        try:
            return os.stat(self.ctx.containers.bundle(cid) / "ctr.log").st_size
        except FileNotFoundError:
            return None

    def _ship(self, container_id: int, info) -> None:
        position_file = self.positions / info.id
        reader = self.readers.get(info.id)
        finished = info.status.state in (EXITED, LOST)
        if reader is None:
            offset = self._resume_offset(container_id, position_file)
            if finished and offset == self.log_size(info.id) and position_file.exists() \
                    and position_file.read_text() == "done":
                self.done[info.id] = offset  # shipped by an earlier agent, and nothing written since
                return
            reader = self.readers[info.id] = LogReader(offset)
        path = str(self.ctx.containers.bundle(info.id) / "ctr.log")
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = None
        if size is not None and size < reader.offset:
            # conmon truncates the log when it reaches its size cap: read on from the start.
            reader = self.readers[info.id] = LogReader(0)
        if size is not None and (size > reader.offset or finished):
            with open(path, "rb") as f:
                f.seek(reader.offset)
                data = f.read(_READ_CHUNK)
            lines, _ = reader.feed(data, final=finished and len(data) < _READ_CHUNK)
            self._publish(container_id, lines, reader.offset)
        if finished and (size is None or reader.offset >= os.stat(path).st_size):
            position_file.write_text("done")
            self.done[info.id] = reader.offset if size is not None else None
            self.readers.pop(info.id, None)
        elif self.saved.get(info.id) != reader.offset:
            position_file.write_text(str(reader.offset))
            self.saved[info.id] = reader.offset

    def _resume_offset(self, container_id: int, position_file: Path) -> int:
        last = self.ctx.redis.xrevrange(streams.container_log(container_id), count=1)
        if last and b"o" in last[0][1]:
            return int(last[0][1][b"o"])
        text = position_file.read_text() if position_file.exists() else ""
        return int(text) if text.isdigit() else 0

    def _publish(self, container_id: int, lines, offset: int) -> None:
        if not lines:
            return
        # MULTI/EXEC: a viewer or a restarted agent sees the whole batch or none of it.
        pipe = self.ctx.redis.pipeline(transaction=True)
        key = streams.container_log(container_id)
        for number, line in enumerate(lines, 1):
            fields = {"t": line.time, "s": line.stream, "line": line.text}
            if number == len(lines):
                fields["o"] = offset
            pipe.xadd(key, fields, maxlen=streams.CONTAINER_LOG_MAXLEN, approximate=True)
        pipe.execute()


def start_all(ctx: AgentContext) -> threading.Event:
    stop = threading.Event()
    sampler = Sampler(ctx, stop)
    sampler.restarts.restore()  # containers that exited, or waited to restart, while no agent ran
    for loop in (Heartbeat(ctx, stop), sampler, Shipper(ctx, stop)):
        loop.start()
    return stop
