"""Cluster-level OS settings (``gnt-os modify`` through OP_CLUSTER_SET_PARAMS), the
OS query's semantics, the legacy OpOsDiagnose filter, the blacklist check,
the OS context from the config and gnt-os's formatting helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors, osdef
from gnt.cli import gnt_os
from gnt.cmdlib import os_params
from gnt.cmdlib.os import check_os_allowed_for_install, legacy_filter
from gnt.masterd.context import MasterContext
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup, fill
from gnt.opcodes.cluster import OpClusterSetParams
from gnt.query import base as qbase
from gnt.query import osq
from gnt.storage.base import BlockDevSpec
from tests.support.lu import make_master, run_op

pytestmark = pytest.mark.unit


def make_cfg() -> ConfigData:
    grp = NodeGroup(name="default", uuid="g1")
    nodes = [Node(name=f"node{i}.example.com", primary_ip=f"192.0.2.{i}",
                  secondary_ip=f"192.0.2.{i}", group="g1", uuid=f"n{i}") for i in (1, 2, 3)]
    disk = Disk(dev_type=C.DT_DRBD8, logical_id=[], size=10, nodes=["n2", "n3"], uuid="d1")
    inst = Instance(name="inst1.example.com", primary_node="n2", os="deb+bookworm",
                    hypervisor=C.HT_FAKE, disk_template=C.DT_DRBD8, disks=["d1"], uuid="i1",
                    hvparams={"migration_mode": "live"}, ctime=100.0, mtime=200.5,
                    nics=[NIC(mac="aa:00:00:00:00:01", uuid="nic0", network="net-u"),
                          NIC(mac="aa:00:00:00:00:02", uuid="nic1")])
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.9",
                      enabled_hypervisors=[C.HT_FAKE, C.HT_KVM])
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": grp}, instances={inst.uuid: inst},
                      disks={"d1": disk},
                      networks={"net-u": {"name": "lan", "uuid": "net-u",
                                          "network": "192.0.2.0/24", "gateway": "192.0.2.1",
                                          "network6": None, "mac_prefix": "aa:bb:cc",
                                          "tags": ["z", "a"]}})


@pytest.fixture
def mctx(tmp_path: Path) -> MasterContext:
    return make_master(tmp_path / "config.data", make_cfg())


def on_disk(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "config.data").read_text())["cluster"]


# --- OP_CLUSTER_SET_PARAMS: os_hvp, hidden_os, blacklisted_os ---------------------

def test_os_hvp_merge_remove_and_fill_chain(mctx: MasterContext, tmp_path: Path) -> None:
    run_op(mctx, OpClusterSetParams(hvparams={C.HT_FAKE: {"migration_mode": "non-live"}}))
    run_op(mctx, OpClusterSetParams(os_hvp={"deb": {C.HT_KVM: {"kernel_path": "/k",
                                                                "acpi": "false"}}}))
    run_op(mctx, OpClusterSetParams(os_hvp={"deb": {C.HT_KVM: {"initrd_path": "/i"}},
                                            "deb+bookworm": {C.HT_FAKE: {}}}))
    assert on_disk(tmp_path)["os_hvp"] == {
        "deb": {C.HT_KVM: {"kernel_path": "/k", "acpi": False, "initrd_path": "/i"}}}
    # a parameter set to "default" is dropped, a hypervisor given as None too
    run_op(mctx, OpClusterSetParams(os_hvp={"deb": {C.HT_KVM: {"kernel_path": "default"}}}))
    assert on_disk(tmp_path)["os_hvp"]["deb"][C.HT_KVM] == {"acpi": False,
                                                            "initrd_path": "/i"}
    run_op(mctx, OpClusterSetParams(os_hvp={"deb": {C.HT_KVM: None}}))
    assert on_disk(tmp_path)["os_hvp"] == {}

    # the fill chain: defaults -> cluster -> per-OS -> instance
    run_op(mctx, OpClusterSetParams(os_hvp={"deb+bookworm": {C.HT_FAKE: {
        "migration_mode": "live"}}}))
    cl = mctx.cfg.data.cluster
    assert fill.fill_hv(cl, C.HT_FAKE, "other", {})["migration_mode"] == "non-live"
    assert fill.fill_hv(cl, C.HT_FAKE, "deb+bookworm", {})["migration_mode"] == "live"
    assert fill.fill_hv(cl, C.HT_FAKE, "deb+bookworm",
                        {"migration_mode": "non-live"})["migration_mode"] == "non-live"


@pytest.mark.parametrize("os_hvp, error", [
    ({"deb": {"xen-pvm": {}}}, "Unknown hypervisor 'xen-pvm'.*allowed: kvm, fake"),
    ({"deb": {C.HT_KVM: {"no_such": "1"}}}, "Unknown kvm hypervisor parameter 'no_such'"),
    ({"deb": {C.HT_KVM: {"acpi": "maybe"}}}, "acpi"),
    ({"a/b": {C.HT_KVM: {}}}, "Invalid OS name 'a/b'"),
])
def test_os_hvp_rejections_change_nothing(mctx: MasterContext, tmp_path: Path,
                                          os_hvp: Any, error: str) -> None:
    serial = json.loads((tmp_path / "config.data").read_text())["serial_no"]
    with pytest.raises(errors.GntError, match=error):
        run_op(mctx, OpClusterSetParams(os_hvp=os_hvp))
    assert json.loads((tmp_path / "config.data").read_text())["serial_no"] == serial


def test_hidden_and_blacklisted_lists(mctx: MasterContext, tmp_path: Path) -> None:
    _, jctx = run_op(mctx, OpClusterSetParams(
        hidden_os=[["add", "deb"], ["add", "deb"], ["add", "old+v"]],
        blacklisted_os=[["remove", "nope"], ["add", "bad"]]))
    cl = on_disk(tmp_path)
    assert cl["hidden_os"] == ["deb", "old+v"] and cl["blacklisted_os"] == ["bad"]
    assert "OS deb already in hidden OS list, ignoring" in jctx.log
    assert "OS nope not found in blacklisted OS list, ignoring" in jctx.log
    run_op(mctx, OpClusterSetParams(hidden_os=[["remove", "deb"]],
                                    blacklisted_os=[["remove", "bad"]]))
    cl = on_disk(tmp_path)
    assert cl["hidden_os"] == ["old+v"] and cl["blacklisted_os"] == []
    for bad, msg in (([["modify", "x"]], "Invalid hidden_os modification 'modify'"),
                     ([["add"]], r"expected \[action, OS name\]"),
                     ([["add", ""]], "Invalid OS name ''")):
        with pytest.raises(errors.OpPrereqError, match=msg):
            run_op(mctx, OpClusterSetParams(hidden_os=bad))


def test_new_osparams() -> None:
    cur = {"deb": {"dhcp": "yes", "size": "1"}, "other": {"x": "1"}}
    out = os_params.new_osparams(cur, {"deb": {"size": "default", "new": "v"},
                                       "other": {"x": None}, "fresh": {"a": "b"}})
    assert out == {"deb": {"dhcp": "yes", "new": "v"}, "fresh": {"a": "b"}}
    assert cur["deb"] == {"dhcp": "yes", "size": "1"}  # input untouched


def test_blacklist_refuses_exact_names_only() -> None:
    cl = Cluster(cluster_name="c", master_node="n1", master_ip="192.0.2.9",
                 blacklisted_os=["deb+sid", "old"], hidden_os=["hid"])
    for name in ("deb+sid", "old"):
        with pytest.raises(errors.OpPrereqError) as ei:
            check_os_allowed_for_install(cl, name)
        assert str(ei.value) == f"Guest OS '{name}' is not allowed for installation"
        assert ei.value.ecode == errors.ECODE_STATE
    for ok in ("deb", "deb+bookworm", "old+v", "hid"):
        check_os_allowed_for_install(cl, ok)  # hidden OSes stay installable
    check_os_allowed_for_install(cl, None)


# --- OS query semantics and the legacy filter ---------------------------------------

def diag(path: str, ok: bool = True, variants: list[str] | None = None,
         params: list[list[str]] | None = None, api: list[int] | None = None,
         trusted: bool = True, msg: str = "") -> dict[str, Any]:
    return {"path": path, "status": ok, "message": msg, "variants": variants or [],
            "parameters": params or [], "api_versions": api or [20], "trusted": trusted}


def test_os_query_intersects_over_nodes() -> None:
    e = osq.OsEntry(name="deb", node_status={
        "n1": [diag("/a", variants=["sid", "bookworm", "trixie"], api=[20, 15],
                    params=[["dhcp", "d"], ["size", "s"]])],
        "n2": [diag("/a", variants=["trixie", "sid"], api=[20],
                    params=[["size", "s"], ["dhcp", "other text"]], trusted=False),
               diag("/b", ok=False, msg="shadowed")]})
    resp = qbase.run_query(osq.TABLE, ["valid", "variants", "api_versions", "parameters",
                                       "trusted", "node_status"], None, [e])
    valid, variants, api, params, trusted, status = (v for _, v in resp["data"][0])
    assert valid is True and variants == ["sid", "trixie"] and api == [20]
    assert params == [["size", "s"]] and trusted is False
    assert status["n2"][1] == ["/b", False, "shadowed", [], [], [20]]
    # missing on one node, or invalid on one: invalid, and nothing in common
    e.node_status["n3"] = []
    assert not e.valid and e.common("variants") == []


def test_legacy_filter() -> None:
    entries = [osq.OsEntry(name="ok", node_status={"n": [diag("/ok")]}),
               osq.OsEntry(name="hid", node_status={"n": [diag("/h")]}, hidden=True),
               osq.OsEntry(name="blk", node_status={"n": [diag("/b")]}, blacklisted=True),
               osq.OsEntry(name="bad", node_status={"n": [diag("/x", ok=False)]})]

    def names(fields: list[str], wanted: list[str]) -> list[str]:
        flt = legacy_filter(fields, wanted)
        rows = qbase.run_query(osq.TABLE, ["name"], None, entries, flt)["data"]
        return [r[0][1] for r in rows]

    assert names(["name", "variants"], []) == ["ok"]
    assert names(["name", "hidden"], []) == ["ok", "hid"]
    assert names(["name", "valid", "hidden", "blacklisted"], []) == ["ok", "hid", "blk", "bad"]
    assert names(["name", "valid", "hidden", "blacklisted"], ["bad", "hid"]) == ["hid", "bad"]
    assert legacy_filter(["valid", "hidden", "blacklisted"], []) is None


# --- the OS context from the config --------------------------------------------------

def test_context_from_config() -> None:
    cfg = make_cfg()
    ctx = osdef.context_from_config(cfg, "i1")
    assert ctx.primary_node == "node2.example.com"
    assert ctx.secondary_nodes == ["node3.example.com"]
    assert (ctx.ctime, ctx.mtime) == (100.0, 200.5)
    assert ctx.nic_networks == {"nic0": {
        "name": "lan", "uuid": "net-u", "subnet": "192.0.2.0/24", "gateway": "192.0.2.1",
        "subnet6": None, "mac_prefix": "aa:bb:cc", "tags": ["a", "z"]}}
    assert osdef.context_from_config(cfg, "unknown") == osdef.InstanceContext()


def test_file_drivers_from_bdevs() -> None:
    bdevs = [BlockDevSpec(uuid="f", dev_type=C.DT_FILE, logical_id=["blktap", "/x"], size=1),
             BlockDevSpec(uuid="p", dev_type=C.DT_PLAIN, logical_id=["vg", "lv"], size=1)]
    ctx = osdef.with_file_drivers(osdef.InstanceContext(file_drivers={"o": "loop"}), bdevs)
    assert ctx.file_drivers == {"o": "loop", "f": "blktap"}


# --- gnt-os formatting helpers -------------------------------------------------------

def test_node_line_formats() -> None:
    line = gnt_os._node_line(["/srv/os/deb", True, "", ["a", "b"], [["p", "d"], ["q", ""]],
                              [20, 15]])
    assert line == ("valid (path: /srv/os/deb) [API versions: 20, 15] [variants: a, b] "
                    "[parameters: p, q]")
    assert gnt_os._node_line(["/x", True, "", [], [], [15]]) == \
        "valid (path: /x) [API versions: 15] [no variants]"
    assert gnt_os._node_line(["/x", True, "", [], [], [20]]) == \
        "valid (path: /x) [API versions: 20] [no variants] [no parameters]"
    assert gnt_os._node_line(["/x", False, "missing create", [], [], []]) == \
        "invalid - missing create (path: /x) [no API versions declared]"


def test_nice_sort_and_names() -> None:
    assert sorted(["node10", "node9", "node1", "alpha"], key=gnt_os.nice_key) == \
        ["alpha", "node1", "node9", "node10"]
    assert gnt_os.os_names("deb", ["a", "b"]) == ["deb+a", "deb+b"]
    assert gnt_os.os_names("noop", []) == ["noop"]


# --- dump paths of the export/import procedures --------------------------------------

def test_dump_paths_stay_below_the_export_dir(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from gnt.noded.procs.os import _dump_path

    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    assert _dump_path("/srv/ganeti/export/inst1/disk0") == \
        tmp_path / "srv/ganeti/export/inst1/disk0"
    for bad in ("/srv/ganeti/export/../../../etc/passwd", "/srv/ganeti/export",
                "srv/ganeti/export/x", "/srv/ganeti/exported/x", "/tmp/x"):
        with pytest.raises(errors.OpPrereqError, match="below /srv/ganeti/export"):
            _dump_path(bad)
