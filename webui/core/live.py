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
