"""End to end: instances of the real test guest talk to each other over their NICs.

The whole test cluster (node daemon, master daemon, every gnt command, the
QEMU processes and their taps) runs inside a network namespace created for
the test: ``ip netns exec`` wraps every command, the cluster's 127.x
addresses live on the namespace's loopback and the bridge/routes live there
too, so no packet leaves the namespace.  The guests' addresses are set on
their serial consoles (the guest's init leaves the network alone), then one
guest pings the other:

* bridged: two NICs on one Linux bridge, one subnet;
* routed: host routes in routing table 100 via the taps, proxy ARP, the
  namespace forwarding between the taps; each guest has a /32 address and a
  default route out of its NIC.

After shutdown the taps, their NIC files and the routing state are gone.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gnt.hypervisor.kvm.network import tap_name
from tests.e2e.test_kvm_cluster import Console
from tests.support import netns as N
from tests.support.cluster import GUEST_DIR, CmdResult, TestCluster

pytestmark = pytest.mark.e2e

if not (GUEST_DIR / "vmlinuz").exists() or not shutil.which("qemu-system-x86_64"):
    pytest.skip("test guest not built or QEMU missing (run tools/setup.sh)",
                allow_module_level=True)
if N.available():
    pytest.skip(f"network namespaces: {N.available()}", allow_module_level=True)

BRIDGE = "gntbr-e2e"
PROMPT = b"gnt-guest# "


@dataclass
class NetnsCluster(TestCluster):
    """A test cluster every command of which runs inside network namespace ``ns``."""

    ns: str = ""

    def run(self, *argv: str, node: str | None = None, timeout: float = 300,
            input: str | None = None) -> CmdResult:
        res = super().run("ip", "netns", "exec", self.ns, *argv, node=node, timeout=timeout,
                          input=input)
        return CmdResult(list(argv), res.code, res.out, res.err)


@pytest.fixture
def ns() -> Iterator[str]:
    with N.netns("gnte2e") as name:
        yield name


def _cluster(root: Path, ns: str, *extra: str) -> NetnsCluster:
    c = NetnsCluster(root, ns=ns)
    c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "diskless",
           "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                 f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                 "kernel_args=quiet,serial_console=true,vhost_net=false", *extra)
    return c


def _add(c: NetnsCluster, name: str, net: str) -> None:
    """A diskless instance of the test guest (its initramfs is all it needs), started."""
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "-o", "image+raw",
         "-B", "memory=128M", "--net", net, name, timeout=300)
    c.ok("gnt-instance", "startup", name, timeout=300)


def _config(c: NetnsCluster) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((c.root / "var/lib/ganeti/config.data").read_text())
    return data


def _tap_of(c: NetnsCluster, name: str) -> str:
    """The tap of NIC 0 of ``name``: as recorded by the node, and as it must be named."""
    fqdn = c.fqdn(name)
    recorded = (c.root / "var/run/ganeti/kvm-hypervisor/nic" / fqdn / "0").read_text().strip()
    inst = next(i for i in _config(c)["instances"].values() if i["name"] == fqdn)
    assert recorded == tap_name(inst["uuid"], inst["nics"][0]["uuid"], node=c.master)
    return recorded


def _link(ns: str, dev: str) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(N.ip(ns, "-j", "link", "show", "dev", dev))[0]
    return info


def _serial_socket(c: NetnsCluster, node: str, name: str) -> str:
    rt = c.node_root(node) / "var/run/ganeti/kvm-hypervisor/conf" / f"{c.fqdn(name)}.runtime"
    return str(json.loads(rt.read_text())["serial"])


def _shell(c: NetnsCluster, name: str, setup: str, node: str = "node1") -> Console:
    """Wait for the shell of ``name`` (running on ``node``) and run ``setup`` in it."""
    con = Console(_serial_socket(c, node, name))
    con.wait_prompt(PROMPT, timeout=180)
    con.send(f"{setup} && echo NET-READY-$((20+1))")
    con.read_until(b"NET-READY-21", timeout=30)
    return con


def _ping(con: Console, address: str) -> bytes:
    con.buf = b""
    con.send(f"ping -c 3 -w 30 {address} && echo PING-OK-$((6*7)) || echo PING-FAILED-$((6*7))")
    return con.read_until(b"-42\r\n", timeout=60)


def _shutdown_and_check(c: NetnsCluster, ns: str, names: list[str], taps: list[str]) -> None:
    for name in names:
        c.ok("gnt-instance", "shutdown", "--timeout", "60", name, timeout=120)
    for tap in taps:
        assert N.ip(ns, "link", "show", "dev", tap, check=False) == ""
    nic_dir = c.root / "var/run/ganeti/kvm-hypervisor/nic"
    assert not nic_dir.exists() or not any(nic_dir.iterdir())


def test_bridged_instances_ping_each_other(cluster_root: Path, ns: str) -> None:
    N.ip(ns, "link", "add", BRIDGE, "type", "bridge")
    N.ip(ns, "link", "set", BRIDGE, "up")
    c = _cluster(cluster_root, ns, "-N", f"mode=bridged,link={BRIDGE}")
    cons: list[Console] = []
    try:
        _add(c, "inst1", "0:ip=10.77.0.11")
        _add(c, "inst2", "0:ip=10.77.0.12")
        taps = [_tap_of(c, "inst1"), _tap_of(c, "inst2")]
        for tap in taps:
            info = _link(ns, tap)
            assert info["master"] == BRIDGE and info["address"].startswith("fe:")
        for name, addr in (("inst1", "10.77.0.11"), ("inst2", "10.77.0.12")):
            cons.append(_shell(c, name, f"ip link set eth0 up && ip addr add {addr}/24 dev eth0"))
        out = _ping(cons[0], "10.77.0.12")
        assert b"PING-OK-42" in out, out[-1500:]
        assert b" 0% packet loss" in out or b"3 packets received" in out
        for con in cons:
            con.close()
        cons = []
        _shutdown_and_check(c, ns, ["inst1", "inst2"], taps)
        assert N.ip(ns, "link", "show", "master", BRIDGE).strip() == ""
    finally:
        for con in cons:
            con.close()
        c.destroy()


def test_routed_instances_ping_each_other_through_the_node(cluster_root: Path,
                                                           ns: str) -> None:
    # the node's own address (the source of its ARP requests towards the guests)
    N.ip(ns, "addr", "add", "10.88.0.1/32", "dev", "lo")
    N.exec_in(ns, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward")
    c = _cluster(cluster_root, ns)
    cons: list[Console] = []
    try:
        _add(c, "inst1", "0:mode=routed,link=100,ip=10.88.0.21")
        _add(c, "inst2", "0:mode=routed,link=100,ip=10.88.0.22")
        taps = [_tap_of(c, "inst1"), _tap_of(c, "inst2")]
        table = N.ip(ns, "route", "show", "table", "100")
        for tap, addr in zip(taps, ("10.88.0.21", "10.88.0.22"), strict=True):
            assert f"{addr} dev {tap} proto static" in table
            assert f"iif {tap} lookup 100" in N.ip(ns, "rule", "show")
        for name, addr in (("inst1", "10.88.0.21"), ("inst2", "10.88.0.22")):
            cons.append(_shell(c, name, f"ip link set eth0 up && ip addr add {addr}/32 dev "
                                        "eth0 && ip route add default dev eth0"))
        out = _ping(cons[0], "10.88.0.22")
        assert b"PING-OK-42" in out, out[-1500:]
        for con in cons:
            con.close()
        cons = []
        _shutdown_and_check(c, ns, ["inst1", "inst2"], taps)
        assert "lookup 100" not in N.ip(ns, "rule", "show")
        assert N.ip(ns, "route", "show", "table", "100").strip() == ""
    finally:
        for con in cons:
            con.close()
        c.destroy()


def _guest_iface(mac: str) -> str:
    """Shell code naming the guest's interface with ``mac`` in $dev."""
    return f"dev=$(grep -l {mac} /sys/class/net/*/address | cut -d/ -f5)"


def _macs(c: NetnsCluster, name: str) -> list[str]:
    fqdn = c.fqdn(name)
    inst = next(i for i in _config(c)["instances"].values() if i["name"] == fqdn)
    return [n["mac"] for n in inst["nics"]]


def _host_ping(ns: str, address: str) -> str:
    return N.exec_in(ns, "busybox", "ping", "-c", "2", "-w", "20", address, check=False)


def test_nics_follow_a_live_migration(tmp_path: Path, ns: str) -> None:
    """inst1 (a bridged and a routed NIC) migrates from node1 to node2; inst2 (bridged,
    on node2) and the node namespace reach it before and after."""
    if shutil.which("busybox") is None:
        pytest.skip("busybox (for ping in the namespace) is not installed")
    N.ip(ns, "link", "add", BRIDGE, "type", "bridge")
    N.ip(ns, "link", "set", BRIDGE, "up")
    N.ip(ns, "addr", "add", "10.88.0.1/32", "dev", "lo")
    c = NetnsCluster(tmp_path / "mig", nodes=["node1", "node2"], ns=ns)
    cons: list[Console] = []
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "diskless",
               "-N", f"mode=bridged,link={BRIDGE}",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     "kernel_args=quiet,serial_console=true,vhost_net=false")
        c.add_node("node2")
        for name, node, nets in (
                ("inst1", "node1", ["0:ip=10.77.0.11", "1:mode=routed,link=,ip=10.88.0.21"]),
                ("inst2", "node2", ["0:ip=10.77.0.12"])):
            c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "-o", "image+raw",
                 "-B", "memory=128M", *[a for n in nets for a in ("--net", n)],
                 "-n", c.fqdn(node), name, timeout=300)
            c.ok("gnt-instance", "startup", name, timeout=300)
        mac0, mac1 = _macs(c, "inst1")
        cons.append(_shell(c, "inst1", (
            f"{_guest_iface(mac0)} && ip link set $dev up && ip addr add 10.77.0.11/24 dev $dev"
            f" && {_guest_iface(mac1)} && ip link set $dev up && "
            "ip addr add 10.88.0.21/32 dev $dev && ip route add default dev $dev")))
        cons.append(_shell(c, "inst2", "ip link set eth0 up && ip addr add 10.77.0.12/24 "
                                       "dev eth0", node="node2"))
        assert b"PING-OK-42" in _ping(cons[1], "10.77.0.11")
        assert " 0% packet loss" in _host_ping(ns, "10.88.0.21")
        old_taps = sorted((c.root / "var/run/ganeti/kvm-hypervisor/nic" / c.fqdn("inst1")
                           ).iterdir())
        old = [p.read_text().strip() for p in old_taps]

        cons[0].close()
        c.ok("gnt-instance", "migrate", "-f", "-n", c.fqdn("node2"), "inst1", timeout=300)

        # the taps on node2 are named for node2, on the bridge / routed to; node1's are gone
        node2_nics = c.node_root("node2") / "var/run/ganeti/kvm-hypervisor/nic"
        new = [(node2_nics / c.fqdn("inst1") / str(i)).read_text().strip() for i in (0, 1)]
        inst = next(i for i in _config(c)["instances"].values()
                    if i["name"] == c.fqdn("inst1"))
        assert new == [tap_name(inst["uuid"], n["uuid"], node=c.fqdn("node2"))
                       for n in inst["nics"]]
        assert set(new).isdisjoint(old)
        assert _link(ns, new[0])["master"] == BRIDGE
        assert f"10.88.0.21 dev {new[1]} proto static" in N.ip(ns, "route", "show")
        for tap in old:
            assert N.ip(ns, "link", "show", "dev", tap, check=False) == ""
        assert not (c.root / "var/run/ganeti/kvm-hypervisor/nic" / c.fqdn("inst1")).exists()

        # the guest kept running (same shell, same addresses) and is reachable again
        con = Console(_serial_socket(c, "node2", "inst1"))
        cons[0] = con
        con.wait_prompt(PROMPT, timeout=60)
        con.send("ip -o addr show | grep -c 10.77.0.11/24 && echo ADDR-KEPT-$((3*3))")
        con.read_until(b"ADDR-KEPT-9", timeout=30)
        assert b"PING-OK-42" in _ping(cons[1], "10.77.0.11")
        assert " 0% packet loss" in _host_ping(ns, "10.88.0.21")
        for con in cons:
            con.close()
        cons = []
        _shutdown_and_check(c, ns, ["inst1", "inst2"], [*old, *new])
        assert "10.88.0.21" not in N.ip(ns, "route", "show")
    finally:
        for con in cons:
            con.close()
        c.destroy()
