"""The container log file, as conmon writes it (the CRI "k8s-file" format).

Each record is ``<RFC 3339 time> <stdout|stderr> <P|F> <text>\n``: ``P`` marks a
partial line that continues in the next record, ``F`` a full (final) one.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogLine:
    time: str
    stream: str
    text: str
    complete: bool = True  # False for a last line that has no newline yet


def parse_record(raw: bytes) -> tuple[str, str, bool, bytes] | None:
    parts = raw.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"P", b"F"):
        return None
    text = parts[3] if len(parts) == 4 else b""
    return parts[0].decode(), parts[1].decode(), parts[2] == b"F", text


class LogReader:
    """Turns log file bytes into whole lines, joining partial records.

    ``offset`` is the file position after the last whole record consumed, so a
    reader can resume after a restart without repeating or skipping a line.
    """

    def __init__(self, offset: int = 0):
        self.offset = offset
        self._pending: dict[str, list[bytes]] = {}

    def feed(self, data: bytes, final: bool = False) -> list[LogLine]:
        lines: list[LogLine] = []
        consumed = 0
        while True:
            end = data.find(b"\n", consumed)
            if end < 0:
                break
            record = parse_record(data[consumed:end + 1])
            consumed = end + 1
            if record is None:
                continue
            time, stream, full, text = record
            self._pending.setdefault(stream, []).append(text)
            if full:
                joined = b"".join(self._pending.pop(stream))
                lines.append(LogLine(time, stream, joined.decode("utf-8", "replace")))
        self.offset += consumed
        if final:
            for stream, parts in self._pending.items():
                lines.append(LogLine("", stream, b"".join(parts).decode("utf-8", "replace"), complete=False))
            self._pending.clear()
        return lines, consumed


def read_all(path) -> list[LogLine]:
    reader = LogReader()
    with open(path, "rb") as f:
        lines, _ = reader.feed(f.read(), final=True)
    return lines
