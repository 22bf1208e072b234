"""``gnt-instance add -I`` on a 3-node fake-hypervisor cluster.

The master builds the iallocator request from its config and the nodes'
live data, runs the allocator through the master's node daemon, and
places the instance where the allocator said.  A recording allocator
(installed in the master's iallocator search path) keeps every request,
so each placement is checked against Debian's Ganeti hail answering the
very same request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

NODES = ["node1", "node2", "node3"]
REF_HAIL = "/usr/lib/ganeti/iallocators/hail"
RECORDER = """#!/bin/sh
# records each iallocator request, then answers with gnt's hail
for last; do :; done
cp "$last" "{dir}/$(date +%s%N).json"
exec {python} -m gnt.htools hail "$@"
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestCluster, Path]]:
    root = tmp_path_factory.mktemp("ialloc")
    c = TestCluster(root / "c", nodes=list(NODES), instances=[f"inst{i}" for i in range(1, 12)])
    rec_dir = root / "requests"
    rec_dir.mkdir()
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless,file")
        for n in NODES[1:]:
            c.add_node(n)
        search = c.node_root("node1") / "usr/lib/ganeti/iallocators"
        search.mkdir(parents=True)
        script = search / "hail-rec"
        script.write_text(RECORDER.format(dir=rec_dir, python=sys.executable))
        script.chmod(0o755)
        yield c, rec_dir
    finally:
        c.destroy()


def _add(c: TestCluster, name: str, *extra: str, mem: int = 128):
    return c.run("gnt-instance", "add", "-t", "diskless", "--no-install", "-o", "image+raw",
                 "--no-name-check", "--no-ip-check", "-B", f"maxmem={mem},minmem={mem}",
                 *extra, name)


def _pnode(c: TestCluster, name: str) -> str:
    return c.ok("gnt-instance", "list", "--no-headers", "-o", "pnode", name).strip()


def _last_request(rec_dir: Path) -> Path:
    return max(rec_dir.glob("*.json"))


def _ref(path: Path) -> dict:
    res = subprocess.run([REF_HAIL, str(path)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def _ours(path: Path) -> dict:
    res = subprocess.run([sys.executable, "-m", "gnt.htools", "hail", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


needs_ref = pytest.mark.skipif(not os.path.exists(REF_HAIL),
                               reason="Debian's Ganeti hail not installed")


@needs_ref
def test_placements_match_ganeti_hail(cluster: tuple[TestCluster, Path]) -> None:
    c, rec_dir = cluster
    for k, mem in enumerate([256, 512, 128, 1024], start=1):
        _add(c, f"inst{k}", "-I", "hail-rec", mem=mem).check()
        req = _last_request(rec_dir)
        doc = json.loads(req.read_text())
        assert doc["version"] == 2 and doc["request"]["type"] == "allocate"
        assert doc["request"]["memory"] == mem and doc["request"]["required_nodes"] == 1
        assert set(doc["nodes"]) == {c.fqdn(n) for n in NODES}
        assert all(n["total_memory"] > 0 and n["free_memory"] > 0
                   for n in doc["nodes"].values())
        ref = _ref(req)
        assert ref["success"], ref["info"]
        assert _ours(req) == ref
        assert _pnode(c, f"inst{k}") == ref["result"][0]
    # the instances now show in the requests the master builds
    _add(c, "inst5", "-I", "hail-rec").check()
    doc = json.loads(_last_request(rec_dir).read_text())
    assert {f"inst{k}" for k in range(1, 5)} <= set(doc["instances"])
    assert _pnode(c, "inst5") == _ref(_last_request(rec_dir))["result"][0]


def test_builtin_hail_and_cluster_default(cluster: tuple[TestCluster, Path]) -> None:
    c, _ = cluster
    out = _add(c, "inst6", "-I", "hail").check()
    assert "via iallocator hail" in out.out + out.err
    assert _pnode(c, "inst6") in {c.fqdn(n) for n in NODES}
    # no -n, no -I: the cluster default iallocator decides
    res = _add(c, "inst7")
    assert res.code != 0 and "no cluster default iallocator" in res.err
    c.ok("gnt-cluster", "modify", "--default-iallocator", "hail-rec")
    _add(c, "inst7").check()
    if os.path.exists(REF_HAIL):
        _, rec_dir = cluster
        assert _pnode(c, "inst7") == _ref(_last_request(rec_dir))["result"][0]


def test_nothing_fits_fails_cleanly(cluster: tuple[TestCluster, Path]) -> None:
    c, rec_dir = cluster
    res = _add(c, "inst8", "-I", "hail-rec", mem=1024 * 1024)
    assert res.code != 0
    assert "Can't compute nodes using iallocator 'hail-rec'" in res.err
    assert "No valid allocation solutions, failure reasons: FailMem: 3" in res.err
    names = c.ok("gnt-instance", "list", "--no-headers", "-o", "name").split()
    assert "inst8" not in names
    if os.path.exists(REF_HAIL):
        ref = _ref(_last_request(rec_dir))
        assert not ref["success"] and ref["info"] in res.err


def test_bad_allocator_requests(cluster: tuple[TestCluster, Path]) -> None:
    c, _ = cluster
    res = _add(c, "inst9", "-I", "nosuch")
    assert res.code != 0 and "Can't find iallocator 'nosuch'" in res.err
    res = _add(c, "inst9", "-I", "hail", "-n", c.fqdn("node2"))
    assert res.code != 0 and "either an iallocator (-I) or a primary node (-n)" in res.err
    res = _add(c, "inst9", "-I", "../bin/sh")
    assert res.code != 0 and "Invalid iallocator name" in res.err
