"""``python -m workers.control``: the Django-aware worker on the control queue."""
from __future__ import annotations

import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webui.settings")
    django.setup()
    from ..celery_app import app
    from .. import config
    from . import tasks, watch  # noqa: F401  (registers the control tasks)

    watch.start()

    app.worker_main(["worker", "-Q", config.CONTROL_QUEUE, "-P", "threads", "-c", "4",
                     "-n", "control@%h", "--without-gossip", "--without-mingle", "-l", "INFO"])


if __name__ == "__main__":
    main()
