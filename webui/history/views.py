"""The history of a container, a host or a team as JSON, for the charts on their pages."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404

from webui.containers.models import Container
from webui.core.access import get_visible_or_404, teams_of
from webui.hosts.models import Host

from . import series


def _hours(request) -> int | None:
    raw = request.GET.get("hours", "24")
    longest = settings.BERTH_HISTORY_DAYS * 24
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= longest else None


def _answer(request, make, subject):
    hours = _hours(request)
    if hours is None:
        return HttpResponseBadRequest(f"hours: a whole number from 1 to {settings.BERTH_HISTORY_DAYS * 24}")
    return JsonResponse(make(subject, hours))


@login_required
def container_history(request, container_id):
    container = get_visible_or_404(Container.objects, request.user, "app__team", id=container_id)
    return _answer(request, series.container_series, container)


@login_required
def host_history(request, host_id):
    if not request.user.is_staff:
        raise Http404("no such host")
    return _answer(request, series.host_series, get_object_or_404(Host, id=host_id))


@login_required
def team_history(request, team_id):
    team = get_object_or_404(teams_of(request.user), id=team_id)
    return _answer(request, series.team_series, team)
