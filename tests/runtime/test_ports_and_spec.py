"""Pure parts: port mapping syntax and the OCI spec Berth writes."""
import pytest

from runtime.container import spec
from runtime.errors import InvalidSpec
from runtime.network.ports import PortMapping, check_allowed, check_unique, parse


def test_port_mapping_forms():
    assert parse("8080:80") == PortMapping(8080, 80, "tcp")
    assert parse(" 5353:53/udp ") == PortMapping(5353, 53, "udp")
    assert parse("8053:53/udp") == PortMapping(8053, 53, "udp")
    assert parse("127.0.0.1:8080:80") == PortMapping(8080, 80, "tcp", "127.0.0.1")
    assert parse("0.0.0.0:8080:80") == PortMapping(8080, 80, "tcp")  # every address, as Docker reads it


@pytest.mark.parametrize("text", ["80", "a:b", "8080:80/sctp", "70000:80", "0:80", "1:2:3", "localhost:80:80"])
def test_bad_port_mappings_are_named(text):
    with pytest.raises(InvalidSpec, match="port"):
        parse(text)


def test_bad_host_address_is_named():
    with pytest.raises(InvalidSpec, match="host address '300.0.0.1' in '300.0.0.1:8080:80' is not an IPv4 address"):
        parse("300.0.0.1:8080:80")


def test_one_port_on_two_addresses_is_fine_but_on_one_and_all_is_not():
    check_unique([parse("127.0.0.1:8080:80"), parse("127.0.0.2:8080:80")])
    with pytest.raises(InvalidSpec, match="host port 8080/tcp is mapped twice"):
        check_unique([parse("127.0.0.1:8080:80"), parse("8080:81")])


@pytest.mark.parametrize("mapping, allowed", [("80:80", (1024, 65535)), ("2000:80", (3000, 4000))])
def test_port_outside_the_range_names_port_and_range(mapping, allowed):
    low, high = allowed
    with pytest.raises(InvalidSpec, match=f"host port {mapping.split(':')[0]} in {mapping}/tcp "
                                          f"is outside the allowed range {low}-{high}"):
        check_allowed([parse(mapping)], allowed)


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
    ({"cpuset_cpus": "0-"}, "cpuset '0-' is not a CPU list like 0, 0-1 or 0,2"),
    ({"memory_swap": 32 << 20}, "memory\\+swap limit 33554432 bytes is below the memory limit"),
    ({"blkio_weight": 5}, "block IO weight 5 must be between 10 and 1000"),
    ({"device_read_bps": (spec.DeviceRate(254, 0, 0),)}, "block device 254:0 rate must be at least 1 byte/s"),
])
def test_invalid_spec_is_refused(kw, message):
    with pytest.raises(InvalidSpec, match=message):
        spec.make_spec(_spec(**kw))


def test_cpuset_swap_and_block_io_go_into_the_spec_for_runc():
    s = spec.make_spec(_spec(cpuset_cpus="0-1", memory_swap=128 << 20, blkio_weight=300,
                             device_read_bps=(spec.DeviceRate(254, 0, 1 << 20),),
                             device_write_bps=(spec.DeviceRate(254, 0, 2 << 20),)))
    res = s["linux"]["resources"]
    assert res["cpu"] == {"quota": 50000, "period": 100000, "cpus": "0-1"}
    assert res["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert res["blockIO"] == {"weight": 300,
                              "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1 << 20}],
                              "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 2 << 20}]}
    assert "blockIO" not in spec.make_spec(_spec())["linux"]["resources"]
