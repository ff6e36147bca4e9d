from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "webui.accounts"
    label = "accounts"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        post_save.connect(_on_user_saved, sender=get_user_model(), dispatch_uid="berth-personal-team")


def _on_user_saved(sender, instance, created, **kwargs):
    from .actions import give_personal_team

    if created:
        give_personal_team(instance)
