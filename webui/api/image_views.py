"""The API's images beyond the list: one image with its layers, history and the host's last
refusal, and remove and prune, as a team's Images page has them. The writes go through the
page's own actions (webui/images/actions.py); the host does the removal and answers later,
so a write is 202 and the image's row says how it ended (gone: 404; refused: its ``error``)."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from webui.core.access import teams_of, visible
from webui.core.errors import UserError
from webui.images import actions
from webui.images.models import Build
from workers import contracts

from . import serializers as s
from . import views
from .views import _refused, _writable


class LayerSerializer(serializers.Serializer):
    digest = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes, compressed as the store keeps it.")


class HistoryStepSerializer(serializers.Serializer):
    created_by = serializers.CharField(default="", help_text="The instruction that made the step.")
    created = serializers.CharField(required=False)
    empty_layer = serializers.BooleanField(default=False, help_text="The step changed the config only.")


class ImageDetailSerializer(s.ImageSerializer):
    """One image as the Images page shows it unfolded."""

    error = serializers.CharField(source="build.image_error",
                                  help_text="Why its host refused the last removal (e.g. a container uses it); "
                                            "empty while a removal is asked and not answered.")
    layer_details = LayerSerializer(many=True, source="layer_rows", help_text="Bottom layer first.")
    history = HistoryStepSerializer(many=True, source="build.image_history", help_text="Oldest step first.")


class PruneResultSerializer(serializers.Serializer):
    removing = s.ImageSerializer(many=True, help_text="The images whose hosts were asked to remove them: every "
                                                      "image of the team but each app's current one.")


def _row(build: Build) -> dict:
    current = any(b.id == build.id and is_current for b, is_current in actions.team_images(build.app.team))
    return {"build": build, "current": current, "team": build.app.team.name,
            "layer_rows": [{"digest": digest, "size": size} for digest, size in build.image_layers]}


BUILD_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="the ID of the build that made it")


class ImageViewSet(views.ImageViewSet):
    """The list (views.ImageViewSet), one image, and its removal. An image is named by the
    build that made it, as the list's ``build`` gives it."""

    def get_queryset(self):
        return visible(Build.objects.select_related("app__team", "host"), self.request.user, "app__team")

    @extend_schema(parameters=[BUILD_ID], responses={200: ImageDetailSerializer})
    def retrieve(self, request, pk=None):
        build = self.get_object()
        if build.status != contracts.BUILD_SUCCEEDED or build.image_removed:
            raise NotFound(f"Build #{build.id} has no image on its host (it failed, or its image was removed).")
        return Response(ImageDetailSerializer(_row(build)).data)

    @extend_schema(parameters=[BUILD_ID], request=None, responses={202: ImageDetailSerializer},
                   description="Ask the image's host to untag it and free what nothing else uses. The host "
                               "refuses while a container (running or not) uses it: the image's error then says "
                               "which. Once removed, the image is 404.")
    def destroy(self, request, pk=None):
        build = self.get_object()
        _writable(request.user, build.app.team)
        try:
            actions.remove_build_image(request.user, build)
        except UserError as exc:
            raise _refused(exc) from None
        build.refresh_from_db()
        return Response(ImageDetailSerializer(_row(build)).data, status=status.HTTP_202_ACCEPTED)


class TeamImagesPruneView(APIView):
    """Remove every image of a team but each app's current one (the Images page's Prune)."""

    @extend_schema(request=None, responses={202: PruneResultSerializer})
    def post(self, request, id):
        team = get_object_or_404(teams_of(request.user), id=id)  # as the page: 404 for other teams
        _writable(request.user, team)
        try:
            older = actions.prune_team_images(request.user, team)
        except UserError as exc:
            raise _refused(exc) from None
        rows = [{"build": build, "current": False, "team": team.name} for build in older]
        return Response(PruneResultSerializer({"removing": rows}).data, status=status.HTTP_202_ACCEPTED)
