"""``python -m workers.agent``: the host agent, a Celery worker on this host's queue.

Run as root. It needs no database and no Django: only Redis and the runtime.
"""
from __future__ import annotations

import logging
import resource

from celery.signals import worker_ready

from .. import config
from ..celery_app import app
from . import image_tasks, tasks  # noqa: F401  (registers the agent's tasks)
from .context import context
from .doctor import check_or_exit
from .loops import start_all
from .recovery import finish_interrupted_runs, report_interrupted_builds, report_lost
from runtime.errors import BerthError, NotFound
from runtime.image.bootstrap import bootstrap_busybox
from runtime.linux.files import use_runtime_umask
from runtime.reconcile import reconcile

BASE_IMAGE = "busybox:latest"


@worker_ready.connect
def _start_loops(**_):
    start_all(context())


def _raise_open_file_limit() -> None:
    """The stats sampler keeps about a dozen cgroup files open per running container,
    more than the usual soft limit of 1024 allows with a hundred containers."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _ensure_base_image(ctx) -> None:
    """A host that joins has busybox:latest to build FROM, as `make run`'s has (made from
    Debian's busybox-static, about a second); without it every build placed here would fail."""
    try:
        ctx.store.resolve(BASE_IMAGE)
    except NotFound:
        try:
            bootstrap_busybox(ctx.store, BASE_IMAGE)
            logging.getLogger("berth.agent").info("made the base image %s", BASE_IMAGE)
        except (BerthError, OSError) as exc:
            logging.getLogger("berth.agent").warning("no base image %s: %s", BASE_IMAGE, exc)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent %(levelname)s %(message)s")
    _raise_open_file_limit()
    use_runtime_umask()
    ctx = context()
    check_or_exit(ctx.containers.config)
    _ensure_base_image(ctx)
    finish_interrupted_runs(ctx)  # before reconciling: it removes the containers of its runs itself
    report = reconcile(ctx.containers.config, ctx.containers)
    for line in report.lines():
        logging.getLogger("berth.agent").warning("reconciled: %s", line)
    # After reconciling: a build is reported failed once what its dead steps held is gone.
    report_interrupted_builds(ctx)
    report_lost(ctx, report)
    threads = config.OPERATION_THREADS + config.BUILD_SLOT_COUNT
    app.worker_main(["worker", "-Q", config.host_queue(ctx.host), "-P", "threads", "-c", str(threads),
                     "-n", f"agent@{ctx.host}", "--without-gossip", "--without-mingle", "-l", "INFO"])


if __name__ == "__main__":
    main()
