"""Join tokens for admins, as the Hosts page makes and revokes them: a new host's agent joins
the fleet with one. A token is shown once, when made; only its digest is kept. Non-admins get
404, as on the pages."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from webui.core.errors import UserError
from webui.hosts import actions
from webui.hosts.models import JoinToken

from .views import _refused


class AdminsOnly(permissions.BasePermission):
    """Admins pass; anyone else signed in is told there is nothing here (404), not that it is forbidden."""

    def has_permission(self, request, view) -> bool:
        if request.user and request.user.is_staff:
            return True
        if request.user and request.user.is_authenticated:
            raise NotFound()
        return False


class JoinTokenSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    hint = serializers.CharField(read_only=True, help_text="The token's first characters, to tell tokens apart.")

    class Meta:
        model = JoinToken
        fields = ("id", "name", "hint", "created_by", "created")
        read_only_fields = fields


class NewJoinTokenSerializer(JoinTokenSerializer):
    token = serializers.SerializerMethodField(help_text="Shown this once: give it to the new host's agent as "
                                                        "BERTH_JOIN_TOKEN.")

    class Meta(JoinTokenSerializer.Meta):
        fields = (*JoinTokenSerializer.Meta.fields, "token")
        read_only_fields = fields

    def get_token(self, token) -> str:
        return self.context["secret"]


class JoinTokenRequestSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, help_text="What it is for, e.g. 'rack 2 hosts'.")


class JoinTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The join tokens not revoked, newest first; make one, or revoke one (hosts that joined with it stay)."""

    serializer_class = JoinTokenSerializer
    permission_classes = [permissions.IsAuthenticated, AdminsOnly]
    queryset = JoinToken.objects.filter(revoked=None).select_related("created_by").order_by("-created", "-id")

    @extend_schema(request=JoinTokenRequestSerializer, responses={201: NewJoinTokenSerializer})
    def create(self, request):
        body = JoinTokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            secret = actions.create_join_token(request.user, body.validated_data["name"])
        except UserError as exc:
            raise _refused(exc) from None
        token = JoinToken.valid(secret)
        return Response(NewJoinTokenSerializer(token, context={"secret": secret}).data,
                        status=status.HTTP_201_CREATED)

    def perform_destroy(self, token):
        actions.revoke_join_token(self.request.user, token)
