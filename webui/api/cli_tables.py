"""What `berth` prints: aligned tables, sizes in binary units (MiB, GiB, as the web's pages
count them), and the rows of `berth stats`, `berth images` and `berth volume ls`."""
from __future__ import annotations

from datetime import datetime, timezone

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size(n: float | None) -> str:
    """``10.5MiB``: four significant digits at most, as ``docker stats`` writes sizes."""
    if n is None:
        return "--"
    n, unit = float(n), 0
    while abs(n) >= 1024 and unit < len(_UNITS) - 1:
        n, unit = n / 1024, unit + 1
    return f"{n:.4g}{_UNITS[unit]}"


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """``columns``: (heading, key) pairs; each column as wide as its widest cell."""
    cells = [[heading for heading, _ in columns]] + [[_cell(row.get(key)) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("   ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


STATS_COLUMNS = [("CONTAINER ID", "id"), ("NAME", "name"), ("CPU %", "cpu"), ("MEM USAGE / LIMIT", "mem"),
                 ("MEM %", "mem_percent"), ("NET I/O", "net"), ("BLOCK I/O", "block"), ("PIDS", "pids")]


def stats_row(row: dict) -> dict:
    """A ``docker stats`` line of an API stats row; ``--`` where no sample came in the last minute."""
    sample = row.get("sample")
    if not sample:
        return {"id": row["id"], "name": row["name"], "cpu": "--", "mem": "-- / --", "mem_percent": "--",
                "net": "-- / --", "block": "-- / --", "pids": "--"}
    mem, limit = sample.get("mem", 0), sample.get("mem_limit", 0)
    return {"id": row["id"], "name": row["name"], "cpu": f"{sample.get('cpu', 0):.2f}%",
            "mem": f"{size(mem)} / {size(limit)}", "mem_percent": f"{100 * mem / limit:.2f}%" if limit else "--",
            "net": f"{size(sample.get('net_rx_total', 0))} / {size(sample.get('net_tx_total', 0))}",
            "block": f"{size(sample.get('io_read_total', 0))} / {size(sample.get('io_write_total', 0))}",
            "pids": sample.get("pids", 0)}


IMAGE_COLUMNS = [("TEAM", "team"), ("APP", "app"), ("IMAGE", "image"), ("IMAGE ID", "image_id"),
                 ("SIZE", "size"), ("LAYERS", "layers"), ("BUILT", "built"), ("HOST", "host")]


def image_row(row: dict, now: datetime | None = None) -> dict:
    """An Images page row: the app's current image by name, an older one by its build."""
    image_id = row["image_id"].removeprefix("sha256:")[:12]
    return {**row, "image": row["image"] if row["current"] else f"<older build #{row['build']}>",
            "image_id": image_id, "size": size(row["size"]), "built": ago(row["built"], now)}


VOLUME_COLUMNS = [("TEAM", "team"), ("VOLUME NAME", "name"), ("HOST", "host"), ("USED BY", "used_by"),
                  ("STATUS", "status")]


def volume_row(row: dict) -> dict:
    """A Volumes page row: where its files are, which containers mount it, and a removal
    asked and not answered, or the host's reason for refusing the last one."""
    return {**row, "host": row["host"] or "not used yet",
            "used_by": ", ".join(f"{c['name']} ({c['status']})" for c in row["used_by"]),
            "status": "removing" if row["removing"] else row["error"]}


def ago(stamp: str | None, now: datetime | None = None) -> str:
    """``5 minutes ago``, as ``docker images`` says how old an image is."""
    if not stamp:
        return ""
    seconds = ((now or datetime.now(timezone.utc)) - datetime.fromisoformat(stamp)).total_seconds()
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "seconds ago"
