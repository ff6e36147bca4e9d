"""The fleet for tests/fleet: started once per module, checked for leftovers when it stops."""
from __future__ import annotations

import pytest

from ..conftest import RUN_ID
from .stack import start_fleet, stop_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, runtime_config):  # runtime_config: skips without root
    tmp = tmp_path_factory.mktemp("fleet")
    fleet = start_fleet(tmp, RUN_ID)
    yield fleet
    left = stop_fleet(fleet)
    for name in ("web", "control"):
        print(f"----- {name} log (last lines)")
        print("\n".join((fleet.logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]))
    for host in fleet.hosts:
        print(f"----- {host.name} agent log (last lines)")
        print("\n".join((host.logs / "agent.log").read_text(errors="replace").splitlines()[-15:]))
    assert not left, f"the test hosts left behind: {left}"
