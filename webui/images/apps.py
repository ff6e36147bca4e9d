from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "webui.images"
    label = "images"
