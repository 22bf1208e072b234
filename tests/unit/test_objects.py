"""Config objects (pydantic): JSON round trip, validation, touch, lookups."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from gnt import constants as C
from gnt import errors
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup, new_uuid

pytestmark = pytest.mark.unit


def build_config() -> ConfigData:
    """Three nodes in one group, two instances (one with a mirrored disk)."""
    grp = NodeGroup(name="default", ndparams={"ssh_port": 2222})
    n1 = Node(name="node1.example.com", primary_ip="192.0.2.1", secondary_ip="198.51.100.1",
              group=grp.uuid)
    n2 = Node(name="node2.example.com", primary_ip="192.0.2.2", secondary_ip="198.51.100.2",
              group=grp.uuid, master_candidate=False)
    n3 = Node(name="node3.example.com", primary_ip="192.0.2.3", secondary_ip="198.51.100.3",
              group=grp.uuid, offline=True, master_candidate=False)
    cluster = Cluster(cluster_name="cluster.example.com", master_node=n1.uuid,
                      master_ip="192.0.2.254", enabled_hypervisors=[C.HT_FAKE, C.HT_KVM],
                      hvparams={C.HT_FAKE: {"migration_mode": "live"}},
                      osparams={"debian": {"dhcp": "yes"}}, tags=["a", "b"],
                      tcpudp_port_pool=[11000, 11001])
    d1 = Disk(dev_type=C.DT_FILE, logical_id=["loop", "/srv/f/disk0"], size=1024,
              nodes=[n1.uuid], iv_name="disk/0")
    d2 = Disk(dev_type=C.DT_DRBD8, logical_id=[n1.uuid, n2.uuid, 11000, 0, 0, "secret"],
              size=2048, nodes=[n1.uuid, n2.uuid], iv_name="disk/0", spindles=1)
    d3 = Disk(dev_type=C.DT_DRBD8, logical_id=[n1.uuid, n2.uuid, 11001, 1, 1, "secret"],
              size=512, nodes=[n2.uuid, n1.uuid], iv_name="disk/1", name="data")
    i1 = Instance(name="inst1.example.com", primary_node=n1.uuid, os="debian+minimal",
                  hypervisor=C.HT_FAKE, disks=[d1.uuid], disk_template=C.DT_FILE,
                  nics=[NIC(mac="aa:00:00:11:22:33", ip="192.0.2.100",
                            nicparams={"link": "br1"})],
                  beparams={"maxmem": 512}, admin_state=C.ADMINST_UP, network_port=11005)
    i2 = Instance(name="inst2.example.com", primary_node=n1.uuid, os="debian",
                  hypervisor=C.HT_KVM, disks=[d2.uuid, d3.uuid], disk_template=C.DT_DRBD8)
    return ConfigData(
        cluster=cluster,
        nodes={n.uuid: n for n in (n1, n2, n3)},
        nodegroups={grp.uuid: grp},
        instances={i.uuid: i for i in (i1, i2)},
        disks={d.uuid: d for d in (d1, d2, d3)},
    )


def round_trip(data: ConfigData) -> ConfigData:
    return ConfigData.model_validate_json(json.dumps(data.to_dict()))


# --- JSON round trip ----------------------------------------------------------

def test_config_round_trip_equal() -> None:
    data = build_config()
    again = round_trip(data)
    assert again == data
    assert again.to_dict() == data.to_dict()
    # and a second pass is stable
    assert round_trip(again).to_dict() == data.to_dict()


def test_config_round_trip_keeps_types() -> None:
    data = round_trip(build_config())
    inst = data.instance_by_name("inst1.example.com")
    assert isinstance(inst, Instance)
    assert isinstance(inst.nics[0], NIC)
    assert inst.nics[0].nicparams == {"link": "br1"}
    assert all(isinstance(d, Disk) for d in data.disks.values())
    assert all(isinstance(n, Node) for n in data.nodes.values())
    assert isinstance(data.cluster, Cluster)
    assert data.cluster.tcpudp_port_pool == [11000, 11001]


def test_to_dict_is_json_ready_and_independent() -> None:
    data = build_config()
    d = data.to_dict()
    json.dumps(d)  # no TypeError
    d["cluster"]["hvparams"][C.HT_FAKE]["migration_mode"] = "changed"
    d["instances"].clear()
    assert data.cluster.hvparams[C.HT_FAKE]["migration_mode"] == "live"
    assert len(data.instances) == 2


def test_to_dict_shape_is_ganetis() -> None:
    d = build_config().to_dict()
    assert d["version"] == C.CONFIG_VERSION
    assert set(d) >= {"version", "cluster", "nodes", "nodegroups", "instances", "disks",
                      "networks", "serial_no", "ctime", "mtime"}
    for uuid, node in d["nodes"].items():
        assert node["uuid"] == uuid
    inst = next(iter(d["instances"].values()))
    assert isinstance(inst["disks"][0], str)  # disks by UUID
    assert inst["nics"][0]["mac"] == "aa:00:00:11:22:33"


def test_unknown_keys_ignored_on_load() -> None:
    d = build_config().to_dict()
    d["some_future_key"] = 1
    d["cluster"]["future_cluster_field"] = {"x": 1}
    next(iter(d["nodes"].values()))["future_node_field"] = True
    data = ConfigData.model_validate_json(json.dumps(d))
    assert not hasattr(data, "some_future_key")
    assert "future_cluster_field" not in data.cluster.to_dict()


def test_missing_required_field_rejected() -> None:
    d = build_config().to_dict()
    del d["cluster"]["cluster_name"]
    with pytest.raises(ValidationError) as ei:
        ConfigData.model_validate_json(json.dumps(d))
    assert "cluster_name" in str(ei.value)


def test_wrong_type_in_json_rejected() -> None:
    d = build_config().to_dict()
    next(iter(d["disks"].values()))["size"] = "big"
    with pytest.raises(ValidationError) as ei:
        ConfigData.model_validate_json(json.dumps(d))
    assert "size" in str(ei.value)


def test_defaults() -> None:
    cl = Cluster(cluster_name="c", master_node="m", master_ip="192.0.2.1")
    assert cl.default_hypervisor == C.HT_KVM
    assert cl.beparams == {"default": C.BEC_DEFAULTS}
    assert cl.nicparams == {"default": C.NICC_DEFAULTS}
    assert cl.ndparams == C.NDC_DEFAULTS
    assert cl.serial_no == 1
    inst = Instance(name="i", primary_node="n", os="o", hypervisor=C.HT_FAKE)
    assert inst.admin_state == C.ADMINST_DOWN
    assert inst.admin_state_source == C.ADMIN_SOURCE
    assert inst.disk_template == C.DT_DISKLESS
    assert inst.disks == [] and inst.nics == []
    assert Disk(dev_type=C.DT_FILE, size=1).mode == C.DISK_RDWR


def test_uuids_are_fresh() -> None:
    assert new_uuid() != new_uuid()
    a = NodeGroup(name="a")
    b = NodeGroup(name="a")
    assert a.uuid != b.uuid
    assert NIC(mac="aa:00:00:00:00:01").uuid != NIC(mac="aa:00:00:00:00:01").uuid


# --- validate_assignment ------------------------------------------------------

@pytest.mark.parametrize(("factory", "field", "value"), [
    (lambda: Node(name="n", primary_ip="1", secondary_ip="1", group="g"), "offline",
     "not-a-bool"),
    (lambda: Node(name="n", primary_ip="1", secondary_ip="1", group="g"), "name", 123),
    (lambda: Node(name="n", primary_ip="1", secondary_ip="1", group="g"), "ndparams", [1]),
    (lambda: Instance(name="i", primary_node="n", os="o", hypervisor="fake"), "disks",
     "disk-uuid"),
    (lambda: Instance(name="i", primary_node="n", os="o", hypervisor="fake"), "nics",
     [{"ip": "1.2.3.4"}]),  # NIC without mac
    (lambda: Instance(name="i", primary_node="n", os="o", hypervisor="fake"),
     "network_port", "eleven"),
    (lambda: Disk(dev_type="file", size=1), "size", "1G"),
    (lambda: Disk(dev_type="file", size=1), "nodes", "n1"),
    (lambda: NodeGroup(name="g"), "alloc_policy", "whatever"),
    (lambda: Cluster(cluster_name="c", master_node="m", master_ip="1"),
     "enabled_hypervisors", "kvm"),
    (lambda: Cluster(cluster_name="c", master_node="m", master_ip="1"),
     "candidate_pool_size", "ten"),
    (lambda: NIC(mac="aa:00:00:00:00:01"), "mac", None),
])
def test_validate_assignment_rejects_wrong_type(factory: Any, field: str, value: Any) -> None:
    obj = factory()
    before = getattr(obj, field)
    with pytest.raises(ValidationError) as ei:
        setattr(obj, field, value)
    assert field in str(ei.value)
    assert getattr(obj, field) == before


def test_validate_assignment_accepts_right_type() -> None:
    node = Node(name="n", primary_ip="1", secondary_ip="1", group="g")
    node.offline = True
    node.ndparams = {"ssh_port": 22}
    assert node.offline is True
    grp = NodeGroup(name="g")
    grp.alloc_policy = "unallocable"
    assert grp.alloc_policy == "unallocable"


def test_constructor_rejects_wrong_types() -> None:
    with pytest.raises(ValidationError):
        Node(name="n", primary_ip="1", secondary_ip="1")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Disk(dev_type="file", size="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        NodeGroup(name="g", alloc_policy="nope")  # type: ignore[arg-type]


# --- touch --------------------------------------------------------------------

def test_touch_bumps_serial_and_mtime() -> None:
    node = Node(name="n", primary_ip="1", secondary_ip="1", group="g")
    node.mtime = 1000.0
    ctime = node.ctime
    node.touch()
    assert node.serial_no == 2
    assert node.mtime >= time.time() - 60
    assert node.mtime > 1000.0
    node.touch()
    assert node.serial_no == 3
    assert node.ctime == ctime


def test_touch_on_every_timestamped_object() -> None:
    data = build_config()
    objs: list[Any] = [data.cluster, *data.nodes.values(), *data.nodegroups.values(),
                       *data.instances.values(), *data.disks.values()]
    for obj in objs:
        before = obj.serial_no
        obj.touch()
        assert obj.serial_no == before + 1


# --- lookups ------------------------------------------------------------------

def test_node_by_name() -> None:
    data = build_config()
    n1 = data.node_by_name("node1.example.com")
    assert n1 is not None and n1.primary_ip == "192.0.2.1"
    assert data.nodes[n1.uuid] is n1
    assert data.node_by_name("node1") is None
    assert data.node_by_name("nope.example.com") is None


def test_instance_by_name() -> None:
    data = build_config()
    inst = data.instance_by_name("inst2.example.com")
    assert inst is not None and inst.os == "debian"
    assert data.instance_by_name("inst2") is None
    assert data.instance_by_name("") is None


def test_group_lookups() -> None:
    data = build_config()
    grp = data.group_by_name("default")
    assert grp is not None
    assert data.get_group(grp.uuid) is grp
    assert data.group_by_name("other") is None
    with pytest.raises(errors.ConfigurationError):
        data.get_group("no-such-uuid")


def test_get_node_and_master() -> None:
    data = build_config()
    master = data.master_node
    assert master.name == "node1.example.com"
    assert data.get_node(master.uuid) is master
    with pytest.raises(errors.ConfigurationError) as ei:
        data.get_node("no-such-uuid")
    assert "no-such-uuid" in str(ei.value)


def test_instance_disks_in_order() -> None:
    data = build_config()
    inst = data.instance_by_name("inst2.example.com")
    assert inst is not None
    disks = data.instance_disks(inst)
    assert [d.iv_name for d in disks] == ["disk/0", "disk/1"]
    assert [d.size for d in disks] == [2048, 512]
    inst.disks = list(reversed(inst.disks))
    assert [d.size for d in data.instance_disks(inst)] == [512, 2048]


def test_instance_secondary_nodes() -> None:
    data = build_config()
    n1 = data.node_by_name("node1.example.com")
    n2 = data.node_by_name("node2.example.com")
    assert n1 is not None and n2 is not None
    i1 = data.instance_by_name("inst1.example.com")
    i2 = data.instance_by_name("inst2.example.com")
    assert i1 is not None and i2 is not None
    assert data.instance_secondary_nodes(i1) == []
    # n2 appears in both disks but is listed once; the primary is never listed
    assert data.instance_secondary_nodes(i2) == [n2.uuid]
    diskless = Instance(name="x", primary_node=n1.uuid, os="o", hypervisor=C.HT_FAKE)
    assert data.instance_secondary_nodes(diskless) == []


def test_node_primary_instances() -> None:
    data = build_config()
    n1 = data.node_by_name("node1.example.com")
    n2 = data.node_by_name("node2.example.com")
    assert n1 is not None and n2 is not None
    assert sorted(i.name for i in data.node_primary_instances(n1.uuid)) == [
        "inst1.example.com", "inst2.example.com"]
    assert data.node_primary_instances(n2.uuid) == []


def test_node_role() -> None:
    data = build_config()
    master = data.cluster.master_node
    roles = {n.name: n.role(master) for n in data.nodes.values()}
    assert roles == {"node1.example.com": C.NR_MASTER, "node2.example.com": C.NR_REGULAR,
                     "node3.example.com": C.NR_OFFLINE}
    n2 = data.node_by_name("node2.example.com")
    assert n2 is not None
    n2.master_candidate = True
    assert n2.role(master) == C.NR_MCANDIDATE
    n2.master_candidate = False
    n2.drained = True
    assert n2.role(master) == C.NR_DRAINED
