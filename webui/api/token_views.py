"""Your API tokens, as the API tokens page lists them, and their revocation. A token is made
on that page only: a token that could make tokens would let a stolen one outlive its own
revocation."""
from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from . import tokens
from .models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="The token this request was made with.")

    class Meta:
        model = ApiToken
        fields = ("id", "name", "hint", "created", "last_used", "current")
        read_only_fields = fields

    def get_current(self, token) -> bool:
        return token == self.context["request"].auth


class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your own tokens, newest first (another user's are 404); revoking one ends it at once."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema run: no user
            return ApiToken.objects.none()
        return self.request.user.api_tokens.order_by("-created", "-id")

    def perform_destroy(self, token):
        tokens.revoke(self.request.user, token)
