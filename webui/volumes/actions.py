"""Writes on volumes: create, remove (asked of the volume's host), and the host's answer."""
from __future__ import annotations

from django.db import transaction

from webui.audit.log import record
from webui.containers.models import Container
from webui.core.access import can_write
from webui.core.errors import UserError, message_for
from workers import client, contracts

from . import mounts as mount_specs
from .models import Volume


def create_volume(user, team, name: str) -> Volume:
    if not can_write(user, team):
        raise UserError("Viewers cannot create volumes.")
    if team.volumes.filter(name=name).exists():
        raise UserError(f"The team already has a volume named “{name}”.")
    volume = Volume.objects.create(team=team, name=name, created_by=user)
    record(user, team, "volume.create", volume)
    return volume


def remove_volume(user, volume: Volume) -> bool:
    """Remove the volume: at once if no host has its files yet, else ask that host, which
    refuses while any container (running or not) uses it. True when removed already."""
    if not can_write(user, volume.team):
        raise UserError("Viewers cannot remove volumes.")
    if volume.removing:
        raise UserError(f"Volume {volume.name} is being removed already.")
    record(user, volume.team, "volume.remove", volume, host=volume.host.name if volume.host else None)
    if volume.host is None:
        volume.delete()
        return True
    Volume.objects.filter(id=volume.id).update(removing=True, error="")
    host, runtime_name = volume.host.name, volume.runtime_name
    transaction.on_commit(lambda: client.queue_remove_volume(host, volume.id, runtime_name))
    return False


@transaction.atomic
def record_volume_event(volume_id: int, event: dict) -> None:
    volume = Volume.objects.select_for_update().filter(id=volume_id).first()
    if volume is None:
        return  # a repeated answer: removed already
    if event.get("removed"):
        volume.delete()
        return
    volume.removing, volume.error = False, _refusal(volume, event)
    volume.save(update_fields=["removing", "error"])


def _refusal(volume: Volume, event: dict) -> str:
    """The host's reason in the team's words: its containers by name, not by runtime ID."""
    users = event.get("users")
    if not users:
        return message_for(event.get("error")).replace(volume.runtime_name, volume.name) or \
            "The host refused to remove the volume."
    ids = [int(u) for u in users if str(u).isdigit()]
    names = [c.name for c in Container.objects.filter(id__in=ids, app__team=volume.team).select_related("app")]
    others = len(users) - len(names)
    if others:
        names.append(f"{others} container(s) started on the host outside Berth's web")
    return f"Volume {volume.name} is in use by {', '.join(names)}: remove them first (stopped ones too)."


def mounts_for_run(app, host) -> list[str]:
    """The app's mounts as the host's runtime takes them (``team<id>-NAME:/path[:ro]``), each
    named volume checked and placed on ``host`` if it is on none yet. Call inside the run's
    transaction."""
    specs = []
    for mount in mount_specs.parse("\n".join(app.volumes)):
        if mount.is_host_path:
            specs.append(str(mount))
            continue
        volume = _volume_on(app.team, mount.source, host)
        specs.append(str(mount_specs.Mount(volume.runtime_name, mount.destination, mount.readonly)))
    return specs


def _volume_on(team, name: str, host) -> Volume:
    volume = Volume.objects.select_for_update().filter(team=team, name=name).first()
    if volume is None or volume.removing:
        raise UserError(f"The app mounts volume “{name}”, which the team no longer has: change the app's "
                        "settings or create the volume again.")
    if volume.host_id is None:
        volume.host = host
        volume.save(update_fields=["host"])
    elif volume.host_id != host.id:
        raise UserError(f"Volume {name} has its files on host {volume.host.name}, but this app's image is on "
                        f"{host.name}: a volume is used on one host only.")
    return volume


def team_volumes(team) -> list[tuple[Volume, list]]:
    """Each volume of the team with the containers (not removed) that mount it."""
    containers = list(Container.objects.filter(app__team=team).exclude(status=contracts.C_REMOVED)
                      .select_related("app"))
    return [(volume, [c for c in containers if volume.name in _sources(c.volumes)])
            for volume in team.volumes.select_related("host")]


def _sources(specs: list[str]) -> set[str]:
    return {mount.source for mount in mount_specs.parse("\n".join(specs))}
