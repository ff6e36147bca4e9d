"""A team's quotas: what it uses of each, and the refusals of what would pass one.

Every refusal names the quota, its limit and the team's current use, in one shape:
"Quota exceeded: <quota> — <use> of <limit>...". The callers hold the team's quota row
locked (``locked``) while they check and save, so two requests at once cannot both
slip under a limit.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from webui.containers.models import Container
from webui.core.errors import UserError
from webui.images.models import Build
from workers import contracts

from .models import Quota

MB = 1024 * 1024


def quota_of(team) -> Quota:
    """The team's quota. A team made in the admin with its quota left as offered has no row
    yet: it gets one now, with the defaults for new teams."""
    return Quota.objects.get_or_create(team_id=team.id)[0]


def locked(team) -> Quota:
    """The team's quota row, locked until the transaction ends: the lock that serialises a
    team's quota checks (on SQLite the IMMEDIATE transaction already serialises writers)."""
    quota_of(team)
    return Quota.objects.select_for_update().get(team_id=team.id)


def holding(team):
    return Container.objects.filter(app__team=team, status__in=contracts.C_HOLDING)


def builds_in_flight(team) -> int:
    return Build.objects.filter(app__team=team, status__in=contracts.BUILD_IN_FLIGHT).count()


def image_storage_bytes(team) -> int:
    """The sizes of the team's images still on hosts; an image a cached rebuild made again
    (the same image ID on the same host) is stored once, so it counts once."""
    images = (Build.objects.filter(app__team=team, status=contracts.BUILD_SUCCEEDED, image_removed=False,
                                   image_size__isnull=False)
              .values_list("host_id", "image_id", "image_size"))
    return sum({(host, image): size for host, image, size in images}.values())


def host_port(mapping: str) -> int:
    """The host port of ``[ADDRESS:]HOST:CONTAINER/PROTO``."""
    return int(mapping.partition("/")[0].split(":")[-2])


def ports_outside(quota: Quota, ports: list[str]) -> list[str]:
    return [p for p in ports if not quota.port_min <= host_port(p) <= quota.port_max]


def port_refusal(quota: Quota, mapping: str) -> str:
    proto = mapping.partition("/")[2] or "tcp"
    return (f"Quota exceeded: host port range — host port {host_port(mapping)}/{proto} is outside the team's "
            f"range {quota.port_min}-{quota.port_max}.")


def check_run(team, quota: Quota, container: Container) -> None:
    """``container``: about to start, not saved yet, with the limits and ports it runs with."""
    held = holding(team)
    count = held.count()
    if count + 1 > quota.max_containers:
        raise UserError(f"Quota exceeded: running containers — the team runs {count} of its "
                        f"{quota.max_containers} containers.")
    figures = held.aggregate(memory=Sum("memory_mb", default=0), cpus=Sum("cpus", default=0.0))
    memory, cpus = figures["memory"], figures["cpus"] or 0.0
    if memory + container.memory_mb > quota.max_memory_mb:
        raise UserError(f"Quota exceeded: total memory — the team's containers hold {memory} MB of its "
                        f"{quota.max_memory_mb} MB; this one asks for {container.memory_mb} MB more.")
    asked = container.cpus or 0
    if round(cpus + asked, 6) > quota.max_cpus:  # rounded: 0.1 + 0.2 is not more than 0.3 here
        raise UserError(f"Quota exceeded: total CPUs — the team's containers hold {cpus:g} of its "
                        f"{quota.max_cpus:g} CPUs; this one asks for {asked:g} more.")
    outside = ports_outside(quota, container.ports)
    if outside:
        raise UserError(port_refusal(quota, outside[0]))


def check_build(team, quota: Quota) -> None:
    """Before a build is queued: the team's builds in flight, and its images' storage (a
    build's size is known only once it is built, so the check is that the team is not at
    its limit already)."""
    count = builds_in_flight(team)
    if count + 1 > quota.max_builds:
        raise UserError(f"Quota exceeded: concurrent builds — the team has {count} of its {quota.max_builds} "
                        "builds queued or running.")
    stored = image_storage_bytes(team) / MB
    if stored >= quota.max_image_storage_mb:
        raise UserError(f"Quota exceeded: image storage — the team's images take {stored:.0f} MB of its "
                        f"{quota.max_image_storage_mb} MB. A build's size is known only once it is built, so "
                        "builds are refused once the team is at its limit: remove images on the team's Images page.")


def storage_notice(team) -> str:
    """What a successful build's page says when the team's images are at or over their quota:
    the image is kept, the next build is refused."""
    quota = quota_of(team)
    stored = image_storage_bytes(team) / MB
    if stored < quota.max_image_storage_mb:
        return ""
    return (f"The team's images now take {stored:.0f} MB of its {quota.max_image_storage_mb} MB image storage "
            "quota: this image is kept, but new builds are refused until images are removed on the team's "
            "Images page.")


@dataclass(frozen=True)
class Use:
    """One row of the team page's quota table, and of the API's answer."""
    quota: str     # as the refusals name it
    field: str     # the Quota field that sets the limit (port_min for the range)
    limit: object  # a number in ``unit``; for the port range, [lowest, highest]
    in_use: object  # a number in ``unit``; for the port range, the host ports the team publishes
    unit: str
    full: bool     # the next job that needs more of it is refused

    @property
    def limit_text(self) -> str:
        if self.field == "port_min":
            return f"{self.limit[0]}-{self.limit[1]}"
        return f"{self.limit:g} {self.unit}".strip()

    @property
    def in_use_text(self) -> str:
        if self.field == "port_min":
            return ", ".join(map(str, self.in_use)) or "no port published"
        if self.field == "max_builds":
            return f"{self.in_use} queued or running"
        return f"{self.in_use:g} {self.unit}".strip()


def usage(team) -> list[Use]:
    quota = quota_of(team)
    held = holding(team)
    figures = held.aggregate(memory=Sum("memory_mb", default=0), cpus=Sum("cpus", default=0.0))
    count, memory, cpus = held.count(), figures["memory"], round(figures["cpus"] or 0.0, 6)
    builds, stored = builds_in_flight(team), image_storage_bytes(team) / MB
    published = sorted({host_port(p) for c in held.only("ports") for p in c.ports})
    return [
        Use("running containers", "max_containers", quota.max_containers, count, "", count >= quota.max_containers),
        Use("total memory", "max_memory_mb", quota.max_memory_mb, memory, "MB", memory >= quota.max_memory_mb),
        Use("total CPUs", "max_cpus", quota.max_cpus, cpus, "CPUs", cpus >= quota.max_cpus),
        Use("concurrent builds", "max_builds", quota.max_builds, builds, "", builds >= quota.max_builds),
        Use("image storage", "max_image_storage_mb", quota.max_image_storage_mb, round(stored, 1), "MB",
            stored >= quota.max_image_storage_mb),
        Use("host port range", "port_min", [quota.port_min, quota.port_max], published, "", False),
    ]
