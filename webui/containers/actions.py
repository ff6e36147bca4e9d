"""Writes on containers: run, stop, kill, restart, remove, exec, and the events agents report."""
from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from webui.core import live
from webui.core.access import can_write
from webui.core.errors import UserError, message_for
from webui.images.models import App
from webui.volumes.actions import mounts_for_run
from workers import client, contracts

from .listing import notify_tables
from .models import Container

_HOLDING = (contracts.C_PENDING, contracts.C_RUNNING)


def _check_quota(app: App) -> None:
    quota = app.team.quota
    holding = Container.objects.filter(app__team=app.team, status__in=_HOLDING)
    count = holding.count()
    if count + 1 > quota.max_containers:
        raise UserError(f"Quota exceeded: the team runs {count} of its {quota.max_containers} containers.")
    memory = holding.aggregate(total=Sum("memory_mb"))["total"] or 0
    if memory + app.memory_mb > quota.max_memory_mb:
        raise UserError(f"Quota exceeded: {app.memory_mb} MB more would bring the team to "
                        f"{memory + app.memory_mb} MB of its {quota.max_memory_mb} MB memory quota "
                        f"({memory} MB in use).")
    cpus = sum(c.cpus or 0 for c in holding) + (app.cpus or 0)
    if cpus > quota.max_cpus:
        raise UserError(f"Quota exceeded: {app.cpus} CPUs more would bring the team to {cpus:g} of its "
                        f"{quota.max_cpus:g} CPUs.")


def _host_port(mapping: str) -> str:
    """``[ADDRESS:]HOST:CONTAINER/PROTO`` to ``HOST/PROTO``."""
    ports, _, proto = mapping.partition("/")
    return f"{ports.split(':')[-2]}/{proto}"


def _check_ports(app: App, host) -> None:
    wanted = {_host_port(p) for p in app.ports}
    for other in Container.objects.filter(host=host, status__in=_HOLDING):
        taken = {_host_port(p) for p in other.ports}
        clash = wanted & taken
        if clash:
            port = sorted(clash)[0]
            # Another team's container is not named: only that the port is taken.
            raise UserError(f"Host port {port} is already published by another container on {host.name}.")


def _run_options(app: App, volumes: list[str]) -> dict:
    def rate(mb_per_s):
        return None if mb_per_s is None else int(mb_per_s * 1024 * 1024)

    return contracts.run_options(str(app.team_id), app.pids_limit, app.cpuset_cpus, rate(app.network_in_mb),
                                 rate(app.network_out_mb), volumes, (app.log_size_max_mb or 0) * 1024 * 1024)


def run_app(user, app: App) -> Container:
    build = app.last_good_build()
    if build is None:
        raise UserError("The app has no successful build yet: build it first.")
    with transaction.atomic():
        # Two runs at once must not both slip under the quota: lock the team's rows (on
        # SQLite the IMMEDIATE transaction already serialises writers).
        list(Container.objects.select_for_update().filter(app__team=app.team))
        _check_quota(app)
        _check_ports(app, build.host)
        volumes = mounts_for_run(app, build.host)
        container = Container.objects.create(app=app, build=build, host=build.host, ports=app.ports,
                                             volumes=app.volumes, memory_mb=app.memory_mb, cpus=app.cpus,
                                             created_by=user, restart_policy=app.restart_policy)
        job = contracts.run_job(container.id, container.runtime_id, build.image or build.image_id, app.ports,
                                app.memory_mb * 1024 * 1024, app.cpus, [], container.name,
                                restart=app.restart_policy, options=_run_options(app, volumes))
        transaction.on_commit(lambda: client.queue_run(build.host.name, job))
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


def kill_container(user, container: Container, signal: str) -> None:
    if signal not in SIGNALS:
        raise UserError(f"“{signal}” is not one of the signals offered: {', '.join(SIGNALS)}.")
    _check_action(container, "kill")
    transaction.on_commit(lambda: client.queue_kill(container.host.name, container.id, container.runtime_id,
                                                    signal))


def restart_container(user, container: Container) -> None:
    _check_action(container, "restart")
    transaction.on_commit(lambda: client.queue_restart(container.host.name, container.id, container.runtime_id))


def remove_container(user, container: Container, force: bool = False) -> None:
    if container.status == contracts.C_REMOVED:
        raise UserError("The container is already removed.")
    if container.status == contracts.C_RUNNING and not force:
        raise UserError("The container is running: stop it first, or confirm to remove it anyway (it is killed).")
    transaction.on_commit(lambda: client.queue_remove(container.host.name, container.id, container.runtime_id,
                                                      force))


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
