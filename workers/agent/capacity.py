"""The host's own check before a container starts: the memory its containers were promised.

The web places a run on a host whose memory the limits of the containers it knows of
leave room for, and locks only the team's quota while it does: two teams' runs placed
at once (by web processes on a database with row locks), or containers started with the
CLI, can promise a host more than it has. The agent sees every container on its host
and starts them itself, so it checks again, one job at a time: the limits of its created
and running containers, plus those being started right now, plus this one, must fit in
the host's memory. A limit counts, not momentary use: a limit is a promise.
"""
from __future__ import annotations

import contextlib
import threading

import psutil

from runtime.container.state import CREATED, RUNNING
from runtime.errors import BerthError

MB = 1024 * 1024


class HostFull(BerthError):
    code = "host_full"


class MemoryLedger:
    def __init__(self, total_bytes=lambda: psutil.virtual_memory().total):
        self.total_bytes = total_bytes
        self._lock = threading.Lock()
        self._starting: dict[str, int] = {}  # runtime ID -> memory limit, for runs between check and start

    @contextlib.contextmanager
    def reserve(self, host: str, containers, runtime_id: str, memory_bytes: int):
        """Hold ``memory_bytes`` for the container while the block starts it; HostFull,
        naming the figures, when the host's memory is promised already."""
        with self._lock:
            promised = {info.id: info.record.memory_bytes for info in containers.list()
                        if info.status.state in (CREATED, RUNNING)}
            promised.update(self._starting)  # one being started may have no bundle yet
            promised.pop(runtime_id, None)
            total, held = self.total_bytes(), sum(promised.values())
            if held + memory_bytes > total:
                raise HostFull(f"Host {host} has {max(total - held, 0) // MB} MB of memory left for "
                               f"containers ({held // MB} MB of its {total // MB} MB are promised to the limits of "
                               f"those it holds); this one asks for {memory_bytes // MB} MB.")
            self._starting[runtime_id] = memory_bytes
        try:
            yield
        finally:
            with self._lock:
                self._starting.pop(runtime_id, None)
