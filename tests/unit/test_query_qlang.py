"""Ganeti's query filter language: parsing (ganeti(7) examples) and evaluation."""

from __future__ import annotations

import io
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors
from gnt.cli.qfilter import make_filter
from gnt.objects import NIC, Cluster, ConfigData, Instance, Node, NodeGroup
from gnt.query.base import run_query
from gnt.query.instance import TABLE, InstanceQueryContext
from gnt.query.qlang import filter_fields, glob_to_regexp, parse_filter

pytestmark = pytest.mark.unit


# --- parsing -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # the examples of ganeti(7)
    ('name =* "web*.example.com"',
     ["=~", "name", glob_to_regexp("web*.example.com")]),
    ("(be/vcpus == 3 or be/vcpus == 6) and pnode.group =~ m/^rack/",
     ["&", ["|", ["=", "be/vcpus", 3], ["=", "be/vcpus", 6]],
      ["=~", "pnode.group", "^rack"]]),
    ("pinst_cnt != 0", ["!", ["=", "pinst_cnt", 0]]),
    ("not master_candidate", ["!", ["?", "master_candidate"]]),
    # every operator
    ("name =~ m/web/ and be/memory > 128",
     ["&", ["=~", "name", "web"], [">", "be/memory", 128]]),
    ("oper_ram < 10", ["<", "oper_ram", 10]),
    ("oper_ram <= 10", ["<=", "oper_ram", 10]),
    ("oper_ram >= -1", [">=", "oper_ram", -1]),
    ("name !~ m/x/", ["!", ["=~", "name", "x"]]),
    ('name !* "db*"', ["!", ["=~", "name", glob_to_regexp("db*")]]),
    ('"prod" in tags', ["=[]", "tags", "prod"]),
    ("'prod' not in tags", ["!", ["=[]", "tags", "prod"]]),
    ("admin_up", ["?", "admin_up"]),
    ("not not admin_up", ["!", ["!", ["?", "admin_up"]]]),
    # precedence: not > and > or; left to right, flattened
    ("a or b and c", ["|", ["?", "a"], ["&", ["?", "b"], ["?", "c"]]]),
    ("a and b and c", ["&", ["?", "a"], ["?", "b"], ["?", "c"]]),
    ("not a or b", ["|", ["!", ["?", "a"]], ["?", "b"]]),
    ("not (a or b)", ["!", ["|", ["?", "a"], ["?", "b"]]]),
    # strings: both quotes, backslash escapes
    (r'os == "deb\"ian"', ["=", "os", 'deb"ian']),
    (r"os == 'it\'s'", ["=", "os", "it's"]),
    # regular expression delimiters, escaped delimiter, flags
    ("name =~ m#a/b#", ["=~", "name", "a/b"]),
    ("name =~ m^x|y^", ["=~", "name", "x|y"]),
    ("name =~ m|a^b|", ["=~", "name", "a^b"]),
    (r"name =~ m/a\/b/", ["=~", "name", "a/b"]),
    (r"name =~ m/a\.b/", ["=~", "name", r"a\.b"]),
    ("name =~ m/WEB/i", ["=~", "name", "(?i)WEB"]),
    ("name =~ m/a.b/si", ["=~", "name", "(?s)(?i)a.b"]),
    # field names with dots, slashes and digits
    ("disk.size/0 > 1024", [">", "disk.size/0", 1024]),
    ("nic.mac/1 == 'aa:bb:cc:dd:ee:ff'", ["=", "nic.mac/1", "aa:bb:cc:dd:ee:ff"]),
])
def test_parse(text: str, expected: list[Any]) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "name ==", "name = 'x'", "name == foo", "(admin_up", "admin_up)",
    "name =~ m/x", "name =~ 'x'", "name =~ m/x/q", "name =~ m/(/", "1 in", "'a' in 'b'",
    "'a' == name", "and", "admin_up and", "name == 'x' 'y'", 'name =* m/x/', "'x",
])
def test_parse_errors(text: str) -> None:
    with pytest.raises(errors.QueryFilterParseError) as exc:
        parse_filter(text)
    assert exc.value.args  # a message saying where


def test_parse_error_names_the_position() -> None:
    with pytest.raises(errors.QueryFilterParseError, match="position 9"):
        parse_filter("name == foo")


def test_glob_to_regexp() -> None:
    import re

    rx = re.compile(glob_to_regexp("web*"))
    assert rx.match("web1") and rx.match("web1.example.com")
    assert not rx.match("aweb1") and not rx.match("we")
    rx = re.compile(glob_to_regexp("web?.example.com"))
    assert rx.match("web1.example.com") and not rx.match("web12.example.com")


def test_filter_fields() -> None:
    flt = parse_filter("(be/vcpus == 3 or not admin_up) and 'x' in tags and name =~ m/a/")
    assert filter_fields(flt) == {"be/vcpus", "admin_up", "tags", "name"}
    assert filter_fields(None) == set()


# --- make_filter (the CLI side) -------------------------------------------------------------

def test_make_filter_names_and_globs() -> None:
    assert make_filter(["a", "b"], False) == ["|", ["=", "name", "a"], ["=", "name", "b"]]
    assert make_filter(["*.site1", "web?"], False) == [
        "|", ["=~", "name", glob_to_regexp("*.site1")], ["=~", "name", glob_to_regexp("web?")]]
    assert make_filter([], False) is None


def test_make_filter_detects_a_filter_expression() -> None:
    assert make_filter(["admin_up and oper_ram > 1"], False) == [
        "&", ["?", "admin_up"], [">", "oper_ram", 1]]
    # -F: even a lone word is a filter (a boolean field)
    assert make_filter(["admin_up"], True) == ["?", "admin_up"]


def test_make_filter_force_needs_one_argument() -> None:
    with pytest.raises(errors.OpPrereqError, match="Exactly one argument"):
        make_filter(["a", "b"], True)


@pytest.mark.parametrize("args", [[], ["-"]])
def test_make_filter_reads_stdin(args: list[str]) -> None:
    stdin = io.StringIO("name =~ m/web/\n  and admin_up\n")
    assert make_filter(args, True, stdin=stdin) == [
        "&", ["=~", "name", "web"], ["?", "admin_up"]]
    with pytest.raises(errors.OpPrereqError, match="standard input"):
        make_filter(args, True, stdin=io.StringIO("  \n"))


# --- evaluation against a real config --------------------------------------------------------

def _cfg() -> ConfigData:
    grp = NodeGroup(name="rack1")
    nodes = [Node(name=f"node{i}.example.com", primary_ip=f"192.0.2.{i}",
                  secondary_ip=f"192.0.2.{i}", group=grp.uuid, uuid=f"n{i}") for i in (1, 2)]
    cluster = Cluster(cluster_name="c.example.com", master_node="n1",
                      master_ip="192.0.2.254", enabled_hypervisors=[C.HT_FAKE])
    insts = [
        Instance(name="web1.example.com", primary_node="n1", os="debian",
                 hypervisor=C.HT_FAKE, beparams={"maxmem": 256, "vcpus": 3},
                 tags=["prod", "web"], admin_state=C.ADMINST_UP,
                 nics=[NIC(mac="aa:00:00:00:00:01")]),
        Instance(name="web2.example.com", primary_node="n2", os="debian",
                 hypervisor=C.HT_FAKE, beparams={"maxmem": 128, "vcpus": 6},
                 tags=["web"], admin_state=C.ADMINST_DOWN),
        Instance(name="db1.example.com", primary_node="n2", os="centos",
                 hypervisor=C.HT_FAKE, beparams={"maxmem": 1024, "vcpus": 1},
                 tags=["prod"], admin_state=C.ADMINST_UP),
    ]
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={grp.uuid: grp}, instances={i.uuid: i for i in insts})


def _select(text: str) -> list[str]:
    cfg = _cfg()
    live = {"n1": {"web1.example.com": {"state": "running", "memory": 256, "vcpus": 3}},
            "n2": {"db1.example.com": {"state": "running", "memory": 1024, "vcpus": 1}}}
    ctx = InstanceQueryContext(cfg=cfg, live=live, have_live=True)
    items = sorted(cfg.instances.values(), key=lambda i: i.name)
    resp = run_query(TABLE, ["name"], ctx, items, parse_filter(text))
    return [row[0][1].split(".")[0] for row in resp["data"]]


@pytest.mark.parametrize(("text", "names"), [
    ("name =~ m/web/ and be/memory > 128", ["web1"]),
    ("(be/vcpus == 3 or be/vcpus == 6) and pnode.group =~ m/^rack/", ["web1", "web2"]),
    ('name =* "web*.example.com"', ["web1", "web2"]),
    ('name =* "web*"', ["web1", "web2"]),
    ('name !* "web*"', ["db1"]),
    ("name =~ m/WEB/i", ["web1", "web2"]),
    ("name !~ m/web/", ["db1"]),
    ('"prod" in tags', ["db1", "web1"]),
    ('"prod" not in tags', ["web2"]),
    ("admin_up", ["db1", "web1"]),
    ("not admin_up", ["web2"]),
    ("oper_state", ["db1", "web1"]),
    ("status == 'ADMIN_down'", ["web2"]),
    ("oper_ram >= 256", ["db1", "web1"]),
    ("be/memory < 256", ["web2"]),
    ("be/memory <= 256 and be/memory != 128", ["web1"]),
    ("name == 'db1'", ["db1"]),  # short host name
    ("pnode == 'node2'", ["db1", "web2"]),
    ("nic.count == 1", ["web1"]),
    ("os == 'centos' or be/vcpus > 5", ["db1", "web2"]),
])
def test_evaluate(text: str, names: list[str]) -> None:
    assert _select(text) == names


def test_unknown_field_in_filter() -> None:
    with pytest.raises(errors.QueryFilterParseError, match="nosuchfield"):
        _select("nosuchfield == 1")
