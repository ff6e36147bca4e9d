"""Checks of what this host can do, run by the agent's doctor before it takes work."""
from __future__ import annotations

import os
import resource
import shutil


def kernel_version() -> tuple[int, int] | None:
    """This kernel's (major, minor), as uname gives them ("6.1.0-18-amd64": (6, 1)); None if unreadable."""
    try:
        return tuple(int(part) for part in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        return None


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

