"""Scale: 40 real node daemons, 2,000 fake-hypervisor instances.

One cluster for the module (it takes minutes to fill): every node is a real
``gnt-noded`` on its own 127.x address and root, joined through the token
path; instances are created by concurrent jobs over LUXI (as RAPI or
``gnt-instance batch-create`` would submit them).  Checked at full size:
``gnt-instance list`` shows every instance on its node and running,
``gnt-cluster verify`` is clean, a config write is on every master
candidate when its job reports success, and a master failover after
``kill -9`` keeps every node and instance.

Sizes can be lowered for a quick run with ``GNT_SCALE_NODES`` and
``GNT_SCALE_INSTANCES``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gnt.luxi.client import Client
from gnt.opcodes.instance import OpInstanceCreate
from gnt.opcodes.node import OpNodeAdd
from tests.support.cluster import TestCluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

NODES = int(os.environ.get("GNT_SCALE_NODES", "40"))
INSTANCES = int(os.environ.get("GNT_SCALE_INSTANCES", "2000"))
BATCH = 500  # jobs per submission


def _serial(c: TestCluster, node: str) -> int | None:
    f = c.node_root(node) / "var/lib/ganeti/config.data"
    return json.loads(f.read_text())["serial_no"] if f.exists() else None


def _luxi(c: TestCluster) -> Client:
    env = c.env()
    os.environ.update(GNT_ROOT=env["GNT_ROOT"], GNT_HOSTNAME=env["GNT_HOSTNAME"])
    return Client()


def _wait_jobs(client: Client, ids: list[int], timeout: float = 900) -> None:
    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending:
        for row in client.query_jobs(sorted(pending), ["id", "status", "opresult"]):
            if row and row[1] in ("success", "error", "canceled"):
                assert row[1] == "success", f"job {row[0]} ended {row[1]}: {row[2]}"
                pending.discard(row[0])
        assert time.monotonic() < deadline, f"{len(pending)} jobs still pending"
        if pending:
            time.sleep(0.2)


def _submit_all(client: Client, jobs: list[list[Any]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(jobs), BATCH):
        res = client.submit_many_jobs(jobs[start:start + BATCH])
        assert all(ok for ok, _ in res), res
        ids.extend(jid for _, jid in res)
    return ids


def _node_of(i: int, nodes: list[str]) -> str:
    return nodes[i % len(nodes)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    nodes = [f"node{i}" for i in range(1, NODES + 1)]
    c = TestCluster(tmp_path_factory.mktemp("scale"), nodes=nodes, instances=[])
    try:
        t = time.monotonic()
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless")
        with ThreadPoolExecutor(4) as pool:  # node daemons start in join mode in parallel
            tokens = list(pool.map(c.start_join_mode, nodes[1:]))
        with _luxi(c) as client:
            ids = _submit_all(client, [[OpNodeAdd(node_name=c.fqdn(n), join_token=tok)]
                                       for n, tok in zip(nodes[1:], tokens)])
            _wait_jobs(client, ids)
        print(f"\nscale: {NODES} nodes up in {time.monotonic() - t:.1f}s")
        yield c
    finally:
        c.destroy()


@pytest.fixture(scope="module")
def filled(cluster: TestCluster) -> TestCluster:
    c = cluster
    t = time.monotonic()
    with _luxi(c) as client:
        jobs = [[OpInstanceCreate(
            instance_name=f"i{i:05d}", disk_template="diskless", os_type="image+raw",
            no_install=True, name_check=False, ip_check=False,
            pnode=c.fqdn(_node_of(i, c.nodes)), beparams={"memory": 128})]
            for i in range(INSTANCES)]
        _wait_jobs(client, _submit_all(client, jobs))
    took = time.monotonic() - t
    print(f"\nscale: {INSTANCES} instances in {took:.1f}s ({INSTANCES / took:.0f}/s)")
    return c


def test_list_shows_every_instance_on_its_node(filled: TestCluster) -> None:
    c = filled
    t = time.monotonic()
    out = c.ok("gnt-instance", "list", "--no-headers", "--separator=|",
               "-o", "name,pnode,status,oper_state")
    took = time.monotonic() - t
    rows = [ln.split("|") for ln in out.splitlines()]
    assert len(rows) == INSTANCES
    for name, pnode, status, oper in rows:
        i = int(name[1:])
        assert pnode == c.fqdn(_node_of(i, c.nodes)), (name, pnode)
        assert (status, oper) == ("running", "Y"), (name, status, oper)
    print(f"\nscale: gnt-instance list of {INSTANCES} in {took:.2f}s")
    nodes = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,pinst_cnt")
    counts = dict(ln.split("|") for ln in nodes.splitlines())
    assert len(counts) == NODES
    assert sum(int(v) for v in counts.values()) == INSTANCES
    per_node = INSTANCES // NODES
    assert all(per_node <= int(v) <= per_node + 1 for v in counts.values()), counts


def test_verify_is_clean(filled: TestCluster) -> None:
    t = time.monotonic()
    res = filled.run("gnt-cluster", "verify")
    took = time.monotonic() - t
    assert res.code == 0, res.out + res.err
    assert "ERROR" not in res.out + res.err
    print(f"\nscale: gnt-cluster verify in {took:.2f}s")


def test_config_write_reaches_every_candidate(filled: TestCluster) -> None:
    c = filled
    roles = dict(ln.split("|") for ln in c.ok(
        "gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,role").splitlines())
    candidates = [n for n, r in roles.items() if r == "C"]
    assert len(candidates) >= min(9, NODES - 1)  # candidate_pool_size 10, master included
    with _luxi(c) as client:
        jid = client.submit_job([{"OP_ID": "OP_TAGS_SET", "kind": "cluster", "name": None,
                                  "tags": ["scale-check"]}])
        _wait_jobs(client, [jid])
    # at the moment the job reports success, every candidate has the new config
    master = _serial(c, c.master_node)
    assert master is not None
    for n in candidates:
        assert _serial(c, n) == master, n
        data = json.loads((c.node_root(n) / "var/lib/ganeti/config.data").read_text())
        assert "scale-check" in data["cluster"]["tags"]
        assert len(data["instances"]) == INSTANCES


def test_master_failover_keeps_everything(filled: TestCluster) -> None:
    c = filled
    old = c.master_node
    before = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "-o", "name,pnode")
    pid = int((c.node_root(old) / "var/run/ganeti/ganeti-masterd.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    new = c.nodes[1]
    t = time.monotonic()
    c.ok("gnt-cluster", "master-failover", node=new)
    c.master_node = new
    wait_for(lambda: c.run("gnt-cluster", "master-ping").code == 0, timeout=60)
    took = time.monotonic() - t
    print(f"\nscale: master failover in {took:.2f}s")
    after = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "-o", "name,pnode")
    assert sorted(after.splitlines()) == sorted(before.splitlines())
    assert len(after.splitlines()) == INSTANCES
    nodes = c.ok("gnt-node", "list", "--no-headers", "-o", "name,role", "--separator=|")
    assert f"{c.fqdn(new)}|M" in nodes.split()
    assert len(nodes.split()) == NODES
    # the new master writes and replicates
    with _luxi(c) as client:
        jid = client.submit_job([{"OP_ID": "OP_TAGS_SET", "kind": "cluster", "name": None,
                                  "tags": ["after-failover"]}])
        _wait_jobs(client, [jid])
    assert Path(c.node_root(new) / "var/lib/ganeti/config.data").read_text().count(
        "after-failover") == 1
