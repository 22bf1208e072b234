"""The built-in NIC setup and the KVM tap lifecycle, for real, in a network namespace.

Every test gets its own namespace (bridges, taps, routes and rules live
there and vanish with it); the code under test runs in a child process that
entered the namespace (tests/support/netns.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt import errors, paths
from gnt.hypervisor.base import InstanceSpec, NICSpec
from gnt.hypervisor.kvm import network as kvmnet
from gnt.hypervisor.kvm import runtime as R
from gnt.network import env as nenv
from gnt.network import scripts
from tests.support import netns as N

pytestmark = [pytest.mark.unit]

if N.available():
    pytest.skip(f"network namespaces: {N.available()}", allow_module_level=True)


@pytest.fixture
def ns() -> Iterator[str]:
    with N.netns("gntnet") as name:
        yield name


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    monkeypatch.setenv("GNT_HOSTNAME", "node1.gnt.test")
    return tmp_path


def link(ns: str, dev: str) -> dict[str, Any]:
    out: list[dict[str, Any]] = json.loads(N.ip(ns, "-j", "-d", "link", "show", "dev", dev))
    return out[0]


def vlans(ns: str, dev: str) -> dict[int, set[str]]:
    """VLAN id -> flags (PVID, Egress Untagged) of ``dev``'s bridge VLANs."""
    data = json.loads(N.exec_in(ns, "bridge", "-j", "vlan", "show", "dev", dev) or "[]")
    out: dict[int, set[str]] = {}
    for entry in data:
        for v in entry.get("vlans", []):
            out[int(v["vlan"])] = set(v.get("flags", []))
    return out


def nic(mode: str, link_: str = "", vlan: str = "", ip: str | None = None,
        index: int = 0) -> NICSpec:
    return NICSpec(uuid=f"{index}1234567-aaaa-bbbb-cccc-dddddddddddd", index=index,
                   mac=f"aa:00:00:00:00:0{index}", ip=ip,
                   nicparams={"mode": mode, "link": link_, "vlan": vlan})


def up(n: NICSpec, tap: str) -> str:
    return scripts.nic_up(nenv.nic_env("inst1", n, tap))


def down(n: NICSpec, tap: str) -> str:
    return scripts.nic_down(nenv.nic_env("inst1", n, tap))


def read(path: str) -> str:
    return Path(path).read_text().strip()


# --------------------------------------------------------------- bridged
def test_bridged_tap_joins_the_bridge(ns: str) -> None:
    N.ip(ns, "link", "add", "br0", "type", "bridge")
    N.ip(ns, "link", "set", "br0", "mtu", "1400", "up")
    N.ip(ns, "tuntap", "add", "tapa", "mode", "tap")
    old_mac = link(ns, "tapa")["address"]
    assert N.run_in_netns(ns, up, nic("bridged", "br0"), "tapa") == scripts.BUILTIN
    info = link(ns, "tapa")
    assert info["master"] == "br0" and info["mtu"] == 1400 and "UP" in info["flags"]
    assert info["address"] == "fe" + old_mac[2:]
    N.run_in_netns(ns, up, nic("bridged", "br0"), "tapa")  # idempotent
    assert link(ns, "tapa")["master"] == "br0"


def test_bridged_vlans_on_a_vlan_aware_bridge(ns: str) -> None:
    N.ip(ns, "link", "add", "br0", "type", "bridge", "vlan_filtering", "1", check=False)
    if "br0" not in N.ip(ns, "link", "show"):
        pytest.skip("this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)")
    N.ip(ns, "link", "add", "uplink0", "type", "dummy")
    N.ip(ns, "link", "set", "uplink0", "master", "br0")
    for tap in ("tapa", "tapother"):
        N.ip(ns, "tuntap", "add", tap, "mode", "tap")
    N.ip(ns, "link", "set", "tapother", "master", "br0")
    N.run_in_netns(ns, up, nic("bridged", "br0", ".10:20"), "tapa")
    tapa = vlans(ns, "tapa")
    assert {"PVID", "Egress Untagged"} <= tapa[10] and not tapa[20]
    assert {10, 20} <= set(vlans(ns, "uplink0"))
    assert 20 not in vlans(ns, "tapother")  # another instance's tap is no uplink


def test_bridged_vlan_needs_vlan_filtering(ns: str) -> None:
    N.ip(ns, "link", "add", "br0", "type", "bridge")
    N.ip(ns, "tuntap", "add", "tapa", "mode", "tap")
    with pytest.raises(errors.HypervisorError, match="br0 has VLAN filtering disabled"):
        N.run_in_netns(ns, up, nic("bridged", "br0", ".10"), "tapa")
    assert "master" not in link(ns, "tapa")


# ---------------------------------------------------------------- routed
def test_routed_nic_in_its_own_table(ns: str) -> None:
    N.ip(ns, "tuntap", "add", "tapr", "mode", "tap")
    n = nic("routed", "100", ip="10.9.0.5")
    for _ in range(2):  # the second run must not duplicate anything
        N.run_in_netns(ns, up, n, "tapr")
    rules = [r for r in json.loads(N.ip(ns, "-j", "rule", "show")) if r.get("iif") == "tapr"]
    assert len(rules) == 1 and rules[0]["table"] == "100"
    assert "10.9.0.5 dev tapr proto static" in N.ip(ns, "route", "show", "table", "100")
    assert N.run_in_netns(ns, read, "/proc/sys/net/ipv4/conf/tapr/proxy_arp") == "1"
    assert N.run_in_netns(ns, read, "/proc/sys/net/ipv4/conf/tapr/forwarding") == "1"
    N.run_in_netns(ns, down, n, "tapr")
    assert "tapr" not in N.ip(ns, "rule", "show")
    assert N.ip(ns, "route", "show", "table", "100").strip() == ""


def test_routed_nic_in_the_main_table(ns: str) -> None:
    N.ip(ns, "tuntap", "add", "tapr", "mode", "tap")
    N.run_in_netns(ns, up, nic("routed", ip="10.9.0.6"), "tapr")
    assert "10.9.0.6 dev tapr proto static" in N.ip(ns, "route", "show")
    assert "UP" in link(ns, "tapr")["flags"]


# ------------------------------------------------------- kvm tap lifecycle
def _spec(*nics: NICSpec) -> InstanceSpec:
    return InstanceSpec(name="inst1.gnt.test", uuid="0b5e2d1c-9f00-4e7a-8a55-2f1e3c4d5e6f",
                        hypervisor="kvm", hvparams={}, beparams={"maxmem": 128},
                        nics=list(nics), tags=["t"])


def _busy_tap() -> str:
    name = kvmnet.tap_name("i", "n")
    first = kvmnet.open_tap(name)
    try:
        kvmnet.open_tap(name)
    except errors.HypervisorError as err:
        return str(err)
    finally:
        first.close()
    return "second open succeeded"


def test_a_tap_in_use_is_refused(ns: str, root: Path) -> None:
    assert "in use by another process" in N.run_in_netns(ns, _busy_tap)


def _lifecycle(spec: InstanceSpec) -> dict[str, Any]:
    taps = kvmnet.start_nics(spec, vnet_hdr=True, queues=2)
    names = [t.name for _, t in taps]
    seen: dict[str, Any] = {
        "names": names,
        "expected": [kvmnet.tap_name(spec.uuid, n.uuid) for n in spec.nics],
        "recorded": kvmnet.recorded_taps(spec.name),
        "master": Path(f"/sys/class/net/{names[0]}/master").resolve().name,
        "routes": kvmnet.modes.run(["ip", "route", "show"]).stdout,
        "fds": [len(t.fds) for _, t in taps],
    }
    kvmnet.release(spec, taps)
    seen["after"] = [Path(f"/sys/class/net/{n}").exists() for n in names]
    seen["nic_dir"] = kvmnet.nic_dir(spec.name).exists()
    seen["routes_after"] = kvmnet.modes.run(["ip", "route", "show"]).stdout
    return seen


def test_start_and_release_nics(ns: str, root: Path) -> None:
    N.ip(ns, "link", "add", "br0", "type", "bridge")
    spec = _spec(nic("bridged", "br0", index=0), nic("routed", ip="10.9.0.7", index=1))
    seen = N.run_in_netns(ns, _lifecycle, spec)
    assert seen["names"] == seen["expected"]
    assert seen["recorded"] == dict(enumerate(seen["names"]))
    assert seen["master"] == "br0" and seen["fds"] == [2, 2]
    assert f"10.9.0.7 dev {seen['names'][1]} proto static" in seen["routes"]
    assert seen["after"] == [False, False] and not seen["nic_dir"]
    assert "10.9.0.7" not in seen["routes_after"]


def _migration_target(spec: InstanceSpec) -> dict[str, Any]:
    taps = kvmnet.start_nics(spec, incoming=True)
    infos = [R.TapInfo(index=n.index, name=t.name, mode=n.nicparams["mode"],
                       link=n.nicparams["link"]) for n, t in taps]
    seen: dict[str, Any] = {"before": kvmnet.modes.run(["ip", "route", "show"]).stdout,
            "bridged_up": Path(f"/sys/class/net/{infos[0].name}/master").exists()}
    kvmnet.finish_incoming(spec, infos)
    seen["after"] = kvmnet.modes.run(["ip", "route", "show", "table", "200"]).stdout
    seen["phase"] = Path(paths.get().root / "phase").read_text().strip()
    for _, t in taps:
        t.close()  # QEMU exits
    R.save(R.InstancePaths(spec.name), R.KVMRuntime(
        name=spec.name, uuid=spec.uuid, pid=1, cmdline=["qemu"], spec=spec, start_time=0,
        accel="tcg", qmp="/nonexistent", taps=infos))
    kvmnet.teardown_instance(spec.name)
    seen["rules_after"] = kvmnet.modes.run(["ip", "rule", "show"]).stdout
    seen["nic_dir"] = kvmnet.nic_dir(spec.name).exists()
    return seen


def test_routed_nics_of_an_incoming_migration_wait_for_its_end(ns: str, root: Path) -> None:
    N.ip(ns, "link", "add", "br0", "type", "bridge")
    script = paths.get().network_scripts_dir / "routed" / "up"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\necho \"$MIGRATION_PHASE\" >\"$GNT_ROOT/phase\"\n"
                      "ip link set \"$INTERFACE\" up\n"
                      "ip rule add iif \"$INTERFACE\" table \"$LINK\"\n"
                      "exec ip route replace \"$IP\" dev \"$INTERFACE\" table \"$LINK\"\n")
    script.chmod(0o755)
    spec = _spec(nic("bridged", "br0", index=0), nic("routed", "200", ip="10.9.0.8", index=1))
    seen = N.run_in_netns(ns, _migration_target, spec)
    assert seen["bridged_up"] and "10.9.0.8" not in seen["before"]
    assert "10.9.0.8 dev tap" in seen["after"] and seen["phase"] == "post"
    assert "lookup 200" not in seen["rules_after"]  # the built-in down removed the rule
    assert not seen["nic_dir"]
