"""Tell the pages watching an object that its state changed (Channels groups by ID)."""
from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def group_name(kind: str, object_id: int) -> str:
    return f"{kind}-{object_id}"


def notify(kind: str, object_id: int, payload: dict) -> None:
    def send():
        layer = get_channel_layer()
        async_to_sync(layer.group_send)(group_name(kind, object_id), {"type": "state.changed", "state": payload})

    transaction.on_commit(send)


def changed(kind: str, object_id: int) -> None:
    """Tell the pages watching an object to load its state again: for states that cost a
    query to make (a table of rows), made only where someone watches, not at every event."""
    notify(kind, object_id, None)


def access_changed(user_id: int) -> None:
    """Tell the user's open sockets that their access may be less than it was (a role changed,
    a membership or the account went): each checks again and closes if it must."""
    def send():
        layer = get_channel_layer()
        async_to_sync(layer.group_send)(group_name("access", user_id), {"type": "access.changed"})

    # robust: a Redis that is down must not fail the write that already committed.
    transaction.on_commit(send, robust=True)
