"""gnt-node and gnt-group on a real one-node cluster (noded + masterd, fake
hypervisor): list with live values, list-fields, info, volumes and
list-storage of file disks, tags on every kind of object, node groups; bad
input gives a clear error and changes nothing.

Instance and cluster tags run through the shared tag commands
(:mod:`gnt.cli.tags`) as a small ``run()`` tool, as gnt-instance and
gnt-cluster use them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
FS_DIR = "/srv/ganeti/file-storage"
NODE = "node1.gnt.test"
TAG_TOOL = ("import sys; from gnt.cli.base import run; from gnt.cli.tags import tag_commands;"
            " sys.exit(run('gnt-{kind}', tag_commands('{kind}')))")


def _config(c: TestCluster) -> dict[str, Any]:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _serial(c: TestCluster) -> int:
    return int(_config(c)["serial_no"])


def _rows(out: str, sep: str = "|") -> list[list[str]]:
    return [line.split(sep) for line in out.splitlines()]


def _tags(c: TestCluster, kind: str, *args: str) -> Any:
    """Run a tag subcommand of ``kind`` objects (cluster, instance)."""
    import sys
    return c.run(sys.executable, "-c", TAG_TOOL.format(kind=kind), *args)


def _fail(c: TestCluster, *argv: str, word: str, code: int | None = None) -> str:
    """Run a command that must fail saying ``word``, changing nothing."""
    serial = _serial(c)
    res = c.run(*argv)
    assert res.code != 0, (argv, res.out)
    if code is not None:
        assert res.code == code, (argv, res.code, res.err)
    assert word.lower() in (res.out + res.err).lower(), (argv, res.err)
    assert _serial(c) == serial, argv
    return res.err


def test_node_list_info_and_fields(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    lines = c.ok("gnt-node", "list").splitlines()
    assert lines[0].split() == ["Node", "DTotal", "DFree", "MTotal", "MNode", "MFree",
                                "Pinst", "Sinst"]
    row = lines[1].split()
    assert row[0] == NODE and row[-2:] == ["0", "0"]
    assert all(re.fullmatch(r"[0-9.]+[MGT]", v) for v in row[1:6]), row  # human units

    # every field, live ones included, in MiB with a separator
    fields = [ln.split()[0] for ln in c.ok("gnt-node", "list-fields", "--no-headers")
              .splitlines()]
    for f in ("mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnodes", "csockets",
              "cnos", "spfree", "sptotal", "bootid", "pinst_list", "sinst_list", "role",
              "group", "group.uuid", "ndparams", "custom_ndparams", "tags", "serial_no",
              "ctime", "mtime", "pip", "sip", "master", "powered", "ndp/spindle_count"):
        assert f in fields, f
    out = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o", ",".join(fields))
    values = dict(zip(fields, _rows(out)[0]))
    mtotal, mfree, mnode = (int(values[k]) for k in ("mtotal", "mfree", "mnode"))
    assert 0 < mfree <= mtotal and 0 <= mnode <= mtotal
    vfs = os.statvfs(c.root)
    assert int(values["dtotal"]) == -(-vfs.f_blocks * vfs.f_frsize // MIB)
    assert 0 < int(values["dfree"]) <= int(values["dtotal"])
    assert int(values["ctotal"]) >= 1 and int(values["csockets"]) >= 1
    assert values["bootid"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert (values["role"], values["master"], values["group"]) == ("M", "Y", "default")
    assert values["spfree"] == values["sptotal"] == "?"  # no exclusive storage
    assert values["powered"] == "-"  # no out-of-band program
    assert values["uuid"] in _config(c)["nodes"]

    # + extends the defaults; units
    out = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o", "+role,pip")
    assert len(_rows(out)[0]) == 10 and _rows(out)[0][-2] == "M"
    gig = c.ok("gnt-node", "list", "--no-headers", "--units=g", "-o", "mtotal").strip()
    assert float(gig) == pytest.approx(mtotal / 1024, abs=0.1)
    assert c.ok("gnt-node", "list", "--no-headers", "--units=m", "-o", "mtotal").strip() == \
        str(mtotal)
    assert c.ok("gnt-node", "list", "--no-headers", "-o", "name", "node1").strip() == NODE
    assert c.ok("gnt-node", "list", "--no-headers", "nosuch").strip() == ""

    res = c.run("gnt-node", "list", "-o", "name,bogus")
    assert res.code == 14 and "bogus" in res.err
    assert c.run("gnt-node", "list-fields", "name", "bogus").code == 14

    info = c.ok("gnt-node", "info")
    assert info.splitlines()[0] == f"- Node name: {NODE}"
    for line in ("  master candidate: True", "  drained: False", "  offline: False",
                 "  vm_capable: True", "  node parameters: ", "    spindle_count: default (1)"):
        assert line in info.splitlines(), line
    assert c.ok("gnt-node", "show", "node1") == info
    _fail(c, "gnt-node", "info", "nosuch", word="Node 'nosuch' not known")
    _fail(c, "gnt-node", "modify", "node1", word="at least one of the parameters")
    _fail(c, "gnt-node", "modify", "-C", "maybe", "node1", word="yes or no", code=2)


def test_live_fields_of_an_unreachable_node(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-daemon-util", "stop", "ganeti-noded")
    try:
        out = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                   "name,mfree,dtotal,role,pinst_cnt")
        assert _rows(out) == [[NODE, "?", "?", "M", "0"]]
        out = c.ok("gnt-node", "list", "--no-headers", "-v", "-o", "mfree")
        assert out.strip() == "(nodata)"
    finally:
        c.ok("gnt-daemon-util", "start", "ganeti-noded")
    assert _rows(c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                      "mfree"))[0][0].isdigit()


def test_volumes_and_list_storage(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    assert c.ok("gnt-node", "volumes").splitlines() == [
        "Node PhysDev VG Name Size Instance"]
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--disk", "1:size=8M",
         "-o", "image+raw", "--no-nics", "inst1")
    sizes = {d["logical_id"][1]: str(d["size"]) for d in _config(c)["disks"].values()}
    out = c.ok("gnt-node", "volumes", "--no-headers", "--separator=|")
    assert sorted(_rows(out)) == sorted(
        [NODE, path, FS_DIR, path[len(FS_DIR) + 1:], size, "inst1.gnt.test"]
        for path, size in sizes.items())
    assert sorted(sizes.values()) == ["64", "8"]
    human = c.ok("gnt-node", "volumes", "--no-headers", "-o", "size,instance", "node1")
    assert sorted(human.split()) == ["64M", "8M", "inst1.gnt.test", "inst1.gnt.test"]
    # an orphan file (no instance owns it) shows "-"
    orphan = c.root / FS_DIR.lstrip("/") / "stray.img"
    orphan.write_bytes(b"x" * MIB)
    out = c.ok("gnt-node", "volumes", "--no-headers", "--separator=|", "-o", "name,instance")
    assert ["stray.img", "-"] in _rows(out)

    lines = c.ok("gnt-node", "list-storage").splitlines()
    assert lines[0].split() == ["Node", "Type", "Name", "Size", "Used", "Free", "Allocatable"]
    out = c.ok("gnt-node", "list-storage", "-t", "file", "--no-headers", "--separator=|")
    ((node, stype, name, size, used, free, alloc),) = _rows(out)
    assert (node, stype, name, alloc) == (NODE, "file", FS_DIR, "Y")
    assert int(used) == 64 + 8 + 1 and 0 < int(free) <= int(size)
    assert c.ok("gnt-node", "list-storage", "--no-headers", "-o", "name,used", "--units=m"
                ).split() == [FS_DIR, "73"]

    _fail(c, "gnt-node", "list-storage", "-t", "sharedfile", word="not enabled")
    _fail(c, "gnt-node", "list-storage", "-t", "lvm-vg", word="not enabled")
    _fail(c, "gnt-node", "list-storage", "-t", "floppy", word="invalid choice", code=2)
    _fail(c, "gnt-node", "list-storage", "-o", "name,bogus", word="Unknown output fields")
    _fail(c, "gnt-node", "volumes", "-o", "bogus", word="Unknown output fields")
    _fail(c, "gnt-node", "volumes", "nosuch", word="Node 'nosuch' not known")


def test_tags_on_every_object(fake_cluster: TestCluster, tmp_path: Path) -> None:
    c = fake_cluster
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics", "inst1")
    tagfile = tmp_path / "tags"
    tagfile.write_text("from-file:1\n\nfrom-file:2\n")
    c.ok("gnt-node", "add-tags", "node1", "rack:a1", "hw.big")
    c.ok("gnt-node", "add-tags", "--from", str(tagfile), "node1")
    assert c.ok("gnt-node", "list-tags", NODE).split() == [
        "from-file:1", "from-file:2", "hw.big", "rack:a1"]
    assert c.ok("gnt-node", "list", "--no-headers", "-o", "tags").strip() == \
        "from-file:1,from-file:2,hw.big,rack:a1"
    c.ok("gnt-node", "remove-tags", "node1", "from-file:1", "from-file:2")
    c.ok("gnt-group", "add-tags", "default", "zone:eu")
    assert c.ok("gnt-group", "list-tags", "default").split() == ["zone:eu"]
    assert _tags(c, "instance", "add-tags", "inst1", "env:prod", "web").code == 0
    assert _tags(c, "instance", "list-tags", "inst1.gnt.test").out.split() == [
        "env:prod", "web"]
    assert _tags(c, "cluster", "add-tags", "site:x").code == 0
    assert _tags(c, "cluster", "list-tags").out.split() == ["site:x"]
    assert (c.root / "var/lib/ganeti/ssconf_cluster_tags").read_text().split() == ["site:x"]
    found = _tags(c, "cluster", "search-tags", "^(env|rack|zone|site):")
    assert found.code == 0 and found.out.splitlines() == [
        "/cluster site:x", "/instances/inst1.gnt.test env:prod",
        "/nodegroup/default zone:eu", f"/nodes/{NODE} rack:a1"]
    assert _tags(c, "cluster", "search-tags", "nomatch").code == 1

    # adding tags the object has changes nothing
    serial = _serial(c)
    c.ok("gnt-node", "add-tags", "node1", "hw.big")
    assert _serial(c) == serial

    # bad input: clear error, nothing changed
    _fail(c, "gnt-node", "add-tags", "node1", "ok", "bad!char", word="invalid characters")
    _fail(c, "gnt-node", "add-tags", "node1", "x" * 129, word="Tag too long")
    _fail(c, "gnt-node", "add-tags", "node1", word="No tags to be added")
    _fail(c, "gnt-node", "remove-tags", "node1", "hw.big", "missing",
          word="Tag(s) 'missing' not found")
    _fail(c, "gnt-node", "add-tags", "nosuch", "t", word="Node 'nosuch' not known")
    _fail(c, "gnt-group", "add-tags", "nosuch", "t", word="not found")
    _fail(c, "gnt-node", "add-tags", "--from", str(tmp_path / "missing"), "node1", "t",
          word="Cannot read tags")
    res = _tags(c, "instance", "add-tags", "inst1", "with space")
    assert res.code == 1 and "Failure: invalid tag(s) given" in res.err
    res = _tags(c, "cluster", "search-tags", "(")
    assert res.code == 1 and "Invalid search pattern" in res.err
    assert c.ok("gnt-node", "list-tags", NODE).split() == ["hw.big", "rack:a1"]
    assert _tags(c, "instance", "list-tags", "inst1.gnt.test").out.split() == [
        "env:prod", "web"]


def test_node_groups(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics", "inst1")
    assert c.ok("gnt-group", "list").splitlines()[0].split() == [
        "Group", "Nodes", "Instances", "AllocPolicy", "NDParams"]
    c.ok("gnt-group", "add", "--alloc-policy", "last_resort", "--node-parameters",
         "spindle_count=4", "--ipolicy-vcpu-ratio", "2", "rack2")
    out = c.ok("gnt-group", "list", "--no-headers", "--separator=|", "-o",
               "name,node_cnt,pinst_cnt,alloc_policy,ndp/spindle_count,custom_ndparams")
    assert _rows(out) == [["default", "1", "1", "preferred", "1", "{}"],
                          ["rack2", "0", "0", "last_resort", "4", "{'spindle_count': 4}"]]
    fields = c.ok("gnt-group", "list-fields", "--no-headers").split("\n")
    assert {ln.split()[0] for ln in fields if ln} >= {
        "name", "uuid", "node_cnt", "node_list", "pinst_cnt", "pinst_list", "alloc_policy",
        "ndparams", "ipolicy", "diskparams", "tags", "serial_no", "ctime", "mtime"}

    info = c.ok("gnt-group", "info", "rack2").splitlines()
    assert info[0] == "- Node group: rack2"
    for line in ("    spindle_count: 4", "    oob_program: default ()",
                 "    vcpu-ratio: 2.0", "    spindle-ratio: default (32.0)"):
        assert line in info, line

    c.ok("gnt-group", "assign-nodes", "rack2", "node1")
    assert c.ok("gnt-node", "list", "--no-headers", "-o", "group").strip() == "rack2"
    out = c.ok("gnt-group", "list", "--no-headers", "--separator=|", "-o",
               "name,node_list,pinst_list")
    assert _rows(out) == [["default", "", ""], ["rack2", NODE, "inst1.gnt.test"]]
    _fail(c, "gnt-group", "remove", "rack2", word="not empty")

    c.ok("gnt-group", "rename", "rack2", "rack3")
    assert c.ok("gnt-node", "list", "--no-headers", "-o", "group").strip() == "rack3"
    assert "rack3" in (c.root / "var/lib/ganeti/ssconf_nodegroups").read_text()
    out = c.ok("gnt-group", "modify", "--alloc-policy", "preferred", "--node-parameters",
               "spindle_count=default", "rack3")
    assert out.splitlines()[0] == "Modified node group rack3"
    c.ok("gnt-group", "assign-nodes", "default", "node1")
    c.ok("gnt-group", "remove", "rack3")
    assert c.ok("gnt-group", "list", "--no-headers", "-o", "name").split() == ["default"]

    # bad input: clear error, nothing changed
    _fail(c, "gnt-group", "add", "default", word="already exists")
    _fail(c, "gnt-group", "add", "two words", word="whitespace")
    _fail(c, "gnt-group", "add", "--alloc-policy", "sometimes", "g", word="invalid choice",
          code=2)
    _fail(c, "gnt-group", "add", "--node-parameters", "bogus=1", "g", word="bogus")
    _fail(c, "gnt-group", "add", "--ipolicy-disk-templates", "floppy", "g", word="floppy")
    _fail(c, "gnt-group", "assign-nodes", "default", "nosuch", word="not known")
    _fail(c, "gnt-group", "assign-nodes", "nosuch", "node1", word="not found")
    _fail(c, "gnt-group", "rename", "nosuch", "x", word="not found")
    _fail(c, "gnt-group", "remove", "default", word="not empty")
    _fail(c, "gnt-group", "modify", "default", word="at least one of the parameters")
    _fail(c, "gnt-group", "info", "nosuch", word="not known")
    assert c.ok("gnt-group", "list", "--no-headers", "-o", "name").split() == ["default"]
