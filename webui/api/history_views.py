"""The API's history of a container, a team or a host: the columns the pages' charts draw
(webui/history/series.py), one point a minute, for the same readers as those pages."""
from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from webui.containers.models import Container
from webui.core.access import get_visible_or_404, teams_of
from webui.history import series
from webui.hosts.models import Host

HOURS = OpenApiParameter("hours", int, description="how far back, in hours: 1 to BERTH_HISTORY_DAYS * 24 (24)")
COLUMNS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}},
           "description": "Columns of equal length, oldest point first: t (Unix seconds, one a minute) and each "
                          "figure (e.g. cpu in %, mem in bytes); a minute with no sample has no point."}


def _hours(request) -> int:
    field = serializers.IntegerField(min_value=1, max_value=settings.BERTH_HISTORY_DAYS * 24)
    try:
        return field.run_validation(request.query_params.get("hours", "24"))
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"hours": exc.detail}) from None


@extend_schema(parameters=[HOURS], responses={200: COLUMNS})
class ContainerHistoryView(APIView):
    """A container's figures a minute (its team's members), also once it is removed."""

    def get(self, request, id):
        container = get_visible_or_404(Container.objects, request.user, "app__team", id=id)
        return Response(series.container_series(container, _hours(request)))


@extend_schema(parameters=[HOURS], responses={200: COLUMNS})
class TeamHistoryView(APIView):
    """A team's figures a minute, summed over its containers (its members)."""

    def get(self, request, id):
        team = get_object_or_404(teams_of(request.user), id=id)  # as the team's page: 404 for others
        return Response(series.team_series(team, _hours(request)))


@extend_schema(parameters=[HOURS], responses={200: COLUMNS})
class HostHistoryView(APIView):
    """A host's CPU, memory, disk, load and containers a minute (admins; others get 404)."""

    def get(self, request, id):
        if not request.user.is_staff:
            raise NotFound()
        return Response(series.host_series(get_object_or_404(Host, id=id), _hours(request)))
