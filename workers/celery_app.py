"""The one Celery app. Workers add their own tasks: the agent its kernel work,
the control worker its database work; the web only sends by name."""
from __future__ import annotations

from celery import Celery

from . import config

app = Celery("berth", broker=config.REDIS_URL)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_default_queue=config.CONTROL_QUEUE,
    # Jobs are acknowledged when done, so a job whose worker died is delivered again;
    # each task checks the state it acts on, so a second delivery does nothing twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": config.VISIBILITY_TIMEOUT},
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)
