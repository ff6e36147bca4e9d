from django.urls import path

from webui.accounts.consumers import TeamConsumer
from webui.containers.consumers import ContainerConsumer
from webui.containers.terminal import TerminalConsumer
from webui.hosts.consumers import FleetConsumer, HostConsumer
from webui.images.consumers import BuildConsumer

websocket_urlpatterns = [
    path("ws/builds/<int:build_id>/", BuildConsumer.as_asgi()),
    path("ws/containers/<int:container_id>/", ContainerConsumer.as_asgi()),
    path("ws/containers/<int:container_id>/exec/", TerminalConsumer.as_asgi()),
    path("ws/hosts/", FleetConsumer.as_asgi()),
    path("ws/hosts/<int:host_id>/", HostConsumer.as_asgi()),
    path("ws/teams/<int:team_id>/", TeamConsumer.as_asgi()),
]
