"""Checks of what this host can do, run by the agent's doctor before it takes work."""
from __future__ import annotations

import resource
import shutil


def missing_tools(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


def clamp_rlimit(kind: int, soft: int, hard: int) -> tuple[int, int]:
    """Lower a requested rlimit to what this process may grant.

    Without CAP_SYS_RESOURCE a process cannot raise a hard limit, so runc would
    fail to apply a spec asking for more than our own hard limit.
    """
    _, our_hard = resource.getrlimit(kind)
    if our_hard != resource.RLIM_INFINITY:
        hard = min(hard, our_hard)
        soft = min(soft, hard)
    return soft, hard

