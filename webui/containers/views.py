from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webui.core.access import can_write, get_visible_or_404
from webui.core.errors import UserError

from . import actions
from .models import Container


def _container(request, container_id) -> Container:
    return get_visible_or_404(Container.objects.select_related("app", "host", "app__team"), request.user,
                              "app__team", id=container_id)


@login_required
def container_detail(request, container_id):
    container = _container(request, container_id)
    return render(request, "containers/container_detail.html", {
        "container": container, "app": container.app, "can_write": can_write(request.user, container.team)})


def _act(request, container_id, action, done: str):
    container = _container(request, container_id)
    try:
        if not can_write(request.user, container.team):
            raise UserError("Viewers cannot stop or remove containers.")
        action(request.user, container)
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
def container_remove(request, container_id):
    return _act(request, container_id, actions.remove_container, "Removing the container.")
