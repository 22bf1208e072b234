"""Hook environment builders and node lists (gnt.hooks.env) on real config objects."""

from __future__ import annotations

import pytest

from gnt import constants as C
from gnt import hooks
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup

pytestmark = pytest.mark.unit


@pytest.fixture
def cfg() -> ConfigData:
    g1 = NodeGroup(uuid="g1", name="default")
    g2 = NodeGroup(uuid="g2", name="other")
    nodes = [Node(uuid=u, name=f"{n}.example.com", primary_ip=ip, secondary_ip=ip, group=g)
             for u, n, ip, g in (("u1", "node1", "192.0.2.1", "g1"),
                                 ("u2", "node2", "192.0.2.2", "g1"),
                                 ("u3", "node3", "192.0.2.3", "g2"))]
    cl = Cluster(cluster_name="cluster.example.com", master_node="u1", master_ip="192.0.2.254",
                 tags=["ctag"])
    cl.beparams["default"].update({C.BE_MAXMEM: 512, C.BE_MINMEM: 256, C.BE_VCPUS: 2})
    disks = [Disk(uuid="d0", dev_type=C.DT_FILE, size=1024, name="root", nodes=["u1"]),
             Disk(uuid="d1", dev_type=C.DT_FILE, size=64, mode=C.DISK_RDONLY,
                  nodes=["u1", "u2"])]
    nics = [NIC(uuid="nic0", name="eth0", mac="aa:00:00:00:00:01"),
            NIC(uuid="nic1", mac="aa:00:00:00:00:02", ip="198.51.100.7", network="net1",
                nicparams={C.NIC_MODE: C.NIC_MODE_ROUTED, C.NIC_LINK: "rt100",
                           C.NIC_VLAN: ".100"})]
    inst = Instance(uuid="i1", name="inst1.example.com", primary_node="u1", os="image+raw",
                    hypervisor=C.HT_FAKE, beparams={C.BE_MAXMEM: 1024},
                    admin_state=C.ADMINST_UP, nics=nics, disks=["d0", "d1"],
                    disk_template=C.DT_FILE, tags=["web", "prod"])
    net = {"name": "net1", "uuid": "net1", "network": "198.51.100.0/24",
           "gateway": "198.51.100.1", "tags": ["t1"], "mac_prefix": None}
    return ConfigData(cluster=cl, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": g1, "g2": g2}, instances={"i1": inst},
                      disks={d.uuid: d for d in disks}, networks={"net1": net})


def test_instance_env_standard_variables(cfg: ConfigData) -> None:
    env = hooks.instance_env(cfg, cfg.instances["i1"])
    assert all(isinstance(v, str) for v in env.values())
    expected = {
        "OP_TARGET": "inst1.example.com",
        "INSTANCE_NAME": "inst1.example.com",
        "INSTANCE_PRIMARY": "node1.example.com",
        "INSTANCE_SECONDARIES": "node2.example.com",
        "INSTANCE_OS_TYPE": "image+raw",
        "INSTANCE_STATUS": "up",
        "INSTANCE_MINMEM": "256",
        "INSTANCE_MAXMEM": "1024",
        "INSTANCE_MEMORY": "1024",
        "INSTANCE_VCPUS": "2",
        "INSTANCE_DISK_TEMPLATE": "file",
        "INSTANCE_HYPERVISOR": "fake",
        "INSTANCE_TAGS": "web prod",
        "INSTANCE_NIC_COUNT": "2",
        "INSTANCE_NIC0_NAME": "eth0",
        "INSTANCE_NIC0_UUID": "nic0",
        "INSTANCE_NIC0_IP": "",
        "INSTANCE_NIC0_MAC": "aa:00:00:00:00:01",
        "INSTANCE_NIC0_MODE": "bridged",
        "INSTANCE_NIC0_LINK": C.DEFAULT_BRIDGE,
        "INSTANCE_NIC0_BRIDGE": C.DEFAULT_BRIDGE,
        "INSTANCE_NIC0_VLAN": "",
        "INSTANCE_NIC1_UUID": "nic1",
        "INSTANCE_NIC1_IP": "198.51.100.7",
        "INSTANCE_NIC1_MODE": "routed",
        "INSTANCE_NIC1_LINK": "rt100",
        "INSTANCE_NIC1_VLAN": ".100",
        "INSTANCE_NIC1_NETWORK_NAME": "net1",
        "INSTANCE_NIC1_NETWORK_UUID": "net1",
        "INSTANCE_NIC1_NETWORK_SUBNET": "198.51.100.0/24",
        "INSTANCE_NIC1_NETWORK_GATEWAY": "198.51.100.1",
        "INSTANCE_NIC1_NETWORK_TAGS": "t1",
        "INSTANCE_DISK_COUNT": "2",
        "INSTANCE_DISK0_NAME": "root",
        "INSTANCE_DISK0_UUID": "d0",
        "INSTANCE_DISK0_SIZE": "1024",
        "INSTANCE_DISK0_MODE": "rw",
        "INSTANCE_DISK1_UUID": "d1",
        "INSTANCE_DISK1_SIZE": "64",
        "INSTANCE_DISK1_MODE": "ro",
        "INSTANCE_BE_maxmem": "1024",
        "INSTANCE_BE_minmem": "256",
        "INSTANCE_BE_auto_balance": "True",
        "INSTANCE_HV_migration_mode": "live",
    }
    assert {k: env.get(k) for k in expected} == expected
    # NAME only when set; BRIDGE only for bridged/openvswitch; no MAC_PREFIX when unset
    for absent in ("INSTANCE_NIC1_NAME", "INSTANCE_NIC1_BRIDGE", "INSTANCE_DISK1_NAME",
                   "INSTANCE_NIC1_NETWORK_MAC_PREFIX", "INSTANCE_NIC2_UUID"):
        assert absent not in env
    assert not any(k.startswith("GANETI_") for k in env)


def test_instance_env_overrides(cfg: ConfigData) -> None:
    inst = cfg.instances["i1"]
    gone = [cfg.disks["d0"]]          # e.g. kept from check_prereq after removal
    env = hooks.instance_env(cfg, inst, disks=gone, status=False,
                             beparams={C.BE_MAXMEM: 2048, C.BE_VCPUS: 4}, hvparams={},
                             override={"FORCE": True, "TIMEOUT": 30, "INSTANCE_STATUS": "x"})
    assert env["INSTANCE_DISK_COUNT"] == "1"
    assert env["INSTANCE_SECONDARIES"] == ""     # secondaries follow the given disks
    assert env["INSTANCE_MAXMEM"] == "2048" and env["INSTANCE_VCPUS"] == "4"
    assert env["INSTANCE_MINMEM"] == "None"      # Ganeti's str() of a missing value
    assert not any(k.startswith("INSTANCE_HV_") for k in env)
    assert env["FORCE"] == "True" and env["TIMEOUT"] == "30"
    assert env["INSTANCE_STATUS"] == "x"         # override wins over status=
    assert hooks.instance_env(cfg, inst, status=False)["INSTANCE_STATUS"] == "False"


def test_node_group_cluster_env(cfg: ConfigData) -> None:
    assert hooks.node_env("node2.example.com") == {"OP_TARGET": "node2.example.com",
                                                   "NODE_NAME": "node2.example.com"}
    assert hooks.group_env("default") == {"GROUP_NAME": "default"}
    assert hooks.cluster_env(cfg) == {"OP_TARGET": "cluster.example.com"}
    assert hooks.network_env(cfg.networks["net1"]) == {
        "NETWORK_NAME": "net1", "NETWORK_UUID": "net1", "NETWORK_TAGS": "t1",
        "NETWORK_SUBNET": "198.51.100.0/24", "NETWORK_GATEWAY": "198.51.100.1"}


def test_node_lists(cfg: ConfigData) -> None:
    inst = cfg.instances["i1"]
    assert hooks.master_nodes(cfg) == ["u1"]
    assert hooks.instance_nodes(cfg, inst) == ["u1", "u2"]
    assert hooks.master_and_instance_nodes(cfg, inst) == ["u1", "u2"]
    moved = inst.model_copy(update={"primary_node": "u3"})
    assert hooks.master_and_instance_nodes(cfg, moved) == ["u1", "u3", "u2"]
    assert hooks.group_nodes(cfg, "g1") == ["u1", "u2"]
    assert hooks.group_nodes(cfg, cfg.nodegroups["g2"]) == ["u3"]
    assert hooks.all_nodes(cfg) == ["u1", "u2", "u3"]
    assert hooks.all_nodes(cfg, exclude=["u2"]) == ["u1", "u3"]
    assert hooks.unique(["b", "a", "b"]) == ["b", "a"]


def test_stringify_follows_python_str() -> None:
    assert hooks.stringify({"A": True, "B": None, "C": 3, "D": [1, "x"], "E": "s"}) == {
        "A": "True", "B": "None", "C": "3", "D": "[1, 'x']", "E": "s"}
