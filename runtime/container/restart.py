"""Restart policies as Docker defines them: ``no``, ``on-failure[:N]``, ``always``, ``unless-stopped``.

Pure decisions; the host agent watches exits and applies them (the runtime has no
daemon of its own). As in Docker, a container stopped by hand is not restarted by
its policy, until the agent itself starts again: then ``always`` brings it back
and ``unless-stopped`` leaves it stopped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidSpec

_POLICY = re.compile(r"^(no|always|unless-stopped|on-failure(?::(\d{1,6}))?)$")
# Docker's back-off: 100 ms, doubled on each restart, at most a minute; a container that
# ran for 10 s or more starts again from 100 ms.
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
STEADY_SECONDS = 10.0


@dataclass(frozen=True)
class RestartPolicy:
    name: str
    max_retries: int = 0  # on-failure only; 0: no limit

    def __str__(self) -> str:
        return f"{self.name}:{self.max_retries}" if self.max_retries else self.name


def parse(text: str) -> RestartPolicy:
    m = _POLICY.match((text or "no").strip())
    if not m:
        raise InvalidSpec(f"restart policy {text!r} is not one of no, on-failure[:N], always, unless-stopped")
    name = m.group(1).split(":")[0]
    return RestartPolicy(name, int(m.group(2) or 0))


def should_restart(policy: RestartPolicy, exit_code: int | None, restart_count: int,
                   stopped_by_hand: bool, agent_starting: bool = False) -> bool:
    """Whether a container that ended with ``exit_code`` is started again."""
    if policy.name == "no":
        return False
    if stopped_by_hand and not agent_starting:
        return False
    if policy.name == "always":
        return True
    if policy.name == "unless-stopped":
        return not stopped_by_hand
    under_limit = policy.max_retries == 0 or restart_count < policy.max_retries
    return under_limit and exit_code != 0


def next_delay(previous: float | None, ran_seconds: float) -> float:
    """The wait before the next restart, given the last wait and how long the container ran."""
    if previous is None or ran_seconds >= STEADY_SECONDS:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
