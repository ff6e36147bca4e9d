"""Pure parts: port mapping syntax and the OCI spec Berth writes."""
import pytest

from runtime.container import spec
from runtime.errors import InvalidSpec
from runtime.network.ports import PortMapping, check_unique, parse


def test_port_mapping_forms():
    assert parse("8080:80") == PortMapping(8080, 80, "tcp")
    assert parse(" 5353:53/udp ") == PortMapping(5353, 53, "udp")


@pytest.mark.parametrize("text", ["80", "a:b", "8080:80/sctp", "70000:80", "0:80", "1:2:3"])
def test_bad_port_mappings_are_named(text):
    with pytest.raises(InvalidSpec, match="port"):
        parse(text)


def test_same_host_port_twice_is_refused():
    with pytest.raises(InvalidSpec, match="mapped twice"):
        check_unique([parse("8080:80"), parse("8080:81")])


def _spec(**kw):
    base = dict(rootfs="/r", hostname="abc", process=spec.ProcessSpec(args=("sh",)), cgroup_path="/berth/x",
                memory_bytes=64 << 20, pids_limit=100, cpus=0.5, netns_path="/var/run/netns/n")
    return spec.ContainerSpec(**{**base, **kw})


def test_spec_has_every_namespace_limit_and_docker_defaults():
    s = spec.make_spec(_spec())
    kinds = {ns["type"] for ns in s["linux"]["namespaces"]}
    assert kinds == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert s["linux"]["resources"]["memory"] == {"limit": 64 << 20}
    assert s["linux"]["resources"]["cpu"] == {"quota": 50000, "period": 100000}
    assert s["linux"]["resources"]["pids"] == {"limit": 100}
    assert s["process"]["noNewPrivileges"] is True
    assert "CAP_SYS_ADMIN" not in s["process"]["capabilities"]["bounding"]
    assert "/proc/kcore" in s["linux"]["maskedPaths"]


def test_rlimits_never_exceed_our_own_hard_limits():
    import resource
    s = spec.make_spec(_spec())
    nofile = next(r for r in s["process"]["rlimits"] if r["type"] == "RLIMIT_NOFILE")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert nofile["hard"] <= hard or hard == resource.RLIM_INFINITY


@pytest.mark.parametrize("kw, message", [
    ({"hostname": "-bad"}, "hostname"),
    ({"process": spec.ProcessSpec(args=())}, "no command"),
    ({"process": spec.ProcessSpec(args=("sh",), cwd="rel")}, "absolute"),
])
def test_invalid_spec_is_refused(kw, message):
    with pytest.raises(InvalidSpec, match=message):
        spec.make_spec(_spec(**kw))
