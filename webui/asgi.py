import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webui.settings")
django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from django.conf import settings  # noqa: E402

from webui.core.limits import RequestSizeLimit  # noqa: E402
from webui.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": RequestSizeLimit(django_app, settings.BERTH_MAX_REQUEST_BYTES),
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
