"""NIC scripts: environment, vlan syntax, tap names, command construction, dispatch.

The dispatch tests run real scripts (they record the environment they got);
the host-side effects of the built-ins are tested for real in a network
namespace in test_network_netns.py.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from gnt import errors, paths
from gnt.hypervisor.base import NICSpec
from gnt.hypervisor.kvm import network as kvmnet
from gnt.network import env as nenv
from gnt.network import modes, scripts, vlan

pytestmark = pytest.mark.unit

NET = {"name": "net1", "uuid": "0f0f-net", "network": "192.0.2.0/24",
       "gateway": "192.0.2.1", "network6": None, "gateway6": "",
       "mac_prefix": "aa:bb:cc", "tags": ["a", "b"]}


def _nic(**kw: object) -> NICSpec:
    base: dict[str, object] = {
        "uuid": "5e0c6d9a-1111-2222-3333-444455556666", "index": 1, "mac": "aa:00:00:12:34:56",
        "nicparams": {"mode": "bridged", "link": "br0", "vlan": ""}}
    base.update(kw)
    return NICSpec.model_validate(base)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    return tmp_path


# ------------------------------------------------------------------ env
def test_env_of_a_bridged_nic_in_a_network() -> None:
    nic = _nic(ip="192.0.2.7", name="eth1", netinfo=NET)
    env = nenv.nic_env("inst1.example.com", nic, "tap0123456789ab", tags=["web", "prod"],
                       action="up", path="/usr/bin:/bin")
    assert env == {
        "PATH": "/usr/bin:/bin:/sbin:/usr/sbin", "INSTANCE": "inst1.example.com",
        "MAC": "aa:00:00:12:34:56", "MODE": "bridged", "INTERFACE": "tap0123456789ab",
        "INTERFACE_INDEX": "1", "INTERFACE_UUID": "5e0c6d9a-1111-2222-3333-444455556666",
        "TAGS": "web prod", "IP": "192.0.2.7", "INTERFACE_NAME": "eth1", "LINK": "br0",
        "VLAN": "", "BRIDGE": "br0", "ACTION": "up",
        "NETWORK_NAME": "net1", "NETWORK_UUID": "0f0f-net", "NETWORK_TAGS": "a b",
        "NETWORK_SUBNET": "192.0.2.0/24", "NETWORK_GATEWAY": "192.0.2.1",
        "NETWORK_MAC_PREFIX": "aa:bb:cc"}


def test_env_leaves_out_what_the_nic_does_not_have() -> None:
    nic = _nic(nicparams={"mode": "routed", "link": ""}, ip="198.51.100.4")
    env = nenv.nic_env("i", nic, "tapx", migration_phase=nenv.PHASE_POST, path="")
    assert env["PATH"] == "/sbin:/usr/sbin" and env["TAGS"] == ""
    assert env["MIGRATION_PHASE"] == "post" and env["MODE"] == "routed"
    for absent in ("LINK", "BRIDGE", "VLAN", "INTERFACE_NAME", "ACTION", "NETWORK_NAME"):
        assert absent not in env


def test_network_env_needs_only_name_uuid_tags() -> None:
    assert nenv.network_env(None) == {}
    assert nenv.network_env({"name": "n", "uuid": "u"}) == {
        "NETWORK_NAME": "n", "NETWORK_UUID": "u", "NETWORK_TAGS": ""}


# ----------------------------------------------------------------- vlan
@pytest.mark.parametrize(("text", "untagged", "tagged"), [
    ("", None, ()), (".10", 10, ()), ("10", 10, ()), (":20:30", None, (20, 30)),
    (".10:20:4094", 10, (20, 4094)), ("7:8", 7, (8,)),
])
def test_vlan_syntax(text: str, untagged: int | None, tagged: tuple[int, ...]) -> None:
    v = vlan.parse(text)
    assert (v.untagged, v.tagged) == (untagged, tagged)
    assert bool(v) == bool(text)


@pytest.mark.parametrize("text", [".0", ".4095", ":x", ":", "a", ".10:", "::5"])
def test_bad_vlans_are_refused(text: str) -> None:
    with pytest.raises(errors.HypervisorError, match="Invalid NIC vlan") as exc:
        vlan.parse(text)
    assert exc.value.ecode == errors.ECODE_INVAL


# ------------------------------------------------------- command shapes
def test_openvswitch_commands() -> None:
    assert modes.ovs_up_commands("tapa", "ovsbr", vlan.parse(".100:200:300")) == [
        ["ovs-vsctl", "--if-exists", "del-port", "tapa"],
        ["ip", "link", "set", "dev", "tapa", "up"],
        ["ovs-vsctl", "add-port", "ovsbr", "tapa"],
        ["ovs-vsctl", "set", "port", "tapa", "tag=100"],
        ["ovs-vsctl", "set", "port", "tapa", "trunks=200,300"]]
    assert modes.ovs_up_commands("tapa", "ovsbr", vlan.parse(""))[-1] == [
        "ovs-vsctl", "add-port", "ovsbr", "tapa"]


def test_bridged_vlan_commands_cover_tap_and_uplinks() -> None:
    cmds = modes.bridged_vlan_commands("tapa", vlan.parse(".10:20"), ["eth1", "bond0"])
    assert cmds == [
        ["bridge", "vlan", "add", "dev", "tapa", "vid", "10", "pvid", "untagged", "master"],
        ["bridge", "vlan", "add", "dev", "eth1", "vid", "10", "master"],
        ["bridge", "vlan", "add", "dev", "bond0", "vid", "10", "master"],
        ["bridge", "vlan", "add", "dev", "tapa", "vid", "20", "master"],
        ["bridge", "vlan", "add", "dev", "eth1", "vid", "20", "master"],
        ["bridge", "vlan", "add", "dev", "bond0", "vid", "20", "master"]]
    assert modes.bridged_vlan_commands("tapa", vlan.parse(""), ["eth1"]) == []
    assert modes.fixed_mac("52:54:00:ab:cd:ef") == "fe:54:00:ab:cd:ef"


def test_tap_names_are_stable_short_and_per_node() -> None:
    a = kvmnet.tap_name("inst-uuid", "nic-uuid", node="node1.example.com")
    assert a == kvmnet.tap_name("inst-uuid", "nic-uuid", node="node1.example.com")
    assert len(a) == 15 and a.startswith("tap") and a[3:].isalnum()
    assert a != kvmnet.tap_name("inst-uuid", "nic-uuid", node="node2.example.com")
    assert a != kvmnet.tap_name("inst-uuid", "nic-uuid2", node="node1.example.com")


def test_openvswitch_without_ovs_is_refused(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ovs-vsctl anywhere
    nic = _nic(nicparams={"mode": "openvswitch", "link": "ovsbr0", "vlan": ""})
    with pytest.raises(errors.HypervisorError, match="ovs-vsctl is not installed") as exc:
        kvmnet.check_link(nic)
    assert exc.value.ecode == errors.ECODE_ENVIRON


def test_routed_nic_without_ip_is_refused() -> None:
    with pytest.raises(errors.HypervisorError, match="routed mode but has no IP"):
        kvmnet.check_link(_nic(nicparams={"mode": "routed", "link": ""}))


# ------------------------------------------------------------- dispatch
def _recorder(path: Path, out: Path, status: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho \"$0 $1\" >{out}\nenv | sort >>{out}\n"
                    f"echo script-said-hello\nexit {status}\n")
    path.chmod(0o755)
    return path


def test_mode_script_wins_over_legacy_custom_script(root: Path) -> None:
    out = root / "out"
    p = paths.get()
    mode_script = _recorder(p.network_scripts_dir / "bridged" / "up", out)
    _recorder(p.kvm_ifup_custom, root / "legacy-out")
    env = nenv.nic_env("inst1", _nic(), "tapzz", tags=["t1"])
    assert scripts.nic_up(env, p.kvm_ifup_custom) == str(mode_script)
    lines = out.read_text().splitlines()
    assert lines[0] == f"{mode_script} tapzz"
    assert {"ACTION=up", "INTERFACE=tapzz", "MODE=bridged", "BRIDGE=br0", "TAGS=t1",
            "INSTANCE=inst1", "INTERFACE_INDEX=1"} <= set(lines)
    assert not (root / "legacy-out").exists()


def test_legacy_custom_script_replaces_every_mode(root: Path) -> None:
    out = root / "out"
    p = paths.get()
    _recorder(p.kvm_ifdown_custom, out)
    (p.network_scripts_dir / "routed").mkdir(parents=True)
    (p.network_scripts_dir / "routed" / "down").write_text("not executable\n")
    nic = _nic(nicparams={"mode": "routed", "link": "100"}, ip="192.0.2.9")
    assert scripts.nic_down(nenv.nic_env("inst1", nic, "tapyy"), p.kvm_ifdown_custom) == \
        str(p.kvm_ifdown_custom)
    assert {"ACTION=down", "MODE=routed", "LINK=100", "IP=192.0.2.9"} <= set(
        out.read_text().splitlines())


def test_failing_up_script_raises_with_its_output(root: Path) -> None:
    _recorder(paths.get().network_scripts_dir / "bridged" / "up", root / "out", status=3)
    with pytest.raises(errors.HypervisorError,
                       match=r"interface tapzz: .*status 3.*script-said-hello"):
        scripts.nic_up(nenv.nic_env("inst1", _nic(), "tapzz"))


def test_failing_down_script_is_only_logged(root: Path, caplog: pytest.LogCaptureFixture
                                            ) -> None:
    _recorder(paths.get().network_scripts_dir / "bridged" / "down", root / "out", status=1)
    with caplog.at_level(logging.WARNING):
        scripts.nic_down(nenv.nic_env("inst1", _nic(), "tapzz"))
    assert any("script-said-hello" in r.getMessage() for r in caplog.records)


def test_builtin_bridged_up_names_the_missing_bridge(root: Path) -> None:
    nic = _nic(nicparams={"mode": "bridged", "link": f"nobr{os.getpid() % 10000}"})
    with pytest.raises(errors.HypervisorError, match=r"Failed to configure interface tapq: "
                       r"NIC 1 of instance inst1 \(tapq\) is in bridged mode but bridge"):
        scripts.nic_up(nenv.nic_env("inst1", nic, "tapq"))


# ------------------------------------------- what the master sends to nodes
def test_instance_spec_carries_tags_and_the_nic_network() -> None:
    from gnt import constants as C
    from gnt.cmdlib.common import instance_spec
    from gnt.objects import NIC, Cluster, ConfigData, Instance

    net = {"name": "net1", "uuid": "net-uuid-1", "network": "198.51.100.0/24",
           "gateway": "198.51.100.1", "tags": ["t1"], "mac_prefix": None}
    nics = [NIC(uuid="nic0", mac="aa:00:00:00:00:01"),
            NIC(uuid="nic1", mac="aa:00:00:00:00:02", ip="198.51.100.7", network="net-uuid-1",
                nicparams={C.NIC_MODE: C.NIC_MODE_ROUTED, C.NIC_LINK: "100"})]
    inst = Instance(uuid="i1", name="inst1.example.com", primary_node="u1", os="image+raw",
                    hypervisor=C.HT_FAKE, nics=nics, disk_template=C.DT_DISKLESS,
                    tags=["web", "prod"])
    cfg = ConfigData(cluster=Cluster(cluster_name="c.example.com", master_node="u1",
                                     master_ip="192.0.2.254"),
                     instances={"i1": inst}, networks={"net-uuid-1": net})
    spec = instance_spec(cfg, inst)
    assert spec.tags == ["web", "prod"]
    assert spec.nics[0].netinfo is None and spec.nics[1].netinfo == net
    env = nenv.nic_env(spec.name, spec.nics[1], "tapx", tags=spec.tags)
    assert (env["TAGS"], env["NETWORK_NAME"], env["NETWORK_SUBNET"], env["LINK"]) == (
        "web prod", "net1", "198.51.100.0/24", "100")
