from django.apps import AppConfig


class VolumesConfig(AppConfig):
    name = "webui.volumes"
    label = "volumes"
