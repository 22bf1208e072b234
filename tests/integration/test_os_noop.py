"""Debian's ganeti-os-noop, unchanged, on a real cluster.

The package's OS definition (``/usr/share/ganeti/os/noop``: API 5 and 10,
scripts that do nothing but export/import with dd, export written for bash
and ``EXP_SIZE_FD``) is symlinked into the node's OS search path.  It must
be listed and diagnosed like any OS, install instances, and run its
rename, export and import scripts through gnt's node procedures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster
from tests.support.os_rpc import instance_call_args, master_rpc

pytestmark = pytest.mark.integration

NOOP = Path("/usr/share/ganeti/os/noop")


@pytest.fixture
def noop_cluster(cluster_root: Path) -> Iterator[TestCluster]:
    if not (NOOP / "create").exists():
        pytest.fail("ganeti-os-noop is not installed (run tools/install-deps.sh)",
                    pytrace=False)
    c = TestCluster(cluster_root)
    (cluster_root / "srv/ganeti/os/noop").symlink_to(NOOP)
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless")
        yield c
    finally:
        c.destroy()


def test_noop_os_listed_and_diagnosed(noop_cluster: TestCluster) -> None:
    c = noop_cluster
    assert "noop" in c.ok("gnt-os", "list", "--no-headers").split()
    diag = c.ok("gnt-os", "diagnose")
    assert (f"OS: noop [global status: valid]\n  Node: node1.gnt.test, status: valid "
            f"(path: {c.root}/srv/ganeti/os/noop) [API versions: 5, 10]\n") in diag
    info = c.ok("gnt-os", "info", "noop")
    assert info == ("noop:\n  - valid: True\n  - hidden: False\n  - blacklisted: False\n"
                    "  - API versions:\n    - 5\n    - 10\n  - variants:\n  - parameters:\n\n")


def test_noop_install_rename_export_import(noop_cluster: TestCluster) -> None:
    c = noop_cluster
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=4M", "-o", "noop",
         "--no-nics", "inst1")
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "os,status",
                "inst1").split() == ["noop", "running"]
    logs = sorted(p.name for p in (c.root / "var/log/ganeti/os").iterdir())
    assert len(logs) == 1 and logs[0].startswith("add-noop-inst1.gnt.test-")
    c.ok("gnt-instance", "shutdown", "inst1")

    rpc = master_rpc(c)
    node, spec, bdevs = instance_call_args(rpc, "inst1.gnt.test")
    disk = c.root / Path(bdevs[0].logical_id[1]).relative_to("/")
    content = b"gnt-noop-" * (disk.stat().st_size // 9) + b"#" * (disk.stat().st_size % 9)
    disk.write_bytes(content)

    res = rpc.instance_os_rename(node, spec.model_copy(update={"name": "inst2.gnt.test"}),
                                 bdevs, "inst1.gnt.test", 0)
    res.raise_on_fail()
    assert Path(res.data).name.startswith("rename-noop-inst1.gnt.test-inst2.gnt.test-")

    # noop's export is a bash script writing the size to EXP_SIZE_FD, then dd
    dest = "/srv/ganeti/export/inst1.gnt.test/disk0"
    res = rpc.instance_os_export(node, spec, bdevs, 0, dest, 0)
    res.raise_on_fail()
    dump = c.root / dest.lstrip("/")
    assert dump.read_bytes() == content
    assert res.data["expected_size"] == res.data["size"] == len(content)

    # noop's import: dd conv=nocreat,notrunc from stdin onto the disk
    disk.write_bytes(b"\0" * len(content))
    rpc.instance_os_import(node, spec, bdevs, 0, dest, 0).raise_on_fail()
    assert disk.read_bytes() == content

    c.ok("gnt-instance", "remove", "-f", "inst1")
