"""Every skopeo call, in one place: image copies between the store, archives and registries.

skopeo speaks the distribution API (basic and token auth, TLS, retries) and the
archive formats; Berth only says what to copy where. Credentials go through an
auth file of the call's own (mode 0600), never on the command line, where any
user could read them in the process list.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile

from ..errors import RegistryError
from .registry import Registry

SKOPEO = "skopeo"
TIMEOUT_SECONDS = 900

# skopeo's (and Go's) words for each kind of failure, and what the user reads.
_UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "network is unreachable",
                "tls: ", "connection reset", "eof")
_DENIED = ("unauthorized", "authentication required", "denied", "401", "403")
_MISSING = ("manifest unknown", "name unknown", "not found", "404")


def _authfile(directory: str, registries: list[Registry]) -> str | None:
    auths = {r.host: {"auth": base64.b64encode(f"{r.username}:{r.password}".encode()).decode()}
             for r in registries if r.username}
    if not auths:
        return None
    path = os.path.join(directory, "auth.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"auths": auths}, f)
    return path


def _explain(stderr: str, image: str, registry: Registry | None) -> str:
    lower = stderr.lower()
    where = f"registry {registry.host}" if registry else "the archive"
    if registry and "server gave http response to https client" in lower:
        return (f"{where} answers in plain HTTP, not HTTPS, for {image}: "
                f"configure it as http://{registry.host} if that is meant")
    if registry and any(word in lower for word in _DENIED):
        return f"{where} refused access to {image}: " + ("wrong user name or password"
                                                         if registry.username else "it needs a login")
    if registry and any(word in lower for word in _MISSING):
        return f"image {image} is not in {where}"
    if registry and any(word in lower for word in _UNREACHABLE):
        return f"{where} is unreachable for {image}: {_last_line(stderr)}"
    return f"copying {image} from or to {where} failed: {_last_line(stderr)}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def copy(source: str, destination: str, *, image: str, source_registry: Registry | None = None,
         destination_registry: Registry | None = None, decompress: bool = False) -> None:
    """``skopeo copy source destination``, with TLS and credentials for each side's registry."""
    registry = source_registry or destination_registry
    with tempfile.TemporaryDirectory(prefix="berth-skopeo-") as tmp:
        args = [SKOPEO, "copy", "--quiet", "--retry-times", "1"]
        authfile = _authfile(tmp, [r for r in (source_registry, destination_registry) if r])
        if authfile:
            args += ["--authfile", authfile]
        if source_registry:
            args.append(f"--src-tls-verify={'false' if source_registry.insecure else 'true'}")
        if destination_registry:
            args.append(f"--dest-tls-verify={'false' if destination_registry.insecure else 'true'}")
        if decompress:
            args.append("--dest-decompress")
        try:
            done = subprocess.run(args + [source, destination], capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS, env={**os.environ, "HOME": tmp})
        except FileNotFoundError:
            raise RegistryError("skopeo is not installed on this host (Debian package skopeo)") from None
        except subprocess.TimeoutExpired:
            raise RegistryError(f"copying {image} took longer than {TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        raise RegistryError(_explain(done.stderr, image, registry), detail=done.stderr[-2000:])
