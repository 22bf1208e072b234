"""Table output of list / list-fields commands."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt.cli import table as T
from gnt.luxi import Client, LuxiServer, make_dispatcher
from gnt.luxi import protocol as P

pytestmark = pytest.mark.unit

HEADERS = {"name": "Instance", "os": "OS", "oper_ram": "Memory", "disk_count": "Disks"}
FIELDS = ["name", "os", "oper_ram", "disk_count"]
DATA: list[list[Any]] = [["inst1.example.com", "debian", 512, 1],
                         ["i2", "busybox+default", 4096, 12]]


def test_generate_table_aligned() -> None:
    lines = T.generate_table(HEADERS, FIELDS, None, [list(r) for r in DATA],
                             numfields=["oper_ram", "disk_count"], unitfields=["oper_ram"])
    assert lines == [
        "Instance          OS              Memory Disks",
        "inst1.example.com debian            512M     1",
        "i2                busybox+default   4.0G    12",
    ]


def test_generate_table_last_column_left_not_padded() -> None:
    lines = T.generate_table({"a": "A", "b": "Bee"}, ["a", "b"], None,
                             [["x", "1"], ["yyyy", "22222"]])
    assert lines == ["A    Bee", "x    1", "yyyy 22222"]
    assert not any(line.endswith(" ") for line in lines)


def test_generate_table_separator_no_alignment_units_default_mib() -> None:
    lines = T.generate_table(HEADERS, FIELDS, ":", [list(r) for r in DATA],
                             numfields=["oper_ram", "disk_count"], unitfields=["oper_ram"])
    assert lines == ["Instance:OS:Memory:Disks",
                     "inst1.example.com:debian:512:1",
                     "i2:busybox+default:4096:12"]


@pytest.mark.parametrize("units,values", [("h", ["512M", "4.0G"]), ("m", ["512", "4096"]),
                                          ("g", ["0.5", "4.0"]), ("t", ["0.0", "0.0"])])
def test_generate_table_units(units: str, values: list[str]) -> None:
    lines = T.generate_table(None, FIELDS, "|", [list(r) for r in DATA],
                             unitfields=["oper_ram"], units=units)
    assert [line.split("|")[2] for line in lines] == values


def test_generate_table_no_headers_and_none_rows() -> None:
    lines = T.generate_table(None, ["a", "b"], None, [["x", 1], None], numfields=["b"])
    assert lines == ["x 1", "- -"]


def test_generate_table_regex_fieldsets() -> None:
    lines = T.generate_table({"disk.size/0": "D0", "disk.size/1": "D1"},
                             ["disk.size/0", "disk.size/1"], None, [[1024, 2048]],
                             numfields=[r"disk\.size/([0-9]+)"],
                             unitfields=[r"disk\.size/([0-9]+)"])
    assert lines == ["  D0   D1", "1.0G 2.0G"]


def _field(name: str, kind: str, title: str | None = None) -> dict[str, str]:
    return {"name": name, "title": title or name.capitalize(), "kind": kind,
            "doc": f"Doc of {name}"}


RESPONSE: dict[str, Any] = {
    "fields": [_field("name", P.QFT_TEXT, "Instance"), _field("admin_up", P.QFT_BOOL, "Up"),
               _field("oper_ram", P.QFT_UNIT, "Memory"), _field("vcpus", P.QFT_NUMBER, "VCPUs"),
               _field("tags", P.QFT_OTHER, "Tags")],
    "data": [
        [[0, "inst1"], [0, True], [0, 2048], [0, 2], [0, ["a", "b"]]],
        [[0, "inst22"], [0, False], [4, None], [0, 16], [0, []]],
        [[0, "x"], [0, False], [2, None], [3, None], [0, ["c"]]],
    ],
}


def test_format_query_result_statuses_and_alignment() -> None:
    status, lines = T.format_query_result(RESPONSE, header=True)
    assert status == T.QR_INCOMPLETE
    assert lines == [
        "Instance Up Memory VCPUs Tags",
        "inst1    Y    2.0G     2 a,b",
        "inst22   N       *    16 ",
        "x        N       ?     - c",
    ]


def test_format_query_result_verbose_statuses() -> None:
    _, lines = T.format_query_result(RESPONSE, separator="|", verbose=True)
    assert lines == ["inst1|Y|2048|2|a,b", "inst22|N|(offline)|16|", "x|N|(nodata)|(unavail)|c"]


def test_format_query_result_unknown_field() -> None:
    fields = [_field("name", P.QFT_TEXT), _field("bogus", P.QFT_UNKNOWN)]
    response = {"fields": fields, "data": [[[0, "a"], [1, None]]]}
    status, lines = T.format_query_result(response, separator=",")
    assert status == T.QR_UNKNOWN and lines == ["a,??"]
    status, _ = T.format_query_result({"fields": fields, "data": []})
    assert status == T.QR_UNKNOWN
    status, _ = T.format_query_result({"fields": fields[:1],
                                       "data": [[[0, "a"]]]})
    assert status == T.QR_NORMAL


def test_format_query_result_override_and_timestamp() -> None:
    ts = time.mktime((2024, 3, 5, 14, 7, 9, 0, 0, -1))
    response = {"fields": [_field("ctime", P.QFT_TIMESTAMP), _field("ratio", P.QFT_NUMBER_FLOAT),
                           _field("name", P.QFT_TEXT)],
                "data": [[[0, ts], [0, 1.5], [0, "n"]], [[0, [ts, 250]], [0, 10.25], [0, "m"]]]}
    _, lines = T.format_query_result(response, separator=" ",
                                     format_override={"name": (str.upper, False)})
    assert lines == ["2024-03-05 14:07:09 1.5 N", "2024-03-05 14:07:09 10.25 M"]


def test_format_field_list() -> None:
    fields = [_field("name", P.QFT_TEXT, "Instance"), _field("oper_ram", P.QFT_UNIT, "Memory")]
    assert T.format_field_list(fields, None, True) == [
        "Name     Type         Title    Description",
        "name     Text         Instance Doc of name",
        "oper_ram Storage size Memory   Doc of oper_ram",
    ]
    assert T.format_field_list(fields, "|", False) == [
        "name|Text|Instance|Doc of name", "oper_ram|Storage size|Memory|Doc of oper_ram"]


class QueryMaster:
    """A real LUXI server answering Query/QueryFields like the master (records calls)."""

    def __init__(self, sock: Path, response: dict[str, Any]) -> None:
        self.response = response
        self.calls: list[tuple[Any, ...]] = []
        self.server = LuxiServer(sock, make_dispatcher({
            P.REQ_QUERY: self.query, P.REQ_QUERY_FIELDS: self.query_fields}))

    def query(self, what: str, fields: list[str], qfilter: Any) -> dict[str, Any]:
        self.calls.append((what, fields, qfilter))
        return self.response

    def query_fields(self, what: str, fields: list[str] | None) -> dict[str, Any]:
        self.calls.append((what, fields))
        return {"fields": self.response["fields"]}


@pytest.fixture
def master(tmp_path: Path) -> Iterator[QueryMaster]:
    m = QueryMaster(tmp_path / "luxi.sock", RESPONSE)
    with m.server:
        yield m


def test_generic_list_prints_and_builds_name_filter(master: QueryMaster,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with Client(master.server.socket_path) as client:
        rc = T.generic_list(client, "instance", ["name", "admin_up", "oper_ram", "vcpus", "tags"],
                            ["inst1", "web*"], None, None, False)
    assert rc == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "inst1  Y 2.0G  2 a,b"
    what, _, qfilter = master.calls[0]
    assert what == "instance"
    assert qfilter == ["|", ["=", "name", "inst1"], ["=~", "name", r"^web[^.]*(\..*)?$"]]


def test_generic_list_unknown_field_exit_code(master: QueryMaster,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    master.response = {"fields": [_field("name", P.QFT_TEXT), _field("bogus", P.QFT_UNKNOWN)],
                       "data": [[[0, "a"], [1, None]]]}
    with Client(master.server.socket_path) as client:
        rc = T.generic_list(client, "node", ["name", "bogus"], [], None, None, True)
    assert rc == T.EXIT_UNKNOWN_FIELD == 14
    captured = capsys.readouterr()
    assert "Warning: Queried for unknown fields bogus" in captured.err
    assert captured.out.splitlines() == ["Name Bogus", "a    ??"]


def test_generic_list_fields(master: QueryMaster, capsys: pytest.CaptureFixture[str]) -> None:
    with Client(master.server.socket_path) as client:
        assert T.generic_list_fields(client, "instance", None, "|", False) == 0
    assert master.calls == [("instance", None)]
    assert capsys.readouterr().out.splitlines()[0] == "name|Text|Instance|Doc of name"
