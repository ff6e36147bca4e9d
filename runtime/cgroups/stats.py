"""Pure parsers for cgroup v1 and v2 statistics files (no I/O here).

Each parser takes ``files``: interface file name (``"memory.stat"``) -> its text,
exactly as read from the kernel. A missing key means the kernel did not offer the
file (controller not mounted/enabled, older kernel); the matching field becomes
None, or 0 for the always-meaningful counters.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

# v1 reports "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE, i.e. LONG_MAX rounded
# down to a page: 9223372036854771712 with 4 KiB pages, a different number with
# 16/64 KiB pages. Anything this large cannot be a real limit.
_V1_UNLIMITED = 1 << 62


@dataclass(frozen=True)
class CgroupStats:
    cpu_usage_ns: int = 0
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None
    cpu_throttled_ns: int | None = None
    memory_usage: int = 0
    memory_working_set: int = 0
    memory_rss: int = 0
    memory_cache: int = 0
    memory_limit: int | None = None
    memory_swap_usage: int | None = None
    oom_kills: int | None = None
    pids_current: int | None = None
    pids_limit: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    cpu_quota_cores: float | None = None


# --- small generic parsers ------------------------------------------------------

def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def parse_single(text: str | None) -> int | None:
    """A one-value file ("12345\\n"). "max" (v2 unlimited) and "" give None."""
    if text is None:
        return None
    value = text.strip()
    if not value or value == "max":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def parse_flat(text: str | None) -> dict[str, int]:
    """A flat keyed file: one "key value" pair per line (memory.stat, cpu.stat)."""
    words = (text or "").split()
    if len(words) == 2 * len((text or "").splitlines()):
        # The usual case, done in C: every line a key and an integer.
        try:
            return dict(zip(words[::2], map(int, words[1::2])))
        except ValueError:
            pass
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            value = _number(parts[1])
            if isinstance(value, int):
                out[parts[0]] = value
    return out


def parse_nested(text: str | None) -> dict[str, dict[str, int | float]]:
    """A nested keyed file: "8:0 rbytes=1 wbytes=2" per device (io.stat).

    Walks tokens rather than lines: the kernel prints "MAJ:MIN " before checking
    whether a device has any stats and emits the newline only when it did, so idle
    devices run together ("7:7 7:6 7:4 rbytes=..."). Each MAJ:MIN token opens a
    new entry; key=value pairs belong to the last one seen.
    """
    out: dict[str, dict[str, int | float]] = {}
    current: dict[str, int | float] | None = None
    for token in (text or "").split():
        if "=" in token:
            key, _, raw = token.partition("=")
            value = _number(raw)
            if current is not None and value is not None:
                current[key] = value
        else:
            current = out.setdefault(token, {})
    return out


def parse_blkio(text: str | None) -> dict[str, int]:
    """v1 blkio "MAJ:MIN Op bytes" lines, summed per Op over devices.

    The trailing "Total N" line has no device column and is skipped, so it is
    never counted twice.
    """
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            out[parts[1]] = out.get(parts[1], 0) + int(parts[2])
    return out


# --- v1 -------------------------------------------------------------------------

def _v1_limit(text: str | None) -> int | None:
    value = parse_single(text)
    if value is None or value < 0 or value >= _V1_UNLIMITED:
        return None
    return value


def _v1_quota(files: Mapping[str, str]) -> float | None:
    quota = parse_single(files.get("cpu.cfs_quota_us"))
    period = parse_single(files.get("cpu.cfs_period_us"))
    # -1 is CFS's "no quota"; a zero period is impossible but must not divide.
    if quota is None or quota < 0 or not period:
        return None
    return quota / period


def _v1_io(files: Mapping[str, str]) -> tuple[int | None, int | None]:
    # blk-throttle accounts bios whatever I/O scheduler runs, so prefer it. It
    # can still hold no device rows (just "Total 0"), e.g. when the throttle
    # layer saw nothing for this group; then use the CFQ/BFQ scheduler's file.
    for name in ("blkio.throttle.io_service_bytes", "blkio.io_service_bytes_recursive"):
        ops = parse_blkio(files.get(name))
        if ops:
            return ops.get("Read", 0), ops.get("Write", 0)
    present = any(n in files for n in ("blkio.throttle.io_service_bytes",
                                       "blkio.io_service_bytes_recursive"))
    return (0, 0) if present else (None, None)


def parse_v1(files: Mapping[str, str]) -> CgroupStats:
    mem = parse_flat(files.get("memory.stat"))
    cpu = parse_flat(files.get("cpu.stat"))
    usage = parse_single(files.get("memory.usage_in_bytes")) or 0
    # total_* include descendants, matching usage_in_bytes (which is hierarchical).
    inactive = mem.get("total_inactive_file", mem.get("inactive_file", 0))
    throttled_time = cpu.get("throttled_time")  # already nanoseconds in v1
    read, write = _v1_io(files)
    return CgroupStats(
        cpu_usage_ns=parse_single(files.get("cpuacct.usage")) or 0,
        cpu_periods=cpu.get("nr_periods"),
        cpu_throttled_periods=cpu.get("nr_throttled"),
        cpu_throttled_ns=throttled_time,
        memory_usage=usage,
        memory_working_set=max(0, usage - inactive),
        memory_rss=mem.get("total_rss", mem.get("rss", 0)),
        memory_cache=mem.get("total_cache", mem.get("cache", 0)),
        memory_limit=_v1_limit(files.get("memory.limit_in_bytes")),
        # memory.stat only shows swap when swap accounting is on; memsw.usage
        # minus usage is no substitute, both are batched per-CPU and drift apart.
        memory_swap_usage=mem.get("total_swap", mem.get("swap")),
        # The oom_kill line appeared in kernel 4.13; older kernels give None.
        oom_kills=parse_flat(files.get("memory.oom_control")).get("oom_kill"),
        pids_current=parse_single(files.get("pids.current")),
        pids_limit=parse_single(files.get("pids.max")),
        io_read_bytes=read,
        io_write_bytes=write,
        cpu_quota_cores=_v1_quota(files),
    )


# --- v2 -------------------------------------------------------------------------

def _v2_quota(text: str | None) -> float | None:
    parts = (text or "").split()
    # cpu.max is "$QUOTA $PERIOD" in microseconds; "max" means no quota.
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if period > 0 else None


def _v2_io(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    devices = parse_nested(text).values()
    read = sum(int(d.get("rbytes", 0)) for d in devices)
    write = sum(int(d.get("wbytes", 0)) for d in devices)
    return read, write


def _usec_to_ns(value: int | None) -> int | None:
    return None if value is None else value * 1000


def parse_v2(files: Mapping[str, str]) -> CgroupStats:
    mem = parse_flat(files.get("memory.stat"))
    cpu = parse_flat(files.get("cpu.stat"))
    usage = parse_single(files.get("memory.current")) or 0
    read, write = _v2_io(files.get("io.stat"))
    events = files.get("memory.events")
    return CgroupStats(
        # usage_usec is always present in cpu.stat, even with no cpu controller.
        cpu_usage_ns=_usec_to_ns(cpu.get("usage_usec")) or 0,
        cpu_periods=cpu.get("nr_periods"),
        cpu_throttled_periods=cpu.get("nr_throttled"),
        cpu_throttled_ns=_usec_to_ns(cpu.get("throttled_usec")),
        memory_usage=usage,
        memory_working_set=max(0, usage - mem.get("inactive_file", 0)),
        memory_rss=mem.get("anon", 0),
        memory_cache=mem.get("file", 0),
        memory_limit=parse_single(files.get("memory.max")),
        memory_swap_usage=parse_single(files.get("memory.swap.current")),
        oom_kills=None if events is None else parse_flat(events).get("oom_kill"),
        pids_current=parse_single(files.get("pids.current")),
        pids_limit=parse_single(files.get("pids.max")),
        io_read_bytes=read,
        io_write_bytes=write,
        cpu_quota_cores=_v2_quota(files.get("cpu.max")),
    )


# --- rates between two samples --------------------------------------------------

def cpu_percent(prev: CgroupStats, cur: CgroupStats, elapsed_ns: int) -> float:
    """CPU use over the interval in percent of one core (200.0 = two full cores).

    A negative delta means the counter restarted (the cgroup was recreated, e.g.
    container restart); report 0 rather than a nonsense negative figure.
    """
    if elapsed_ns <= 0:
        return 0.0
    delta = cur.cpu_usage_ns - prev.cpu_usage_ns
    return max(0, delta) / elapsed_ns * 100.0


def rate_per_second(prev: int | None, cur: int | None, elapsed_ns: int) -> float | None:
    """Per-second rate of a monotonic counter; None when either side is unknown."""
    if prev is None or cur is None:
        return None
    if elapsed_ns <= 0:
        return 0.0
    return max(0, cur - prev) * 1e9 / elapsed_ns


def io_rates(prev: CgroupStats, cur: CgroupStats,
             elapsed_ns: int) -> tuple[float | None, float | None]:
    """(read, write) bytes per second over the interval."""
    return (rate_per_second(prev.io_read_bytes, cur.io_read_bytes, elapsed_ns),
            rate_per_second(prev.io_write_bytes, cur.io_write_bytes, elapsed_ns))


def throttled_ratio(prev: CgroupStats, cur: CgroupStats) -> float | None:
    """Share of CFS periods in the interval in which the cgroup was throttled."""
    if None in (prev.cpu_periods, cur.cpu_periods,
                prev.cpu_throttled_periods, cur.cpu_throttled_periods):
        return None
    periods = cur.cpu_periods - prev.cpu_periods
    if periods <= 0:
        return 0.0
    throttled = max(0, cur.cpu_throttled_periods - prev.cpu_throttled_periods)
    return min(1.0, throttled / periods)


def memory_percent(stats: CgroupStats) -> float | None:
    """Working set as a percent of the limit; None when there is no limit."""
    if not stats.memory_limit:
        return None
    return stats.memory_working_set / stats.memory_limit * 100.0
