"""The fleet for admins: hosts with their figures, and what the Hosts pages do to them
(cordon, uncordon, drain, labels, remove). Non-admins get 404, as on the pages."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from webui.core.errors import UserError
from webui.hosts import actions
from webui.hosts.models import Host


class HostSerializer(serializers.ModelSerializer):
    is_up = serializers.BooleanField(read_only=True)

    class Meta:
        model = Host
        fields = ("id", "name", "is_up", "down_since", "cordoned", "labels", "cpus", "memory_bytes",
                  "memory_used_bytes", "disk_free_bytes", "disk_total_bytes", "load", "cpu_percent",
                  "containers", "agent_version", "first_seen", "last_seen")
        read_only_fields = fields


class LabelsSerializer(serializers.Serializer):
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                   help_text='e.g. {"disk": "ssd", "zone": "a"}; replaces the host\'s labels.')


class DrainResultSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="Containers started on another host, then removed here.")
    stopped = serializers.IntegerField()


class HostViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = HostSerializer
    permission_classes = [IsAdminUser]
    queryset = Host.objects.filter(removed=None).order_by("name")

    def permission_denied(self, request, message=None, code=None):
        if request.user and request.user.is_authenticated:
            raise NotFound()  # as the host pages: not there for non-admins
        super().permission_denied(request, message, code)

    def _answer(self, host: Host) -> Response:
        host.refresh_from_db()
        return Response(HostSerializer(host).data)

    @extend_schema(request=None, responses={200: HostSerializer})
    @action(detail=True, methods=["post"])
    def cordon(self, request, pk=None):
        """No new work goes to the host; what runs there stays."""
        host = self.get_object()
        actions.set_cordoned(request.user, host, True)
        return self._answer(host)

    @extend_schema(request=None, responses={200: HostSerializer})
    @action(detail=True, methods=["post"])
    def uncordon(self, request, pk=None):
        host = self.get_object()
        actions.set_cordoned(request.user, host, False)
        return self._answer(host)

    @extend_schema(request=None, responses={202: DrainResultSerializer})
    @action(detail=True, methods=["post"])
    def drain(self, request, pk=None):
        """Cordon, then start elsewhere what must keep running (restart always or unless-stopped)
        and stop the rest."""
        try:
            moved, stopped = actions.drain_host(request.user, self.get_object())
        except UserError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response({"moved": moved, "stopped": stopped}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=LabelsSerializer, responses={200: HostSerializer})
    @action(detail=True, methods=["put"])
    def labels(self, request, pk=None):
        host = self.get_object()
        body = LabelsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        text = "\n".join(f"{key}={value}" for key, value in body.validated_data["labels"].items())
        try:
            actions.set_labels(request.user, host, actions.parse_labels(text))
        except UserError as exc:
            raise ValidationError({"labels": [str(exc)]}) from None
        return self._answer(host)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk=None):
        """Forget the host; refused while it holds containers. Its agent must join again."""
        try:
            actions.remove_host(request.user, self.get_object())
        except UserError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
