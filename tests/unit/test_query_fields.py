"""Completeness of the instance and node field tables against Ganeti 3.0's list-fields."""

from __future__ import annotations

from typing import Any

import pytest

from gnt import constants as C
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup
from gnt.query import defaults
from gnt.query import instance as qinst
from gnt.query import node as qnode
from gnt.query.base import RS_NODATA, RS_NORMAL, RS_UNAVAIL, RS_UNKNOWN, run_query

pytestmark = pytest.mark.unit

#: Ganeti 3.0 ``gnt-instance list-fields`` (fixed names; families checked below)
GANETI_INSTANCE_FIELDS = ["admin_state", "admin_state_source", "admin_up", "beparams", "console", "ctime", "custom_beparams", "custom_hvparams", "custom_nicparams", "custom_osparams", "disk.count", "disk.names", "disk.sizes", "disk.spindles", "disk.uuids", "disk_template", "disk_usage", "disks_active", "forthcoming", "hvparams", "hypervisor", "mtime", "name", "network_port", "nic.bridges", "nic.count", "nic.ips", "nic.links", "nic.macs", "nic.modes", "nic.names", "nic.networks", "nic.networks.names", "nic.uuids", "nic.vlans", "oper_ram", "oper_state", "oper_vcpus", "os", "osparams", "pnode", "pnode.group", "pnode.group.uuid", "serial_no", "snodes", "snodes.group", "snodes.group.uuid", "status", "tags", "uuid", "ip", "mac", "bridge", "nic_mode", "nic_link", "nic_network", "vcpus", "be/memory", "sda_size", "sdb_size"]

GANETI_NODE_FIELDS = ["bootid", "cnodes", "cnos", "csockets", "ctime", "ctotal", "custom_ndparams", "dfree", "disk_state", "drained", "dtotal", "group", "group.uuid", "hv_state", "master", "master_candidate", "master_capable", "mfree", "mnode", "mtime", "mtotal", "name", "ndparams", "offline", "pinst_cnt", "pinst_list", "pip", "powered", "role", "serial_no", "sinst_cnt", "sinst_list", "sip", "spfree", "sptotal", "tags", "uuid", "vm_capable"]


def test_every_ganeti_instance_field_exists() -> None:
    listed = {f.name for f in qinst.TABLE.all()}
    missing = [f for f in GANETI_INSTANCE_FIELDS if f not in listed]
    assert not missing, missing


def test_instance_field_families_are_listed() -> None:
    listed = {f.name for f in qinst.TABLE.all()}
    for attr in ("size", "spindles", "name", "uuid"):
        assert {f"disk.{attr}/{n}" for n in range(C.MAX_DISKS)} <= listed
    for attr in ("mac", "ip", "mode", "link", "bridge", "vlan", "name", "uuid", "network",
                 "network.name"):
        assert {f"nic.{attr}/{n}" for n in range(C.MAX_NICS)} <= listed
    assert {f"be/{p}" for p in C.BES_PARAMETER_TYPES} <= listed
    for hv_param in ("kernel_path", "acpi", "boot_order", "migration_mode"):
        assert f"hv/{hv_param}" in listed
    # beyond the limits, and unknown parameters, are unknown fields
    for name in (f"disk.size/{C.MAX_DISKS}", f"nic.mac/{C.MAX_NICS}", "hv/nosuch",
                 "be/nosuch", "disk.foo/0", "nic.mac/x"):
        assert qinst.TABLE.get(name) is None, name


def test_every_ganeti_node_field_exists() -> None:
    listed = {f.name for f in qnode.TABLE.all()}
    missing = [f for f in GANETI_NODE_FIELDS if f not in listed]
    assert not missing, missing
    assert {f"ndp/{p}" for p in C.NDS_PARAMETER_TYPES} <= listed


def test_default_fields() -> None:
    assert qinst.DEFAULT_FIELDS == ["name", "hypervisor", "os", "pnode", "status", "oper_ram"]
    assert qnode.DEFAULT_FIELDS == defaults.NODE
    for name in qinst.DEFAULT_FIELDS:
        assert qinst.TABLE.get(name) is not None


def test_descriptions_are_complete() -> None:
    for table in (qinst.TABLE, qnode.TABLE):
        for f in table.all():
            d = f.describe()
            assert d["name"] and d["title"] and d["doc"] and d["kind"], d


# --- values --------------------------------------------------------------------------

def _cfg() -> ConfigData:
    grp1, grp2 = NodeGroup(name="g1", uuid="g1"), NodeGroup(name="g2", uuid="g2")
    nodes = [Node(name="node1.example.com", primary_ip="192.0.2.1", secondary_ip="192.0.2.1",
                  group="g1", uuid="n1"),
             Node(name="node2.example.com", primary_ip="192.0.2.2", secondary_ip="192.0.2.2",
                  group="g2", uuid="n2")]
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.254",
                      enabled_hypervisors=[C.HT_FAKE, C.HT_KVM])
    disks = [Disk(dev_type=C.DT_DRBD8, logical_id=["n1", "n2"], size=1024, nodes=["n1", "n2"],
                  uuid="d0", name="root"),
             Disk(dev_type=C.DT_DRBD8, logical_id=["n1", "n2"], size=512, nodes=["n1", "n2"],
                  uuid="d1")]
    inst = Instance(name="inst1.example.com", primary_node="n1", os="debian",
                    hypervisor=C.HT_FAKE, disks=["d0", "d1"], disk_template=C.DT_DRBD8,
                    nics=[NIC(mac="aa:00:00:00:00:01", ip="198.51.100.5", network="net1",
                              nicparams={"mode": "bridged", "link": "br0"}),
                          NIC(mac="aa:00:00:00:00:02", nicparams={"mode": "routed",
                                                                  "link": "rt"})],
                    beparams={"maxmem": 512, "vcpus": 2}, tags=["a"], uuid="i1")
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": grp1, "g2": grp2}, instances={inst.uuid: inst},
                      disks={d.uuid: d for d in disks},
                      networks={"net1": {"name": "public", "uuid": "net1"}})


def _row(fields: list[str], live: bool = False) -> list[list[Any]]:
    cfg = _cfg()
    ctx = qinst.InstanceQueryContext(
        cfg=cfg, have_live=live,
        live={"n1": {"inst1.example.com": {"state": "running", "memory": 500, "vcpus": 2}}},
        console={"inst1.example.com": {"kind": "msg", "message": "no console"}})
    resp = run_query(qinst.TABLE, fields, ctx, list(cfg.instances.values()))
    return resp["data"][0]


def _values(fields: list[str], live: bool = False) -> list[Any]:
    row = _row(fields, live)
    assert all(st == RS_NORMAL for st, _ in row), row
    return [v for _, v in row]


def test_static_values() -> None:
    assert _values(["snodes", "snodes.group", "snodes.group.uuid", "pnode.group",
                    "pnode.group.uuid"]) == [
        ["node2.example.com"], ["g2"], ["g2"], "g1", "g1"]
    assert _values(["disk.count", "disk.sizes", "disk.names", "disk.uuids", "disk_usage"]) == [
        2, [1024, 512], ["root", None], ["d0", "d1"], 1024 + 512 + 2 * qinst.DRBD_META_SIZE]
    assert _values(["nic.count", "nic.macs", "nic.ips", "nic.modes", "nic.links",
                    "nic.bridges", "nic.networks", "nic.networks.names"]) == [
        2, ["aa:00:00:00:00:01", "aa:00:00:00:00:02"], ["198.51.100.5", None],
        ["bridged", "routed"], ["br0", "rt"], ["br0", None], ["net1", None], ["public", None]]
    assert _values(["nic.mac/1", "nic.network.name/0", "nic.bridge/0", "disk.size/1",
                    "disk.name/0"]) == ["aa:00:00:00:00:02", "public", "br0", 512, "root"]
    assert _values(["be/maxmem", "be/memory", "vcpus", "be/vcpus", "hv/migration_mode"]) == [
        512, 512, 2, 2, "live"]
    assert _values(["ip", "mac", "bridge", "nic_mode", "nic_link", "nic_network", "sda_size",
                    "sdb_size"]) == ["198.51.100.5", "aa:00:00:00:00:01", "br0", "bridged",
                                     "br0", "net1", 1024, 512]


def test_alias_titles_follow_their_target() -> None:
    assert qinst.TABLE.get("be/memory").title == qinst.TABLE.get("be/maxmem").title
    assert qinst.TABLE.get("sda_size").kind == C.QFT_UNIT


def test_unavailable_values() -> None:
    # a third disk/NIC does not exist; kvm's kernel_path is not a fake hv parameter
    row = _row(["disk.size/2", "nic.mac/2", "hv/kernel_path", "oper_ram", "console"])
    assert [st for st, _ in row] == [RS_UNAVAIL, RS_UNAVAIL, RS_UNAVAIL, RS_NODATA, RS_NODATA]
    assert _row(["nosuchfield"])[0][0] == RS_UNKNOWN


def test_live_values() -> None:
    assert _values(["status", "oper_state", "oper_ram", "oper_vcpus", "console"], live=True) == [
        "ERROR_up", True, 500, 2, {"kind": "msg", "message": "no console"}]
