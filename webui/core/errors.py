"""Messages users see for the error codes the runtime and agents report."""
from __future__ import annotations

_PREFIX = {
    "dockerfile": "",
    "bad_context": "Build context: ",
    "port_in_use": "",
    "invalid_spec": "Invalid settings: ",
    "not_found": "",
    "oci_runtime": "The container could not be started: ",
    "missing_feature": "The host cannot do this: ",
    "lost": "",
    "cancelled": "",
    "internal": "",
}


class UserError(Exception):
    """An action refused for a reason the user can fix; the message is shown as is."""


def message_for(error: dict | None) -> str:
    if not error:
        return ""
    return _PREFIX.get(error.get("code", ""), "") + error.get("message", "unknown error")
