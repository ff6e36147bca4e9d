"""Strict readers of settings from the environment, shared by the web and the workers.

An ambiguous value is an error at start-up, not a surprise later.
"""
from __future__ import annotations

import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingError(ValueError):
    pass


def env_str(name: str, default: str) -> str:
    file_var = os.environ.get(f"{name}_FILE")
    if file_var:  # secrets may come from a file instead
        with open(file_var) as f:
            return f.read().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a whole number") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise SettingError(f"{name}={raw!r} must be more than 0")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_port_range(name: str, default: tuple[int, int]) -> tuple[int, int]:
    """``LOW-HIGH``, inclusive, within 1-65535."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    low, sep, high = raw.strip().partition("-")
    if not (sep and low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high) <= 65535):
        raise SettingError(f"{name}={raw!r} is not a port range LOW-HIGH within 1-65535, e.g. 1024-65535")
    return int(low), int(high)
