"""Django settings, read strictly from the environment (see .env.example)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from workers.config import BUILD_SLOT_COUNT
from workers.env import SettingError, env_bool, env_float, env_int, env_list, env_port_range, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BERTH_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = env_str("BERTH_SECRET_KEY", "")
    if configured:
        return configured
    # A key made once per installation and kept, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("BERTH_DEBUG", False)
ALLOWED_HOSTS = env_list("BERTH_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("BERTH_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "webui.core",
    "webui.accounts",
    "webui.hosts",
    "webui.images",
    "webui.containers",
    "webui.history",
    "webui.volumes",
    "webui.api",
    "webui.audit",
    "webui.invitations",
]

# The JSON API (webui/api/): a bearer token or the browser's session; its OpenAPI schema at /api/schema/.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["webui.api.auth.BearerTokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["webui.api.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "Berth API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False,
                        "DESCRIPTION": "What the pages do: apps, builds, images, containers, volumes, teams, "
                                       "invitations, quotas, the audit log; hosts and join tokens for admins."}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webui.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "webui" / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
ASGI_APPLICATION = "webui.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("BERTH_DB_PATH", str(VAR_DIR / "berth.sqlite3")),
        # The web and the control worker write concurrently: wait for locks, and take
        # the write lock at the start of a transaction instead of failing on upgrade. In WAL
        # mode synchronous=NORMAL cannot corrupt the database; a power cut may lose the last commits.
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }
}

REDIS_URL = env_str("BERTH_REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Quota defaults for new teams; admins change each team's quota in the admin.
BERTH_DEFAULT_MAX_CONTAINERS = env_int("BERTH_DEFAULT_MAX_CONTAINERS", 10)
BERTH_DEFAULT_MAX_MEMORY_MB = env_int("BERTH_DEFAULT_MAX_MEMORY_MB", 2048)
BERTH_DEFAULT_MAX_CPUS = env_int("BERTH_DEFAULT_MAX_CPUS", 4)
BERTH_DEFAULT_MAX_BUILDS = env_int("BERTH_DEFAULT_MAX_BUILDS", 5)
BERTH_DEFAULT_MAX_IMAGE_STORAGE_MB = env_int("BERTH_DEFAULT_MAX_IMAGE_STORAGE_MB", 10240)
# A build's limits; a team's quota lowers them (memory, CPUs) for its builds.
BERTH_BUILD_MEMORY_MB = env_int("BERTH_BUILD_MEMORY_MB", 1024)
BERTH_BUILD_CPUS = env_float("BERTH_BUILD_CPUS", 2.0)
BERTH_BUILD_TIMEOUT_SECONDS = env_int("BERTH_BUILD_TIMEOUT_SECONDS", 1800)
# Builds at once on one host: the fair queue hands a host no more (the agents read it too).
BERTH_BUILD_SLOTS = BUILD_SLOT_COUNT
if BERTH_BUILD_SLOTS < 1:
    raise SettingError(f"BERTH_BUILD_SLOTS={BERTH_BUILD_SLOTS} would never run a build: give each host 1 or more")
# Host ports a user may publish; the host agents read the same variable and check again.
BERTH_PORT_MIN, BERTH_PORT_MAX = env_port_range("BERTH_PORT_RANGE", (1024, 65535))
for _old in ("BERTH_PORT_MIN", "BERTH_PORT_MAX"):
    if _old in os.environ:
        raise SettingError(f"{_old} is replaced by BERTH_PORT_RANGE=LOW-HIGH (e.g. 1024-65535)")
BERTH_MAX_CONTEXT_BYTES = env_int("BERTH_MAX_CONTEXT_BYTES", 64 * 1024 * 1024)
# Any request body above this is refused before it is read: a context, a Dockerfile and the form.
BERTH_MAX_REQUEST_BYTES = BERTH_MAX_CONTEXT_BYTES + 2 * 1024 * 1024
# Days of one-a-minute history kept per container and host (the issue asks for at least one).
BERTH_HISTORY_DAYS = env_int("BERTH_HISTORY_DAYS", 7)
if BERTH_HISTORY_DAYS < 1:
    raise SettingError(f"BERTH_HISTORY_DAYS={BERTH_HISTORY_DAYS} keeps less than the 24 hours the charts show")
# A bearer token for Prometheus to scrape /metrics with (staff sessions need none); empty: no token access.
BERTH_METRICS_TOKEN = env_str("BERTH_METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("BERTH_LOG_LEVEL", "INFO")},
}
