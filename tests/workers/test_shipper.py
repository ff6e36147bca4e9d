"""The agent's log shipper against a real container, a real log file and the real Redis."""
from __future__ import annotations

import threading
import time

import pytest

from workers.agent.loops import Shipper

from .. import shipping


def ship_while_running(ctx, script: str, container_id: int):
    info = shipping.start(ctx, script, container_id)
    shipping.ship_until_done(ctx, info.id)
    return info.id, shipping.shipped_lines(ctx, container_id)


@pytest.mark.log_cap(64 * 1024)
def test_lines_keep_coming_after_the_log_file_is_truncated_at_its_cap(agent):
    ctx, made = agent
    script = ("i=0; while [ $i -lt 4000 ]; do echo line-$i-padding-padding-padding-padding; i=$((i+1)); done; "
              "sleep 0.5; echo after-truncation")
    cid, lines = ship_while_running(ctx, script, 101)
    made.append(cid)
    assert lines[-1] == "after-truncation"
    numbers = [int(line.split("-")[1]) for line in lines if line.startswith("line-")]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)  # in order, none twice


def test_a_long_line_a_last_line_without_newline_and_bad_utf8_arrive(agent):
    ctx, made = agent
    script = r"head -c 65536 /dev/zero | tr '\0' x; echo; printf '\377\376bad\n'; printf 'no newline'"
    cid, lines = ship_while_running(ctx, script, 102)
    made.append(cid)
    assert [len(line) for line in lines[:1]] == [65536] and set(lines[0]) == {"x"}  # conmon splits it into partial records; they are joined back
    assert lines[1] == "\ufffd\ufffdbad"
    assert lines[2] == "no newline"


def test_an_agent_killed_before_saving_its_position_ships_no_line_twice(agent):
    """The position file lags the stream, as when the agent dies between the two writes."""
    ctx, made = agent
    info = shipping.start(ctx, "for i in 1 2 3; do echo first-$i; done; sleep 1; echo second", 103)
    made.append(info.id)
    first = Shipper(ctx, threading.Event())
    deadline = time.monotonic() + 10
    while shipping.shipped_lines(ctx, 103)[:3] != ["first-1", "first-2", "first-3"]:
        assert time.monotonic() < deadline, "the first lines were never shipped"
        first.tick()
    (first.positions / info.id).write_text("0")  # the position it saved before shipping
    shipping.ship_until_done(ctx, info.id)  # a new agent: a fresh Shipper
    assert shipping.shipped_lines(ctx, 103) == ["first-1", "first-2", "first-3", "second"]
