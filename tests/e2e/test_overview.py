"""The host page as an admin sees it and the team page as a member sees it: a live table of
running containers with numbers that sorts by a click on a column heading, and history
charts; the container page's per-minute history chart."""
from __future__ import annotations

import time

import pytest
from celery import Celery

from workers import config, contracts

from .pages import built_app, log_in
from .test_live_view import wait_until

pytestmark = pytest.mark.e2e

# A little CPU and memory each, so the table has figures to sort.
BUSY = r'''FROM busybox
CMD ["sh", "-c", "while :; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 1; done"]
'''


def table_rows(page) -> list[dict]:
    return page.eval_on_selector_all("#containers tbody tr", """rows => rows.map(tr => Object.fromEntries(
        [...tr.querySelectorAll('td')].map(td => [td.dataset.key, {text: td.textContent, value: td.dataset.value}])))""")


def live_rows(page, count: int) -> bool:
    rows = table_rows(page)
    return len(rows) == count and all(any(c.isdigit() for c in row["mem"]["text"]) for row in rows)


def click_sort(page, key: str) -> list[dict]:
    page.click(f"#containers th[data-sort={key}]")
    return table_rows(page)


def check_sorting(page) -> None:
    names = [row["name"]["text"] for row in click_sort(page, "name")]
    assert page.get_attribute("th[data-sort=name]", "aria-sort") == "ascending"
    assert names == sorted(names)
    assert [row["name"]["text"] for row in click_sort(page, "name")] == sorted(names, reverse=True)
    memory = [float(row["mem"]["value"]) for row in click_sort(page, "mem")]
    assert page.get_attribute("th[data-sort=mem]", "aria-sort") == "descending"
    assert memory == sorted(memory, reverse=True) and memory[0] > 0


def send_minute(stack, container_id: int) -> None:
    """One minute of the container, sent to the control worker as the agent sends it."""
    sender = Celery("e2e-sender", broker=stack.env["BERTH_REDIS_URL"])
    now = int(time.time())
    figures = {"samples": 60, "cpu": 33.0, "cpu_max": 40.0, "mem": 2e6, "mem_max": 3e6, "mem_limit": 64e6,
               "pids": 2, "net_rx": 0, "net_tx": 0, "io_read": 0, "io_write": 0, "throttled_periods": 0,
               "throttled_ms": 0, "oom_kills": 0}
    # Three minutes back: before the container started, so the agent's own minutes never replace it.
    minute = now - now % 60 - 180
    sender.send_task(contracts.CONTROL_STATS_MINUTE, args=[stack.host, minute, {str(container_id): figures}],
                     queue=config.CONTROL_QUEUE)
    sender.close()


def test_host_and_team_pages_and_the_container_history(page, stack, tmp_path):
    log_in(page, stack, "alice")
    app_url = built_app(page, stack, tmp_path, "busy", BUSY, "")
    containers = []
    for _ in range(2):
        page.goto(app_url)
        page.click("button:text-is('Run')")
        page.wait_for_selector("#status >> text=running")
        containers.append(int(page.url.rstrip("/").rsplit("/", 1)[1]))

    # The container page draws its per-minute history.
    send_minute(stack, containers[0])
    wait_until("the minute recorded", lambda: stack.query(
        "SELECT count(*) FROM history_containerminute WHERE container_id = ?", containers[0])[0][0] >= 1, timeout=30)
    page.goto(f"{stack.url}/containers/{containers[0]}/")
    wait_until("the history chart", lambda: int(page.get_attribute("[data-history=c_cpu]", "data-points")) >= 1)
    assert " %" in page.inner_text("[data-history=c_cpu] .value")
    assert page.locator("[data-history=c_cpu] canvas").count() >= 1

    # The team page, as a member: both containers, with live numbers, sortable.
    team_id = stack.query("SELECT id FROM accounts_team WHERE name = 'alice'")[0][0]
    page.goto(f"{stack.url}/teams/{team_id}/")
    wait_until("two live rows", lambda: live_rows(page, 2))
    assert {row["host"]["text"] for row in table_rows(page)} == {stack.host}
    check_sorting(page)
    wait_until("the team history", lambda: int(page.get_attribute("[data-history=team_cpu]", "data-points")) >= 1)

    # The host page, as an admin: the host's figures, updated by heartbeats, and the same table.
    log_in(page, stack, "admin")
    page.click("nav >> text=Hosts")
    row = f"[data-host-row] >> text={stack.host}"
    wait_until("the Hosts list updated by a heartbeat", lambda: int(page.get_attribute(
        "[data-host-row]", "data-beats") or 0) >= 1, timeout=20)
    assert page.inner_text("[data-host-row] [data-f=containers]") == "2"
    page.click(row)
    host_url = page.url
    wait_until("two live rows", lambda: live_rows(page, 2))
    assert "%" in page.inner_text("[data-host=cpu]") and "free" in page.inner_text("[data-host=disk]")
    beats = int(page.get_attribute("#host-figures", "data-beats"))
    wait_until("a heartbeat", lambda: int(page.get_attribute("#host-figures", "data-beats")) > beats, timeout=20)
    check_sorting(page)
    wait_until("the host history", lambda: int(page.get_attribute("[data-history=host_cpu]", "data-points")) >= 1)

    # A non-admin is not shown the host page.
    log_in(page, stack, "alice")
    assert page.goto(host_url).status == 404
