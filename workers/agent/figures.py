"""What one stats sample shows: the figures of ``docker stats`` and a few it lacks,
computed from two readings of a container's cgroup and network counters.

Pure: readings in, a flat dict of numbers out: rates and levels for the charts, and
running totals for counters.
"""
from __future__ import annotations

from runtime.cgroups.stats import CgroupStats, cpu_percent, io_rates, rate_per_second


def _delta(prev: int | None, cur: int | None) -> int:
    if prev is None or cur is None:
        return 0
    return max(0, cur - prev)


def sample(prev: CgroupStats, cur: CgroupStats, elapsed_ns: int,
           traffic_prev: tuple[int, int] | None, traffic_cur: tuple[int, int] | None,
           wall_ms: int) -> dict[str, int | float]:
    cpu = cpu_percent(prev, cur, elapsed_ns)  # of one core, as docker stats shows it
    read_rate, write_rate = io_rates(prev, cur, elapsed_ns)
    rx_rate = tx_rate = 0.0
    if traffic_prev and traffic_cur:
        rx_rate = rate_per_second(traffic_prev[0], traffic_cur[0], elapsed_ns) or 0.0
        tx_rate = rate_per_second(traffic_prev[1], traffic_cur[1], elapsed_ns) or 0.0
    return {
        "t": wall_ms,
        "cpu": round(cpu, 2),
        # Of the container's own CPU limit, so a container held at its quota shows 100.
        "cpu_of_limit": round(cpu / cur.cpu_quota_cores, 2) if cur.cpu_quota_cores else 0,
        "mem": cur.memory_working_set,
        "mem_limit": cur.memory_limit or 0,
        "rss": cur.memory_rss,
        "cache": cur.memory_cache,
        "pids": cur.pids_current or 0,
        "pids_limit": cur.pids_limit or 0,
        "net_rx": round(rx_rate),
        "net_tx": round(tx_rate),
        "io_read": round(read_rate or 0),
        "io_write": round(write_rate or 0),
        "throttled_periods": _delta(prev.cpu_throttled_periods, cur.cpu_throttled_periods),
        "throttled_ms": round(_delta(prev.cpu_throttled_ns, cur.cpu_throttled_ns) / 1e6, 1),
        "oom_kills": cur.oom_kills or 0,
        # Running totals, for counters (Prometheus' rate() wants totals, not rates).
        "cpu_seconds_total": round(cur.cpu_usage_ns / 1e9, 6),
        "net_rx_total": traffic_cur[0] if traffic_cur else 0,
        "net_tx_total": traffic_cur[1] if traffic_cur else 0,
        "io_read_total": cur.io_read_bytes or 0,
        "io_write_total": cur.io_write_bytes or 0,
        "throttled_periods_total": cur.cpu_throttled_periods or 0,
        "throttled_seconds_total": round((cur.cpu_throttled_ns or 0) / 1e9, 6),
    }
