"""A Berth web server of the tests' own, on a database file: for what must hold when many
requests arrive at once.

The in-process tests' database is SQLite in memory with a shared cache, where a second
writer fails at once ("database table is locked") instead of waiting its turn, and
Django's live server hands every request the same connection: neither can show what
concurrent requests do. Here Uvicorn serves the real ASGI app on a file, as `make run`
does, and ``django()`` runs code against the same file in a process of its own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..conftest import REDIS_PORT
from ..processes import ROOT, answers, free_port, manage, start_web, stop, wait_for

# Code given to django() runs after this; it prints its answer with emit().
PRELUDE = """
import json, django
django.setup()
def emit(value):
    print(json.dumps(value))
"""


@dataclass
class OwnServer:
    url: str
    env: dict
    logs: Path
    proc: object = None

    def django(self, code: str):
        """Run ``code`` with Django set up on the server's database; what it emit()ted."""
        done = subprocess.run([sys.executable, "-c", PRELUDE + code], cwd=ROOT, env=self.env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        stop(self.proc)


def start_own_server(tmp: Path, redis_db: int, **settings: str) -> OwnServer:
    """Migrated, started and answering; ``settings``: BERTH_ variables of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env.update({"DJANGO_SETTINGS_MODULE": "webui.settings", "PYTHONPATH": str(ROOT),
                "BERTH_VAR_DIR": str(tmp / "var"), "BERTH_DB_PATH": str(tmp / "db.sqlite3"),
                # A database number of its own on the test Redis: its jobs reach no agent.
                "BERTH_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/{redis_db}",
                "BERTH_SECRET_KEY": "own-server-test-only", **settings})
    logs = tmp / "logs"
    logs.mkdir()
    manage(env, "migrate", "--noinput")
    port = free_port()
    server = OwnServer(f"http://127.0.0.1:{port}", env, logs)
    server.proc = start_web(env, logs, port)
    try:
        wait_for("the web server", lambda: answers(server.url + "/login/"))
    except AssertionError:
        server.stop()
        raise AssertionError((logs / "web.log").read_text(errors="replace")[-3000:]) from None
    return server
