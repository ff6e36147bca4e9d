"""Open websockets check access only when they open: tell a user's sockets when their access
may have shrunk (a role changed, a membership or the account went), however it happened:
the members page, the API or the Django admin."""
from __future__ import annotations

from webui.core import live


def membership_changed(sender, instance, created=False, **kwargs) -> None:
    if not created:  # a new membership only adds access
        live.access_changed(instance.user_id)


def user_saved(sender, instance, created=False, **kwargs) -> None:
    if not created and not instance.is_active:
        live.access_changed(instance.pk)


def connect() -> None:
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from webui.accounts.models import Membership

    post_save.connect(membership_changed, sender=Membership, dispatch_uid="berth-access-role")
    post_delete.connect(membership_changed, sender=Membership, dispatch_uid="berth-access-membership")
    post_save.connect(user_saved, sender=get_user_model(), dispatch_uid="berth-access-user")
