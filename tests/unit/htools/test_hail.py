"""hail: the iallocator backend, allocation, evacuation and the program's answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnt.htools import iallocator as ia
from gnt.htools import metrics
from gnt.htools.errors import DataError
from gnt.htools.evacuate import node_evacuate, relocate
from gnt.htools.generate import GenSpec, generate
from gnt.htools.hail import answer
from gnt.htools.iallocate import AllocOptions, allocate
from gnt.htools.model import Instance
from gnt.htools.policy import instance_policy_failure
from gnt.htools.state import ClusterState, add_instance, prepare_new_instance
from gnt.htools.text import parse_text
from gnt.htools.types import DEFAULT_IPOLICY, DiskTemplate, FailMode, InstanceStatus
from tests.unit.htools.htools_fixtures import SMALL

pytestmark = pytest.mark.unit


def _request(cdata, req: dict, hv: str = "xen-pvm") -> ia.ParsedRequest:
    return ia.parse_request(json.dumps(ia.cluster_to_json(cdata, req, hv)))


def _new(name: str, tmpl: str, mem: int, dsk: int = 1024, vcpus: int = 1) -> dict:
    return {"name": name, "disk_template": tmpl, "memory": mem, "vcpus": vcpus,
            "disks": [{"size": dsk, "mode": "rw"}], "disk_space_total": dsk, "nics": [],
            "tags": [], "spindle_use": 1, "os": "debian",
            "required_nodes": 2 if tmpl == "drbd" else 1}


def test_parse_request_round_trip_and_kvm_node_memory() -> None:
    cd = parse_text(SMALL)
    xen = _request(cd, dict(_new("x", "plain", 128), type="allocate"))
    assert [n.name for n in xen.cdata.nodes] == ["node1", "node2", "node3"]
    assert [n.n_mem for n in xen.cdata.nodes] == [512, 512, 512]
    assert [(i.name, i.pnode, i.snode) for i in xen.cdata.instances] == \
        [(i.name, i.pnode, i.snode) for i in cd.instances]
    assert isinstance(xen.request, ia.AllocateRequest) and xen.request.required_nodes == 1
    kvm = _request(cd, dict(_new("x", "plain", 128), type="allocate"), hv="kvm")
    assert [n.n_mem for n in kvm.cdata.nodes] == [4096] * 3  # Ganeti's static KVM memory
    doc = ia.cluster_to_json(cd, dict(_new("x", "plain", 128), type="allocate"), "kvm")
    assert ia.parse_request(json.dumps(doc), static_kvm_mem=0).cdata.nodes[0].n_mem == 512


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("request"), "key 'request' not found"),
    (lambda d: d["request"].update(type="nosuch"), "Invalid request type 'nosuch'"),
    (lambda d: d["nodes"]["node1"].pop("free_memory"), "key 'free_memory' not found"),
    (lambda d: d["instances"]["inst1"].update(nodes=["nowhere"]), "Unknown node 'nowhere'"),
    (lambda d: d["request"].update(type="node-evacuate", instances=["x"], evac_mode="all"),
     "Wrong number of elems found with name x"),
])
def test_parse_request_errors_name_the_problem(mutate, message: str) -> None:
    doc = ia.cluster_to_json(parse_text(SMALL), dict(_new("x", "plain", 128), type="allocate"))
    mutate(doc)
    with pytest.raises(DataError, match=message):
        ia.parse_request(json.dumps(doc))
    with pytest.raises(DataError, match="Parsing input IAllocator message"):
        ia.parse_request("{not json")


def test_offline_and_drained_nodes_report_no_or_all_resources() -> None:
    doc = ia.cluster_to_json(parse_text(SMALL), dict(_new("x", "plain", 128), type="allocate"))
    doc["nodes"]["node1"]["offline"] = True
    doc["nodes"]["node2"]["drained"] = True
    nodes = ia.parse_request(json.dumps(doc)).cdata.nodes
    assert nodes[0].offline and nodes[0].t_mem == 0 and nodes[0].f_dsk == 0
    assert nodes[1].offline and nodes[1].t_mem == 4096


def test_policy_checks_every_disk_and_reports_the_first_spec() -> None:
    inst = Instance(name="i", mem=256, dsk=3000, vcpus=1, status=InstanceStatus.RUNNING,
                    auto_balance=True, pnode=-1, snode=-1, template=DiskTemplate.PLAIN,
                    disks=[(1000, None), (2000, None)])
    assert instance_policy_failure(inst, DEFAULT_IPOLICY, False) == FailMode.DISK  # 1000 < 1024
    inst.disks = [(1024, None), (2000, None)]
    assert instance_policy_failure(inst, DEFAULT_IPOLICY, False) is None
    inst.mem = 64
    assert instance_policy_failure(inst, DEFAULT_IPOLICY, False) == FailMode.MEM


def test_incremental_statistics_match_full_scores() -> None:
    cd = generate(GenSpec(nodes=8, instances=40, seed=4, unbalanced=True, node_mem=65536))
    parsed = _request(cd, dict(_new("new", "drbd", 2048), type="allocate"))
    st = ClusterState(parsed.cdata)
    inst = parsed.request.inst
    prepare_new_instance(st, inst)
    sol = allocate(st, inst, 2, None, AllocOptions())
    assert sol.nodes is not None and sol.state is not None
    # the incremental score equals a full recomputation (up to the last bits)
    full = metrics.score(sol.state, np.arange(st.n_nodes))
    assert sol.score == pytest.approx(full, rel=1e-12)
    assert sol.state.n_insts == st.n_insts + 1
    assert sol.log[0].startswith("Selected group: default")


def test_allocation_failure_counts_reasons() -> None:
    cd = parse_text(SMALL)
    parsed = _request(cd, dict(_new("big", "plain", 30000), type="allocate"))
    ans = answer(ClusterState(parsed.cdata), parsed.request)
    assert not ans.success and ans.result == []
    assert ans.info == ("Request failed: Group default (preferred): No valid allocation "
                        "solutions, failure reasons: FailMem: 3")


def test_add_instance_leaves_the_original_state() -> None:
    st = ClusterState(parse_text(SMALL))
    before = st.i_mem.copy()
    inst = Instance(name="n", mem=256, dsk=1024, vcpus=1, status=InstanceStatus.RUNNING,
                    auto_balance=True, pnode=-1, snode=-1, template=DiskTemplate.DRBD)
    new = add_instance(st, inst, 0, 1)
    assert (st.i_mem == before).all() and st.n_insts == 4
    assert new.i_mem[0] == before[0] + 256 and new.peers[1, 0] == st.peers[1, 0] + 256
    assert new.plist(0)[0] == 4  # newest first, as Ganeti's lists


def test_node_evacuation_and_relocation() -> None:
    cd = generate(GenSpec(nodes=6, instances=20, seed=3, node_mem=65536,
                          templates={"drbd": 0.7, "plain": 0.15, "sharedfile": 0.15}))
    st = ClusterState(cd)
    plain = next(i.idx for i in cd.instances if i.template == DiskTemplate.PLAIN)
    drbd = next(i.idx for i in cd.instances if i.template == DiskTemplate.DRBD)
    res = node_evacuate(st, [plain, drbd], ia.EvacMode.ALL)
    assert res.failed == [(plain, "Instances of type plain cannot be relocated")]
    assert [m[0] for m in res.moved] == [drbd] and len(res.jobs[0]) == 3
    assert [op["OP_ID"] for op in res.jobs[0]] == [
        "OP_INSTANCE_REPLACE_DISKS", "OP_INSTANCE_MIGRATE", "OP_INSTANCE_REPLACE_DISKS"]
    s = int(st.i_snode[drbd])
    new, nodes = relocate(st, drbd, 1, [s])
    assert nodes[0] not in (s, int(st.i_pnode[drbd])) and int(new.i_snode[drbd]) == nodes[0]


def test_hail_program_reads_stdin_and_answers_one_line(tmp_path: Path) -> None:
    doc = ia.cluster_to_json(parse_text(SMALL), dict(_new("x", "plain", 128), type="allocate"))
    res = subprocess.run([sys.executable, "-m", "gnt.htools", "hail", "-"],
                         input=json.dumps(doc), capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert list(out) == ["success", "info", "result"] and out["success"]
    assert res.stdout.count("\n") == 1
    bad = subprocess.run([sys.executable, "-m", "gnt.htools", "hail"], capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 1 and "needs an input file" in bad.stderr
