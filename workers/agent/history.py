"""Per-minute summaries of each container's stats samples, for the long history.

The sampler hands every sample to a ``Minutes``; when a sample falls into a new
UTC minute, the finished minute's summary per container is returned, to be sent
to the control worker, which keeps them after the container is gone. Pure: no
I/O here, so a restart loses at most the minute in progress.
"""
from __future__ import annotations

from dataclasses import dataclass, field

AVERAGED = ("cpu", "mem", "pids", "net_rx", "net_tx", "io_read", "io_write")
PEAKS = {"cpu_max": "cpu", "mem_max": "mem"}
SUMMED = ("throttled_periods", "throttled_ms")
LAST = ("mem_limit", "oom_kills")


@dataclass
class _Minute:
    samples: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def add(self, figures: dict) -> None:
        self.samples += 1
        for name in AVERAGED + SUMMED:
            self.sums[name] = self.sums.get(name, 0) + figures.get(name, 0)
        for name, source in PEAKS.items():
            self.peaks[name] = max(self.peaks.get(name, 0), figures.get(source, 0))
        for name in LAST:
            self.last[name] = figures.get(name, 0)

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {"samples": self.samples}
        out.update({name: round(self.sums[name] / self.samples, 2) for name in AVERAGED})
        out.update({name: round(self.sums[name], 2) for name in SUMMED})
        out.update(self.peaks)
        out.update(self.last)
        return out


class Minutes:
    """Collects samples of the current minute; returns the previous one when it ends."""

    def __init__(self) -> None:
        self.minute: int | None = None
        self.containers: dict[str, _Minute] = {}

    def add(self, container_id: int, figures: dict) -> tuple[int, dict[str, dict]] | None:
        """Add one sample (``figures["t"]`` in ms); a finished (minute, summaries) or None."""
        minute = int(figures["t"] // 60_000) * 60
        finished = None
        if self.minute is not None and minute > self.minute:
            finished = self.flush()
        if self.minute is None or minute > self.minute:
            self.minute = minute
        if minute == self.minute:  # a sample from a past minute (clock stepped back) is dropped
            self.containers.setdefault(str(container_id), _Minute()).add(figures)
        return finished

    def flush(self) -> tuple[int, dict[str, dict]] | None:
        """The minute in progress, summed up, and a fresh start; None when it is empty."""
        minute, containers = self.minute, self.containers
        self.minute, self.containers = None, {}
        if minute is None or not containers:
            return None
        return minute, {cid: m.summary() for cid, m in containers.items()}
