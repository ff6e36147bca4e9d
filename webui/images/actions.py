"""Writes on apps and builds. Views, tasks and tests all go through these."""
from __future__ import annotations

from functools import partial

from django.db import transaction
from django.utils import timezone

from webui.accounts import quotas
from webui.audit.log import record
from webui.core import live
from webui.core.access import can_write
from webui.core.errors import UserError, message_for
from webui.hosts import placement
from workers import client, contracts

from . import build_queue
from .models import App, Build


def create_app(user, data: dict) -> App:
    app = App(team=data["team"], name=data["name"], dockerfile=data["dockerfile"], ports=data["ports"],
              memory_mb=data["memory_mb"], cpus=data.get("cpus"), restart_policy=data.get("restart_policy", "no"),
              created_by=user)
    _set_run_limits(app, data)
    if data.get("context"):
        app.context.save(data["context"].name, data["context"], save=False)
    app.save()
    record(user, app.team, "app.create", app)
    return app


def update_app(user, app: App, data: dict) -> App:
    """New ports and limits apply to the next run; running containers keep theirs."""
    app.ports, app.memory_mb, app.cpus = data["ports"], data["memory_mb"], data["cpus"]
    app.restart_policy = data.get("restart_policy", "no")
    _set_run_limits(app, data)
    changed = ["ports", "memory_mb", "cpus", "restart_policy", *RUN_LIMITS]
    if "dockerfile" in data:  # the settings page edits it too; the next build uses it
        app.dockerfile = data["dockerfile"]
        changed.append("dockerfile")
    app.save(update_fields=changed)
    record(user, app.team, "app.update", app)
    return app


# The run settings the forms offer besides ports, memory and CPU; a form without one keeps the app's.
RUN_LIMITS = ("pids_limit", "cpuset_cpus", "network_in_mb", "network_out_mb", "volumes", "env", "host_labels",
              "network_mode")


def _set_run_limits(app: App, data: dict) -> None:
    for name in RUN_LIMITS:
        if name in data:
            setattr(app, name, data[name])


def delete_app(user, app: App) -> None:
    live = app.containers.exclude(status__in=(contracts.C_REMOVED, contracts.C_FAILED)).count()
    if live:
        raise UserError(f"The app still has {live} container(s): remove them first.")
    if app.builds.filter(status__in=(contracts.BUILD_QUEUED, contracts.BUILD_RUNNING)).exists():
        raise UserError("A build of the app is still running: wait for it to finish.")
    record(user, app.team, "app.delete", app)  # before delete(), which clears app.id
    app.delete()


def _record_image(build: Build, event: dict) -> None:
    info = event.get("image_info")
    if isinstance(info, dict):
        build.image_size = info.get("size")
        build.image_layers = info.get("layers", [])
        build.image_history = info.get("history", [])
    if event.get("image_removed"):
        build.image_removed, build.image_error = True, ""
        # Cached rebuilds that made the very same image lose it too.
        Build.objects.filter(host=build.host, image_id=build.image_id).exclude(id=build.id).update(image_removed=True)
    if event.get("image_error"):
        build.image_error = message_for(event["image_error"])
    if event.get("registry_ref"):
        build.registry_ref = event["registry_ref"]
    if event.get("registry_error"):  # the image is fine, but only its own host can run it
        build.image_error = "Not shared with the other hosts: " + message_for(event["registry_error"])


def cancel_build(user, build: Build) -> None:
    """Stop a queued or running build: its agent kills the running step and keeps nothing.
    A queued build ends at once and leaves the queue (its slot freed, if a host had it but
    had not started it yet), so it does not wait for a host to pick it up to say so."""
    if not can_write(user, build.app.team):
        raise UserError("Viewers cannot cancel builds.")
    if build.done:
        raise UserError(f"Build #{build.id} has already {build.status}.")
    transaction.on_commit(lambda: client.cancel_build(build.id))
    record(user, build.app.team, "build.cancel", build)
    if build.status == contracts.BUILD_QUEUED:
        record_build_event(build.id, {"status": contracts.BUILD_FAILED,
                                      "error": contracts.error("cancelled", f"Cancelled by {user} before it started.")})


def team_images(team):
    """The team's built images still on their hosts, newest first; the newest good build of
    each app is the one its name points at."""
    builds = (Build.objects.filter(app__team=team, status=contracts.BUILD_SUCCEEDED, image_removed=False)
              .select_related("app", "host").order_by("-id"))
    current, seen, images = {}, set(), []
    for build in builds:
        current.setdefault(build.app_id, build.id)
        if (build.host_id, build.image_id) in seen:
            continue  # a cached rebuild made the same image again: one row for it
        seen.add((build.host_id, build.image_id))
        images.append((build, current[build.app_id] == build.id))
    return images


def remove_build_image(user, build: Build) -> None:
    """Ask the build's host to remove its image (it refuses while a container uses it)."""
    if not can_write(user, build.app.team):
        raise UserError("Viewers cannot remove images.")
    if build.status != contracts.BUILD_SUCCEEDED or build.image_removed or build.host is None:
        raise UserError(f"Build #{build.id} has no image to remove.")
    later = Build.objects.filter(app=build.app, host=build.host, image_id=build.image_id, id__gt=build.id,
                                 status=contracts.BUILD_SUCCEEDED, image_removed=False).order_by("-id").first()
    if later is not None:
        raise UserError(f"Build #{later.id} made the same image: remove it there.")
    Build.objects.filter(id=build.id).update(image_error="")
    image_id, name, host = build.image_id, build.image, build.host.name
    transaction.on_commit(lambda: client.queue_remove_image(host, build.id, image_id, name))
    record(user, build.app.team, "image.remove", build, image=name)


def prune_team_images(user, team) -> list[Build]:
    """Remove every image of the team but each app's current one; the builds whose images were asked for."""
    if not can_write(user, team):  # checked first: with nothing to prune, no removal would check it
        raise UserError("Viewers cannot remove images.")
    older = [build for build, is_current in team_images(team) if not is_current]
    for build in older:
        remove_build_image(user, build)
    record(user, team, "images.prune", team, removed=len(older))
    return older


def start_build(user, app: App, build_args: dict | None = None, target: str = "", no_cache: bool = False) -> Build:
    """Queue a build: the fair queue hands it to a host once one has a free build slot."""
    memory_mb, cpus = build_queue.build_limits(app.team)
    # No host that could ever take it (none up, none with the app's labels): it would wait for nothing.
    placement.place(app.team, memory_mb, cpus, app.host_labels)
    with transaction.atomic():
        quota = quotas.locked(app.team)
        active = app.builds.filter(status__in=(contracts.BUILD_QUEUED, contracts.BUILD_RUNNING)).first()
        if active:
            raise UserError(f"Build #{active.id} of this app is still {active.status}: wait for it to finish.")
        quotas.check_build(app.team, quota)
        build = Build.objects.create(app=app, created_by=user, build_args=build_args or {}, target=target,
                                     no_cache=no_cache)
    build_queue.dispatch(queue_changed=True)
    build.refresh_from_db()
    record(user, app.team, "build.start", build, no_cache=no_cache, target=target)
    return build


@transaction.atomic
def record_build_event(build_id: int, event: dict) -> Build | None:
    build = Build.objects.select_for_update().filter(id=build_id).first()
    if build is None:
        return None
    new = event.get("status", build.status)
    if not contracts.can_move(contracts.BUILD_TRANSITIONS, build.status, new):
        return build  # a late or repeated event: the build has moved on
    ended = new != build.status and new in (contracts.BUILD_SUCCEEDED, contracts.BUILD_FAILED)
    build.status = new
    if "image" in event:
        build.image, build.image_id = event["image"] or "", event.get("image_id", "")
    _record_image(build, event)
    if event.get("error"):
        build.error = message_for(event["error"])
    if "log" in event:
        build.log = event["log"]
        build.seconds = event.get("seconds")
    if build.done:
        build.finished = timezone.now()
    if ended:  # its slot is free, and the builds waiting move up
        transaction.on_commit(partial(build_queue.dispatch, queue_changed=True))
    build.save()
    live.notify("build", build.id, build_queue.page_state(build))
    return build
