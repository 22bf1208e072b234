"""``gnt-instance add -t blockdev --disk N:adopt=...`` on a real one-node
cluster (fake hypervisor) with real loop devices: the device's size, no OS
install, data untouched, the device released (not destroyed) on remove, and
every refusal leaving the cluster unchanged."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster
from tests.support.loopdev import LoopDevices, loop_devices

pytestmark = pytest.mark.integration


@pytest.fixture
def loopdevs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopDevices]:
    yield from loop_devices(tmp_path_factory)


@pytest.fixture
def bcluster(cluster_root: Path) -> Iterator[TestCluster]:
    c = TestCluster(cluster_root)
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "file,diskless,blockdev")
        yield c
    finally:
        c.destroy()


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _refused(c: TestCluster, *args: str, word: str) -> None:
    before = _config(c)
    res = c.run("gnt-instance", "add", "--no-nics", "--no-install", *args)
    assert res.code != 0, res.out
    assert word in res.err, res.err
    after = _config(c)
    assert after["serial_no"] == before["serial_no"]
    assert after["instances"] == before["instances"] and after["disks"] == before["disks"]


def test_adopt_start_remove_keeps_the_device(bcluster: TestCluster,
                                             loopdevs: LoopDevices) -> None:
    c = bcluster
    dev = loopdevs.make(40, fill=b"precious data")
    name = loopdevs.name(c.root, dev, "gnt-a")
    out = c.ok("gnt-instance", "add", "-t", "blockdev", "--disk", f"0:adopt={name}",
               "-o", "image+raw", "--no-nics", "inst1")
    assert "OS create scripts" not in out  # adopted disks are used as they are
    row = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
               "name,disk_template,disk.sizes,status", "inst1").strip()
    assert row == "inst1.gnt.test|blockdev|40|running"
    disk = next(iter(_config(c)["disks"].values()))
    assert disk["logical_id"] == ["manual", name] and disk["size"] == 40
    assert f"manual {name}" in c.ok("gnt-instance", "info", "inst1")
    c.ok("gnt-instance", "shutdown", "inst1")
    c.ok("gnt-instance", "startup", "inst1")
    c.ok("gnt-instance", "remove", "-f", "inst1")
    assert _config(c)["disks"] == {}
    assert os.path.exists(dev) and loopdevs.read(dev, 13) == b"precious data"
    # released: it can be adopted again
    c.ok("gnt-instance", "add", "-t", "blockdev", "--disk", f"0:adopt={name}",
         "--no-install", "--no-nics", "inst2")
    assert c.run("gnt-cluster", "verify").code == 0


def test_refusals_change_nothing(bcluster: TestCluster, loopdevs: LoopDevices) -> None:
    c = bcluster
    a, b = loopdevs.make(16), loopdevs.make(16)
    na, nb = loopdevs.name(c.root, a, "gnt-a"), loopdevs.name(c.root, b, "gnt-b")
    t = ("-t", "blockdev")
    _refused(c, *t, "--disk", f"0:adopt={a}", "inst9", word="lie outside /dev/disk/")
    _refused(c, *t, "--disk", "0:adopt=/dev/disk/by-id/nothing", "inst9",
             word="Missing block device(s): /dev/disk/by-id/nothing")
    plain = c.root / "dev/disk/by-id/not-a-device"
    plain.write_bytes(b"x" * 4096)
    _refused(c, *t, "--disk", "0:adopt=/dev/disk/by-id/not-a-device", "inst9",
             word="cannot be adopted: /dev/disk/by-id/not-a-device")
    _refused(c, *t, "--disk", "0:size=16", "inst9",
             word="Disk template blockdev requires disk adoption")
    _refused(c, *t, "--disk", f"0:adopt={na}", "--disk", "1:size=16", "inst9",
             word="Either all disks are adopted or none is")
    _refused(c, *t, "--disk", f"0:adopt={na}", "--disk", f"1:adopt={na}/", "inst9",
             word="Duplicate disk names given for adoption")
    _refused(c, "-t", "file", "--disk", f"0:adopt={na}", "inst9",
             word="Disk adoption is not supported for the 'file' disk template")
    holder = os.open(a, os.O_RDONLY | os.O_EXCL)  # a file system or device stack holds it
    try:
        _refused(c, *t, "--disk", f"0:adopt={na}", "inst9", word="is in use")
    finally:
        os.close(holder)
    c.ok("gnt-instance", "add", *t, "--disk", f"0:adopt={na}", "--disk", f"1:adopt={nb}",
         "--no-install", "--no-nics", "inst1")
    sizes = c.ok("gnt-instance", "list", "--no-headers", "-o", "disk.sizes", "inst1")
    assert sizes.strip() == "16,16"
    _refused(c, *t, "--disk", f"0:adopt={na}", "inst9",
             word=f"Block device(s) already used: {na} (instance inst1.gnt.test)")
    alias = loopdevs.name(c.root, a, "gnt-a-other-name")
    _refused(c, *t, "--disk", f"0:adopt={alias}", "inst9", word=f"is the same device as {na}")
