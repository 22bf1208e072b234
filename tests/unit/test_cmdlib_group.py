"""Node group LUs through the real processor, config writer and lock manager:
the locks they take, new group locks registered and forgotten, config
written only on success, instance-split protection, parameter checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.group import check_ispecs, update_group_ipolicy
from gnt.locking import Level, Mode
from gnt.masterd.context import MasterContext
from gnt.objects import Cluster, ConfigData, Disk, Instance, Node, NodeGroup
from gnt.opcodes.group import (
    OpGroupAdd,
    OpGroupAssignNodes,
    OpGroupRemove,
    OpGroupRename,
    OpGroupSetParams,
)
from tests.support.lu import make_master, run_op

pytestmark = pytest.mark.unit

EX = Mode.EXCLUSIVE


def make_cfg() -> ConfigData:
    grp = NodeGroup(name="default", uuid="g1")
    nodes = [Node(name=f"node{i}.example.com", primary_ip=f"192.0.2.{i}",
                  secondary_ip=f"192.0.2.{i}", group="g1", uuid=f"n{i}") for i in (1, 2, 3)]
    disk = Disk(dev_type=C.DT_DRBD8, logical_id=[], size=10, nodes=["n2", "n3"], uuid="d1")
    inst = Instance(name="inst1.example.com", primary_node="n2", os="x",
                    hypervisor=C.HT_FAKE, disk_template=C.DT_DRBD8, disks=["d1"])
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.9")
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": grp}, instances={inst.uuid: inst},
                      disks={"d1": disk})


@pytest.fixture
def mctx(tmp_path: Path) -> MasterContext:
    return make_master(tmp_path / "config.data", make_cfg())


def on_disk(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "config.data").read_text())


def group_uuid(tmp_path: Path, name: str) -> str:
    return next(u for u, g in on_disk(tmp_path)["nodegroups"].items() if g["name"] == name)


def test_add_registers_the_group_lock(mctx: MasterContext, tmp_path: Path) -> None:
    _, jctx = run_op(mctx, OpGroupAdd(group_name="rack2", alloc_policy="last_resort",
                                      ndparams={"spindle_count": "3"},
                                      diskparams={"plain": {"stripes": 2}},
                                      ipolicy={"vcpu-ratio": "2.5"}))
    uuid = group_uuid(tmp_path, "rack2")
    assert jctx.held["NODEGROUP"] == {uuid: EX}
    assert uuid in mctx.glm.names(Level.NODEGROUP)
    grp = on_disk(tmp_path)["nodegroups"][uuid]
    assert grp["alloc_policy"] == "last_resort"
    assert grp["ndparams"] == {"spindle_count": 3}
    assert grp["diskparams"] == {"plain": {"stripes": 2}}
    assert grp["ipolicy"] == {"vcpu-ratio": 2.5}
    # the new group can be locked and used at once
    run_op(mctx, OpGroupRename(group_name="rack2", new_name="rack3"))
    assert group_uuid(tmp_path, "rack3") == uuid


@pytest.mark.parametrize("op,word", [
    (OpGroupAdd(group_name="default"), "already exists"),
    (OpGroupAdd(group_name="g1"), "UUID"),
    (OpGroupAdd(group_name="two words"), "whitespace"),
    (OpGroupAdd(group_name="x", ndparams={"nosuch": 1}), "nosuch"),
    (OpGroupAdd(group_name="x", ndparams={"spindle_count": "many"}), "spindle_count"),
    (OpGroupAdd(group_name="x", diskparams={"floppy": {}}), "floppy"),
    (OpGroupAdd(group_name="x", diskparams={"plain": {"stripes": "x"}}), "stripes"),
    (OpGroupAdd(group_name="x", ipolicy={"std": {}}), "std"),
    (OpGroupAdd(group_name="x", ipolicy={"bogus": 1}), "bogus"),
    (OpGroupAdd(group_name="x", ipolicy={"vcpu-ratio": 0}), "vcpu-ratio"),
    (OpGroupAdd(group_name="x", ipolicy={"disk-templates": ["floppy"]}), "floppy"),
    (OpGroupAdd(group_name="x", hv_state={"kvm": {}}), "not supported"),
    (OpGroupRename(group_name="default", new_name="bad name"), "whitespace"),
    (OpGroupRename(group_name="nosuch", new_name="x"), "not found"),
    (OpGroupRemove(group_name="default"), "not empty"),
    (OpGroupSetParams(group_name="default"), "at least one"),
    (OpGroupSetParams(group_name="default", ipolicy={"minmax": [{"min": {}, "max": {}}]}),
     "lacks parameters"),
    (OpGroupAssignNodes(group_name="default", nodes=["nosuch"]), "not known"),
])
def test_bad_requests_change_nothing(mctx: MasterContext, tmp_path: Path, op: Any,
                                     word: str) -> None:
    before = (tmp_path / "config.data").read_bytes()
    locks = mctx.glm.names(Level.NODEGROUP)
    with pytest.raises(errors.OpPrereqError, match=word):
        run_op(mctx, op)
    assert (tmp_path / "config.data").read_bytes() == before
    assert mctx.glm.names(Level.NODEGROUP) == locks
    assert mctx.glm.list_locks(active_only=True) == []


def test_remove_forgets_the_lock_and_keeps_the_last_group(mctx: MasterContext,
                                                          tmp_path: Path) -> None:
    run_op(mctx, OpGroupAdd(group_name="empty"))
    uuid = group_uuid(tmp_path, "empty")
    _, jctx = run_op(mctx, OpGroupRemove(group_name="empty"))
    assert jctx.held["NODEGROUP"] == {uuid: EX}
    assert uuid not in mctx.glm.names(Level.NODEGROUP)
    assert list(on_disk(tmp_path)["nodegroups"]) == ["g1"]
    # the default group can go once its nodes are elsewhere
    run_op(mctx, OpGroupAdd(group_name="other"))
    run_op(mctx, OpGroupAssignNodes(group_name="other", nodes=["node1", "node2", "node3"]))
    run_op(mctx, OpGroupRemove(group_name="default"))
    assert [g["name"] for g in on_disk(tmp_path)["nodegroups"].values()] == ["other"]


def test_last_group_stays(tmp_path: Path) -> None:
    cfg = make_cfg()
    cfg.nodes.clear()
    cfg.instances.clear()
    mctx = make_master(tmp_path / "config.data", cfg)
    with pytest.raises(errors.OpPrereqError, match="only group, cannot be removed"):
        run_op(mctx, OpGroupRemove(group_name="default"))
    assert "g1" in on_disk(tmp_path)["nodegroups"]


def test_assign_nodes_locks_both_groups_and_refuses_splits(mctx: MasterContext,
                                                           tmp_path: Path) -> None:
    run_op(mctx, OpGroupAdd(group_name="rack2"))
    g2 = group_uuid(tmp_path, "rack2")
    # node2 and node3 carry inst1 (DRBD): moving one of them splits it
    serial = on_disk(tmp_path)["serial_no"]
    with pytest.raises(errors.OpPrereqError, match="get split by this change.*: inst1.example.com"):
        run_op(mctx, OpGroupAssignNodes(group_name="rack2", nodes=["node2"]))
    assert on_disk(tmp_path)["serial_no"] == serial
    _, jctx = run_op(mctx, OpGroupAssignNodes(group_name="rack2", nodes=["node1"]))
    assert jctx.held["NODEGROUP"] == {"g1": EX, g2: EX}
    assert jctx.held["NODE"] == {"n1": EX}
    _, jctx = run_op(mctx, OpGroupAssignNodes(group_name="rack2", nodes=["node2"],
                                              force=True))
    assert any("split" in str(m) for m in jctx.log)
    nodes = on_disk(tmp_path)["nodes"]
    assert (nodes["n1"]["group"], nodes["n2"]["group"], nodes["n3"]["group"]) == (g2, g2, "g1")
    # moving the last node re-joins the instance: no force needed
    run_op(mctx, OpGroupAssignNodes(group_name="rack2", nodes=["node3"]))
    # assigning nodes already in the group changes nothing
    serial = on_disk(tmp_path)["serial_no"]
    run_op(mctx, OpGroupAssignNodes(group_name="rack2", nodes=["node3", "node3"]))
    assert on_disk(tmp_path)["serial_no"] == serial


def test_set_params_and_defaults(mctx: MasterContext, tmp_path: Path) -> None:
    result, _ = run_op(mctx, OpGroupSetParams(
        group_name="default", alloc_policy="unallocable", ndparams={"oob_program": "/x"},
        diskparams={"drbd": {"resync-rate": "100"}}, ipolicy={"disk-templates": ["file"]}))
    assert [p for p, _ in result] == ["ndparams", "diskparams", "alloc_policy", "ipolicy"]
    grp = on_disk(tmp_path)["nodegroups"]["g1"]
    assert grp["alloc_policy"] == "unallocable" and grp["ndparams"] == {"oob_program": "/x"}
    assert grp["diskparams"] == {"drbd": {"resync-rate": 100}}
    run_op(mctx, OpGroupSetParams(group_name="default", ndparams={"oob_program": "default"},
                                  diskparams={"drbd": {"resync-rate": "default"}},
                                  ipolicy={"disk-templates": "default"}))
    grp = on_disk(tmp_path)["nodegroups"]["g1"]
    assert grp["ndparams"] == {} and grp["diskparams"] == {} and grp["ipolicy"] == {}


def test_rename_to_own_name_and_clash(mctx: MasterContext, tmp_path: Path) -> None:
    run_op(mctx, OpGroupAdd(group_name="b"))
    assert run_op(mctx, OpGroupRename(group_name="default", new_name="default"))[0] == \
        "default"
    with pytest.raises(errors.OpPrereqError, match="clashes with existing node group b"):
        run_op(mctx, OpGroupRename(group_name="default", new_name="b"))


def test_ipolicy_checks() -> None:
    spec = {p: 1 for p in C.ISPECS_PARAMETERS}
    big = {**spec, C.ISPEC_MEM_SIZE: "1G"}
    assert check_ispecs([{"min": spec, "max": big}])[0]["max"][C.ISPEC_MEM_SIZE] == 1024
    for bad in ([{"min": spec}], [{"min": big, "max": spec}], [{"min": spec, "max": {}}],
                [{"min": {**spec, "x": 1}, "max": spec}], "nope"):
        with pytest.raises(errors.OpPrereqError):
            check_ispecs(bad)
    assert update_group_ipolicy({"vcpu-ratio": 2.0}, {"vcpu-ratio": "default",
                                                      "spindle-ratio": 4}) == \
        {"spindle-ratio": 4.0}
