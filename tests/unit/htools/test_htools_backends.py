"""The live backends' model building (query results -> ClusterData) and hscan's
file names and failure handling (real processes, no server listening)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gnt.htools.backend_query import build_cluster
from gnt.htools.backend_rapi import rapi_url
from gnt.htools.errors import DataError
from gnt.htools.hscan import data_file
from gnt.htools.text import parse_text, serialize_cluster

pytestmark = pytest.mark.unit

IPOL = {"minmax": [{"min": {"memory-size": 128, "cpu-count": 1, "disk-size": 1024,
                            "disk-count": 1, "nic-count": 1, "spindle-use": 1},
                    "max": {"memory-size": 32768, "cpu-count": 8, "disk-size": 1048576,
                            "disk-count": 16, "nic-count": 8, "spindle-use": 12}}],
        "std": {"memory-size": 128, "cpu-count": 1, "disk-size": 1024, "disk-count": 1,
                "nic-count": 1, "spindle-use": 1},
        "disk-templates": ["drbd", "plain"], "vcpu-ratio": 4.0, "spindle-ratio": 32.0}
GROUPS = [{"name": "default", "uuid": "g-1", "alloc_policy": "preferred", "ipolicy": IPOL,
           "tags": ["gt"]}]


def _node(name: str, **kw: object) -> dict:
    base = {"name": name, "offline": False, "drained": False, "vm_capable": True,
            "mtotal": 16384, "mnode": 512, "mfree": 12000, "dtotal": 409600,
            "dfree": 300000, "ctotal": 8, "cnos": 1, "sptotal": 0, "spfree": 0,
            "ndparams": {"spindle_count": 1, "exclusive_storage": False},
            "group.uuid": "g-1", "tags": []}
    base.update(kw)
    return base


def _inst(name: str, pnode: str, snodes: list[str], **kw: object) -> dict:
    base = {"name": name, "disk_usage": 10368, "disk.sizes": [10240], "disk.spindles": [None],
            "beparams": {"maxmem": 2048, "vcpus": 2, "auto_balance": True, "spindle_use": 1},
            "oper_ram": None, "status": "ADMIN_down", "pnode": pnode, "snodes": snodes,
            "disk_template": "drbd" if snodes else "plain", "tags": [], "nic.networks": []}
    base.update(kw)
    return base


def test_rapi_url_forms() -> None:
    assert rapi_url("cluster.example.com") == "https://cluster.example.com:5080"
    assert rapi_url("10.0.0.1:1234") == "https://10.0.0.1:1234"
    assert rapi_url("::1") == "https://[::1]:5080"
    assert rapi_url("[::1]:99") == "https://[::1]:99"
    assert rapi_url("https://h:1/") == "https://h:1"
    assert data_file("/d", "https://h:1/") == "/d/https:__h:1_.data"


def test_model_rules_and_text_roundtrip() -> None:
    nodes = [_node("n1"), _node("n2"), _node("n3", offline=True, mtotal=None),
             _node("n4", drained=True), _node("n5", vm_capable=False)]
    insts = [_inst("i1", "n1", ["n2"], status="running", oper_ram=1536),
             _inst("i2", "n2", [], disk_template="plain"),
             _inst("i3", "n4", [], disk_template="diskless", disk_usage=0, **{
                 "disk.sizes": [], "disk.spindles": []})]
    cd = build_cluster(GROUPS, nodes, insts, {"master": "n1", "ipolicy": IPOL}, ["ct"], "x")
    n1, _, n3, n4, n5 = cd.nodes
    assert n1.master and not cd.nodes[1].master
    assert (n1.t_mem, n1.n_mem, n1.f_mem, n1.t_dsk, n1.f_dsk, n1.t_cpu) == \
        (16384.0, 512, 12000, 409600.0, 300000, 8.0)
    assert n3.offline and n3.t_mem == 0 and n3.f_dsk == 0      # offline: no resources
    assert n4.offline and n4.t_mem == 16384                     # drained: data kept
    assert n5.offline and n5.t_mem == 0                         # not vm_capable
    i1, i2, i3 = cd.instances
    assert (i1.mem, i1.snode, i1.template.value, i1.spindles) == (1536, 1, "drbd", None)
    assert (i2.mem, i2.snode) == (2048, -1)                    # maxmem when not running
    assert i3.spindles == 0 and i3.dsk == 0
    assert cd.cluster_tags == ["ct"] and cd.groups[0].tags == ["gt"]
    text = serialize_cluster(cd)
    again = parse_text(text)
    assert serialize_cluster(again) == text
    assert "n1|16384|512|12000|409600|300000|8|M|g-1|1||N|0|1|1.0" in text


@pytest.mark.parametrize("bad, msg", [
    ({"nodes": [_node("n1", **{"group.uuid": "nope"})]}, "node 'n1': unknown group 'nope'"),
    ({"insts": [_inst("i1", "zz", [])]}, "instance 'i1': unknown primary node 'zz'"),
    ({"insts": [_inst("i1", "n1", [], status="weird")]}, "invalid status 'weird'"),
    ({"nodes": [_node("n1", mtotal="lots")]}, "node 'n1': field 'mtotal' has a bad value"),
])
def test_bad_data_names_object_and_field(bad: dict, msg: str) -> None:
    nodes = bad.get("nodes", [_node("n1")])
    insts = bad.get("insts", [])
    with pytest.raises(DataError, match=msg):
        build_cluster(GROUPS, nodes, insts, {"master": "n1"}, [], "src")


def test_hscan_unreachable_cluster(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "gnt.htools", "hscan", "-d", str(tmp_path),
                          "127.0.0.1:1"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 2
    lines = res.stdout.splitlines()
    # as Ganeti's hscan: the name column as wide as the longest name
    assert lines[0] == ("Name        Nodes  Inst BNode BInst  t_mem  f_mem t_disk f_disk"
                        "      Score")
    assert lines[1:3] == ["", "Error for 127.0.0.1:1: failed to load data. Details:"]
    assert "cannot reach RAPI at https://127.0.0.1:1/2/groups?bulk=1" in lines[3]
    assert list(tmp_path.iterdir()) == []
    res = subprocess.run([sys.executable, "-m", "gnt.htools", "hbal", "-m", "127.0.0.1:1"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 1 and res.stderr.startswith("Error: 127.0.0.1:1: cannot reach")
