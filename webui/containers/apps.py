from django.apps import AppConfig


class ContainersConfig(AppConfig):
    name = "webui.containers"
    label = "containers"
