"""Tags: Ganeti's validity rules, and the tag LUs run through the real processor,
config writer and lock manager (what they lock, what they write, that bad input
writes nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.tags import (
    added_tags,
    removed_tags,
    search_tags,
    tag_target,
    validate_tag,
)
from gnt.locking import Mode
from gnt.masterd.context import MasterContext
from gnt.objects import Cluster, ConfigData, Instance, Node, NodeGroup
from gnt.opcodes import base as opbase
from gnt.opcodes.tags import OpTagsDel, OpTagsGet, OpTagsSearch, OpTagsSet
from tests.support.lu import make_master, run_op

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("tag", ["a", "env:prod", "x.y+z*w/v@u-t_s", "A9",
                                 "x" * C.MAX_TAG_LEN])
def test_valid_tags(tag: str) -> None:
    validate_tag(tag)


@pytest.mark.parametrize("tag,why", [
    ("", "cannot be empty"), ("x" * (C.MAX_TAG_LEN + 1), "too long"),
    ("with space", "invalid characters"), ("bang!", "invalid characters"),
    ("comma,", "invalid characters"), ("é", "invalid characters"),
    ("semi;colon", "invalid characters"), ("tab\t", "invalid characters"),
    (5, "not a string"),
])
def test_invalid_tags(tag: object, why: str) -> None:
    with pytest.raises(errors.TagError, match=why) as ei:
        validate_tag(tag)
    assert ei.value.ecode == errors.ECODE_INVAL


def test_added_tags_is_a_sorted_set_with_a_limit() -> None:
    assert added_tags(["b", "a"], ["c", "a"]) == ["a", "b", "c"]
    full = [f"t{i}" for i in range(C.MAX_TAGS_PER_OBJ)]
    assert len(added_tags(full, ["t0"])) == C.MAX_TAGS_PER_OBJ  # nothing new: fine
    with pytest.raises(errors.TagError, match="Too many tags"):
        added_tags(full, ["one-more"])
    with pytest.raises(errors.TagError):
        added_tags([], ["ok", "not ok"])


def test_removed_tags_needs_every_tag() -> None:
    assert removed_tags(["a", "b", "c"], ["b"]) == ["a", "c"]
    with pytest.raises(errors.OpPrereqError, match="Tag\\(s\\) 'x', 'y' not found") as ei:
        removed_tags(["a"], ["y", "a", "x"])
    assert ei.value.ecode == errors.ECODE_NOENT


def make_cfg() -> ConfigData:
    grp = NodeGroup(name="default", uuid="g1", tags=["rack:1"])
    node = Node(name="node1.example.com", primary_ip="192.0.2.1", secondary_ip="192.0.2.1",
                group="g1", uuid="n1", tags=["hw:big"])
    inst = Instance(name="inst1.example.com", primary_node="n1", os="x",
                    hypervisor=C.HT_FAKE, disk_template=C.DT_DISKLESS, tags=["env:prod"])
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.9",
                      tags=["site:x"])
    return ConfigData(cluster=cluster, nodes={"n1": node}, nodegroups={"g1": grp},
                      instances={inst.uuid: inst})


def test_tag_targets() -> None:
    cfg = make_cfg()
    assert tag_target(cfg, "cluster", None) is cfg.cluster
    assert tag_target(cfg, "node", "node1").uuid == "n1"  # short name
    assert tag_target(cfg, "instance", "inst1.example.com").name == "inst1.example.com"
    assert tag_target(cfg, "nodegroup", "default").uuid == "g1"
    assert tag_target(cfg, "nodegroup", "g1").name == "default"  # by UUID
    for kind, name, err in [("node", "nosuch", "not known"), ("nodegroup", "x", "not found"),
                            ("network", "net1", "not known"), ("node", None, "name is needed"),
                            ("disk", "d", "Invalid tag kind")]:
        with pytest.raises(errors.OpPrereqError, match=err):
            tag_target(cfg, kind, name)


def test_search_paths() -> None:
    assert search_tags(make_cfg(), ":") == [
        ["/cluster", "site:x"], ["/instances/inst1.example.com", "env:prod"],
        ["/nodes/node1.example.com", "hw:big"], ["/nodegroup/default", "rack:1"]]
    assert search_tags(make_cfg(), "^env") == [["/instances/inst1.example.com", "env:prod"]]
    with pytest.raises(errors.OpPrereqError, match="Invalid search pattern"):
        search_tags(make_cfg(), "(")


def test_opcode_kinds() -> None:
    op = opbase.from_dict({"OP_ID": "OP_TAGS_SET", "kind": "nodegroup", "name": "default",
                           "tags": ["a"]})
    assert op.summary() == "TAGS_SET(default)"
    with pytest.raises(errors.ParameterError, match="kind"):
        opbase.from_dict({"OP_ID": "OP_TAGS_SET", "kind": "disk", "tags": ["a"]})


# --- the LUs, through the processor ---------------------------------------------------

@pytest.fixture
def mctx(tmp_path: Path) -> MasterContext:
    return make_master(tmp_path / "config.data", make_cfg())


def on_disk(mctx: MasterContext, tmp_path: Path) -> dict:
    return json.loads((tmp_path / "config.data").read_text())


def test_set_and_delete_node_tags(mctx: MasterContext, tmp_path: Path) -> None:
    _, jctx = run_op(mctx, OpTagsSet(kind="node", name="node1", tags=["b", "a", "b"]))
    assert jctx.held == {"CLUSTER": {"BGL": Mode.SHARED}, "NODE": {"n1": Mode.EXCLUSIVE}}
    disk = on_disk(mctx, tmp_path)
    assert disk["nodes"]["n1"]["tags"] == ["a", "b", "hw:big"]
    assert disk["nodes"]["n1"]["serial_no"] == 2
    result, jctx = run_op(mctx, OpTagsGet(kind="node", name="node1.example.com",
                                          use_locking=True))
    assert result == ["a", "b", "hw:big"] and jctx.held["NODE"] == {"n1": Mode.SHARED}
    run_op(mctx, OpTagsDel(kind="node", name="node1", tags=["a", "hw:big"]))
    assert on_disk(mctx, tmp_path)["nodes"]["n1"]["tags"] == ["b"]


def test_instance_group_and_cluster_tags(mctx: MasterContext, tmp_path: Path) -> None:
    _, jctx = run_op(mctx, OpTagsSet(kind="instance", name="inst1", tags=["web"]))
    assert jctx.held["INSTANCE"] == {"inst1.example.com": Mode.EXCLUSIVE}
    _, jctx = run_op(mctx, OpTagsSet(kind="nodegroup", name="default", tags=["g"]))
    assert jctx.held["NODEGROUP"] == {"g1": Mode.EXCLUSIVE}
    _, jctx = run_op(mctx, OpTagsSet(kind="cluster", tags=["c"]))
    assert set(jctx.held) == {"CLUSTER"}
    disk = on_disk(mctx, tmp_path)
    assert next(iter(disk["instances"].values()))["tags"] == ["env:prod", "web"]
    assert disk["nodegroups"]["g1"]["tags"] == ["g", "rack:1"]
    assert disk["cluster"]["tags"] == ["c", "site:x"]
    result, _ = run_op(mctx, OpTagsSearch(pattern="^(c|g|web)$"))
    assert result == [["/cluster", "c"], ["/instances/inst1.example.com", "web"],
                      ["/nodegroup/default", "g"]]


@pytest.mark.parametrize("op", [
    OpTagsSet(kind="node", name="node1", tags=["good", "bad tag"]),
    OpTagsSet(kind="instance", name="inst1", tags=["x" * 129]),
    OpTagsSet(kind="cluster", tags=[""]),
    OpTagsDel(kind="node", name="node1", tags=["hw:big", "missing"]),
    OpTagsSet(kind="node", name="nosuch", tags=["a"]),
    OpTagsSet(kind="network", name="net1", tags=["a"]),
])
def test_bad_requests_write_nothing(mctx: MasterContext, tmp_path: Path, op: OpTagsSet
                                    ) -> None:
    before = (tmp_path / "config.data").read_bytes()
    with pytest.raises((errors.TagError, errors.OpPrereqError)):
        run_op(mctx, op)
    assert (tmp_path / "config.data").read_bytes() == before
    assert mctx.glm.list_locks(active_only=True) == []


def test_adding_present_tags_writes_nothing(mctx: MasterContext, tmp_path: Path) -> None:
    serial = on_disk(mctx, tmp_path)["serial_no"]
    run_op(mctx, OpTagsSet(kind="node", name="node1", tags=["hw:big"]))
    assert on_disk(mctx, tmp_path)["serial_no"] == serial
