"""The node side of the blockdev template on real loop devices: name rules,
sizes, busy devices refused, never destroyed; the adoption procedure; what
the KVM command line gets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors, paths
from gnt.hypervisor.base import InstanceSpec
from gnt.hypervisor.kvm import cmdline
from gnt.noded.procs.blockdev_adopt import blockdev_adopt_info
from gnt.noded.procs.instance import assemble_disks
from gnt.storage import blockdev, get
from gnt.storage.base import BlockDevSpec
from tests.support.loopdev import LoopDevices, loop_devices

pytestmark = pytest.mark.integration


@pytest.fixture
def loopdevs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopDevices]:
    yield from loop_devices(tmp_path_factory)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    return tmp_path


def spec(name: str, size: int = 16, lid: list | None = None) -> BlockDevSpec:
    return BlockDevSpec(uuid="d0", dev_type=C.DT_BLOCK, size=size,
                        logical_id=lid if lid is not None else [C.BLOCKDEV_DRIVER_MANUAL, name])


def test_names_must_lie_below_dev_disk(root: Path, loopdevs: LoopDevices) -> None:
    dev = loopdevs.make(16)
    drv = get(C.DT_BLOCK)
    for bad in (dev, "/dev/disk/../loop0", "relative/x", "/srv/x"):
        with pytest.raises(errors.BlockDeviceError) as exc:
            drv.create(spec(bad))
        assert exc.value.ecode == errors.ECODE_INVAL
    with pytest.raises(errors.BlockDeviceError, match="lie outside /dev/disk/"):
        drv.create(spec(dev))
    for lid in (["loop", "/dev/disk/x"], ["manual"], []):
        with pytest.raises(errors.BlockDeviceError, match="Invalid logical_id"):
            drv.create(spec("", lid=lid))


def test_adopt_use_and_release_without_touching_the_data(root: Path,
                                                         loopdevs: LoopDevices) -> None:
    dev = loopdevs.make(40, fill=b"precious data")
    name = loopdevs.name(root, dev, "gnt-a")
    drv = get(C.DT_BLOCK)
    info = drv.create(spec(name))
    assert (info.path, info.size) == (dev, 40)
    assert drv.assemble(spec(name, size=40)).path == dev
    assert drv.find(spec(name)) is not None
    drv.shutdown(spec(name))
    drv.remove(spec(name))
    assert os.path.exists(dev) and loopdevs.read(dev, 13) == b"precious data"
    with pytest.raises(errors.BlockDeviceError, match="Grow is not supported"):
        drv.grow(spec(name), 10)
    with pytest.raises(errors.BlockDeviceError, match="less than the 41 MiB"):
        drv.assemble(spec(name, size=41))
    with pytest.raises(errors.BlockDeviceError, match="exclusive_storage"):
        drv.create(spec(name), excl_stor=True)


def test_missing_and_non_block_devices(root: Path) -> None:
    drv = get(C.DT_BLOCK)
    with pytest.raises(errors.BlockDeviceError, match="Missing block device"):
        drv.create(spec("/dev/disk/by-id/nothing"))
    assert drv.find(spec("/dev/disk/by-id/nothing")) is None
    drv.remove(spec("/dev/disk/by-id/nothing"))  # releasing a missing device is fine
    plain = root / "dev/disk/by-id/plainfile"
    plain.parent.mkdir(parents=True)
    plain.write_bytes(b"x" * 4096)
    with pytest.raises(errors.BlockDeviceError, match="is not a block device"):
        drv.create(spec("/dev/disk/by-id/plainfile"))
    outside = root / "dev/disk/by-id/outside"
    outside.symlink_to("/etc/hostname")
    with pytest.raises(errors.BlockDeviceError, match="lies outside /dev"):
        drv.create(spec("/dev/disk/by-id/outside"))


def test_busy_device_refused(root: Path, loopdevs: LoopDevices) -> None:
    dev = loopdevs.make(16)
    name = loopdevs.name(root, dev, "gnt-busy")
    holder = os.open(dev, os.O_RDONLY | os.O_EXCL)  # e.g. a file system or device stack
    try:
        assert "exclusively" in str(blockdev.in_use(blockdev.resolve(name)))
        with pytest.raises(errors.BlockDeviceError, match="is in use"):
            get(C.DT_BLOCK).create(spec(name))
    finally:
        os.close(holder)
    assert blockdev.in_use(blockdev.resolve(name)) is None
    get(C.DT_BLOCK).create(spec(name))


def test_mounted_device_refused(root: Path, loopdevs: LoopDevices, tmp_path: Path) -> None:
    import shutil
    import subprocess

    mkfs = shutil.which("mkfs.ext4") or shutil.which("mkfs.ext2")
    if mkfs is None:
        pytest.skip("no mkfs")
    dev = loopdevs.make(16)
    if subprocess.run([mkfs, "-q", "-F", dev], capture_output=True, check=False).returncode:
        pytest.skip("mkfs failed")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", dev, str(mnt)], capture_output=True, check=False).returncode:
        pytest.skip("cannot mount here")
    try:
        name = loopdevs.name(root, dev, "gnt-mounted")
        assert f"mounted on {mnt}" == blockdev.in_use(blockdev.resolve(name))
        with pytest.raises(errors.BlockDeviceError, match="mounted on"):
            get(C.DT_BLOCK).create(spec(name))
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_adopt_info_procedure(root: Path, loopdevs: LoopDevices) -> None:
    a, b = loopdevs.make(24), loopdevs.make(8)
    na = loopdevs.name(root, a, "gnt-a")
    alias = loopdevs.name(root, a, "gnt-a-alias")
    nb = loopdevs.name(root, b, "gnt-b")
    out = blockdev_adopt_info([alias, nb, "/dev/disk/by-id/none", "/dev/sda"], [na])
    assert out[alias]["same_as"] == na and out[alias]["size"] == 24
    assert out[nb] == {"path": b, "size": 8, "error": None, "in_use": None, "same_as": None}
    assert "Missing block device" in out["/dev/disk/by-id/none"]["error"]
    assert "lie outside /dev/disk/" in out["/dev/sda"]["error"]


def test_kvm_gets_the_real_device(root: Path, loopdevs: LoopDevices) -> None:
    dev = loopdevs.make(16)
    name = loopdevs.name(root, dev, "gnt-kvm")
    s = InstanceSpec(name="i1", uuid="abcdef12-3456-7890-abcd-ef1234567890", hypervisor="kvm",
                     hvparams={"kvm_path": "/usr/bin/qemu-system-x86_64"},
                     beparams={"maxmem": 128, "vcpus": 1})
    s = assemble_disks(s, [spec(name).model_dump(mode="json")])
    ctx = cmdline.LaunchContext(accel="tcg", pidfile="/p", qmp="/q", monitor="/m",
                                serial="/s")
    argv = cmdline.build(s, ctx)
    drives = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-drive"]
    assert drives and drives[0].startswith(f"file={dev},format=raw,")
