"""Instance status words (Ganeti's ``gnt-instance list -o status``) and live fields."""

from __future__ import annotations

from typing import Any

import pytest

from gnt import constants as C
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup
from gnt.query.base import RS_NODATA, RS_NORMAL, RS_OFFLINE, RS_UNAVAIL, run_query
from gnt.query.instance import (
    DEFAULT_FIELDS,
    TABLE,
    InstanceQueryContext,
    compute_status,
    needs_live,
)

pytestmark = pytest.mark.unit

NAME = "inst1.example.com"
ALL_STATUSES = {C.INSTST_RUNNING, C.INSTST_ADMINDOWN, C.INSTST_ADMINOFFLINE,
                C.INSTST_ERRORUP, C.INSTST_ERRORDOWN, C.INSTST_NODEDOWN,
                C.INSTST_NODEOFFLINE, C.INSTST_WRONGNODE, C.INSTST_USERDOWN}


def make_cfg() -> ConfigData:
    grp = NodeGroup(name="default")
    nodes = [Node(name=f"node{i}.example.com", primary_ip=f"192.0.2.{i}",
                  secondary_ip=f"192.0.2.{i}", group=grp.uuid, uuid=f"n{i}")
             for i in (1, 2, 3)]
    nodes[2].offline = True
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.254",
                      enabled_hypervisors=[C.HT_FAKE])
    disk = Disk(dev_type=C.DT_FILE, logical_id=["loop", "/srv/d0"], size=1024,
                nodes=["n1"], uuid="d0")
    inst = Instance(name=NAME, primary_node="n1", os="debian", hypervisor=C.HT_FAKE,
                    disks=["d0"], disk_template=C.DT_FILE,
                    nics=[NIC(mac="aa:00:00:00:00:01", nicparams={"link": "br9"})],
                    beparams={"maxmem": 512})
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={grp.uuid: grp}, instances={inst.uuid: inst},
                      disks={disk.uuid: disk})


def running(state: str = "running") -> dict[str, Any]:
    return {NAME: {"state": state, "memory": 512, "vcpus": 1}}


def status(admin: str = C.ADMINST_UP, source: str = C.ADMIN_SOURCE,
           live: dict[str, Any] | None = None, bad: set[str] | None = None,
           primary: str = "n1", cfg: ConfigData | None = None) -> str:
    cfg = cfg or make_cfg()
    inst = cfg.instance_by_name(NAME)
    assert inst is not None
    inst.admin_state = admin
    inst.admin_state_source = source
    inst.primary_node = primary
    ctx = InstanceQueryContext(cfg=cfg, live=live or {}, bad_nodes=bad or set(),
                               have_live=True)
    return compute_status(ctx, inst)


# --- every status word -------------------------------------------------------------

def test_running() -> None:
    assert status(C.ADMINST_UP, live={"n1": running()}) == C.INSTST_RUNNING


def test_running_on_primary_with_other_nodes_answering() -> None:
    assert status(C.ADMINST_UP, live={"n1": running(), "n2": {}}) == C.INSTST_RUNNING


def test_paused_counts_as_running() -> None:
    assert status(C.ADMINST_UP, live={"n1": running("paused")}) == C.INSTST_RUNNING


def test_admin_down() -> None:
    assert status(C.ADMINST_DOWN, live={"n1": {}, "n2": {}}) == C.INSTST_ADMINDOWN
    assert status(C.ADMINST_DOWN) == C.INSTST_ADMINDOWN


def test_admin_offline() -> None:
    assert status(C.ADMINST_OFFLINE, live={"n1": {}}) == C.INSTST_ADMINOFFLINE
    # offline wins over the source of the last change
    assert status(C.ADMINST_OFFLINE, source=C.USER_SOURCE) == C.INSTST_ADMINOFFLINE


def test_error_up() -> None:
    assert status(C.ADMINST_DOWN, live={"n1": running()}) == C.INSTST_ERRORUP
    assert status(C.ADMINST_OFFLINE, live={"n1": running()}) == C.INSTST_ERRORUP


def test_error_down() -> None:
    assert status(C.ADMINST_UP, live={"n1": {}, "n2": {}}) == C.INSTST_ERRORDOWN
    assert status(C.ADMINST_UP, live={}) == C.INSTST_ERRORDOWN


def test_error_nodedown() -> None:
    assert status(C.ADMINST_UP, bad={"n1"}) == C.INSTST_NODEDOWN
    assert status(C.ADMINST_DOWN, bad={"n1"}) == C.INSTST_NODEDOWN
    # a failed node that is not the primary does not matter
    assert status(C.ADMINST_UP, live={"n1": running()}, bad={"n2"}) == C.INSTST_RUNNING


def test_error_nodeoffline() -> None:
    assert status(C.ADMINST_UP, primary="n3") == C.INSTST_NODEOFFLINE
    # offline takes precedence over "could not be asked"
    assert status(C.ADMINST_DOWN, primary="n3", bad={"n3"}) == C.INSTST_NODEOFFLINE


def test_error_wrongnode() -> None:
    assert status(C.ADMINST_UP, live={"n1": {}, "n2": running()}) == C.INSTST_WRONGNODE
    assert status(C.ADMINST_DOWN, live={"n2": running()}) == C.INSTST_WRONGNODE


def test_user_down_from_admin_state_source() -> None:
    # stopped from inside the guest and recorded as such: USER_down
    assert status(C.ADMINST_DOWN, source=C.USER_SOURCE, live={"n1": {}}) == \
        C.INSTST_USERDOWN


def test_user_down_live_shutdown_state() -> None:
    cfg = make_cfg()
    cfg.cluster.enabled_user_shutdown = True
    assert status(C.ADMINST_UP, live={"n1": running("shutdown")}, cfg=cfg) == \
        C.INSTST_USERDOWN


def test_every_status_word_reachable() -> None:
    cases: list[dict[str, Any]] = [
        {"admin": C.ADMINST_UP, "live": {"n1": running()}},
        {"admin": C.ADMINST_DOWN},
        {"admin": C.ADMINST_OFFLINE},
        {"admin": C.ADMINST_DOWN, "live": {"n1": running()}},
        {"admin": C.ADMINST_UP},
        {"admin": C.ADMINST_UP, "bad": {"n1"}},
        {"admin": C.ADMINST_UP, "primary": "n3"},
        {"admin": C.ADMINST_UP, "live": {"n2": running()}},
        {"admin": C.ADMINST_DOWN, "source": C.USER_SOURCE},
    ]
    assert {status(**c) for c in cases} == ALL_STATUSES


# Ganeti (lib/query.py _GetLiveInstStatus): an instance whose hypervisor
# reports it shut down is USER_down only if it is admin-up *and* user
# shutdown is allowed (cluster enabled_user_shutdown, and for kvm the
# user_shutdown hvparam); admin-up otherwise is ERROR_down, admin-down is
# ADMIN_down.

def test_live_shutdown_admin_down_is_admin_down() -> None:
    cfg = make_cfg()
    cfg.cluster.enabled_user_shutdown = True
    assert status(C.ADMINST_DOWN, live={"n1": running("shutdown")}, cfg=cfg) == \
        C.INSTST_ADMINDOWN


def test_live_shutdown_without_user_shutdown_is_error_down() -> None:
    cfg = make_cfg()
    assert cfg.cluster.enabled_user_shutdown is False
    assert status(C.ADMINST_UP, live={"n1": running("shutdown")}, cfg=cfg) == \
        C.INSTST_ERRORDOWN


# --- fields through run_query -------------------------------------------------------

def query(fields: list[str], ctx: InstanceQueryContext) -> list[list[Any]]:
    res = run_query(TABLE, fields, ctx, ctx.cfg.instances.values())
    return res["data"][0]


def test_live_fields_without_live_data() -> None:
    ctx = InstanceQueryContext(cfg=make_cfg())
    row = query(["name", "oper_state", "oper_ram", "oper_vcpus"], ctx)
    assert row == [[RS_NORMAL, NAME], [RS_NODATA, None], [RS_NODATA, None],
                   [RS_NODATA, None]]


def test_live_fields_running_and_stopped() -> None:
    ctx = InstanceQueryContext(cfg=make_cfg(), live={"n1": running()}, have_live=True)
    assert query(["oper_state", "oper_ram", "oper_vcpus", "status"], ctx) == [
        [RS_NORMAL, True], [RS_NORMAL, 512], [RS_NORMAL, 1], [RS_NORMAL, C.INSTST_ERRORUP]]
    ctx = InstanceQueryContext(cfg=make_cfg(), live={"n1": {}}, have_live=True)
    assert query(["oper_state", "oper_ram"], ctx) == [[RS_NORMAL, False], [RS_UNAVAIL, None]]


def test_live_fields_node_offline_or_down() -> None:
    cfg = make_cfg()
    next(iter(cfg.instances.values())).primary_node = "n3"
    ctx = InstanceQueryContext(cfg=cfg, have_live=True)
    assert query(["oper_ram", "status"], ctx) == [
        [RS_OFFLINE, None], [RS_NORMAL, C.INSTST_NODEOFFLINE]]
    ctx = InstanceQueryContext(cfg=make_cfg(), bad_nodes={"n1"}, have_live=True)
    assert query(["oper_ram", "status"], ctx) == [
        [RS_NODATA, None], [RS_NORMAL, C.INSTST_NODEDOWN]]


def test_config_fields() -> None:
    ctx = InstanceQueryContext(cfg=make_cfg())
    row = query(["pnode", "snodes", "disk.sizes", "disk.size/0", "disk.size/1", "nic.links",
                 "nic.mac/0", "be/memory", "be/vcpus", "hv/migration_mode", "bridge",
                 "admin_up", "pnode.group"], ctx)
    assert row == [
        [RS_NORMAL, "node1.example.com"], [RS_NORMAL, []], [RS_NORMAL, [1024]],
        [RS_NORMAL, 1024], [RS_UNAVAIL, None], [RS_NORMAL, ["br9"]],
        [RS_NORMAL, "aa:00:00:00:00:01"], [RS_NORMAL, 512], [RS_NORMAL, 1],
        [RS_NORMAL, "live"], [RS_NORMAL, "br9"], [RS_NORMAL, False],
        [RS_NORMAL, "default"]]


def test_needs_live() -> None:
    assert needs_live(DEFAULT_FIELDS)
    assert not needs_live(["name", "os", "pnode"])
    assert needs_live(["name", "oper_state"])
    for f in DEFAULT_FIELDS:
        assert TABLE.get(f) is not None


def test_status_filter() -> None:
    cfg = make_cfg()
    ctx = InstanceQueryContext(cfg=cfg, live={"n1": running()}, have_live=True)
    res = run_query(TABLE, ["name"], ctx, cfg.instances.values(),
                    qfilter=["=", "status", C.INSTST_ERRORUP])
    assert res["data"] == [[[RS_NORMAL, NAME]]]
    res = run_query(TABLE, ["name"], ctx, cfg.instances.values(),
                    qfilter=["=", "status", C.INSTST_RUNNING])
    assert res["data"] == []
