"""Detached disks (Ganeti 3.0): ``gnt-instance modify --disk N:detach`` and
``--disk attach:name=X|uuid=X`` on a real one-node fake-hypervisor cluster
(file, sharedfile and ext templates), and ``gnt-cluster verify`` not reporting
detached disks or their volumes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cfgdata import changes as _changes
from tests.support.cfgdata import config as _config
from tests.support.cfgdata import instance as _inst
from tests.support.cfgdata import instance_disks as _disks
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("idetach"))
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "file,sharedfile,ext,diskless")
        yield c
    finally:
        c.destroy()


def _local(c: TestCluster, path: str) -> Path:
    return c.node_root(c.master) / path.lstrip("/")


def _fake_disks(c: TestCluster, name: str) -> list[str]:
    f = c.node_root(c.master) / "var/run/ganeti/fake-hypervisor" / f"{c.fqdn(name)}.json"
    return json.loads(f.read_text())["disks"]


def _verify_clean(c: TestCluster, path: str | None = None) -> None:
    """``gnt-cluster verify`` reports neither the detached disk nor (``path``) its file."""
    res = c.run("gnt-cluster", "verify")
    text = res.out + res.err
    assert "belongs to no instance" not in text, text
    if path is not None:
        assert f"volume {path} is unknown" not in text, text


@pytest.mark.parametrize("template", ["file", "sharedfile"])
def test_detach_and_attach_file_disks(cl: TestCluster, template: str) -> None:
    c = cl
    a, b = ("inst1", "inst2") if template == "file" else ("inst3", "inst4")
    for name in (a, b):  # both have a disk named data-<template>
        c.ok("gnt-instance", "add", "-t", template, "--disk", "0:size=16M",
             "--disk", f"1:size=8M,name=data-{template}", "-o", "image+raw", "--no-nics",
             "--no-install", "--no-start", name)
    c.ok("gnt-instance", "modify", "--disk", "1:modify,name=other", b)
    data = _disks(c, a)[1]
    _local(c, data["logical_id"][1]).write_bytes(b"DETACHED-DATA")
    out = c.ok("gnt-instance", "modify", "--disk", "1:detach", a)
    assert _changes(out) == ["disk/1 -> detach"]
    cfg = _config(c)
    assert data["uuid"] in cfg["disks"] and len(_disks(c, a)) == 1
    moved = cfg["disks"][data["uuid"]]["logical_id"][1]
    inst_dir, fname = data["logical_id"][1].rsplit("/", 1)
    assert moved == f"{inst_dir.rsplit('/', 1)[0]}/{fname}"  # out of the instance dir
    assert _local(c, moved).read_bytes() == b"DETACHED-DATA"
    assert not _local(c, data["logical_id"][1]).exists()
    _verify_clean(c, moved)

    out = c.ok("gnt-instance", "modify", "--disk", f"attach:name=data-{template}", b)
    assert _changes(out) == ["disk/2 -> attach:size=8,mode=rw"]
    disks = _disks(c, b)
    assert [d["uuid"] for d in disks][2] == data["uuid"]
    assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1", "disk/2"]
    path = disks[2]["logical_id"][1]
    assert f"/{c.fqdn(b)}/" in path
    assert _local(c, path).read_bytes() == b"DETACHED-DATA"
    assert not _local(c, moved).exists()
    _verify_clean(c, path)

    # attaching the same disk again, or a disk of another template, is refused
    res = c.run("gnt-instance", "modify", "--disk", f"attach:uuid={data['uuid']}", a)
    assert res.code != 0 and "already attached to instance" in res.err
    res = c.run("gnt-instance", "modify", "--disk", "attach:name=nosuch", a)
    assert res.code != 0 and "No disk was found with this name: nosuch" in res.err
    res = c.run("gnt-instance", "modify", "--disk", "attach:name=x,uuid=y", a)
    assert res.code != 0 and "Only one argument is permitted" in res.err
    for name in (a, b):
        c.ok("gnt-instance", "remove", "-f", name)


def test_hotplug_detach_attach_running_and_cross_template(cl: TestCluster) -> None:
    c = cl
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=16M", "--disk",
         "1:size=8M,name=hot", "-o", "image+raw", "--no-nics", "inst5")
    c.ok("gnt-instance", "add", "-t", "ext", "--disk", "0:size=16M,provider=gnt-file",
         "-o", "image+raw", "--no-nics", "--no-install", "--no-start", "inst6")
    out = c.ok("gnt-instance", "modify", "--disk", "hot:detach", "inst5")
    assert _changes(out) == ["disk/1 -> detach", "disk/1 -> hotplug:done"]
    assert _fake_disks(c, "inst5") == [_disks(c, "inst5")[0]["uuid"]]
    res = c.run("gnt-instance", "modify", "--disk", "attach:name=hot", "inst6")
    assert res.code != 0 and "Instance has 'ext' template while disk has 'file'" in res.err
    out = c.ok("gnt-instance", "modify", "--disk", "attach:name=hot", "inst5")
    assert _changes(out) == ["disk/1 -> attach:size=8,mode=rw", "disk/1 -> hotplug:done"]
    assert _fake_disks(c, "inst5") == [d["uuid"] for d in _disks(c, "inst5")]

    # an ext disk detaches and re-attaches as it is (no instance-dependent path)
    ext = _disks(c, "inst6")[0]
    c.ok("gnt-instance", "modify", "--disk", "0:detach", "inst6")
    assert _inst(c, "inst6")["disk_template"] == "diskless"
    assert _config(c)["disks"][ext["uuid"]]["logical_id"] == ext["logical_id"]
    _verify_clean(c)
    c.ok("gnt-instance", "modify", "--disk", f"attach:uuid={ext['uuid']}", "inst6")
    assert _inst(c, "inst6")["disk_template"] == "ext"
    assert [d["uuid"] for d in _disks(c, "inst6")] == [ext["uuid"]]
    c.ok("gnt-instance", "startup", "inst6")
    c.ok("gnt-instance", "shutdown", "inst6")
    for name in ("inst5", "inst6"):
        c.ok("gnt-instance", "remove", "-f", name)
