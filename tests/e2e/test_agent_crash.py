"""The host agent is not a single point of failure: containers outlive it."""
from __future__ import annotations

import time

import pytest

from .pages import built_app, create_app, fetch, log_in
from tests.processes import port_for

pytestmark = pytest.mark.e2e


def test_containers_keep_running_and_logging_while_the_agent_is_dead(page, stack, tmp_path):
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "survivor", 'FROM busybox\nCMD ["httpd", "-f", "-vv", "-p", "80", "-h", "/etc"]\n',
              f"{port_for(18096)}:80")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    container_url = page.url

    stack.kill_agent()
    assert "root:x:0:0" in fetch(f"http://127.0.0.1:{port_for(18096)}/passwd")  # still serving, no agent
    fetch(f"http://127.0.0.1:{port_for(18096)}/group")
    time.sleep(1)
    stack.start_agent()

    # The restarted agent ships the lines logged while it was dead, then keeps going.
    page.goto(container_url)
    page.wait_for_selector("#log >> text=url:/passwd")
    page.wait_for_selector("#log >> text=url:/group")
    page.wait_for_function("document.querySelector('[data-chart=pids] .value').textContent.includes('/ 1024')")
    assert page.inner_text("#status") == "running"

    page.click("button:text-is('Stop')")  # the new agent controls the container it did not start
    page.wait_for_selector("#status >> text=exited", timeout=40_000)
    page.click("button:text-is('Remove')")
    page.wait_for_selector("#status >> text=removed")


def test_a_build_cut_off_by_the_agents_death_fails_with_the_reason(page, stack, tmp_path, runtime_config):
    from tests import leaks

    log_in(page, stack, "alice")
    before = leaks.snapshot(runtime_config)
    path = tmp_path / "Dockerfile"
    path.write_text("FROM busybox\nRUN echo step started && sleep 600\n")
    create_app(page, stack, "cutoff", str(path), None, "")
    page.click("button:text-is('Build')")
    page.wait_for_selector("#log >> text=step started")

    stack.kill_agent()  # mid-step: runc, the step's container, its mounts and netns are orphaned
    stack.start_agent()
    page.wait_for_selector("#status >> text=failed")
    assert "the host agent stopped during this build" in page.inner_text("#error")
    assert not leaks.left_behind(before, leaks.snapshot(runtime_config))


def test_a_container_removed_with_the_cli_shows_as_removed(page, stack, tmp_path, runtime_config):
    import subprocess
    import sys

    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "clidoomed", 'FROM busybox\nCMD ["sleep", "600"]\n', "")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    runtime_id = stack.query("SELECT runtime_id FROM containers_container ORDER BY id DESC LIMIT 1")[0][0]
    cli = [sys.executable, "-m", "runtime", "--state-dir", str(runtime_config.state_dir),
           "--run-dir", str(runtime_config.run_dir), "--bridge", runtime_config.bridge,
           "--subnet", runtime_config.subnet, "--nft-table", runtime_config.nft_table,
           "--cgroup-parent", runtime_config.cgroup_parent, "--netns-prefix", runtime_config.netns_prefix]
    subprocess.run(cli + ["rm", "-f", runtime_id], check=True, capture_output=True)
    page.wait_for_selector("#status >> text=removed")
