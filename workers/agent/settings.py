"""The agent's runtime configuration, from the environment (the runtime reads none)."""
from __future__ import annotations

from pathlib import Path

from runtime.config import RuntimeConfig
from runtime.errors import InvalidSpec
from runtime.image.registry import Registry, parse_registry

from ..env import SettingError, env_bool, env_int, env_list, env_port_range, env_str


def runtime_config() -> RuntimeConfig:
    d = RuntimeConfig()
    return RuntimeConfig(
        state_dir=env_str("BERTH_STATE_DIR", str(d.state_dir)),
        run_dir=env_str("BERTH_RUN_DIR", str(d.run_dir)),
        bridge=env_str("BERTH_BRIDGE", d.bridge),
        subnet=env_str("BERTH_SUBNET", d.subnet),
        nft_table=env_str("BERTH_NFT_TABLE", d.nft_table),
        cgroup_parent=env_str("BERTH_CGROUP_PARENT", d.cgroup_parent),
        netns_prefix=env_str("BERTH_NETNS_PREFIX", d.netns_prefix),
        allow_outbound=env_bool("BERTH_ALLOW_OUTBOUND", True),
        port_range=env_port_range("BERTH_PORT_RANGE", d.port_range),
        dns_servers=tuple(env_list("BERTH_DNS", [])),
        log_size_max=env_int("BERTH_LOG_SIZE_MAX", d.log_size_max),
        userns=_userns(),
    )


def _userns() -> str:
    """BERTH_USERNS: ``auto`` (user namespaces where the host allows them) or ``off``."""
    value = env_str("BERTH_USERNS", "auto")
    if value not in ("auto", "off"):
        raise SettingError(f"BERTH_USERNS must be auto or off, not {value!r}")
    return value


def registries() -> tuple[Registry, ...]:
    """BERTH_REGISTRIES: registry URLs, comma-separated, e.g. ``http://127.0.0.1:5000``; logins in
    them (``https://user:password@host``) are better kept in the file BERTH_REGISTRIES_FILE names."""
    urls = env_list("BERTH_REGISTRIES", [])
    path = env_str("BERTH_REGISTRIES_FILE", "")
    if path:
        urls += [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    try:
        found = tuple(parse_registry(url) for url in urls)
    except InvalidSpec as exc:
        raise SettingError(f"BERTH_REGISTRIES: {exc.message}") from None
    shared = shared_registry()
    return found + ((shared,) if shared and shared not in found else ())


def shared_registry() -> Registry | None:
    """BERTH_SHARED_REGISTRY: the registry every host of the fleet reaches (e.g.
    ``http://10.0.0.1:5000``). A host pushes what it builds there, so any host can run it."""
    url = env_str("BERTH_SHARED_REGISTRY", "")
    if not url:
        return None
    try:
        return parse_registry(url)
    except InvalidSpec as exc:
        raise SettingError(f"BERTH_SHARED_REGISTRY: {exc.message}") from None


def join_token() -> str:
    """BERTH_JOIN_TOKEN, or the first line of the file BERTH_JOIN_TOKEN_FILE names: what lets
    this host join the fleet (an admin makes one on the Hosts page)."""
    token = env_str("BERTH_JOIN_TOKEN", "")
    path = env_str("BERTH_JOIN_TOKEN_FILE", "")
    if not token and path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise SettingError(f"BERTH_JOIN_TOKEN_FILE {path}: {exc.strerror}") from None
    return token
