"""``Authorization: Bearer <token>`` for the API and the CLI."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiToken, digest

_TOUCH_EVERY = timedelta(minutes=1)  # last_used is for people; a write per request is not needed


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword:
            return None  # not ours: the session may still authenticate the request
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("The Authorization header has no token after Bearer.")
        found = ApiToken.objects.select_related("user").filter(key_digest=digest(token)).first()
        if found is None:
            raise exceptions.AuthenticationFailed("This token is unknown or was revoked.")
        if not found.user.is_active:
            raise exceptions.AuthenticationFailed("This token's user is deactivated.")
        now = timezone.now()
        if found.last_used is None or now - found.last_used > _TOUCH_EVERY:
            ApiToken.objects.filter(pk=found.pk).update(last_used=now)
        return found.user, found

    def authenticate_header(self, request):
        return self.keyword  # so a missing or bad token gets 401, not 403


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Names the token scheme in the OpenAPI schema, so clients know to send the header."""

    target_class = "webui.api.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A token from the API tokens page."}
