"""The container page's terminal as a member uses it: open it, type, read the answer; leaving the
page ends the shell on the host."""
from __future__ import annotations

import time

import psutil
import pytest

from .pages import built_app, log_in

pytestmark = pytest.mark.e2e

SLEEPER = 'FROM busybox\nCMD ["sleep", "600"]\n'


def exec_processes(runtime_id: str) -> list:
    return [p for p in psutil.process_iter(["cmdline"])
            if "exec" in (p.info["cmdline"] or []) and runtime_id in (p.info["cmdline"] or [])]


def test_a_member_types_in_the_terminal_and_sees_the_output(page, stack, tmp_path):
    console: list[str] = []  # what the page said, for the failure message
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"error: {error}"))
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "shell", SLEEPER, "")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    container_url = page.url
    [(runtime_id,)] = stack.query("SELECT runtime_id FROM containers_container WHERE status = 'running'")
    # The run made the team's bridge while the page loaded; chromium on this same host aborts
    # requests in flight on such a change (net::ERR_NETWORK_CHANGED): load the page again, settled.
    page.reload()
    page.wait_for_selector("#status >> text=running")

    try:
        page.wait_for_selector("#terminal-open[data-ready=yes]")
    except Exception as exc:  # noqa: BLE001 - re-raised with what the page logged
        raise AssertionError(f"the terminal's script never bound its button; the page said: {console}") from exc
    page.click("#terminal-open")
    page.wait_for_selector("#terminal[data-state=open]")
    page.wait_for_selector("#terminal .xterm-rows >> text=/ #")  # the shell's prompt
    page.keyboard.type("echo e2e-$((6*7))\n")
    page.wait_for_selector("#terminal .xterm-rows >> text=e2e-42")
    assert len(exec_processes(runtime_id)) == 1

    page.goto(stack.url + "/")  # leaving the page closes the socket: the agent ends the shell
    deadline = time.monotonic() + 15
    while exec_processes(runtime_id):
        assert time.monotonic() < deadline, "the shell outlived its terminal"
        time.sleep(0.2)

    page.goto(container_url)
    page.on("dialog", lambda dialog: dialog.accept())  # "running: remove it anyway?"
    page.click("button:text-is('Remove')")
    page.wait_for_selector("#status >> text=removed")
