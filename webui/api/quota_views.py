"""The API's view of a team's quotas: each one's limit and the team's current use, as
the team page's table shows them."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from webui.accounts import quotas
from webui.core.access import teams_seen_by


class QuotaUseSerializer(serializers.Serializer):
    quota = serializers.CharField(help_text="The quota's name, as a refusal names it.")
    field = serializers.CharField(help_text="The quota's field in the admin (port_min for the port range).")
    limit = serializers.JSONField(help_text="A number in unit; for the host port range, [lowest, highest].")
    in_use = serializers.JSONField(help_text="A number in unit; for the host port range, the host ports the "
                                             "team's running containers publish.")
    unit = serializers.CharField(allow_blank=True)
    full = serializers.BooleanField(help_text="The next job that needs more of it is refused.")


class TeamQuotaSerializer(serializers.Serializer):
    team = serializers.IntegerField()
    name = serializers.CharField()
    quotas = QuotaUseSerializer(many=True)


class TeamQuotaView(APIView):
    """A team's quotas and its use of each (its members; admins: every team)."""

    @extend_schema(responses={200: TeamQuotaSerializer})
    def get(self, request, id):
        team = get_object_or_404(teams_seen_by(request.user).select_related("quota"), id=id)
        return Response(TeamQuotaSerializer({"team": team.id, "name": team.name,
                                             "quotas": quotas.usage(team)}).data)
