"""ADD of a URL: the file is fetched over HTTP(S) before the step, within a size limit.

As in Docker, the file is named after the URL's last path component (when the
destination is a directory), gets mode 0600, and its mtime from the server's
Last-Modified header when there is one. Archives fetched this way are not unpacked.
"""
from __future__ import annotations

import email.utils
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import DockerfileError

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    timeout_seconds: float


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def fetch(url: str, directory: Path, limits: Limits, line: int) -> Path:
    """Download ``url`` into ``directory``; errors name the URL and the line."""
    name = posixpath.basename(urllib.parse.urlsplit(url).path.rstrip("/")) or "index.html"
    target = directory / name
    try:
        with urllib.request.urlopen(url, timeout=limits.timeout_seconds) as response:
            _save(response, target, url, limits.max_bytes, line)
            modified = response.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        raise DockerfileError(f"ADD {url}: the server answered {exc.code} {exc.reason}", line=line) from None
    except urllib.error.URLError as exc:
        raise DockerfileError(f"ADD {url}: cannot fetch it ({exc.reason})", line=line) from None
    except (TimeoutError, ConnectionError) as exc:
        raise DockerfileError(f"ADD {url}: the download failed ({exc})", line=line) from None
    os.chmod(target, 0o600)
    _set_mtime(target, modified)
    return target


def _set_mtime(target: Path, last_modified: str | None) -> None:
    try:
        when = email.utils.parsedate_to_datetime(last_modified).timestamp()
    except (TypeError, ValueError):
        return  # no header, or one that is not a date: the file keeps the time it was fetched
    os.utime(target, (when, when))


def _save(response, target: Path, url: str, max_bytes: int, line: int) -> None:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise DockerfileError(f"ADD {url}: the file is {int(declared)} bytes, over the limit of {max_bytes} bytes",
                              line=line)
    size = 0
    with open(target, "wb") as out:
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:  # a server may send more than it declared, or declare nothing
                raise DockerfileError(f"ADD {url}: the download passed the limit of {max_bytes} bytes",
                                      line=line)
            out.write(chunk)
