"""What only a browser shows: file inputs cleared on a form shown again (and what the form
keeps instead), chart legends and axis room, the Build options panel and the kill control,
and pages that fit a phone's width."""
from __future__ import annotations

import time

import pytest
from celery import Celery

from workers import config, contracts

from ..conftest import EXAMPLES
from .pages import built_app, log_in
from .test_live_view import wait_until
from .test_main_job import context_tar
from .test_overview import BUSY

pytestmark = pytest.mark.e2e
PHONE, WIDE = {"width": 390, "height": 844}, {"width": 1280, "height": 800}


def test_the_new_app_form_keeps_the_chosen_files_and_refuses_a_bad_dockerfile(page, stack, tmp_path):
    log_in(page, stack, "alice")
    page.goto(stack.url + "/apps/new/")
    page.fill("input[name=name]", "kept")
    page.set_input_files("input[name=dockerfile]", str(EXAMPLES / "hello-web" / "Dockerfile"))
    page.set_input_files("input[name=context]", context_tar(tmp_path))
    page.fill("input[name=ports]", "80")
    page.click("button[type=submit]")
    page.wait_for_selector("text=is not a port mapping")
    # The browser cleared both file inputs; the page says what it kept instead.
    assert page.eval_on_selector("input[name=dockerfile]", "e => e.files.length") == 0
    assert page.eval_on_selector("input[name=context]", "e => e.files.length") == 0
    assert "from your file Dockerfile is in this box" in page.inner_text("#kept-dockerfile")
    assert page.input_value("textarea[name=dockerfile_text]") == (EXAMPLES / "hello-web" / "Dockerfile").read_text()
    assert "hello-web.tar" in page.inner_text("#kept-context")

    page.fill("input[name=ports]", "")
    page.click("button[type=submit]")
    page.wait_for_url("**/apps/*/")
    page.click("button:text-is('Build')")
    page.wait_for_selector("#status >> text=succeeded")  # its COPY found index.html in the kept archive

    page.goto(stack.url + "/apps/new/")
    page.fill("input[name=name]", "mended")
    page.fill("textarea[name=dockerfile_text]", "FROM busybox\nRUNN true\n")
    page.click("button[type=submit]")
    assert "Dockerfile line 2: unknown instruction: RUNN (did you mean RUN?)" in page.inner_text(
        ".field:has(textarea[name=dockerfile_text]) .error")
    page.fill("textarea[name=dockerfile_text]", "FROM busybox\nRUN true\n")
    page.click("button[type=submit]")
    page.wait_for_url("**/apps/*/")


def send_minute(stack, container_id: int, net_rx: float) -> None:
    """One minute of the container as its agent sends it, with much received: a long label."""
    sender = Celery("e2e-sender", broker=stack.env["BERTH_REDIS_URL"])
    now = int(time.time())
    figures = {"samples": 60, "cpu": 12.0, "cpu_max": 20.0, "mem": 900e6, "mem_max": 950e6, "mem_limit": 1e9,
               "pids": 2, "net_rx": net_rx, "net_tx": 10.0, "io_read": 0, "io_write": 0, "throttled_periods": 0,
               "throttled_ms": 0, "oom_kills": 0}
    sender.send_task(contracts.CONTROL_STATS_MINUTE, args=[stack.host, now - now % 60 - 180,
                                                           {str(container_id): figures}], queue=config.CONTROL_QUEUE)
    sender.close()


# For each chart: its longest value label as drawn, its width in the axis font, and the room
# the axis leaves left of the plot area.
AXIS_ROOM = """tile => {
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
  const label = tile.dataset.yLabel || '';
  return {label, width: ctx.measureText(label).width, room: tile.querySelector('.u-over').offsetLeft};
}"""


def test_charts_name_their_lines_and_have_room_for_their_labels(page, stack, tmp_path):
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "charted", BUSY, "")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    container_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    send_minute(stack, container_id, net_rx=900 * 1024)
    wait_until("the minute recorded", lambda: stack.query(
        "SELECT count(*) FROM history_containerminute WHERE container_id = ?", container_id)[0][0] >= 1, timeout=30)
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        page.reload()
        wait_until("the history drawn", lambda: int(page.get_attribute("[data-history=c_net]", "data-points")) >= 1)
        legends = {name: page.locator(f"[data-history={name}] .u-legend .u-series").all_inner_texts()
                   for name in ("c_cpu", "c_mem", "c_net")}
        assert [text.strip() for text in legends["c_mem"]] == ["working set", "peak", "limit"]
        assert [text.strip() for text in legends["c_net"]] == ["received", "sent"]
        assert [text.strip() for text in legends["c_cpu"]] == ["CPU % (average)", "peak"]
        wait_until("the live charts drawn", lambda: page.get_attribute("[data-chart=mem]", "data-y-label"))
        assert [t.strip() for t in page.locator("[data-chart=mem] .u-legend .u-series").all_inner_texts()] == [
            "working set", "RSS", "cache"]
        net = page.eval_on_selector("[data-history=c_net]", AXIS_ROOM)
        assert "KB/s" in net["label"], net  # a long label, like "800.0 KB/s"
        for tile in page.query_selector_all("[data-history], [data-chart]"):
            axis = tile.evaluate(AXIS_ROOM)
            assert axis["room"] >= axis["width"] + 10, f"{tile.get_attribute('data-history')}: {axis}"
            # The plot stays inside its tile, the last time label included.
            box, plot = tile.bounding_box(), tile.query_selector(".uplot").bounding_box()
            assert plot["x"] + plot["width"] <= box["x"] + box["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]


def test_the_build_options_open_below_the_button_and_the_kill_control_is_one_piece(page, stack, tmp_path):
    page.set_viewport_size(WIDE)
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "tidy", BUSY, "")
    run = page.locator("button:text-is('Run')").bounding_box()
    page.click("summary:text-is('Options')")
    panel = page.locator("#build-options-panel").bounding_box()
    build = page.locator(".build-form > button:text-is('Build')").bounding_box()
    assert page.locator("#build-options-panel").is_visible()
    assert page.locator("button:text-is('Run')").bounding_box() == run  # the row is not pushed about
    assert panel["y"] >= build["y"] + build["height"]
    assert panel["x"] + panel["width"] <= WIDE["width"]
    checkbox = page.locator("#build-options-panel input[name=no_cache]").bounding_box()
    assert checkbox["width"] < 30  # a checkbox, not stretched across the panel

    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    select, kill = page.locator("form.kill select").bounding_box(), page.locator("form.kill button").bounding_box()
    assert abs(select["x"] + select["width"] - kill["x"]) <= 1  # side by side, touching
    assert abs(select["y"] - kill["y"]) <= 1 and abs(select["height"] - kill["height"]) <= 1
    stop = page.locator("form.stop button").bounding_box()
    assert abs(stop["height"] - kill["height"]) <= 1 and abs(stop["y"] - kill["y"]) <= 1


def test_no_page_is_wider_than_a_phone(page, stack, tmp_path):
    log_in(page, stack, "alice")
    app_url = built_app(page, stack, tmp_path, "a-rather-long-application-name-for-a-phone", BUSY, "")
    build_url = stack.url + page.get_attribute("a:has-text('Build #')", "href")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    container_url = page.url
    team = stack.query("SELECT id FROM accounts_team WHERE name = 'alice'")[0][0]
    host = stack.query("SELECT id FROM hosts_host WHERE name = ?", stack.host)[0][0]
    pages = {"alice": ["/", app_url, build_url, container_url, "/teams/", f"/teams/{team}/", f"/teams/{team}/images/",
                       f"/teams/{team}/volumes/", f"/teams/{team}/members/", f"/teams/{team}/audit/",
                       "/account/tokens/", "/apps/new/", f"{app_url}settings/"],
             "admin": ["/hosts/", f"/hosts/{host}/", "/audit/", "/invitations/"]}
    page.set_viewport_size(PHONE)
    wider = []
    for user, urls in pages.items():
        log_in(page, stack, user)
        for url in urls:
            page.goto(url if url.startswith("http") else stack.url + url)
            page.wait_for_timeout(1000)  # live pages draw their tables and charts
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wider.append((url, width))
    assert wider == []
