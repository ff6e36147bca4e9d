from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "webui.history"
    label = "history"
