"""What happens to containers when their host goes away or comes back, or is drained."""
from __future__ import annotations

import logging

from django.db import transaction

from webui.audit.log import record
from webui.core.errors import UserError
from workers import client, contracts

from .actions import record_container_event, start_replacement
from .models import Container

log = logging.getLogger(__name__)

_ON_HOST = (contracts.C_PENDING, contracts.C_RUNNING, contracts.C_EXITED)
# Policies that want the container running whatever happened to its host.
_MOVES = ("always", "unless-stopped")


def lose_containers(host, reason: str) -> list[Container]:
    """The host stopped answering: what it held is lost; those whose policy is always start
    again elsewhere. Returns the replacements started."""
    error = contracts.error("host_down", reason)
    started = []
    for container in Container.objects.filter(host=host, status__in=_ON_HOST).select_related("app", "build"):
        was_running = container.status != contracts.C_EXITED
        if container.status == contracts.C_PENDING:  # its run job may wait for the host to return
            transaction.on_commit(lambda c=container: client.withdraw_run(c.runtime_id))
        record_container_event(container.id, {"status": contracts.C_LOST, "error": error})
        if was_running and container.restart_policy == "always":
            replacement = _replace(container)
            if replacement is not None:
                started.append(replacement)
    return started


def _replace(container: Container) -> Container | None:
    if Container.objects.filter(replaces=container).exists():
        return None  # already replaced (a second look at the same outage)
    try:
        twin = start_replacement(Container.objects.select_related("app", "build", "host").get(id=container.id))
    except UserError as exc:
        note = f"It could not be restarted on another host: {exc}"
        Container.objects.filter(id=container.id).update(error=f"{container.error}\n{note}".strip())
        log.warning("container %s: %s", container.id, note)
        return None
    # Done by Berth, not by a user: the log names no one.
    record(None, container.app.team, "container.replace", twin, replaces=container.id, host=twin.host.name,
           reason="host down")
    return twin


def found_again(host, states: dict[str, str]) -> None:
    """The host answers again, with the state of every container it has (by the web's ID):
    lost ones come back as they are, or are removed when a replacement took their place."""
    for container in Container.objects.filter(host=host, status=contracts.C_LOST):
        state = states.get(str(container.id))
        if Container.objects.filter(replaces=container).exists():
            # Restarted elsewhere meanwhile: two of it must not run.
            transaction.on_commit(lambda c=container: client.queue_remove(host.name, c.id, c.runtime_id, True))
        elif state in (contracts.C_RUNNING, contracts.C_EXITED):
            record_container_event(container.id, {"status": state})
        elif state is None:
            record_container_event(container.id, {"status": contracts.C_REMOVED})


def drain(host) -> tuple[int, int]:
    """Empty a host: containers whose policy keeps them running start on another host first
    and are then removed here; the others are stopped. (moved, stopped)."""
    moved = stopped = 0
    for container in Container.objects.filter(host=host, status=contracts.C_RUNNING).select_related("app", "build"):
        if container.restart_policy in _MOVES:
            try:
                twin = start_replacement(container)
            except UserError as exc:  # nothing done: the caller's transaction is rolled back
                raise UserError(f"Drain refused: {container.name} (restart {container.restart_policy}) cannot "
                                f"start on another host: {exc}") from None
            record(None, container.app.team, "container.replace", twin, replaces=container.id,
                   host=twin.host.name, reason=f"host {host.name} drained")
            transaction.on_commit(lambda c=container: client.queue_remove(host.name, c.id, c.runtime_id, True))
            moved += 1
        else:
            transaction.on_commit(lambda c=container: client.queue_stop(host.name, c.id, c.runtime_id))
            stopped += 1
    return moved, stopped
