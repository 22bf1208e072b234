"""``gnt-instance modify -t`` (disk template conversion) on a real one-node
fake-hypervisor cluster with the file, sharedfile and ext templates.

The instance's disk carries a marker written by the OS scripts; every
conversion must carry the data over to the new template, remove the old
volumes, and every refused or failed conversion must leave the instance,
its disks and the configuration exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt import constants as C
from tests.support.cfgdata import config as _config
from tests.support.cfgdata import instance as _inst
from tests.support.cfgdata import instance_disks as _disks
from tests.support.cfgdata import wrapped_provider
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

MARKER = b"GNT-CONVERT-MARKER"


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("iconvert"))
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "file,sharedfile,ext,diskless")
        yield c
    finally:
        c.destroy()


def _volume(c: TestCluster, disk: dict) -> Path:
    """Where the disk's data is on the (only) node."""
    if disk["dev_type"] == C.DT_EXT:
        return c.root / "shared/gnt-file" / disk["logical_id"][1]
    return c.node_root(c.master) / disk["logical_id"][1].lstrip("/")


def _all_volumes(c: TestCluster) -> list[str]:
    out = []
    for base in (c.node_root(c.master) / "srv/ganeti/file-storage", c.root / "shared"):
        if base.exists():
            out += sorted(str(p.relative_to(base)) for p in base.rglob("*")
                          if p.is_file() and not p.name.endswith(".meta"))
    return sorted(out)


def _add(c: TestCluster, tmp_path: Path, name: str, template: str = "file") -> None:
    image = tmp_path / f"{name}.img"
    image.write_bytes(MARKER + b"\0" * (4096 - len(MARKER)))
    c.ok("gnt-instance", "add", "-t", template, "--disk", "0:size=16M,name=root",
         "--disk", "1:size=8M", "-o", "image+raw", "-O", f"image={image}", "--no-nics",
         "--no-start", name)


def _refused(c: TestCluster, *argv: str, word: str) -> None:
    before = (_config(c)["serial_no"], _all_volumes(c))
    res = c.run(*argv)
    assert res.code != 0, res.out
    assert word.lower() in (res.err + res.out).lower(), res.err + res.out
    assert (_config(c)["serial_no"], _all_volumes(c)) == before


def test_convert_file_sharedfile_ext_and_back(cl: TestCluster, tmp_path: Path) -> None:
    c = cl
    _add(c, tmp_path, "inst1")
    first = _disks(c, "inst1")
    assert _volume(c, first[0]).read_bytes()[:len(MARKER)] == MARKER

    for target, extra in (("sharedfile", []), ("ext", ["-e", "provider=gnt-file"]),
                          ("file", [])):
        before = _disks(c, "inst1")
        out = c.ok("gnt-instance", "modify", "-t", target, *extra, "inst1")
        assert f"disk_template -> {target}" in out
        inst, disks = _inst(c, "inst1"), _disks(c, "inst1")
        assert inst["disk_template"] == target
        assert [d["dev_type"] for d in disks] == [target, target]
        assert [d["size"] for d in disks] == [16, 8]
        assert [d["name"] for d in disks] == ["root", None]
        assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1"]
        assert {d["uuid"] for d in disks}.isdisjoint({d["uuid"] for d in before})
        assert _volume(c, disks[0]).read_bytes()[:len(MARKER)] == MARKER
        assert _volume(c, disks[0]).stat().st_size == 16 * 1024 * 1024
        for old in before:  # the old volumes are gone
            assert not _volume(c, old).exists()
        assert len(_all_volumes(c)) == 2
        if target == C.DT_EXT:
            assert disks[0]["params"] == {"provider": "gnt-file"}
            meta = _volume(c, disks[0]).with_name(disks[0]["logical_id"][1] + ".meta")
            assert meta.read_text() == f"originstname+{c.fqdn('inst1')}\n"

    # the converted instance runs from its converted disks
    c.ok("gnt-instance", "startup", "inst1")
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "status", "inst1").strip() \
        == "running"
    _refused(c, "gnt-instance", "modify", "-t", "sharedfile", "inst1",
             word="cannot change disk template")
    c.ok("gnt-instance", "shutdown", "inst1")
    c.ok("gnt-instance", "remove", "-f", "inst1")


def test_refused_conversions_change_nothing(cl: TestCluster, tmp_path: Path) -> None:
    c = cl
    _add(c, tmp_path, "inst2")
    _refused(c, "gnt-instance", "modify", "-t", "file", "inst2",
             word="Instance already has disk template file")
    _refused(c, "gnt-instance", "modify", "-t", "blockdev", "inst2",
             word="Conversion to the 'blockdev' disk template is not supported")
    _refused(c, "gnt-instance", "modify", "-t", "diskless", "inst2",
             word="Conversion to the 'diskless' disk template is not supported")
    _refused(c, "gnt-instance", "modify", "-t", "plain", "inst2",
             word="Disk template 'plain' is not enabled for this cluster")
    _refused(c, "gnt-instance", "modify", "-t", "ext", "inst2",
             word="missing provider for template 'ext'")
    _refused(c, "gnt-instance", "modify", "-t", "ext", "-e", "provider=no-such", "inst2",
             word="no-such")
    _refused(c, "gnt-instance", "modify", "-t", "sharedfile", "-e", "provider=gnt-file",
             "inst2", word="only valid when converting to the 'ext'")
    _refused(c, "gnt-instance", "modify", "-t", "ext", "--disk", "add:size=1M", "inst2",
             word="not supported at the same time")
    c.ok("gnt-instance", "add", "-t", "diskless", "-o", "image+raw", "--no-nics",
         "--no-install", "--no-start", "inst3")
    _refused(c, "gnt-instance", "modify", "-t", "file", "inst3",
             word="Conversion from the 'diskless' disk template is not supported")
    c.ok("gnt-instance", "remove", "-f", "inst3")
    c.ok("gnt-instance", "remove", "-f", "inst2")


def test_lvm_templates_refused_without_volume_group(cl: TestCluster, tmp_path: Path) -> None:
    c = cl
    _add(c, tmp_path, "inst4")
    c.ok("gnt-cluster", "modify", "--enabled-disk-templates",
         "file,sharedfile,ext,diskless,plain")
    try:
        _refused(c, "gnt-instance", "modify", "-t", "plain", "inst4",
                 word="conversions to lvm-based instances are not supported by the cluster")
        _refused(c, "gnt-instance", "modify", "-t", "drbd", "-n", c.fqdn(c.master), "inst4",
                 word="not enabled")
    finally:
        c.ok("gnt-cluster", "modify", "--enabled-disk-templates",
             "file,sharedfile,ext,diskless")
    c.ok("gnt-instance", "remove", "-f", "inst4")


def test_failed_copy_rolls_back(cl: TestCluster, tmp_path: Path) -> None:
    """The new ext volumes are too small to attach (the provider fails): the
    conversion aborts, the new volumes are removed and the instance keeps its
    file disks and data."""
    c = cl
    _add(c, tmp_path, "inst5")
    wrapped_provider(c, "broken-attach", bodies={
        "attach": "#!/bin/sh\necho 'attach refused by test' >&2\nexit 1\n"})
    before_cfg = _inst(c, "inst5"), _disks(c, "inst5")
    before_vols = _all_volumes(c)
    res = c.run("gnt-instance", "modify", "-t", "ext", "-e", "provider=broken-attach",
                "inst5")
    assert res.code != 0
    assert "attach refused by test" in res.err + res.out
    assert (_inst(c, "inst5"), _disks(c, "inst5")) == before_cfg
    assert _all_volumes(c) == before_vols
    assert _volume(c, _disks(c, "inst5")[0]).read_bytes()[:len(MARKER)] == MARKER
    c.ok("gnt-instance", "remove", "-f", "inst5")
