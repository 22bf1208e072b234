"""ssconf values computed from the config, and reading them on a node."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnt import constants as C
from gnt import paths
from gnt.config import ssconf
from gnt.objects import Cluster, ConfigData, Instance, Node, NodeGroup

pytestmark = pytest.mark.unit


def small_config() -> ConfigData:
    g1 = NodeGroup(name="default")
    g2 = NodeGroup(name="rack2")
    # created out of name order: the values must be sorted by name
    nb = Node(name="nodeb.example.com", primary_ip="192.0.2.2", secondary_ip="198.51.100.2",
              group=g1.uuid, master_candidate=False, vm_capable=False)
    na = Node(name="nodea.example.com", primary_ip="192.0.2.1", secondary_ip="198.51.100.1",
              group=g1.uuid)
    nc = Node(name="nodec.example.com", primary_ip="192.0.2.3", secondary_ip="198.51.100.3",
              group=g2.uuid, offline=True, master_candidate=False)
    cluster = Cluster(cluster_name="cluster.example.com", master_node=na.uuid,
                      master_ip="192.0.2.254", master_netdev="br0", master_netmask=24,
                      enabled_hypervisors=[C.HT_FAKE, C.HT_KVM],
                      hvparams={C.HT_FAKE: {"migration_mode": "non-live"},
                                C.HT_KVM: {"kernel_path": "", "acpi": True}},
                      tags=["zeta", "alpha"], maintain_node_health=True,
                      uid_pool=[1000, 1001], file_storage_dir="/srv/files")
    insts = [Instance(name=n, primary_node=na.uuid, os="debian", hypervisor=C.HT_FAKE)
             for n in ("web2.example.com", "db1.example.com")]
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in (nb, na, nc)},
                      nodegroups={g.uuid: g for g in (g1, g2)},
                      instances={i.uuid: i for i in insts})


def test_every_key_present() -> None:
    values = ssconf.compute_values(small_config())
    assert set(C.SSCONF_KEYS) <= set(values)
    assert all(isinstance(v, str) for v in values.values())


def test_values() -> None:
    cfg = small_config()
    v = ssconf.compute_values(cfg)
    assert v["cluster_name"] == "cluster.example.com"
    assert v["cluster_tags"] == "alpha\nzeta"
    assert v["master_node"] == "nodea.example.com"
    assert v["master_ip"] == "192.0.2.254"
    assert v["master_netdev"] == "br0"
    assert v["master_netmask"] == "24"
    assert v["file_storage_dir"] == "/srv/files"
    assert v["shared_file_storage_dir"] == cfg.cluster.shared_file_storage_dir
    assert v["node_list"] == "nodea.example.com\nnodeb.example.com\nnodec.example.com"
    assert v["master_candidates"] == "nodea.example.com"
    assert v["master_candidates_ips"] == "192.0.2.1"
    assert v["node_primary_ips"] == ("nodea.example.com 192.0.2.1\n"
                                     "nodeb.example.com 192.0.2.2\n"
                                     "nodec.example.com 192.0.2.3")
    assert v["node_secondary_ips"] == ("nodea.example.com 198.51.100.1\n"
                                       "nodeb.example.com 198.51.100.2\n"
                                       "nodec.example.com 198.51.100.3")
    assert v["node_vm_capable"] == ("nodea.example.com=True\nnodeb.example.com=False\n"
                                    "nodec.example.com=True")
    assert v["offline_nodes"] == "nodec.example.com"
    assert v["online_nodes"] == "nodea.example.com\nnodeb.example.com"
    assert v["instance_list"] == "db1.example.com\nweb2.example.com"
    assert v["hypervisor_list"] == "fake\nkvm"
    assert v["primary_ip_family"] == "2"
    assert v["release_version"] == C.RELEASE_VERSION
    assert v["maintain_node_health"] == "True"
    assert v["enabled_user_shutdown"] == "False"
    assert v["uid_pool"] == "1000\n1001"
    assert sorted(v["nodegroups"].splitlines()) == sorted(
        f"{g.uuid} {g.name}" for g in cfg.nodegroups.values())
    assert v["hvparams_fake"] == "migration_mode=non-live"
    assert v["hvparams_kvm"] == "acpi=True\nkernel_path="


def test_empty_lists_are_empty_strings() -> None:
    cfg = small_config()
    cfg.instances = {}
    cfg.cluster.tags = []
    cfg.cluster.uid_pool = []
    for n in cfg.nodes.values():
        n.offline = False
    v = ssconf.compute_values(cfg)
    assert v["instance_list"] == ""
    assert v["cluster_tags"] == ""
    assert v["uid_pool"] == ""
    assert v["offline_nodes"] == ""


def test_unknown_master_gives_empty_name() -> None:
    cfg = small_config()
    cfg.cluster.master_node = "no-such-uuid"
    assert ssconf.compute_values(cfg)["master_node"] == ""


def test_hvparams_only_for_enabled_hypervisors() -> None:
    cfg = small_config()
    cfg.cluster.enabled_hypervisors = [C.HT_KVM]
    v = ssconf.compute_values(cfg)
    assert "hvparams_kvm" in v
    assert "hvparams_fake" not in v


def test_read_and_master_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    assert ssconf.read("master_node") is None
    assert ssconf.master_node() is None
    values = ssconf.compute_values(small_config())
    p = paths.get().ssconf_file("master_node")
    assert p == tmp_path.resolve() / "var/lib/ganeti/ssconf_master_node"
    p.parent.mkdir(parents=True)
    p.write_text(values["master_node"] + "\n")
    assert ssconf.read("master_node") == "nodea.example.com\n"
    assert ssconf.master_node() == "nodea.example.com"
    p.write_text("")
    assert ssconf.master_node() is None
