"""Per-container series for Prometheus, named and labelled as cAdvisor names them, so
dashboards made for cAdvisor work on Berth; Berth adds its own team, app and host labels.

Values are the newest stats sample of each running container (workers/agent/figures.py):
running totals for counters, levels for gauges. prometheus_client writes the format.
"""
from __future__ import annotations

import json
import time

import redis
from django.conf import settings
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from webui.containers.models import Container
from workers import contracts, streams

LABELS = ["name", "id", "image", "team", "app", "host"]
# A running container whose newest sample is older than this has no live figures (its
# agent is down, say): it is left out, as cAdvisor leaves out a container it cannot read.
STALE_SECONDS = 60

# (cAdvisor's name, kind, help, field of the sample, extra labels)
SERIES = [
    ("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.",
     "cpu_seconds_total", {"cpu": "total"}),
    ("container_memory_working_set_bytes", "gauge", "Current working set in bytes.", "mem", {}),
    ("container_memory_rss", "gauge", "Size of RSS in bytes.", "rss", {}),
    ("container_memory_cache", "gauge", "Number of bytes of page cache memory.", "cache", {}),
    ("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.", "mem_limit", {}),
    ("container_network_receive_bytes_total", "counter", "Cumulative count of bytes received.",
     "net_rx_total", {"interface": "eth0"}),
    ("container_network_transmit_bytes_total", "counter", "Cumulative count of bytes transmitted.",
     "net_tx_total", {"interface": "eth0"}),
    ("container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read.", "io_read_total", {}),
    ("container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written.", "io_write_total", {}),
    ("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.",
     "throttled_periods_total", {}),
    ("container_cpu_cfs_throttled_seconds_total", "counter", "Total time duration the container has been throttled.",
     "throttled_seconds_total", {}),
    ("container_oom_events_total", "counter", "Count of out of memory events observed for the container.",
     "oom_kills", {}),
    ("container_processes", "gauge", "Number of processes running inside the container.", "pids", {}),
    ("container_spec_pids_limit", "gauge", "Pids limit of the container.", "pids_limit", {}),
]
CFS_PERIOD_US = 100_000  # runc's default CFS period, which Berth's CPU limits use


def _labels(container: Container) -> list[str]:
    app = container.app
    # cAdvisor's id is the cgroup path; the web does not know each host's cgroup parent, so
    # the id is the runtime's container ID (the cgroup's last part), unique and stable.
    image = container.build.image or container.build.image_id or app.image_name
    return [container.name, container.runtime_id, image, app.team.name, app.name, container.host.name]


def newest_samples(containers: list[Container]) -> dict[int, dict]:
    """The newest sample of each container, fetched in one round trip; stale ones left out."""
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        pipe = client.pipeline(transaction=False)
        for c in containers:
            pipe.xrevrange(streams.container_stats(c.id), count=1)
        answers = pipe.execute()
    finally:
        client.close()
    oldest_ms = (time.time() - STALE_SECONDS) * 1000
    samples = {}
    for container, entries in zip(containers, answers):
        if entries and int(entries[0][0].split("-")[0]) >= oldest_ms:
            samples[container.id] = json.loads(entries[0][1]["j"])
    return samples


class ContainerCollector:
    def __init__(self, containers: list[Container], samples: dict[int, dict]):
        self.containers, self.samples = containers, samples

    def _family(self, name, kind, help_text, extra):
        family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        return family(name, help_text, labels=LABELS + list(extra))

    def collect(self):
        live = [(c, self.samples[c.id]) for c in self.containers if c.id in self.samples]
        for name, kind, help_text, field, extra in SERIES:
            family = self._family(name, kind, help_text, extra)
            for container, sample in live:
                family.add_metric(_labels(container) + list(extra.values()), float(sample.get(field, 0)))
            yield family
        yield from self._specs(live)

    def _specs(self, live):
        quota = GaugeMetricFamily("container_spec_cpu_quota", "CPU quota of the container.", labels=LABELS)
        period = GaugeMetricFamily("container_spec_cpu_period", "CPU period of the container.", labels=LABELS)
        seen = GaugeMetricFamily("container_last_seen", "Last time a container was seen by the exporter",
                                 labels=LABELS)
        for container, sample in live:
            if container.cpus:
                quota.add_metric(_labels(container), round(container.cpus * CFS_PERIOD_US))
                period.add_metric(_labels(container), CFS_PERIOD_US)
            seen.add_metric(_labels(container), sample.get("t", 0) / 1000)
        yield from (quota, period, seen)


def render() -> bytes:
    containers = list(Container.objects.filter(status=contracts.C_RUNNING)
                      .select_related("app", "app__team", "host", "build").order_by("id"))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ContainerCollector(containers, newest_samples(containers)))
    return generate_latest(registry)
