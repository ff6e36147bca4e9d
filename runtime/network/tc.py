"""Network bandwidth limits: a token bucket (tbf) on each end of the container's veth.

A qdisc shapes only what leaves an interface. What leaves the host end of the
veth is what the container receives; what leaves the container's eth0 (inside
its namespace) is what it sends. Shaping both egresses queues packets instead of
dropping them as an ingress policer would, so TCP keeps its rate steady. Both
qdiscs go with the veth pair when the namespace is removed; the container has
no CAP_NET_ADMIN to change the one on its side.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidSpec, OCIRuntimeError
from . import netns

MIN_RATE = 8 * 1024  # below this a single full-size packet waits longer than the queue allows
MAX_RATE = 2 ** 32 - 1  # tbf's rate field holds 32 bits of bytes per second
_LATENCY = "50ms"  # how long a packet may wait in the bucket before it is dropped
_TBF_HANDLE = 0x10000  # 1:


@dataclass(frozen=True)
class Rates:
    """Bytes per second the container may receive and send; None for no limit."""

    receive: int | None = None
    send: int | None = None

    @property
    def limited(self) -> bool:
        return self.receive is not None or self.send is not None


def check(rates: Rates) -> None:
    for what, rate in (("receive", rates.receive), ("send", rates.send)):
        if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
            raise InvalidSpec(f"network {what} rate {rate} bytes/s is outside {MIN_RATE}-{MAX_RATE} bytes/s")


def _burst(rate: int) -> int:
    # A tenth of a second's worth, and never less than a 64 KB GSO packet: tbf splits
    # larger segments, but a bucket smaller than one full packet would never send it.
    return max(rate // 10, 64 * 1024)


def _add_tbf(ipr, ifname: str, rate: int) -> None:
    from pyroute2 import NetlinkError

    index = ipr.link_lookup(ifname=ifname)[0]
    try:
        ipr.tc("add", "tbf", index, _TBF_HANDLE, rate=f"{rate * 8}bit", burst=_burst(rate), latency=_LATENCY)
    except NetlinkError as exc:
        raise OCIRuntimeError(f"unable to limit {ifname} to {rate} bytes/s with tc: {exc}") from None


def limit(endpoint, rates: Rates) -> None:
    if not rates.limited:
        return  # without importing pyroute2, which costs a container's start over 100 ms
    from pyroute2 import IPRoute

    if rates.receive is not None:
        with IPRoute() as ipr:
            _add_tbf(ipr, endpoint.host_veth, rates.receive)
    if rates.send is not None:
        def inside():
            with IPRoute() as ns:  # opened inside the namespace
                _add_tbf(ns, "eth0", rates.send)

        netns.run_in(endpoint.netns, inside)
