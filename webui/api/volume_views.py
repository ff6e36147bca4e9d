"""The API's volumes, as a team's Volumes page has them: the list with the containers using
each, create, and remove. Writes go through webui/volumes/actions.py and the page's form, so
names and refusals read the same. Removing a volume whose files are on a host asks that host,
which refuses while a container (running or not) uses it: the call is then 202, and the
volume's row says how it ended (gone: 404; refused: its ``error``)."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from webui.core.access import team_of_user, teams_of, visible
from webui.core.errors import UserError
from webui.volumes import actions
from webui.volumes.forms import VolumeForm
from webui.volumes.models import Volume

from . import params
from .views import _body, _checked, _refused, _writable


class VolumeUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()


class VolumeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="volume.id")
    name = serializers.CharField(source="volume.name")
    team = serializers.CharField(source="volume.team.name")
    team_id = serializers.IntegerField(source="volume.team_id")
    host = serializers.CharField(source="volume.host.name", default=None,
                                 help_text="Where its files are; null until a container first mounts it.")
    removing = serializers.BooleanField(source="volume.removing", help_text="Asked of its host, not yet answered.")
    error = serializers.CharField(source="volume.error", help_text="Why its host refused the last removal.")
    used_by = VolumeUserSerializer(many=True, help_text="The containers (not removed) that mount it.")
    created = serializers.DateTimeField(source="volume.created")


class VolumeCreateRequestSerializer(serializers.Serializer):
    team = serializers.IntegerField(help_text="The ID of one of your teams where you may write.")
    name = serializers.CharField(help_text="Letters, digits and . _ - (starting with a letter or a digit), "
                                           "unique in the team; mounted as NAME:/PATH in an app's settings.")


def _rows(teams) -> list[dict]:
    return [{"volume": volume, "used_by": users} for team in teams for volume, users in actions.team_volumes(team)]


def _row(volume: Volume) -> dict:
    users = next(users for v, users in actions.team_volumes(volume.team) if v.id == volume.id)
    return {"volume": volume, "used_by": users}


class VolumeViewSet(viewsets.GenericViewSet):
    """Your teams' volumes; another team's are 404, a viewer's create or remove 403."""

    serializer_class = VolumeSerializer

    def get_queryset(self):
        return visible(Volume.objects.select_related("team", "host"), self.request.user, "team")

    @extend_schema(parameters=[OpenApiParameter("team", int, description="only this team's (its ID)")],
                   responses={200: VolumeSerializer(many=True)})
    def list(self, request):
        teams = teams_of(request.user).order_by("-personal", "name")
        team = request.query_params.get("team")
        if team is not None:
            teams = teams.filter(id__in=params.ids([team], "team", "Give a team's ID (a whole number)."))
        return Response(VolumeSerializer(_rows(teams), many=True).data)

    @extend_schema(request=VolumeCreateRequestSerializer, responses={201: VolumeSerializer},
                   description="Make a volume in the team; its files are made on the host of the first container "
                               "that mounts it.")
    def create(self, request):
        data = _body(request, VolumeCreateRequestSerializer().fields, "A volume's fields are")
        team = team_of_user(request.user, data.get("team"))
        if team is None:  # not told whether another team exists
            raise ValidationError({"team": ["Give the ID of one of your teams."]})
        _writable(request.user, team)
        if not isinstance(data.get("name", ""), str):  # a JSON number or list is no name, whatever its text
            raise ValidationError({"name": ["Give the volume's name as a string."]})
        name = _checked(VolumeForm({"name": data.get("name")}))["name"]
        try:
            volume = actions.create_volume(request.user, team, name)
        except UserError as exc:
            raise _refused(exc) from None
        return Response(VolumeSerializer(_row(volume)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: VolumeSerializer})
    def retrieve(self, request, pk=None):
        return Response(VolumeSerializer(_row(self.get_object())).data)

    @extend_schema(request=None, responses={202: VolumeSerializer, 204: None},
                   description="Remove the volume: at once (204) when no host has its files yet, else its host "
                               "is asked (202), which refuses while a container (running or not) uses it.")
    def destroy(self, request, pk=None):
        volume = self.get_object()
        _writable(request.user, volume.team)
        try:
            removed = actions.remove_volume(request.user, volume)
        except UserError as exc:
            raise _refused(exc) from None
        if removed:
            return Response(status=status.HTTP_204_NO_CONTENT)
        volume.refresh_from_db()
        return Response(VolumeSerializer(_row(volume)).data, status=status.HTTP_202_ACCEPTED)
