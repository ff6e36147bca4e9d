"""Writes on containers: run, stop, kill, restart, remove, exec, and the events agents report."""
from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from webui.accounts import quotas
from webui.audit.log import record
from webui.core import live
from webui.core.access import can_write
from webui.core.errors import UserError, message_for
from webui.hosts import placement
from webui.images.models import App
from webui.volumes.actions import mounts_for_run
from workers import client, contracts

from .listing import notify_tables
from .models import Container

def _check_quota(app: App, container: Container) -> None:
    """``container``: the one about to start, not saved yet, with the limits it runs with.
    The team's quota row stays locked until the caller's transaction ends."""
    quotas.check_run(app.team, quotas.locked(app.team), container)


def _host_port(mapping: str) -> str:
    """``[ADDRESS:]HOST:CONTAINER/PROTO`` to ``HOST/PROTO``."""
    return f"{quotas.host_port(mapping)}/{mapping.partition('/')[2]}"


def _check_ports(ports: list[str], host) -> None:
    wanted = {_host_port(p) for p in ports}
    for other in Container.objects.filter(host=host, status__in=contracts.C_HOLDING):
        taken = {_host_port(p) for p in other.ports}
        clash = wanted & taken
        if clash:
            port = sorted(clash)[0]
            # Another team's container is not named: only that the port is taken.
            raise UserError(f"Host port {port} is already published by another container on {host.name}.")


# What a run may set for itself (the API's and the CLI's Docker-style flags); the rest is the app's.
RUN_SETTINGS = ("ports", "memory_mb", "cpus", "pids_limit", "env", "restart_policy")


def run_job(container: Container, volumes: list[str]) -> dict:
    """The agent's job for a container, from what the container records (and its app's limits
    past those): a replacement started elsewhere gets the same job as the original did."""
    app, build = container.app, container.build

    def rate(mb_per_s):
        return None if mb_per_s is None else int(mb_per_s * 1024 * 1024)

    pids = container.pids_limit or app.pids_limit
    options = contracts.run_options(str(app.team_id), pids, app.cpuset_cpus, rate(app.network_in_mb),
                                    rate(app.network_out_mb), volumes, (app.log_size_max_mb or 0) * 1024 * 1024,
                                    container.network_mode)
    image = build.image or build.image_id
    if build.registry_ref and build.host_id != container.host_id:
        image = build.registry_ref  # built elsewhere: the host pulls it from the shared registry
    return contracts.run_job(container.id, container.runtime_id, image, container.ports,
                             container.memory_mb * 1024 * 1024, container.cpus, container.env, container.name,
                             restart=container.restart_policy, options=options)


def run_app(user, app: App, overrides: dict | None = None) -> Container:
    """Start a container of the app's newest good build; ``overrides``: RUN_SETTINGS values
    this run uses instead of the app's (already checked, as the app form checks them)."""
    build = app.last_good_build()
    if build is None:
        raise UserError("The app has no successful build yet: build it first.")
    settings = {name: getattr(app, name) for name in RUN_SETTINGS} | (overrides or {})
    container = _start(Container(app=app, build=build, volumes=app.volumes, network_mode=app.network_mode,
                                 created_by=user, **settings))
    record(user, app.team, "container.run", container, build=build.id, host=container.host.name)
    return container


def start_replacement(lost: Container) -> Container:
    """The same container again on another host: its host is gone, its restart policy says always."""
    twin = Container(app=lost.app, build=lost.build, volumes=lost.volumes, network_mode=lost.network_mode,
                     created_by=lost.created_by, replaces=lost, **{name: getattr(lost, name) for name in RUN_SETTINGS})
    return _start(twin, away_from=lost.host)


def _start(container: Container, away_from=None) -> Container:
    app = container.app
    with transaction.atomic():
        _check_quota(app, container)  # locks the team's quota row: two runs at once cannot both slip under it
        only = None if container.build.registry_ref else container.build.host
        container.host = placement.place(app.team, container.memory_mb, container.cpus, app.host_labels,
                                         only=only, exclude=away_from)
        _check_ports(container.ports, container.host)
        volumes = mounts_for_run(app, container.host)
        container.save()
        job = run_job(container, volumes)
        host = container.host.name
        transaction.on_commit(lambda: client.queue_run(host, job))
    return container


# The signals the page offers; the agent accepts any the kernel knows.
SIGNALS = ("TERM", "KILL", "HUP", "INT", "QUIT", "USR1", "USR2")


def _check_action(container: Container, action: str) -> None:
    if container.status not in contracts.CONTAINER_ACTIONS[action]:
        raise UserError(f"The container is {container.status}: it cannot {action} now.")


def stop_container(user, container: Container) -> None:
    if container.status != contracts.C_RUNNING:
        raise UserError(f"The container is {container.status}, not running.")
    transaction.on_commit(lambda: client.queue_stop(container.host.name, container.id, container.runtime_id))
    record(user, container.team, "container.stop", container)


def kill_container(user, container: Container, signal: str) -> None:
    if signal not in SIGNALS:
        raise UserError(f"“{signal}” is not one of the signals offered: {', '.join(SIGNALS)}.")
    _check_action(container, "kill")
    transaction.on_commit(lambda: client.queue_kill(container.host.name, container.id, container.runtime_id,
                                                    signal))
    record(user, container.team, "container.kill", container, signal=signal)


def restart_container(user, container: Container) -> None:
    _check_action(container, "restart")
    transaction.on_commit(lambda: client.queue_restart(container.host.name, container.id, container.runtime_id))
    record(user, container.team, "container.restart", container)


def remove_container(user, container: Container, force: bool = False) -> None:
    if container.status == contracts.C_REMOVED:
        raise UserError("The container is already removed.")
    if container.status == contracts.C_RUNNING and not force:
        raise UserError("The container is running: stop it first, or confirm to remove it anyway (it is killed).")
    if container.status == contracts.C_PENDING:  # its run job may not have reached the agent yet
        transaction.on_commit(lambda: client.withdraw_run(container.runtime_id))
    transaction.on_commit(lambda: client.queue_remove(container.host.name, container.id, container.runtime_id,
                                                      force))
    record(user, container.team, "container.remove", container, force=force)


# What a terminal runs: every image Berth builds has a shell (busybox's or Debian's).
TERMINAL_COMMAND = ["sh"]


def open_terminal(user, container: Container, cols: int, rows: int) -> str:
    """Ask the container's host for a shell on a terminal; returns the session's ID, which
    names the two Redis streams its bytes travel on."""
    if not can_write(user, container.team):
        raise UserError("Viewers cannot open a terminal in containers.")
    if container.status not in contracts.CONTAINER_ACTIONS["exec"]:
        raise UserError(f"The container is {container.status}: commands run only in a running container. "
                        "Start it again with Restart.")
    session = uuid.uuid4().hex
    client.open_exec(container.host.name, contracts.exec_job(session, container.id, container.runtime_id,
                                                             TERMINAL_COMMAND), cols, rows)
    record(user, container.team, "container.exec", container, command=TERMINAL_COMMAND)
    return session


@transaction.atomic
def record_container_event(container_id: int, event: dict) -> Container | None:
    container = Container.objects.select_for_update().filter(id=container_id).first()
    if container is None:
        return None
    new = event.get("status", container.status)
    moved = new != container.status
    if event.get("error"):
        container.error = message_for(event["error"])
    if contracts.can_move(contracts.CONTAINER_TRANSITIONS, container.status, new):
        container.status = new
        if moved and new == contracts.C_RUNNING:  # started again: the last run's end is history
            container.exit_code, container.oom_killed, container.finished = None, False, None
            if not event.get("error"):
                container.error = ""
        if "exit_code" in event:
            container.exit_code = event["exit_code"]
            container.oom_killed = bool(event.get("oom_killed"))
        if "restart_count" in event:
            container.restart_count = event["restart_count"]
        if event.get("ip"):
            container.ip = event["ip"]
        if new in (contracts.C_EXITED, contracts.C_FAILED, contracts.C_REMOVED) and not container.finished:
            container.finished = timezone.now()
    container.save()
    live.notify("container", container.id, state_of(container))
    if moved and container.status == new:
        notify_tables(container)
    return container


def state_of(container: Container) -> dict:
    return {"status": container.status, "exit": container.exit_description, "error": container.error,
            "ip": container.ip, "restarts": container.restart_count}
