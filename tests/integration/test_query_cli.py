"""``gnt-instance list`` / ``gnt-node list`` on a real one-node fake cluster: qlang
filters (``-F``, stdin, detection, globs), every field, units, separator, ``-v``."""

from __future__ import annotations

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


def _add(c: TestCluster, name: str, memory: int, *extra: str, start: bool = True) -> None:
    c.ok("gnt-instance", "add", "-t", "diskless", "-o", "image+raw", "--no-install",
         "--no-ip-check", "-B", f"maxmem={memory},minmem={memory}", *extra, name)
    if start:  # --no-install implies --no-start
        c.ok("gnt-instance", "startup", name)


def _names(c: TestCluster, *args: str, stdin: str | None = None) -> list[str]:
    res = c.run("gnt-instance", "list", "--no-headers", "-o", "name", *args, input=stdin)
    res.check()
    return [line.split(".")[0] for line in res.out.split()]


def test_list_filters_fields_and_formats(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    _add(c, "inst1", 256, "--tags", "web,prod")
    _add(c, "inst2", 128, "--tags", "web", start=False)
    _add(c, "inst3", 512, "--net", "0:mac=aa:00:00:11:22:33")

    # qlang, as an argument detected as a filter and with -F / --filter
    assert _names(c, "name =~ m/inst[12]/ and be/memory > 128") == ["inst1"]
    assert _names(c, "-F", "admin_up") == ["inst1", "inst3"]
    assert _names(c, "--filter", "not oper_state") == ["inst2"]
    assert _names(c, "-F", "'prod' in tags or nic.mac/0 == 'aa:00:00:11:22:33'") == [
        "inst1", "inst3"]
    assert _names(c, "-F", "status == 'ADMIN_down'") == ["inst2"]
    assert _names(c, "-F", 'name =* "inst?"') == ["inst1", "inst2", "inst3"]
    # the filter from standard input
    assert _names(c, "-F", stdin="be/maxmem >= 256\nand oper_ram >= 256\n") == [
        "inst1", "inst3"]
    # glob shorthand and plain names
    assert _names(c, "inst1*", "*3") == ["inst1", "inst3"]
    assert _names(c, "inst2", "inst3") == ["inst2", "inst3"]

    # a bad filter: Ganeti's error, nothing on stdout
    res = c.run("gnt-instance", "list", "-F", "name == ")
    assert res.code != 0 and not res.out
    assert "position" in res.err

    # separator, units, -v
    out = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "--units=g", "-o",
               "name,be/maxmem,oper_ram,status", "inst3", "inst2").splitlines()
    assert out == ["inst2.gnt.test|0.1|-|ADMIN_down", "inst3.gnt.test|0.5|0.5|running"]
    out = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "-v", "-o",
               "name,oper_ram,nic.mac/1", "inst2").strip()
    assert out == "inst2.gnt.test|(unavail)|(unavail)"

    # every field of list-fields, at once
    fields = [line.split()[0] for line in
              c.ok("gnt-instance", "list-fields", "--no-headers").splitlines()]
    assert {"hv/migration_mode", "be/maxmem", "disk.size/15", "nic.network.name/7",
            "console", "snodes.group", "nic.networks.names"} <= set(fields)
    res = c.run("gnt-instance", "list", "--separator=|", "-o", ",".join(fields))
    res.check()
    lines = res.out.splitlines()
    assert len(lines) == 4 and all(len(line.split("|")) == len(fields) for line in lines)

    # node queries with qlang
    node = c.ok("gnt-node", "list", "--no-headers", "-o", "name",
                "-F", "pinst_cnt != 0 and master").strip()
    assert node == c.master
    assert c.ok("gnt-node", "list", "--no-headers", "-o", "name", "-F",
                "not master_candidate").strip() == ""
