"""Node group query fields (``gnt-group list``) and the ``gnt-group info`` formatting."""

from __future__ import annotations

from typing import Any

import pytest

from gnt import constants as C
from gnt.cli.infofmt import format_params_dict_info, format_policy_info
from gnt.cli.output import format_generic_info
from gnt.objects import Cluster, ConfigData, Instance, Node, NodeGroup
from gnt.query.base import (
    QFT_NUMBER,
    QFT_OTHER,
    QFT_TEXT,
    QFT_TIMESTAMP,
    RS_NORMAL,
    run_query,
)
from gnt.query.group import DEFAULT_FIELDS, TABLE

pytestmark = pytest.mark.unit

GANETI_FIELDS = {
    "name": ("Group", QFT_TEXT), "uuid": ("UUID", QFT_TEXT),
    "alloc_policy": ("AllocPolicy", QFT_TEXT), "node_cnt": ("Nodes", QFT_NUMBER),
    "node_list": ("NodeList", QFT_OTHER), "pinst_cnt": ("Instances", QFT_NUMBER),
    "pinst_list": ("InstanceList", QFT_OTHER), "ndparams": ("NDParams", QFT_OTHER),
    "custom_ndparams": ("CustomNDParams", QFT_OTHER),
    "diskparams": ("DiskParameters", QFT_OTHER),
    "custom_diskparams": ("CustomDiskParameters", QFT_OTHER),
    "ipolicy": ("InstancePolicy", QFT_OTHER),
    "custom_ipolicy": ("CustomInstancePolicy", QFT_OTHER),
    "serial_no": ("SerialNo", QFT_NUMBER), "ctime": ("CTime", QFT_TIMESTAMP),
    "mtime": ("MTime", QFT_TIMESTAMP), "tags": ("Tags", QFT_OTHER),
}


def make_cfg() -> ConfigData:
    g1 = NodeGroup(name="default", uuid="g1")
    g2 = NodeGroup(name="rack2", uuid="g2", alloc_policy="last_resort",
                   ndparams={C.ND_SPINDLE_COUNT: 6}, diskparams={C.DT_PLAIN: {"stripes": 2}},
                   ipolicy={"vcpu-ratio": 2.0}, tags=["t1"])
    nodes = [Node(name=f"node{i}.example.com", primary_ip=f"192.0.2.{i}",
                  secondary_ip=f"192.0.2.{i}", group="g2" if i > 1 else "g1", uuid=f"n{i}")
             for i in (1, 2, 3)]
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.9")
    insts = [Instance(name=f"i{k}.example.com", primary_node=p, os="x", hypervisor=C.HT_FAKE,
                      disk_template=C.DT_DISKLESS) for k, p in ((1, "n2"), (2, "n3"), (3, "n3"))]
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": g1, "g2": g2}, instances={i.uuid: i for i in insts})


def values(fields: list[str]) -> dict[str, list[Any]]:
    cfg = make_cfg()
    resp = run_query(TABLE, ["name", *fields], cfg, sorted(cfg.nodegroups.values(),
                                                           key=lambda g: g.name))
    out = {}
    for row in resp["data"]:
        assert all(st == RS_NORMAL for st, _ in row), row
        out[row[0][1]] = [v for _, v in row[1:]]
    return out


def test_ganeti_fields() -> None:
    described = {f["name"]: (f["title"], f["kind"]) for f in TABLE.describe(None)}
    for name, expected in GANETI_FIELDS.items():
        assert described[name] == expected, name
    ndp = {n for n in described if n.startswith("ndp/")}
    assert ndp == {f"ndp/{p}" for p in C.NDS_PARAMETER_TYPES}
    assert set(described) == set(GANETI_FIELDS) | ndp
    assert DEFAULT_FIELDS == ["name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"]


def test_membership_counts_and_lists() -> None:
    got = values(["node_cnt", "node_list", "pinst_cnt", "pinst_list", "alloc_policy", "tags"])
    assert got["default"] == [1, ["node1.example.com"], 0, [], "preferred", []]
    assert got["rack2"] == [2, ["node2.example.com", "node3.example.com"], 3,
                            ["i1.example.com", "i2.example.com", "i3.example.com"],
                            "last_resort", ["t1"]]


def test_parameters_merged_and_custom() -> None:
    got = values(["ndparams", "custom_ndparams", "ndp/spindle_count", "diskparams",
                  "custom_diskparams", "ipolicy", "custom_ipolicy"])
    nd, cnd, spindles, dp, cdp, ipol, cipol = got["rack2"]
    assert nd == {**C.NDC_DEFAULTS, C.ND_SPINDLE_COUNT: 6} and cnd == {C.ND_SPINDLE_COUNT: 6}
    assert spindles == 6 and got["default"][2] == C.NDC_DEFAULTS[C.ND_SPINDLE_COUNT]
    assert dp[C.DT_PLAIN] == {"stripes": 2} and dp[C.DT_DRBD8] == C.DISK_DT_DEFAULTS[C.DT_DRBD8]
    assert cdp == {C.DT_PLAIN: {"stripes": 2}}
    assert ipol["vcpu-ratio"] == 2.0 and ipol["minmax"] == C.IPOLICY_DEFAULTS["minmax"]
    assert cipol == {"vcpu-ratio": 2.0}


def test_params_dict_info_marks_inherited_values() -> None:
    out = format_params_dict_info({"a": 1, "nest": {"x": 5}},
                                  {"a": 1, "b": 2, "nest": {"x": 5, "y": 6}, "empty": {}})
    assert out == {"a": "1", "b": "default (2)", "nest": {"x": "5", "y": "default (6)"},
                   "empty": "default ({})"}


def test_policy_info() -> None:
    eff = dict(C.IPOLICY_DEFAULTS, **{"vcpu-ratio": 2.0})
    lines = format_generic_info(format_policy_info({"vcpu-ratio": 2.0}, eff)).splitlines()
    assert lines[0] == "bounds specs: "
    assert lines[1] == "  - max/0: "
    assert "    min/0: " in lines
    assert "allowed disk templates: default (" + ", ".join(C.DISK_TEMPLATES) + ")" in lines
    assert "vcpu-ratio: 2.0" in lines and "spindle-ratio: default (32.0)" in lines
    own = format_policy_info({"disk-templates": ["file"]}, eff)
    assert ("allowed disk templates", "file") in own
