"""Live-view tests reuse the web personas (owner, outsider, container...)."""
from tests.webui.conftest import app, build, container, host, outsider, owner, team  # noqa: F401
