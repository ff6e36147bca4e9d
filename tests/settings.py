"""Settings for the test run: the project's own, pointed at the test Redis."""
import os
import tempfile

TEST_REDIS_PORT = int(os.environ.setdefault("BERTH_TEST_REDIS_PORT", "6399"))
os.environ.setdefault("BERTH_REDIS_URL", f"redis://127.0.0.1:{TEST_REDIS_PORT}/0")

from webui.settings import *  # noqa: E402,F401,F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; test users only
WHITENOISE_AUTOREFRESH = True  # serve static files from the source folders; no collectstatic needed
# A database file, not SQLite's shared in-memory one: the live-server tests have the server's
# threads and the test's write at once, which an in-memory database refuses at once ("table is
# locked") where a file in WAL mode waits for the lock, as Berth's own database does.
DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"berth-test-{os.getpid()}.sqlite3")}
