"""Query evaluation: field tables, result statuses and qlang filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gnt import errors
from gnt.query.base import (
    QFT_BOOL,
    QFT_NUMBER,
    QFT_OTHER,
    QFT_TEXT,
    QFT_UNKNOWN,
    RS_NODATA,
    RS_NORMAL,
    RS_OFFLINE,
    RS_UNAVAIL,
    RS_UNKNOWN,
    FieldDef,
    FieldTable,
    Unavailable,
    compile_filter,
    names_filter,
    run_query,
)

pytestmark = pytest.mark.unit


@dataclass
class Item:
    name: str
    size: int
    tags: list[str] = field(default_factory=list)
    up: bool = False
    node: str | None = "node1"


ITEMS = [
    Item("inst1.example.com", 100, ["web", "prod"], up=True),
    Item("inst10.example.com", 200, ["db"], up=False),
    Item("inst2.example.com", 50, [], up=True, node=None),
    Item("inst1", 300, ["prod"], up=False, node="node2"),
]


def _node(ctx: Any, item: Item) -> str:
    if item.node is None:
        raise Unavailable(RS_OFFLINE)
    if item.node in ctx.get("down", ()):
        raise Unavailable()
    return item.node


def _live(ctx: Any, item: Item) -> int:
    raise Unavailable(RS_NODATA)


TABLE = FieldTable([
    FieldDef("name", "Name", QFT_TEXT, "Item name", lambda c, i: i.name),
    FieldDef("size", "Size", QFT_NUMBER, "Size in MiB", lambda c, i: i.size),
    FieldDef("tags", "Tags", QFT_OTHER, "Tags", lambda c, i: i.tags),
    FieldDef("up", "Up", QFT_BOOL, "Whether up", lambda c, i: i.up),
    FieldDef("node", "Node", QFT_TEXT, "Node name", _node),
    FieldDef("live", "Live", QFT_NUMBER, "Live data", _live),
], dynamic=lambda n: (FieldDef(n, n.upper(), QFT_OTHER, "dyn", lambda c, i: n[4:])
                      if n.startswith("dyn/") else None))


def select(flt: Any, ctx: Any = None) -> list[str]:
    pred = compile_filter(flt, TABLE)
    return [i.name for i in ITEMS if pred(ctx or {}, i)]


# --- field table ---------------------------------------------------------------

def test_table_get_and_dynamic() -> None:
    f = TABLE.get("size")
    assert f is not None and f.kind == QFT_NUMBER
    d = TABLE.get("dyn/abc")
    assert d is not None and d.title == "DYN/ABC" and d.getter({}, ITEMS[0]) == "abc"
    assert TABLE.get("nope") is None
    assert [f.name for f in TABLE.all()] == sorted(["name", "size", "tags", "up", "node",
                                                    "live"])


def test_table_describe() -> None:
    assert TABLE.describe(["name", "bogus"]) == [
        {"name": "name", "title": "Name", "kind": QFT_TEXT, "doc": "Item name"},
        {"name": "bogus", "title": "bogus", "kind": QFT_UNKNOWN, "doc": "Unknown field"},
    ]
    assert [d["name"] for d in TABLE.describe(None)] == [f.name for f in TABLE.all()]
    assert TABLE.describe([]) == TABLE.describe(None)


# --- run_query ---------------------------------------------------------------------

def test_run_query_statuses() -> None:
    res = run_query(TABLE, ["name", "size", "node", "live", "bogus", "dyn/x"],
                    {"down": ["node2"]}, ITEMS)
    assert [f["name"] for f in res["fields"]] == ["name", "size", "node", "live", "bogus",
                                                  "dyn/x"]
    assert res["fields"][4]["kind"] == QFT_UNKNOWN
    assert res["data"] == [
        [[RS_NORMAL, "inst1.example.com"], [RS_NORMAL, 100], [RS_NORMAL, "node1"],
         [RS_NODATA, None], [RS_UNKNOWN, None], [RS_NORMAL, "x"]],
        [[RS_NORMAL, "inst10.example.com"], [RS_NORMAL, 200], [RS_NORMAL, "node1"],
         [RS_NODATA, None], [RS_UNKNOWN, None], [RS_NORMAL, "x"]],
        [[RS_NORMAL, "inst2.example.com"], [RS_NORMAL, 50], [RS_OFFLINE, None],
         [RS_NODATA, None], [RS_UNKNOWN, None], [RS_NORMAL, "x"]],
        [[RS_NORMAL, "inst1"], [RS_NORMAL, 300], [RS_UNAVAIL, None],
         [RS_NODATA, None], [RS_UNKNOWN, None], [RS_NORMAL, "x"]],
    ]


def test_run_query_filter_and_empty() -> None:
    res = run_query(TABLE, ["name"], {}, ITEMS, qfilter=[">", "size", 150])
    assert res["data"] == [[[RS_NORMAL, "inst10.example.com"]], [[RS_NORMAL, "inst1"]]]
    assert run_query(TABLE, ["name"], {}, [])["data"] == []
    assert run_query(TABLE, [], {}, ITEMS)["data"] == [[], [], [], []]
    assert run_query(TABLE, ["name"], {}, ITEMS, qfilter=None)["data"][0] == [
        [RS_NORMAL, "inst1.example.com"]]


def test_run_query_bad_filter_raises() -> None:
    with pytest.raises(errors.QueryFilterParseError):
        run_query(TABLE, ["name"], {}, ITEMS, qfilter=["=", "bogus", 1])


def test_run_query_other_exceptions_propagate() -> None:
    def broken(ctx: Any, item: Any) -> Any:
        raise KeyError("bug")

    t = FieldTable([FieldDef("b", "B", QFT_TEXT, "broken", broken)])
    with pytest.raises(KeyError):
        run_query(t, ["b"], {}, ITEMS)


# --- filters ----------------------------------------------------------------------

def test_equal_and_not_equal() -> None:
    assert select(["=", "size", 100]) == ["inst1.example.com"]
    assert select(["==", "size", 100]) == ["inst1.example.com"]
    assert select(["!=", "size", 100]) == ["inst10.example.com", "inst2.example.com", "inst1"]
    assert select(["=", "up", True]) == ["inst1.example.com", "inst2.example.com"]
    assert select(["=", "size", "100"]) == []  # no type juggling


def test_ordering_operators() -> None:
    assert select(["<", "size", 100]) == ["inst2.example.com"]
    assert select([">", "size", 100]) == ["inst10.example.com", "inst1"]
    assert select(["<=", "size", 100]) == ["inst1.example.com", "inst2.example.com"]
    assert select([">=", "size", 200]) == ["inst10.example.com", "inst1"]
    # incomparable values do not match (and do not raise)
    assert select(["<", "size", "abc"]) == []
    # unavailable values are None: never ordered
    assert select(["<", "node", "zzz"], {"down": ["node1"]}) == ["inst1"]


def test_regex() -> None:
    assert select(["=~", "name", r"^inst1\b"]) == ["inst1.example.com", "inst1"]
    assert select(["=~", "name", "10"]) == ["inst10.example.com"]
    assert select(["=~", "size", "^[12]00$"]) == ["inst1.example.com", "inst10.example.com"]
    # an unavailable value is matched as an empty string
    assert select(["=~", "node", "^$"]) == ["inst2.example.com"]


def test_contains() -> None:
    assert select(["=[]", "tags", "prod"]) == ["inst1.example.com", "inst1"]
    assert select(["=[]", "tags", "none"]) == []


def test_truth() -> None:
    assert select(["?", "up"]) == ["inst1.example.com", "inst2.example.com"]
    assert select(["?", "tags"]) == ["inst1.example.com", "inst10.example.com", "inst1"]
    assert select(["?", "live"]) == []


def test_and_or_not() -> None:
    assert select(["&", ["?", "up"], [">", "size", 60]]) == ["inst1.example.com"]
    assert select(["|", ["=", "size", 50], ["=", "size", 300]]) == ["inst2.example.com",
                                                                     "inst1"]
    assert select(["!", ["?", "up"]]) == ["inst10.example.com", "inst1"]
    assert select(["!", ["|", ["?", "up"], ["=[]", "tags", "db"]]]) == ["inst1"]
    assert select(["&"]) == [i.name for i in ITEMS]
    assert select(["|"]) == []


def test_short_name_matching() -> None:
    assert select(["=", "name", "inst1"]) == ["inst1.example.com", "inst1"]
    assert select(["=", "name", "inst1.example"]) == ["inst1.example.com"]
    assert select(["=", "name", "inst1.example.com"]) == ["inst1.example.com"]
    assert select(["==", "name", "inst10"]) == ["inst10.example.com"]
    assert select(["=", "name", "inst"]) == []
    assert select(["=", "name", "example.com"]) == []
    # only "=" on the name field: other operators and fields compare exactly
    assert select(["!=", "name", "inst1"]) == ["inst1.example.com", "inst10.example.com",
                                               "inst2.example.com"]
    assert select(["=", "node", "node"]) == []


def test_names_filter() -> None:
    assert names_filter([]) is None
    flt = names_filter(["inst1", "inst2"])
    assert flt == ["|", ["=", "name", "inst1"], ["=", "name", "inst2"]]
    assert select(flt) == ["inst1.example.com", "inst2.example.com", "inst1"]
    assert names_filter(["node1"], field="node") == ["|", ["=", "node", "node1"]]


@pytest.mark.parametrize("flt", [
    ["~", "name", "x"],
    ["and", ["?", "up"]],
    ["=*", "name", "x"],
    [None, "name"],
])
def test_unknown_operator(flt: Any) -> None:
    with pytest.raises(errors.QueryFilterParseError) as ei:
        compile_filter(flt, TABLE)
    assert "Unknown filter operator" in str(ei.value)


@pytest.mark.parametrize("flt", [
    ["=", "bogus", 1],
    ["?", "bogus"],
    ["=~", "bogus", "x"],
    ["&", ["?", "up"], ["=[]", "bogus", "x"]],
    ["!", ["<", "bogus", 1]],
])
def test_unknown_field(flt: Any) -> None:
    with pytest.raises(errors.QueryFilterParseError) as ei:
        compile_filter(flt, TABLE)
    assert "Unknown field 'bogus'" in str(ei.value)


@pytest.mark.parametrize("flt", [
    [],
    "name",
    None,
    {"=": ["name", "x"]},
    ["=", "name"],
    ["=", "name", "x", "y"],
    ["?"],
    ["?", "up", "extra"],
    ["=", 5, 5],
    ["!"],
    ["!", ["?", "up"], ["?", "up"]],
    ["&", "name"],
    ["=~", "name", "("],
])
def test_malformed_filters(flt: Any) -> None:
    with pytest.raises(errors.QueryFilterParseError):
        compile_filter(flt, TABLE)


def test_filter_parse_error_is_parameter_error() -> None:
    with pytest.raises(errors.ParameterError):
        compile_filter(["=", "bogus", 1], TABLE)
