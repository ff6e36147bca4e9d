"""The Dockerfile's shape, checked when it is uploaded or edited, so a file the builder
would refuse at its first line is refused on the form instead of minutes later in a build.

The web must not import the runtime (ARCHITECTURE.md: webui -> workers -> runtime), so this is
not the builder's parser but the part of it that needs nothing but the text: parser
directives, continuation lines, that each instruction is one the builder knows, that only ARG
comes before the first FROM, and that FROM names an image. Arguments, flags, JSON forms and
variables are left to the builder, which checks the whole file again. Messages are the
builder's own (runtime/build/dockerfile.py), though on a line with bad arguments too the
builder may name those first; tests/webui/test_dockerfile_check.py holds the two to the same
words and keyword list, and checks that this never refuses what the builder takes.
"""
from __future__ import annotations

import difflib
import re

from django.core.exceptions import ValidationError

# The builder's instructions (runtime/build/dockerfile.py, _PARSERS).
INSTRUCTIONS = ("FROM", "RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "ENV", "LABEL", "ARG", "EXPOSE",
                "WORKDIR", "USER", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "MAINTAINER")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^\d*<<-?[^<]+$")


def _refusal(message: str, line: int | None = None, end_line: int | None = None) -> ValidationError:
    end_line = line if end_line is None else end_line
    where = "" if line is None else f"line {line}: " if end_line == line else f"lines {line}-{end_line}: "
    return ValidationError(f"Dockerfile {where}{message}")


def _directives(physical: list[str]) -> dict[str, str]:
    """As the builder reads them: only at the top, each once; later they are comments."""
    directives: dict[str, str] = {}
    for number, raw in enumerate(physical, start=1):
        match = _DIRECTIVE.match(raw.lstrip())
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            break
        key, value = match.group(1).lower(), match.group(2)
        if key in directives:
            raise _refusal(f"only one {key} parser directive can be used", number)
        if key == "escape" and value not in ("\\", "`"):
            raise _refusal(f"invalid escape character {value!r}: use \\ or `", number)
        directives[key] = value
    return directives


def _instructions(physical: list[str], escape: str) -> list[tuple[str, int, int]]:
    """(logical line, first line, last line) as the builder joins continuations: comment and
    blank lines inside one are skipped, and only the first line is left-stripped."""
    continuation = re.compile(re.escape(escape) + r"[ \t]*\Z")
    lines, index = [], 0
    while index < len(physical):
        first = physical[index].lstrip()
        index += 1
        start = end = index
        if not first or first.startswith("#"):
            continue
        text = continuation.sub("", first, count=1)
        more = text != first
        while more and index < len(physical):
            raw = physical[index]
            index += 1
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            part = continuation.sub("", raw, count=1)
            more, text, end = part != raw, text + part, index
        if text.strip():
            lines.append((text.strip(), start, end))
    return lines


def check(text: str) -> None:
    """Raise a ValidationError with the builder's message for the first problem found."""
    physical = [raw.removesuffix("\r") for raw in text.removeprefix("\ufeff").split("\n")]
    escape = _directives(physical).get("escape", "\\")
    lines = _instructions(physical, escape)
    seen_from = False
    for logical, start, end in lines:
        keyword, *rest = _WHITESPACE.split(logical, maxsplit=1)
        keyword = keyword.upper()
        if any(_HEREDOC.match(word) for word in _WHITESPACE.split(logical)):
            return  # the lines after a heredoc are its document, not instructions: the builder's to judge
        if keyword not in INSTRUCTIONS:
            close = difflib.get_close_matches(keyword, INSTRUCTIONS, n=1)
            raise _refusal(f"unknown instruction: {keyword}" + (f" (did you mean {close[0]}?)" if close else ""),
                           start, end)
        if keyword == "FROM":
            if not rest or not rest[0].strip():
                raise _refusal("FROM requires an image: FROM [--platform=...] image [AS name]", start, end)
            seen_from = True
        elif not seen_from and keyword != "ARG":
            raise _refusal(f"{keyword} cannot come before the first FROM (only ARG can)", start, end)
    if not lines:
        raise _refusal("has no instructions")
    if not seen_from:
        raise _refusal("has no FROM instruction")
