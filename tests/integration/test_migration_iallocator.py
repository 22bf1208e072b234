"""Targets chosen by an iallocator, node evacuation, and ballooning before a migration.

A three-node cluster (fake hypervisor, ``sharedfile`` disks).  Fake nodes
have the host's free memory minus their instances', so a "hog" instance on
node2 leaves it too little room for ``inst1``: ``hail`` must choose node3,
and refuse (with its reason) when node3 is drained or offline.  Memory
margins are hundreds of MiB wide because other work on this machine moves
the host's free memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

INST_MEM = 2048  # MiB, inst1's minmem and maxmem
LEFT_ON_NODE2 = 700  # MiB node2 keeps free after its hog


def _free(c: TestCluster, node: str) -> int:
    out = c.ok("gnt-node", "list", "--no-headers", "--units", "m", "-o", "mfree", node)
    return int(float(out.strip()))


def _hog(c: TestCluster, name: str, node: str, leave: int) -> None:
    """A running fake instance on ``node`` leaving about ``leave`` MiB free there."""
    mem = _free(c, node) - leave
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "-o", "image+raw",
         "--no-name-check", "--no-ip-check", "--no-nics", "--ignore-ipolicy",
         "-B", f"maxmem={mem}M,minmem={mem}M", "-n", c.fqdn(node), name)
    _start(c, name)


def _start(c: TestCluster, name: str) -> None:
    if _field(c, name, "oper_state") != "running":
        c.ok("gnt-instance", "start", name)


def _field(c: TestCluster, name: str, field: str) -> str:
    return c.ok("gnt-instance", "list", "--no-headers", "--units", "m", "-o", field,
                name).strip()


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("migialloc"), nodes=["node1", "node2", "node3"],
                    instances=["inst1", "bal"])
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "sharedfile,diskless")
        c.add_node("node2")
        c.add_node("node3")
        c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=8M",
             "--no-install", "--no-nics", "--ignore-ipolicy",
             "-B", f"maxmem={INST_MEM}M,minmem={INST_MEM}M", "-n", c.fqdn("node1"), "inst1")
        _start(c, "inst1")
        _hog(c, "hog2", "node2", LEFT_ON_NODE2)
        yield c
    finally:
        c.destroy()


def _pnode(c: TestCluster, name: str = "inst1") -> str:
    return c.short(_field(c, name, "pnode"))


def _runs_on(c: TestCluster, name: str = "inst1") -> list[str]:
    return [n for n in c.nodes if (c.node_root(n) / "var/run/ganeti/fake-hypervisor"
                                   / f"{c.fqdn(name)}.json").exists()]


def _home(c: TestCluster) -> None:
    """inst1 back on node1."""
    if _pnode(c) != "node1":
        c.ok("gnt-instance", "migrate", "-f", "-n", "node1", "inst1")
    assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]


def _fails(c: TestCluster, *argv: str) -> str:
    res = c.run(*argv)
    assert res.code != 0, (argv, res.out, res.err)
    return res.out + res.err


def test_hail_chooses_a_node_with_room(cl: TestCluster) -> None:
    c = cl
    _home(c)
    assert _free(c, "node2") < INST_MEM <= _free(c, "node3")
    out = c.ok("gnt-instance", "migrate", "-f", "-I", "hail", "inst1")
    assert f"via iallocator hail: {c.fqdn('node3')}" in out
    assert _pnode(c) == "node3" and _runs_on(c) == ["node3"]
    _home(c)
    out = c.ok("gnt-instance", "failover", "-f", "-I", "hail", "inst1")
    assert _pnode(c) == "node3" and _runs_on(c) == ["node3"], out
    _home(c)


@pytest.mark.parametrize("flag,word", [("-D", "drained"), ("-O", "offline")])
def test_no_valid_target_is_a_clear_error(cl: TestCluster, flag: str, word: str) -> None:
    c = cl
    _home(c)
    c.ok("gnt-node", "modify", "-f", flag, "yes", "node3")
    try:
        msg = _fails(c, "gnt-instance", "migrate", "-f", "-I", "hail", "inst1")
        assert "Can't migrate instance" in msg and "iallocator 'hail'" in msg, msg
        assert "insufficient_resources" in msg or "Not enough" in msg or "No valid" in msg, msg
        msg = _fails(c, "gnt-node", "evacuate", "-f", "-I", "hail", "node1")
        assert "inst1" in msg, msg
    finally:
        c.ok("gnt-node", "modify", "-f", flag, "no", "node3")
    assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]
    # a target given by hand is checked the same way
    c.ok("gnt-node", "modify", "-f", flag, "yes", "node3")
    try:
        msg = _fails(c, "gnt-instance", "migrate", "-f", "-n", "node3", "inst1")
        assert word in msg, msg
    finally:
        c.ok("gnt-node", "modify", "-f", flag, "no", "node3")


def test_cluster_default_iallocator(cl: TestCluster) -> None:
    c = cl
    _home(c)
    msg = _fails(c, "gnt-instance", "migrate", "-f", "inst1")
    assert "no cluster-wide default iallocator" in msg, msg
    msg = _fails(c, "gnt-instance", "migrate", "-f", "-n", "node3", "-I", "hail", "inst1")
    assert "Do not specify both, iallocator and node" in msg, msg
    c.ok("gnt-cluster", "modify", "--default-iallocator", "hail")
    try:
        out = c.ok("gnt-instance", "migrate", "-f", "inst1")
        assert "via iallocator hail" in out
        assert _pnode(c) == "node3"
        c.ok("gnt-instance", "failover", "-f", "inst1")
        assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]
    finally:
        c.ok("gnt-cluster", "modify", "--default-iallocator", "")


def test_node_migrate_and_evacuate_with_hail(cl: TestCluster) -> None:
    c = cl
    _home(c)
    out = c.ok("gnt-node", "migrate", "-f", "-I", "hail", "node1")
    assert "All instances migrated successfully." in out
    assert _pnode(c) == "node3" and _runs_on(c) == ["node3"]
    _home(c)
    # evacuate: -I with -p, all, --early-release (nothing to release for shared storage)
    for extra in (["-p"], [], ["--early-release"]):
        out = c.ok("gnt-node", "evacuate", "-f", "-I", "hail", *extra, "node1")
        assert f"inst1.gnt.test (to {c.fqdn('node3')})" in out, out
        assert "All instances evacuated successfully." in out
        assert _pnode(c) == "node3" and _runs_on(c) == ["node3"]
        _home(c)
    # -s: shared storage has no secondaries, nothing to do (Ganeti's message)
    out = c.ok("gnt-node", "evacuate", "-f", "-s", "-I", "hail", "node1")
    assert f"No instances to evacuate on node(s) {c.fqdn('node1')}, exiting." in out
    # -n only replaces secondaries; with -I it is refused by the client
    msg = _fails(c, "gnt-node", "evacuate", "-f", "-n", "node3", "node1")
    assert "Without the use of an iallocator only secondary instances can be evacuated" \
        in msg, msg
    msg = _fails(c, "gnt-node", "evacuate", "-f", "-n", "node3", "-I", "hail", "node1")
    assert "Give either the iallocator or the new secondary, not both" in msg, msg
    out = c.ok("gnt-node", "evacuate", "-f", "-s", "-n", "node3", "node1")
    assert "No instances to evacuate" in out
    # no -I and no cluster default
    msg = _fails(c, "gnt-node", "evacuate", "-f", "node1")
    assert "no cluster-wide default iallocator" in msg, msg
    assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]


def test_balloon_before_migrating_to_a_tight_node(cl: TestCluster) -> None:
    """Target with room for minmem but not maxmem: ballooned down first, unless
    --no-runtime-changes; below minmem: refused before anything moves."""
    c = cl
    _home(c)
    # inst1 (minmem = maxmem) does not fit node2 at all
    msg = _fails(c, "gnt-instance", "migrate", "-f", "-n", "node2", "inst1")
    assert re.search(rf"Not enough memory on node {c.fqdn('node2')} for migrating instance "
                     rf"{c.fqdn('inst1')}: needed {INST_MEM} MiB, available \d+ MiB", msg), msg
    assert _runs_on(c) == ["node1"]
    # bal: maxmem 4 GiB, minmem 256 MiB; node2 has room for the minimum only
    c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=8M", "--no-install",
         "--no-nics", "--ignore-ipolicy", "-B", "maxmem=4096M,minmem=256M",
         "-n", c.fqdn("node1"), "bal")
    _start(c, "bal")
    try:
        assert int(float(_field(c, "bal", "oper_ram"))) == 4096
        msg = _fails(c, "gnt-instance", "migrate", "-f", "--no-runtime-changes",
                     "-n", "node2", "bal")
        assert re.search(
            rf"Memory ballooning not allowed and not enough free memory to fit instance "
            rf"{c.fqdn('bal')} on target node {c.fqdn('node2')} \(have \d+MB, need 4096MB\)",
            msg), msg
        assert _runs_on(c, "bal") == ["node1"] and _pnode(c, "bal") == "node1"
        out = c.ok("gnt-instance", "migrate", "-f", "-n", "node2", "bal")
        m = re.search(r"\* setting instance memory to (\d+)", out)
        assert m, out
        assert 256 <= int(m.group(1)) < 4096
        assert _pnode(c, "bal") == "node2" and _runs_on(c, "bal") == ["node2"]
        state = json.loads((c.node_root("node2") / "var/run/ganeti/fake-hypervisor"
                            / f"{c.fqdn('bal')}.json").read_text())
        assert state["memory"] == int(m.group(1))
        assert int(float(_field(c, "bal", "oper_ram"))) == int(m.group(1))
    finally:
        c.run("gnt-instance", "remove", "-f", "bal")


def test_verify_reports_instance_on_the_wrong_node(cl: TestCluster) -> None:
    """The guest moved but the config write was lost: verify names both sides."""
    c = cl
    _home(c)
    src = c.node_root("node1") / "var/run/ganeti/fake-hypervisor" / f"{c.fqdn('inst1')}.json"
    dst = c.node_root("node3") / "var/run/ganeti/fake-hypervisor" / f"{c.fqdn('inst1')}.json"
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dst)
    try:
        res = c.run("gnt-cluster", "verify", "--error-codes")
        out = res.out + res.err
        assert res.code != 0
        assert re.search(rf"EINSTANCEWRONGNODE:instance:{c.fqdn('inst1')}:.*"
                         rf"{c.fqdn('node3')}", out), out
        assert f"instance {c.fqdn('inst1')}, should not run on this node" in out, out
        # cleanup makes the config follow the guest; verify is content again
        out = c.ok("gnt-instance", "migrate", "-f", "--cleanup", "inst1")
        assert "configuration updated" in out
        assert _pnode(c) == "node3"
        res = c.run("gnt-cluster", "verify", "--error-codes")
        assert "EINSTANCEWRONGNODE" not in res.out + res.err
    finally:
        if dst.exists() and _pnode(c) == "node1":
            dst.rename(src)
    _home(c)
