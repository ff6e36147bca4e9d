"""The host agent killed with SIGKILL just after a run started: the run ends well or fails with the reason."""
from __future__ import annotations

import time

import pytest

from tests import leaks

from .pages import built_app, log_in
from tests.processes import port_for

pytestmark = pytest.mark.e2e


def _wait(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)
    return value


def _runtime_containers(runtime_config, container_id: int) -> list:
    from runtime.container.manager import Containers

    return [info for info in Containers(runtime_config).list()
            if info.record.labels.get("berth.container") == str(container_id)]


def test_an_agent_killed_just_after_a_run_started_leaves_it_running_or_failed(page, stack, tmp_path, runtime_config):
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "runcut", 'FROM busybox\nCMD ["sleep", "600"]\n', f"{port_for(18097)}:80")
    before = leaks.snapshot(runtime_config)
    page.click("button:text-is('Run')")
    container_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    runtime_id = stack.query("SELECT runtime_id FROM containers_container WHERE id = ?", container_id)[0][0]
    # The job is in flight (its bundle being made) or just done: kill the agent then.
    _wait("the run job to reach the host", lambda: (runtime_config.containers_dir / runtime_id).exists())
    stack.kill_agent()
    stack.start_agent()

    page.wait_for_selector("#status:is(.running, .failed)", timeout=40_000)
    status = page.inner_text("#status")
    made = _runtime_containers(runtime_config, container_id)
    if status == "running":
        assert [info.status.state for info in made] == ["running"]  # one container, not two
    else:
        assert "the host agent stopped while starting this container" in page.inner_text("#error")
        assert made == []
    page.reload()  # what the database says, not only what the socket sent
    assert page.inner_text("#status") == status

    page.on("dialog", lambda dialog: dialog.accept())  # "running: remove it anyway?"
    page.click("button:text-is('Remove')")
    page.wait_for_selector("#status >> text=removed")
    assert _runtime_containers(runtime_config, container_id) == []
    _wait("the host to be clean", lambda: not leaks.left_behind(before, leaks.snapshot(runtime_config)), 10)
