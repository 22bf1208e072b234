"""``gnt-cluster search-tags PATTERN`` on a real two-node fake-hypervisor
cluster: Ganeti's ``<path> <tag>`` lines for the cluster (``/cluster``),
nodes (``/nodes/NAME``), instances (``/instances/NAME``) and node groups
(``/nodegroup/NAME``, Ganeti's spelling), the pattern a regular
expression searched anywhere in the tag; exit code 1 when nothing matches,
a clear error for an invalid pattern.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("stags"), nodes=["node1", "node2"])
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless")
        c.add_node("node2")
        yield c
    finally:
        c.destroy()


def test_search_tags(cl: TestCluster) -> None:
    c = cl
    c.ok("gnt-cluster", "add-tags", "env:prod", "owner:ops")
    c.ok("gnt-node", "add-tags", c.fqdn("node2"), "rack:r2", "env:prod-hw")
    c.ok("gnt-instance", "add", "-t", "diskless", "-o", "image+raw", "--no-nics",
         "--no-install", "--no-start", "-n", c.fqdn("node1"), "--tags", "env:prod,web",
         "inst1")
    c.ok("gnt-group", "add-tags", "default", "env:prodgroup")

    out = c.ok("gnt-cluster", "search-tags", "^env:prod")
    assert out.splitlines() == sorted([
        "/cluster env:prod",
        f"/instances/{c.fqdn('inst1')} env:prod",
        f"/nodes/{c.fqdn('node2')} env:prod-hw",
        "/nodegroup/default env:prodgroup",
    ])
    assert c.ok("gnt-cluster", "search-tags", "web").splitlines() == [
        f"/instances/{c.fqdn('inst1')} web"]
    assert c.ok("gnt-cluster", "search-tags", "r[0-9]$").splitlines() == [
        f"/nodes/{c.fqdn('node2')} rack:r2"]

    res = c.run("gnt-cluster", "search-tags", "no-such-tag")
    assert res.code == 1 and res.out == ""
    res = c.run("gnt-cluster", "search-tags", "env:(")
    assert res.code != 0 and "Invalid search pattern 'env:('" in res.err
    c.ok("gnt-instance", "remove", "-f", "inst1")
    assert "/instances/" not in c.ok("gnt-cluster", "search-tags", "env")
