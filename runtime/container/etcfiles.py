"""/etc/hostname, /etc/hosts and /etc/resolv.conf for a container, and user lookup."""
from __future__ import annotations

import ipaddress
from pathlib import Path

from ..errors import InvalidSpec
from ..linux.files import secure_join
from .spec import BindFile

_FALLBACK_DNS = ("9.9.9.9", "1.1.1.1")


def host_nameservers(resolv_conf: Path = Path("/etc/resolv.conf"), with_loopback: bool = False) -> list[str]:
    """The host's nameservers, minus loopback ones a container cannot reach (unless it shares
    the host's network, loopback included: ``with_loopback``)."""
    servers = []
    try:
        text = resolv_conf.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                if with_loopback or not ipaddress.ip_address(parts[1]).is_loopback:
                    servers.append(parts[1])
            except ValueError:
                continue
    return servers


def write_etc_files(bundle: Path, hostname: str, ip: str | None, dns: list[str],
                    host_network: bool = False) -> tuple[BindFile, ...]:
    etc = bundle / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "hostname").write_text(hostname + "\n")
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    if ip:
        hosts += f"{ip}\t{hostname}\n"
    (etc / "hosts").write_text(hosts)
    servers = dns or host_nameservers(with_loopback=host_network) or list(_FALLBACK_DNS)
    (etc / "resolv.conf").write_text("".join(f"nameserver {s}\n" for s in servers))
    return tuple(BindFile(str(etc / name), f"/etc/{name}", readonly=False)
                 for name in ("hostname", "hosts", "resolv.conf"))


def _lookup(path: Path, key: str, by_name_field: int, id_field: int) -> list[str] | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) > id_field and fields[by_name_field] == key:
            return fields
    return None


def resolve_user(rootfs: Path, user: str) -> tuple[int, int]:
    """``name``, ``uid``, ``name:group`` or ``uid:gid`` as Docker's USER takes them."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    passwd = secure_join(rootfs, "/etc/passwd")
    if name.isdigit():
        uid = int(name)
        entry = next((f for f in _all(passwd) if f[2] == name), None)
        gid = int(entry[3]) if entry else 0
    else:
        entry = _lookup(passwd, name, 0, 3)
        if entry is None:
            raise InvalidSpec(f"user {name!r} is not in the image's /etc/passwd")
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            entry = _lookup(secure_join(rootfs, "/etc/group"), group, 0, 2)
            if entry is None:
                raise InvalidSpec(f"group {group!r} is not in the image's /etc/group")
            gid = int(entry[2])
    return uid, gid


def _all(path: Path) -> list[list[str]]:
    try:
        return [line.split(":") for line in path.read_text().splitlines() if line.count(":") >= 3]
    except OSError:
        return []
