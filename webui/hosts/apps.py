from django.apps import AppConfig


class HostsConfig(AppConfig):
    name = "webui.hosts"
    label = "hosts"
