from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    name = "webui.invitations"
    label = "invitations"
    verbose_name = "Invitations and team members"

    def ready(self):
        from . import signals

        signals.connect()
