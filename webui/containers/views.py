from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from webui.core.access import can_write, get_visible_or_404
from webui.core.errors import UserError

from webui.core import downloads
from workers import streams

from . import actions
from .models import Container


# The charts on a container's page, in order: (name used by static/js/live.js, title).
CHARTS = [("cpu", "CPU"), ("mem", "Memory"), ("pids", "Processes"), ("net", "Network"),
          ("io", "Block IO"), ("throttle", "Throttling and OOM kills")]
# Its per-minute history charts: (name used by static/js/overview.js, title).
HISTORY = [("c_cpu", "CPU"), ("c_mem", "Memory"), ("c_pids", "Processes"), ("c_net", "Network"),
           ("c_io", "Block IO"), ("c_throttle", "Throttling and OOM kills")]


def _container(request, container_id) -> Container:
    return get_visible_or_404(Container.objects.select_related("app", "host", "app__team"), request.user,
                              "app__team", id=container_id)


@login_required
def container_detail(request, container_id):
    container = _container(request, container_id)
    return render(request, "containers/container_detail.html", {
        "container": container, "app": container.app, "can_write": can_write(request.user, container.team),
        "signals": actions.SIGNALS,
        "charts": CHARTS, "history": HISTORY, "download_url": reverse("container_log", args=[container.id])})


@login_required
def container_log(request, container_id):
    container = _container(request, container_id)
    return downloads.log_file(f"{container.name}.log", key=streams.container_log(container.id))


def _act(request, container_id, action, done: str, **options):
    container = _container(request, container_id)
    try:
        if not can_write(request.user, container.team):
            raise UserError("Viewers cannot stop or remove containers.")
        action(request.user, container, **options)
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, done)
    return redirect("container", container_id=container.id)


@login_required
@require_POST
def container_stop(request, container_id):
    return _act(request, container_id, actions.stop_container, "Stopping: the stop signal, then SIGKILL after 10 s.")


@login_required
@require_POST
def container_kill(request, container_id):
    signal = request.POST.get("signal", "KILL")
    return _act(request, container_id, actions.kill_container, f"Sending SIG{signal}.", signal=signal)


@login_required
@require_POST
def container_restart(request, container_id):
    return _act(request, container_id, actions.restart_container, "Restarting: stop, then start again.")


@login_required
@require_POST
def container_remove(request, container_id):
    return _act(request, container_id, actions.remove_container, "Removing the container.",
                force=request.POST.get("force") == "1")
