"""Registries as the runtime knows them: where an image name points, and how to log in.

A registry is given as a URL, ``https://registry.example`` or, for a registry
without TLS (one on loopback, say), ``http://127.0.0.1:5000``; credentials ride
in it as ``http://user:password@host:port``. Image names follow Docker's rule:
the first component is a registry host when it has a dot or a colon, or is
``localhost``; otherwise the name is looked up in the configured registries.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..errors import InvalidSpec


@dataclass(frozen=True)
class Registry:
    host: str  # host[:port], as it appears in image names
    insecure: bool = False  # plain HTTP, no TLS verification
    username: str = ""
    password: str = ""

    def __repr__(self) -> str:  # never print the password
        return f"Registry({self.host!r}, insecure={self.insecure}, user={self.username!r})"


def parse_registry(url: str) -> Registry:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSpec(f"registry {_without_password(url)!r} must be a URL such as "
                          "https://registry.example or http://127.0.0.1:5000")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidSpec(f"registry {_without_password(url)!r} must name only a host and port")
    try:
        port = parts.port
    except ValueError:
        raise InvalidSpec(f"registry {_without_password(url)!r} has a bad port") from None
    host = parts.hostname + (f":{port}" if port else "")
    return Registry(host, parts.scheme == "http", unquote(parts.username or ""), unquote(parts.password or ""))


def _without_password(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def registry_host(ref: str) -> str | None:
    """The registry host an image name names, or None for a bare name (``busybox``, ``team/app``)."""
    first, slash, _ = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def candidates(ref: str, registries: tuple[Registry, ...]) -> list[tuple[Registry, str]]:
    """Where to pull ``ref`` from, in order: (registry, full name) pairs."""
    host = registry_host(ref)
    if host is None:
        return [(r, f"{r.host}/{ref}") for r in registries]
    known = [r for r in registries if r.host == host]
    return [(known[0] if known else Registry(host), ref)]


def for_name(ref: str, registries: tuple[Registry, ...]) -> Registry:
    """The registry a fully named image (``host:port/repo:tag``) is pushed to."""
    host = registry_host(ref)
    if host is None:
        raise InvalidSpec(f"{ref!r} names no registry: push to host[:port]/repository[:tag]")
    return next((r for r in registries if r.host == host), Registry(host))
