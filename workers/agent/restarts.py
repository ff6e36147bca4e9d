"""Restart policies, applied by the host agent as Docker's daemon applies them.

The sampler tells ``Restarts`` of each exit it sees; a container whose policy
wants it back is started again in its own bundle (same ID, log and address)
after a back-off, on a timer thread so the sampler never waits. When the agent
starts, ``restore`` looks at every stopped container once: those that exited
while no agent ran, or whose restart was pending when the agent died, are
started per their policy, which now ignores a stop by hand for ``always``.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from runtime.container import restart
from runtime.container.state import EXITED, LOST, RUNNING
from runtime.errors import BerthError, InvalidState, NotFound

from .. import contracts
from .context import CONTAINER_LABEL, AgentContext

log = logging.getLogger(__name__)


class Restarts:
    def __init__(self, ctx: AgentContext):
        self.ctx = ctx
        self._lock = threading.Lock()
        self._delays: dict[str, float] = {}  # container -> the last back-off it waited
        self._pending: dict[str, threading.Timer] = {}

    def restore(self) -> None:
        for info in self.ctx.containers.list():
            if info.status.state in (EXITED, LOST):
                self.exited(info, agent_starting=True)

    def exited(self, info, agent_starting: bool = False) -> None:
        """``info`` has just been seen exited (or lost): start it again if its policy says so."""
        bundle = self.ctx.containers.bundle(info.id)
        wanted = restart.should_restart(restart.parse(info.record.restart_policy), info.status.exit_code,
                                        info.record.restart_count, (bundle / "stopped").exists(), agent_starting)
        if wanted:
            delay = restart.next_delay(self._delays.get(info.id), _ran_seconds(bundle, info))
            self._schedule(info.id, delay, time.time())
        else:
            self._delays.pop(info.id, None)

    def _schedule(self, runtime_id: str, delay: float, decided_at: float) -> None:
        with self._lock:
            if runtime_id in self._pending:
                return
            self._delays[runtime_id] = delay
            timer = self._pending[runtime_id] = threading.Timer(delay, self._restart, args=(runtime_id, decided_at))
            timer.daemon = True
            timer.start()

    def _restart(self, runtime_id: str, decided_at: float) -> None:
        with self._lock:
            self._pending.pop(runtime_id, None)
        try:
            # A stop by hand during the back-off cancels it: the runtime checks under its lock.
            info = self.ctx.containers.start(runtime_id, policy_decided_at=decided_at)
        except (NotFound, InvalidState):
            return  # removed, started or stopped by hand meanwhile: nothing to do
        except BerthError as exc:  # a port taken meanwhile, say: report it and try again later
            log.warning("restart of %s failed: %s", runtime_id, exc.message)
            self._report(runtime_id, {"error": exc.to_dict()})
            self.exited(self.ctx.containers.get(runtime_id))
            return
        label = info.record.labels.get(CONTAINER_LABEL)
        if label:
            self.ctx.remember(info.id, int(label), RUNNING)
        self._report(runtime_id, self.ctx.running_event(info))

    def _report(self, runtime_id: str, event: dict) -> None:
        label = self.ctx.containers.get(runtime_id).record.labels.get(CONTAINER_LABEL)
        if label:  # a container of the web's; one started with the CLI has nobody to tell
            self.ctx.report(contracts.CONTROL_CONTAINER_EVENT, int(label), event)


def _ran_seconds(bundle, info) -> float:
    """How long the last run lasted: from its start to the exit file conmon wrote."""
    try:
        return os.stat(bundle / "exit").st_mtime - info.record.started_at
    except FileNotFoundError:
        return time.time() - info.record.started_at
