"""Per-minute summaries: what the agent sends the control worker for the long history."""
from __future__ import annotations

import base64
import json
import threading
import time

from workers import contracts
from workers.config import CONTROL_QUEUE
from workers.agent.history import Minutes
from workers.agent.loops import Sampler

from .. import shipping

MINUTE_MS = 60_000


def figures(t_ms: int, **values) -> dict:
    base = {"t": t_ms, "cpu": 0, "mem": 0, "pids": 0, "net_rx": 0, "net_tx": 0, "io_read": 0, "io_write": 0,
            "throttled_periods": 0, "throttled_ms": 0, "mem_limit": 64 << 20, "oom_kills": 0}
    base.update(values)
    return base


def test_a_minute_is_summed_up_when_the_next_one_starts():
    minutes = Minutes()
    start = 1_800_000 * MINUTE_MS
    assert minutes.add(7, figures(start + 1000, cpu=40, mem=100, throttled_periods=3)) is None
    assert minutes.add(7, figures(start + 2000, cpu=60, mem=300, throttled_periods=2, oom_kills=1)) is None
    assert minutes.add(8, figures(start + 2000, cpu=10)) is None
    minute, summary = minutes.add(7, figures(start + MINUTE_MS + 5, cpu=99))
    assert minute == start // 1000
    assert summary["7"] == {"samples": 2, "cpu": 50.0, "mem": 200.0, "pids": 0.0, "net_rx": 0.0, "net_tx": 0.0,
                            "io_read": 0.0, "io_write": 0.0, "throttled_periods": 5, "throttled_ms": 0,
                            "cpu_max": 60, "mem_max": 300, "mem_limit": 64 << 20, "oom_kills": 1}
    assert summary["8"]["cpu"] == 10.0 and summary["8"]["samples"] == 1
    minute, summary = minutes.flush()  # the new minute holds only its own sample
    assert minute == start // 1000 + 60 and list(summary) == ["7"]
    assert summary["7"]["samples"] == 1 and summary["7"]["cpu"] == 99.0


def test_a_sample_from_an_earlier_minute_is_dropped_not_mixed_in():
    minutes = Minutes()
    start = 1_800_000 * MINUTE_MS
    minutes.add(1, figures(start + MINUTE_MS, cpu=10))
    assert minutes.add(1, figures(start + 10, cpu=90)) is None  # the clock stepped back
    assert minutes.flush()[1]["1"]["cpu"] == 10.0
    assert minutes.flush() is None  # nothing since


def test_the_sampler_sends_a_finished_minute_to_the_control_queue(agent):
    ctx, made = agent
    info = shipping.start(ctx, "sleep 60", 301)
    made.append(info.id)
    sampler = Sampler(ctx, threading.Event())
    sampler.tick()  # the baseline reading
    time.sleep(0.3)
    last_minute = (int(time.time()) // 60 - 1) * 60
    sampler.minutes.add(301, figures(last_minute * 1000 + 500, cpu=12.5))  # as if sampled a minute ago
    sampler.tick()

    # Read the Celery message off the real broker, as the control worker would get it.
    messages = [json.loads(raw) for raw in ctx.redis.lrange(CONTROL_QUEUE, 0, -1)]
    sent = [m for m in messages if m["headers"]["task"] == contracts.CONTROL_STATS_MINUTE]
    assert len(sent) == 1, "one stats_minute message on the control queue"
    args = json.loads(base64.b64decode(sent[0]["body"]))[0]
    assert args[0] == ctx.host and args[1] == last_minute
    assert args[2]["301"]["cpu"] == 12.5 and args[2]["301"]["samples"] == 1
