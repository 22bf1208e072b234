"""Hooks of migrate, failover and the node-wide moves (Ganeti's paths, nodes, variables).

A two-node cluster (fake hypervisor, ``sharedfile`` disks); recorder scripts
on both nodes dump their environment (see :class:`tests.integration.test_hooks.Hooks`),
so each test checks which hooks ran on which node, in which phase, with
which variables, and that a failing pre hook stops the move before
anything changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gnt.hooks import runner
from tests.integration.test_hooks import HOOK_TIMEOUT, Hooks
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

PATHS = ("instance-migrate", "instance-failover", "node-migrate", "node-evacuate")


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(runner.ENV_TIMEOUT, str(HOOK_TIMEOUT))  # inherited by the daemons
        c = TestCluster(tmp_path_factory.mktemp("mighooks"), nodes=["node1", "node2"],
                        instances=["inst1"])
        try:
            c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
                   "sharedfile,diskless")
            c.add_node("node2")
            c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=8M",
                 "--no-install", "--no-nics", "-B", "maxmem=256M,minmem=128M",
                 "-n", c.fqdn("node1"), "inst1")
            if c.ok("gnt-instance", "list", "--no-headers", "-o", "oper_state",
                    "inst1").strip() != "running":
                c.ok("gnt-instance", "start", "inst1")
            yield c
        finally:
            c.destroy()


@pytest.fixture
def hk(cl: TestCluster) -> Iterator[Hooks]:
    h = Hooks(cl)
    h.reset()
    h.record(*PATHS)
    yield h
    h.reset()


def _pnode(c: TestCluster) -> str:
    return c.short(c.ok("gnt-instance", "list", "--no-headers", "-o", "pnode", "inst1").strip())


def _runs_on(c: TestCluster) -> list[str]:
    """Nodes whose fake hypervisor runs inst1."""
    return [n for n in c.nodes if (c.node_root(n) / "var/run/ganeti/fake-hypervisor"
                                   / f"{c.fqdn('inst1')}.json").exists()]


def _put_on(c: TestCluster, node: str) -> None:
    if _pnode(c) != node:
        c.ok("gnt-instance", "migrate", "-f", "-n", node, "inst1")
    assert _pnode(c) == node and _runs_on(c) == [node]


def _check(env: dict[str, str], prefix: str, **want: Any) -> None:
    for key, value in want.items():
        assert env.get(prefix + key) == str(value), (key, env.get(prefix + key), value)


def test_migrate_hooks(cl: TestCluster, hk: Hooks) -> None:
    c = cl
    _put_on(c, "node1")
    hk.reset()
    hk.record(*PATHS)
    c.ok("gnt-instance", "migrate", "-f", "-n", "node2", "inst1")
    n1, n2 = c.fqdn("node1"), c.fqdn("node2")
    # pre and post on the master/source (node1) and the target (node2), once each
    for node in ("node1", "node2"):
        pre = hk.one("instance-migrate", "pre", node)
        post = hk.one("instance-migrate", "post", node)
        _check(pre, "GANETI_", HOOKS_PATH="instance-migrate", HOOKS_PHASE="pre",
               OP_CODE="OP_INSTANCE_MIGRATE", OBJECT_TYPE="INSTANCE",
               OP_TARGET=c.fqdn("inst1"), INSTANCE_NAME=c.fqdn("inst1"),
               MIGRATE_LIVE=True, MIGRATE_CLEANUP=False, ALLOW_RUNTIME_CHANGES=True,
               OLD_PRIMARY=n1, NEW_PRIMARY=n2, OLD_SECONDARY=None, NEW_SECONDARY=None,
               INSTANCE_PRIMARY=n1, INSTANCE_DISK_TEMPLATE="sharedfile",
               INSTANCE_MAXMEM=256, INSTANCE_MINMEM=128)
        # the post phase sees the state after the move
        _check(post, "GANETI_POST_", INSTANCE_PRIMARY=n2, OLD_PRIMARY=n1, NEW_PRIMARY=n2)
        _check(post, "GANETI_", HOOKS_PHASE="post", INSTANCE_PRIMARY=n1)
    assert hk.runs("instance-failover", "pre") == []

    # non-live, no runtime changes; then a cleanup (nodes: master and primary)
    hk.reset()
    hk.record(*PATHS)
    c.ok("gnt-instance", "migrate", "-f", "--non-live", "--no-runtime-changes", "-n", "node1",
         "inst1")
    _check(hk.one("instance-migrate", "pre", "node2"), "GANETI_", MIGRATE_LIVE=False,
           ALLOW_RUNTIME_CHANGES=False, OLD_PRIMARY=n2, NEW_PRIMARY=n1)
    hk.reset()
    hk.record(*PATHS)
    c.ok("gnt-instance", "migrate", "-f", "--cleanup", "inst1")
    pre = hk.one("instance-migrate", "pre", "node1")
    _check(pre, "GANETI_", MIGRATE_CLEANUP=True, OLD_PRIMARY=n1, NEW_PRIMARY=n1)
    hk.one("instance-migrate", "post", "node1")
    assert hk.runs("instance-migrate", "pre", "node2") == []


def test_failover_hooks(cl: TestCluster, hk: Hooks) -> None:
    c = cl
    _put_on(c, "node2")
    hk.reset()
    hk.record(*PATHS)
    c.ok("gnt-instance", "failover", "-f", "--shutdown-timeout", "7", "-n", "node1", "inst1")
    assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]
    n1, n2 = c.fqdn("node1"), c.fqdn("node2")
    # pre: master and target (both node1); post: also the source (node2)
    pre = hk.one("instance-failover", "pre", "node1")
    _check(pre, "GANETI_", HOOKS_PATH="instance-failover", OP_CODE="OP_INSTANCE_FAILOVER",
           OBJECT_TYPE="INSTANCE", IGNORE_CONSISTENCY=False, SHUTDOWN_TIMEOUT=7,
           OLD_PRIMARY=n2, NEW_PRIMARY=n1, OLD_SECONDARY="", NEW_SECONDARY="",
           INSTANCE_PRIMARY=n2)
    assert hk.runs("instance-failover", "pre", "node2") == []
    for node in ("node1", "node2"):
        _check(hk.one("instance-failover", "post", node), "GANETI_POST_",
               INSTANCE_PRIMARY=n1, NEW_PRIMARY=n1)
    assert hk.runs("instance-migrate", "pre") == []


def test_node_migrate_and_evacuate_hooks(cl: TestCluster, hk: Hooks) -> None:
    c = cl
    _put_on(c, "node1")
    hk.reset()
    hk.record(*PATHS)
    out = c.ok("gnt-node", "migrate", "-f", "-n", "node2", "node1")
    assert "All instances migrated successfully." in out
    assert _pnode(c) == "node2"
    # node-migrate: master only, NODE_NAME; the jobs it made have their own hooks
    pre = hk.one("node-migrate", "pre", "node1")
    _check(pre, "GANETI_", HOOKS_PATH="node-migrate", OP_CODE="OP_NODE_MIGRATE",
           OBJECT_TYPE="NODE", NODE_NAME=c.fqdn("node1"), OP_TARGET=c.fqdn("node1"),
           ALLOW_RUNTIME_CHANGES=True)
    _check(hk.one("node-migrate", "post", "node1"), "GANETI_POST_",
           NODE_NAME=c.fqdn("node1"))
    assert hk.runs("node-migrate", "pre", "node2") == []
    assert hk.runs("node-migrate", "post", "node2") == []
    _check(hk.one("instance-migrate", "pre", "node2"), "GANETI_",
           OLD_PRIMARY=c.fqdn("node1"), NEW_PRIMARY=c.fqdn("node2"))

    # node evacuate has no hooks of its own in Ganeti (its jobs do)
    hk.reset()
    hk.record(*PATHS)
    c.ok("gnt-node", "evacuate", "-f", "-I", "hail", "node2")
    assert _pnode(c) == "node1"
    for node in c.nodes:
        assert hk.runs("node-evacuate", "pre", node) == []
        assert hk.runs("node-evacuate", "post", node) == []
    hk.one("instance-migrate", "pre", "node1")


def test_failing_pre_hook_on_target_stops_the_migration(cl: TestCluster, hk: Hooks) -> None:
    c = cl
    _put_on(c, "node1")
    serial = json.loads((c.root / "var/lib/ganeti/config.data").read_text())["serial_no"]
    hk.install("instance-migrate", "pre", "10-deny", "echo no moves today; exit 1", ["node2"])
    res = c.run("gnt-instance", "migrate", "-f", "-n", "node2", "inst1")
    assert res.code != 0
    assert "10-deny" in res.err + res.out and "no moves today" in res.err + res.out
    assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]
    assert json.loads((c.root / "var/lib/ganeti/config.data").read_text())[
        "serial_no"] == serial
    assert hk.runs("instance-migrate", "post", "node1") == []
