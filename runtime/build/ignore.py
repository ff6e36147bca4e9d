""".dockerignore: which context paths COPY and ADD do not see.

The rules of Docker's patternmatcher: one pattern a line, ``#`` lines are
comments, a leading ``!`` makes an exception, a leading ``/`` is dropped,
``*`` and ``?`` stay within one path component while ``**`` spans any number
of them, a pattern also matches everything under a directory it matches,
and the last pattern that matches a path decides.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ContextError

IGNORE_FILE = ".dockerignore"


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    parts: int  # path components in the pattern, to match a parent of a path
    exception: bool


@dataclass(frozen=True)
class IgnoreRules:
    patterns: tuple[_Pattern, ...] = ()

    @classmethod
    def of_context(cls, context: Path) -> IgnoreRules:
        path = context / IGNORE_FILE
        if path.is_symlink() or not path.is_file():
            return cls()
        return cls.parse(path.read_text(errors="replace"))

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        patterns = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            line = line[1:].strip() if exception else line
            cleaned = posixpath.normpath(line).lstrip("/")
            if not cleaned or cleaned == ".":
                continue
            patterns.append(_Pattern(_compile(cleaned, number), cleaned.count("/") + 1, exception))
        return cls(tuple(patterns))

    def excluded(self, rel: str) -> bool:
        """Whether the context path ``rel`` (relative, ``/``-separated) is left out."""
        if rel in ("", "."):
            return False
        parts = rel.split("/")
        verdict = False
        for pattern in self.patterns:
            if pattern.regex.fullmatch(rel) or (
                    len(parts) > pattern.parts and pattern.regex.fullmatch("/".join(parts[:pattern.parts]))):
                verdict = not pattern.exception
        return verdict

    @property
    def has_exceptions(self) -> bool:
        return any(p.exception for p in self.patterns)


def _compile(pattern: str, line: int) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):  # "**/" is zero or more whole components
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i)
            if end < 0:
                raise ContextError(f"{IGNORE_FILE} line {line}: unterminated [ in pattern {pattern!r}")
            body = pattern[i:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        elif ch == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))
