"""Node query fields (``gnt-node list``): Ganeti's names/titles/kinds, static values,
live values and their result statuses (offline, failed node, not reported)."""

from __future__ import annotations

from typing import Any

import pytest

from gnt import constants as C
from gnt.cmdlib.node_query import default_storage_unit, enabled_storage_types
from gnt.objects import Cluster, ConfigData, Disk, Instance, Node, NodeGroup
from gnt.query.base import (
    QFT_BOOL,
    QFT_NUMBER,
    QFT_NUMBER_FLOAT,
    QFT_OTHER,
    QFT_TEXT,
    QFT_TIMESTAMP,
    QFT_UNIT,
    RS_NODATA,
    RS_NORMAL,
    RS_OFFLINE,
    RS_UNAVAIL,
    RS_UNKNOWN,
    names_filter,
    run_query,
)
from gnt.query.node import (
    DEFAULT_FIELDS,
    LIVE_FIELDS,
    TABLE,
    NodeQueryContext,
    live_fields_needed,
)

pytestmark = pytest.mark.unit

# Ganeti's node fields: name -> (title, kind)
GANETI_FIELDS = {
    "name": ("Node", QFT_TEXT), "uuid": ("UUID", QFT_TEXT),
    "serial_no": ("SerialNo", QFT_NUMBER), "ctime": ("CTime", QFT_TIMESTAMP),
    "mtime": ("MTime", QFT_TIMESTAMP), "tags": ("Tags", QFT_OTHER),
    "pip": ("PrimaryIP", QFT_TEXT), "sip": ("SecondaryIP", QFT_TEXT),
    "master": ("IsMaster", QFT_BOOL), "master_candidate": ("MasterC", QFT_BOOL),
    "master_capable": ("MasterCapable", QFT_BOOL), "vm_capable": ("VMCapable", QFT_BOOL),
    "drained": ("Drained", QFT_BOOL), "offline": ("Offline", QFT_BOOL),
    "role": ("Role", QFT_TEXT), "group": ("Group", QFT_TEXT),
    "group.uuid": ("GroupUUID", QFT_TEXT), "powered": ("Powered", QFT_BOOL),
    "ndparams": ("NodeParameters", QFT_OTHER),
    "custom_ndparams": ("CustomNodeParameters", QFT_OTHER),
    "hv_state": ("HypervisorState", QFT_OTHER), "disk_state": ("DiskState", QFT_OTHER),
    "pinst_cnt": ("Pinst", QFT_NUMBER), "sinst_cnt": ("Sinst", QFT_NUMBER),
    "pinst_list": ("PriInstances", QFT_OTHER), "sinst_list": ("SecInstances", QFT_OTHER),
    "bootid": ("BootID", QFT_TEXT), "cnodes": ("CNodes", QFT_NUMBER),
    "cnos": ("CNOs", QFT_NUMBER), "csockets": ("CSockets", QFT_NUMBER),
    "ctotal": ("CTotal", QFT_NUMBER), "dtotal": ("DTotal", QFT_UNIT),
    "dfree": ("DFree", QFT_UNIT), "sptotal": ("SpTotal", QFT_NUMBER),
    "spfree": ("SpFree", QFT_NUMBER), "mtotal": ("MTotal", QFT_UNIT),
    "mnode": ("MNode", QFT_UNIT), "mfree": ("MFree", QFT_UNIT),
    "ndp/oob_program": ("OutOfBandProgram", QFT_OTHER),
    "ndp/spindle_count": ("SpindleCount", QFT_NUMBER),
    "ndp/exclusive_storage": ("ExclusiveStorage", QFT_BOOL),
    "ndp/ovs": ("OpenvSwitch", QFT_BOOL), "ndp/ovs_name": ("OpenvSwitchName", QFT_OTHER),
    "ndp/ovs_link": ("OpenvSwitchLink", QFT_OTHER),
    "ndp/ssh_port": ("ndp/ssh_port", QFT_NUMBER),
    "ndp/cpu_speed": ("ndp/cpu_speed", QFT_NUMBER_FLOAT),
}


def make_cfg() -> ConfigData:
    grp = NodeGroup(name="default", uuid="g1", ndparams={C.ND_SPINDLE_COUNT: 4})
    nodes = [Node(name=f"node{i}.example.com", primary_ip=f"192.0.2.{i}",
                  secondary_ip=f"198.51.100.{i}", group="g1", uuid=f"n{i}",
                  master_candidate=(i <= 2)) for i in range(1, 6)]
    nodes[2].drained = True       # node3: D
    nodes[3].offline = True       # node4: O
    nodes[4].ndparams = {C.ND_OOB_PROGRAM: "/bin/oob"}  # node5: R, powered known
    nodes[0].tags = ["zeta", "alpha"]
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.254",
                      enabled_hypervisors=[C.HT_FAKE])
    disks = [Disk(dev_type=C.DT_FILE, logical_id=["loop", "/srv/a"], size=10, nodes=["n1"],
                  uuid="d1"),
             Disk(dev_type=C.DT_DRBD8, logical_id=[], size=10, nodes=["n2", "n1"], uuid="d2")]
    insts = [Instance(name="inst-a.example.com", primary_node="n1", os="x",
                      hypervisor=C.HT_FAKE, disks=["d1"], disk_template=C.DT_FILE),
             Instance(name="inst-b.example.com", primary_node="n2", os="x",
                      hypervisor=C.HT_FAKE, disks=["d2"], disk_template=C.DT_DRBD8)]
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": grp}, instances={i.uuid: i for i in insts},
                      disks={d.uuid: d for d in disks})


def query(fields: list[str], ctx: NodeQueryContext | None = None,
          qfilter: Any = None) -> dict[str, list[list[Any]]]:
    """name -> [[status, value], ...] for ``fields``."""
    ctx = ctx or NodeQueryContext(cfg=make_cfg())
    nodes = sorted(ctx.cfg.nodes.values(), key=lambda n: n.name)
    resp = run_query(TABLE, ["name", *fields], ctx, nodes, qfilter)
    return {row[0][1]: row[1:] for row in resp["data"]}


def values(fields: list[str], ctx: NodeQueryContext | None = None) -> dict[str, list[Any]]:
    out = {}
    for name, row in query(fields, ctx).items():
        assert all(st == RS_NORMAL for st, _ in row), (name, row)
        out[name] = [v for _, v in row]
    return out


def test_every_ganeti_field_with_its_title_and_kind() -> None:
    described = {f["name"]: (f["title"], f["kind"]) for f in TABLE.describe(None)}
    for name, expected in GANETI_FIELDS.items():
        assert described.get(name) == expected, name
    assert set(described) == set(GANETI_FIELDS)
    docs = {f["name"]: f["doc"] for f in TABLE.describe(None)}
    assert docs["role"].startswith('Node role; "M" for master, "C" for master candidate')
    assert docs["ndp/ssh_port"] == 'The "ssh_port" node parameter'
    assert docs["serial_no"] == "Node object serial number, incremented on each modification"
    assert all(docs.values())


def test_default_fields() -> None:
    assert DEFAULT_FIELDS == ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree",
                              "pinst_cnt", "sinst_cnt"]


def test_unknown_field() -> None:
    row = query(["nosuch"])["node1.example.com"]
    assert row == [[RS_UNKNOWN, None]]
    assert TABLE.describe(["nosuch"])[0]["kind"] == "unknown"


def test_roles_and_flags() -> None:
    got = values(["role", "master", "master_candidate", "drained", "offline"])
    assert got["node1.example.com"] == ["M", True, True, False, False]
    assert got["node2.example.com"] == ["C", False, True, False, False]
    assert got["node3.example.com"] == ["D", False, False, True, False]
    assert got["node4.example.com"] == ["O", False, False, False, True]
    assert got["node5.example.com"] == ["R", False, False, False, False]


def test_static_values() -> None:
    got = values(["pip", "sip", "group", "group.uuid", "tags", "serial_no", "uuid",
                  "pinst_cnt", "sinst_cnt", "pinst_list", "sinst_list"])
    assert got["node1.example.com"] == [
        "192.0.2.1", "198.51.100.1", "default", "g1", ["alpha", "zeta"], 1, "n1", 1, 1,
        ["inst-a.example.com"], ["inst-b.example.com"]]
    assert got["node2.example.com"][7:] == [1, 0, ["inst-b.example.com"], []]
    assert got["node5.example.com"][7:] == [0, 0, [], []]


def test_node_parameters_are_filled_cluster_group_node() -> None:
    got = values(["ndparams", "custom_ndparams", "ndp/spindle_count", "ndp/oob_program",
                  "ndp/ssh_port"])
    nd, custom, spindles, oob, ssh = got["node5.example.com"]
    assert custom == {C.ND_OOB_PROGRAM: "/bin/oob"}
    assert nd[C.ND_SPINDLE_COUNT] == 4 and nd[C.ND_OOB_PROGRAM] == "/bin/oob"
    assert set(nd) == set(C.NDS_PARAMETER_TYPES)
    assert (spindles, oob, ssh) == (4, "/bin/oob", 22)
    assert got["node1.example.com"][1] == {}


def test_powered_only_known_with_an_oob_program() -> None:
    rows = query(["powered"])
    assert rows["node1.example.com"] == [[RS_UNAVAIL, None]]
    assert rows["node5.example.com"] == [[RS_NORMAL, True]]


def test_hv_and_disk_state_are_unavailable() -> None:
    assert query(["hv_state", "disk_state"])["node2.example.com"] == [[RS_UNAVAIL, None]] * 2


def test_group_of_a_dangling_node_has_no_data() -> None:
    cfg = make_cfg()
    cfg.nodes["n2"].group = "gone"
    rows = query(["group", "group.uuid"], NodeQueryContext(cfg=cfg))
    assert rows["node2.example.com"] == [[RS_NODATA, None], [RS_NORMAL, "gone"]]


LIVE = {"mtotal": 4096, "mnode": 512, "mfree": 3000, "ctotal": 8, "cnodes": 1,
        "csockets": 2, "cnos": 8, "bootid": "b-1", "dtotal": 10240, "dfree": 2048}


def test_live_values_and_statuses() -> None:
    cfg = make_cfg()
    ctx = NodeQueryContext(cfg=cfg, have_live=True,
                           live={"n1": dict(LIVE), "n2": {**LIVE, "dtotal": None}},
                           bad_nodes={"n3"})
    fields = ["mtotal", "mnode", "mfree", "ctotal", "cnodes", "csockets", "cnos", "bootid",
              "dtotal", "dfree", "sptotal", "spfree"]
    rows = query(fields, ctx)
    assert [v for _, v in rows["node1.example.com"][:10]] == [
        4096, 512, 3000, 8, 1, 2, 8, "b-1", 10240, 2048]
    # spindles are only reported with exclusive storage
    assert rows["node1.example.com"][10:] == [[RS_NODATA, None]] * 2
    assert rows["node2.example.com"][8] == [RS_NODATA, None]  # not reported
    assert rows["node3.example.com"] == [[RS_NODATA, None]] * len(fields)  # RPC failed
    assert rows["node4.example.com"] == [[RS_OFFLINE, None]] * len(fields)  # offline
    assert rows["node5.example.com"] == [[RS_NODATA, None]] * len(fields)  # no answer


def test_live_fields_without_live_data() -> None:
    rows = query(sorted(LIVE_FIELDS))
    assert rows["node1.example.com"] == [[RS_NODATA, None]] * len(LIVE_FIELDS)
    assert rows["node4.example.com"] == [[RS_OFFLINE, None]] * len(LIVE_FIELDS)


def test_live_fields_needed_by_fields_or_filter() -> None:
    assert live_fields_needed(["name", "pinst_cnt"]) == set()
    assert live_fields_needed(DEFAULT_FIELDS) == {"dtotal", "dfree", "mtotal", "mnode",
                                                  "mfree"}
    assert live_fields_needed(["name"], [">", "mfree", 100]) == {"mfree"}
    # a field name inside a value is not a field reference
    assert live_fields_needed(["name"], ["=", "name", "mfree-node"]) == set()


def test_name_filter_with_short_names() -> None:
    rows = query(["role"], qfilter=names_filter(["node2", "node4.example.com"]))
    assert sorted(rows) == ["node2.example.com", "node4.example.com"]


def test_default_storage_unit_follows_the_enabled_templates() -> None:
    cl = make_cfg().cluster
    cl.enabled_disk_templates = [C.DT_DISKLESS, C.DT_SHARED_FILE, C.DT_FILE]
    assert default_storage_unit(cl) == [C.ST_SHARED_FILE, cl.shared_file_storage_dir]
    assert enabled_storage_types(cl) == [C.ST_DISKLESS, C.ST_SHARED_FILE, C.ST_FILE]
    cl.enabled_disk_templates = [C.DT_PLAIN, C.DT_FILE]
    assert default_storage_unit(cl) is None  # no volume group configured
    assert enabled_storage_types(cl) == [C.ST_LVM_VG, C.ST_LVM_PV, C.ST_FILE]
    cl.volume_group_name = "xenvg"
    assert default_storage_unit(cl) == [C.ST_LVM_VG, "xenvg"]
    cl.enabled_disk_templates = [C.DT_DISKLESS]
    assert default_storage_unit(cl) is None
