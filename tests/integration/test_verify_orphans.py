"""``gnt-cluster verify`` reports files in the file storage directories that no
instance owns (Ganeti's ENODEORPHANLV warning), on a real cluster."""

from __future__ import annotations

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


def test_orphan_files_are_warned_about(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-cluster", "modify", "--enabled-disk-templates", "file,diskless,sharedfile")
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=8M", "--no-install",
         "--no-nics", "inst1")
    c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=8M", "--no-install",
         "--no-nics", "inst2")
    res = c.run("gnt-cluster", "verify", "--error-codes")
    assert res.code == 0, res.out + res.err
    assert "ENODEORPHANLV" not in res.out
    assert "* Verifying orphan volumes" in res.out
    # files nobody owns: beside an instance's disk, in a directory of their own, shared
    file_dir = c.root / "srv/ganeti/file-storage"
    inst_dir = file_dir / "inst1.gnt.test"
    (inst_dir / "leftover.disk1").write_bytes(b"x")
    (file_dir / "old-instance").mkdir()
    (file_dir / "old-instance" / "disk0").write_bytes(b"x" * 1024)
    (c.root / "shared" / "stray.img").write_bytes(b"x")
    res = c.run("gnt-cluster", "verify", "--error-codes")
    assert res.code == 0, res.out  # warnings only
    orphans = sorted(ln[ln.index("- WARNING"):] for ln in res.out.splitlines()
                     if "ENODEORPHANLV" in ln)  # lines start with a timestamp
    node = "node1.gnt.test"
    prefix = f"- WARNING:ENODEORPHANLV:node:{node}:volume "
    assert orphans == [
        f"{prefix}/srv/ganeti/file-storage/inst1.gnt.test/leftover.disk1 is unknown",
        f"{prefix}/srv/ganeti/file-storage/old-instance/disk0 is unknown",
        f"{prefix}/srv/ganeti/shared-file-storage/stray.img is unknown",
    ]
    plain = c.run("gnt-cluster", "verify")
    assert (f"- WARNING: node {node}: volume /srv/ganeti/file-storage/old-instance/disk0 is"
            " unknown") in plain.out
    # the instances' own disks are never reported; removing one makes nothing orphan
    c.ok("gnt-instance", "remove", "-f", "inst1")
    res = c.run("gnt-cluster", "verify", "--error-codes")
    assert "inst1.gnt.test/leftover.disk1 is unknown" in res.out
    assert ".file.disk0 is unknown" not in res.out
