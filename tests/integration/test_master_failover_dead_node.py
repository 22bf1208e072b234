"""Master failover when the whole old master is gone (master and node daemon).

The takeover runs in the new master daemon (``gnt-masterd --failover``):
the old master, silent in the vote, is not asked to step down (no wait for
an RPC timeout), the command warns that it could not be stopped nor
updated, and once its node daemon is back the new master brings it up to
date in the background: its ssconf names the new master and its master
daemon refuses to start.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.support.cluster import TestCluster, wait_for

pytestmark = pytest.mark.integration

NODES = ["node1", "node2", "node3"]


def _pid(c: TestCluster, node: str, daemon: str) -> int:
    path = c.node_root(node) / f"var/run/ganeti/{daemon}.pid"
    return int(path.read_text().split()[0])


@pytest.fixture()
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("failover-dead"), nodes=list(NODES),
                    instances=["inst1"])
    try:
        c.up("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless")
        yield c
    finally:
        c.destroy()


def test_failover_from_a_dead_master_node(cluster: TestCluster) -> None:
    c = cluster
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "-o", "image+raw",
         "--no-name-check", "--no-ip-check", "-n", c.fqdn("node3"), "inst1")
    for daemon in ("ganeti-masterd", "ganeti-noded"):
        os.kill(_pid(c, "node1", daemon), signal.SIGKILL)
    wait_for(lambda: c.run("gnt-cluster", "master-ping").code != 0)
    t = time.monotonic()
    res = c.run("gnt-cluster", "master-failover", node="node2")
    took = time.monotonic() - t
    assert res.code == 0, res.out + res.err
    # node3 answered the vote (naming node1, the master node2 knows): enough
    assert "could not stop the master daemon on node1" in res.err, res.err
    assert "could not update node(s) node1" in res.err, res.err
    # not asked to step down: no wait for the step-down RPC's timeout (40 s)
    assert took < 30, took
    c.master_node = "node2"
    assert c.run("gnt-cluster", "master-ping").code == 0
    assert c.ok("gnt-cluster", "getmaster", node="node3").strip() == c.fqdn("node2")
    out = c.ok("gnt-instance", "list", "--no-headers", "-o", "name,pnode")
    assert out.split() == ["inst1", c.fqdn("node3")]
    # node1 returns: the background resync tells it who the master is
    c.ok("gnt-daemon-util", "start", "ganeti-noded", node="node1")
    wait_for(lambda: c.ok("gnt-cluster", "getmaster", node="node1").strip()
             == c.fqdn("node2"), timeout=60)
    res = c.run("gnt-daemon-util", "start", "ganeti-masterd", node="node1")
    assert res.code != 0 and "not the master" in res.err, res.err
    res = c.run("gnt-cluster", "verify")
    assert res.code == 0, res.out + res.err
