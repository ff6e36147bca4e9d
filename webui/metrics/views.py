"""``/metrics`` for Prometheus: staff sessions, or the bearer token of BERTH_METRICS_TOKEN."""
from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import exposition


def _allowed(request) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.BERTH_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken does not tell how much of a guess was right.
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics(request):
    if not _allowed(request):
        # Not a login redirect: a scraper cannot follow one, and should see why it failed.
        return HttpResponse("403: staff session or BERTH_METRICS_TOKEN bearer token needed\n", status=403,
                            content_type="text/plain")
    return HttpResponse(exposition.render(), content_type=CONTENT_TYPE_LATEST)
