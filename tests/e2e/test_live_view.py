"""The container page as people watch it: charts that grow each second, history on reload,
a log that survives the server dropping the websocket, colours, search, timestamps, download."""
from __future__ import annotations

import re
import time

import pytest

from .pages import built_app, log_in

pytestmark = pytest.mark.e2e

# A tick every 0.2 s on stdout, and one red line on stderr at the start.
TICKER = r'''FROM busybox
CMD ["sh", "-c", "printf '\\033[31mstarting in red\\033[0m\\n' >&2; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.2; done"]
'''


def points(page, chart: str) -> int:
    return int(page.get_attribute(f"[data-chart={chart}]", "data-points"))


def ticks(page) -> list[int]:
    return [int(n) for n in re.findall(r"(?:^|\s)tick-(\d+)$", page.inner_text("#log"), re.M)]


def wait_until(what: str, check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_charts_history_reconnect_and_the_log_tools(page, stack, tmp_path):
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "ticker", TICKER, "")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    container_url = page.url

    # Charts draw a new point each second.
    wait_until("the first points", lambda: points(page, "cpu") >= 2)
    seen = [points(page, "cpu")]
    for _ in range(3):
        wait_until("a new point", lambda: points(page, "cpu") > seen[-1], timeout=3)
        seen.append(points(page, "cpu"))
    assert page.locator("[data-chart=cpu] canvas").count() >= 1

    # A reload brings the history back at once, not only what comes after it.
    before = points(page, "mem")
    page.reload()
    wait_until("the history", lambda: points(page, "mem") >= before, timeout=5)

    # The server drops every websocket (a restart); the page reconnects from its last line.
    wait_until("some ticks", lambda: len(ticks(page)) >= 5)
    stack.restart_web()
    wait_until("the reconnect", lambda: page.evaluate("+document.body.dataset.connects") >= 2, timeout=30)
    last = max(ticks(page))
    wait_until("ticks after the reconnect", lambda: max(ticks(page)) >= last + 10)
    numbers = ticks(page)
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), "a line was lost or shown twice"

    # stderr is told apart, and ANSI colours are drawn, not printed as escape codes.
    red = page.locator("#log .line.stderr", has_text="starting in red")
    assert "\x1b" not in red.inner_text() and "[31m" not in red.inner_text()
    assert "color" in red.locator("span[style]").first.get_attribute("style")

    # Timestamps on and off.
    assert not page.locator("#log time").first.is_visible()
    page.check("[data-log=timestamps]")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", page.locator("#log time").first.inner_text())

    # Search shows matching lines only; clearing it shows them all again.
    page.fill("[data-log=search]", "tick-3")
    wait_until("the search", lambda: page.inner_text("#log").strip() != "" and
               all("tick-3" in line for line in page.inner_text("#log").strip().splitlines()))
    page.fill("[data-log=search]", "")
    wait_until("all lines back", lambda: len(ticks(page)) > 10)

    # Pause holds the view still while lines keep coming; follow draws them all.
    page.uncheck("[data-log=follow]")
    held = len(ticks(page))
    time.sleep(1)
    assert len(ticks(page)) == held
    page.check("[data-log=follow]")
    wait_until("the held lines", lambda: len(ticks(page)) > held + 3)

    # The download is the whole log, with times and streams.
    download = page.request.get(container_url + "log/")
    assert download.ok and "attachment" in download.headers["content-disposition"]
    text = download.text()
    assert re.search(r"^\S+ stdout tick-1$", text, re.M) and " stderr " in text

    page.click("button:text-is('Stop')")
    page.wait_for_selector("#status >> text=exited")
    page.click("button:text-is('Remove')")
    page.wait_for_selector("#status >> text=removed")
