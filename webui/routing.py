from django.urls import path

from webui.containers.consumers import ContainerConsumer
from webui.images.consumers import BuildConsumer

websocket_urlpatterns = [
    path("ws/builds/<int:build_id>/", BuildConsumer.as_asgi()),
    path("ws/containers/<int:container_id>/", ContainerConsumer.as_asgi()),
]
