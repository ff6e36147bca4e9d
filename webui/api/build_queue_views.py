"""The API's view of a build's place in the fair build queue."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from webui.core.access import visible
from webui.images import build_queue
from webui.images.models import Build


class BuildQueueSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True, default=None)
    queue_position = serializers.SerializerMethodField(
        help_text="1 for the build that goes next; null once a host has it (or it ended).")
    queue_length = serializers.SerializerMethodField(help_text="Builds waiting for a host, of every team.")

    class Meta:
        model = Build
        fields = ("id", "app", "status", "host", "dispatched", "queue_position", "queue_length")
        read_only_fields = fields

    def _place(self, build) -> tuple[int, int] | None:
        return build_queue.position(build, self.context["order"])

    def get_queue_position(self, build) -> int | None:
        place = self._place(build)
        return place[0] if place else None

    def get_queue_length(self, build) -> int:
        return len(self.context["order"])


@extend_schema(responses={200: BuildQueueSerializer})
class BuildQueueView(RetrieveAPIView):
    """Where a build stands in the fair build queue (its team's members)."""

    serializer_class = BuildQueueSerializer
    lookup_field = "id"

    def get_queryset(self):
        return visible(Build.objects.select_related("app__team", "host"), self.request.user, "app__team")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "order": build_queue.queue_order()}
