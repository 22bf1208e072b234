"""The ``blockdev`` disk template: adopted, pre-existing block devices.

As in Ganeti (``DT_BLOCK``), gnt never creates or destroys these devices:
the administrator hands an existing device to an instance with
``gnt-instance add -t blockdev --disk 0:adopt=/dev/disk/by-id/...``, its
size is the device's, and removing the instance only forgets it.

``logical_id`` is ``["manual", path]`` (Ganeti's shape): ``path`` is the
device's persistent name, a cluster path that must lie below
``/dev/disk/`` (:data:`gnt.constants.ADOPTABLE_BLOCKDEV_ROOT`, the names
udev keeps stable across reboots).  On a node the name is looked up under
the node's root (``paths.get().under_root(path)``: the same path when
``GNT_ROOT`` is ``/``) and may be a symlink; what it resolves to must be a
block device below ``/dev/`` (of the host or of the node's root).

A device is *in use* when it is mounted, held by another kernel device
(device mapper, md, a partition claimed by a file system...), or opened
exclusively by anyone (``open(O_EXCL)`` fails with EBUSY): such a device
is refused for adoption.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gnt import constants as C
from gnt import errors, paths
from gnt.storage.base import BlockDev, BlockDevInfo, BlockDevSpec

MIB = 1024 * 1024
MOUNTINFO = "/proc/self/mountinfo"
SYS_BLOCK = "/sys/dev/block"


@dataclass(frozen=True)
class DeviceInfo:
    """A resolved block device: ``path`` (real device node), ``rdev``
    (``major:minor``) and ``size`` (MiB, rounded down as Ganeti)."""

    path: str
    rdev: str
    size: int


def adoptable_name(path: str) -> str:
    """``path`` normalised, checked to lie below ``/dev/disk/``.

    Raises :class:`errors.BlockDeviceError` (``wrong_input``) for a relative
    path or one outside the adoptable root, with Ganeti's wording.
    """
    if not isinstance(path, str) or not os.path.isabs(path):
        raise errors.BlockDeviceError(
            f"Block device path must be absolute, got {path!r}", errors.ECODE_INVAL)
    norm = os.path.normpath(path)
    if not norm.startswith(C.ADOPTABLE_BLOCKDEV_ROOT):
        raise errors.BlockDeviceError(
            f"Device node(s) {norm} lie outside {C.ADOPTABLE_BLOCKDEV_ROOT} and cannot be"
            " adopted", errors.ECODE_INVAL)
    return norm


def _below(root: str, path: str) -> bool:
    root = root.rstrip("/") + "/"
    return path.startswith(root)


def resolve(path: str) -> DeviceInfo:
    """The block device that the cluster path ``path`` names on this node.

    Raises :class:`errors.BlockDeviceError`: ``wrong_input`` for a name
    outside ``/dev/disk/``; ``wrong_state`` when it is missing, does not
    resolve below ``/dev/`` or is not a block device.
    """
    name = adoptable_name(path)
    local = paths.get().under_root(name)
    real = os.path.realpath(local)
    dev_roots = ("/dev", str(paths.get().under_root("/dev")))
    if not any(_below(r, real) for r in dev_roots):
        raise errors.BlockDeviceError(
            f"Full path '{real}' of block device {name} lies outside /dev",
            errors.ECODE_STATE)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise errors.BlockDeviceError(f"Missing block device(s): {name}",
                                      errors.ECODE_STATE) from None
    except OSError as err:
        raise errors.BlockDeviceError(f"Cannot stat block device {name}: {err.strerror}",
                                      errors.ECODE_STATE) from err
    if not stat.S_ISBLK(st.st_mode):
        raise errors.BlockDeviceError(f"{name} ({real}) is not a block device",
                                      errors.ECODE_STATE)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise errors.BlockDeviceError(f"Cannot open block device {name}: {err.strerror}",
                                      errors.ECODE_STATE) from err
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
    rdev = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    return DeviceInfo(path=real, rdev=rdev, size=size // MIB)


def _mount_points(rdev: str, mountinfo: str = MOUNTINFO) -> list[str]:
    """Where the device ``major:minor`` is mounted (from mountinfo)."""
    out = []
    try:
        with open(mountinfo) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[2] == rdev:
                    out.append(fields[4].replace("\\040", " "))
    except OSError:
        pass
    return out


def _holders(rdev: str) -> list[str]:
    """Kernel devices stacked on ``major:minor`` (device mapper, md, ...)."""
    try:
        return sorted(os.listdir(os.path.join(SYS_BLOCK, rdev, "holders")))
    except OSError:
        return []


def in_use(dev: DeviceInfo) -> str | None:
    """Why ``dev`` is in use on this node (mounted, held, opened exclusively), or None."""
    mounts = _mount_points(dev.rdev)
    if mounts:
        return f"mounted on {', '.join(mounts)}"
    holders = _holders(dev.rdev)
    if holders:
        return f"held by {', '.join(holders)}"
    try:
        fd = os.open(dev.path, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.EBUSY:
            return ("opened exclusively by another user (a file system, swap, a partition"
                    " in use or a device stack)")
        return f"cannot be opened: {err.strerror}"
    os.close(fd)
    return None


class BlockDevStorage(BlockDev):
    """Adopted block devices: never created, resized or destroyed by gnt."""

    dev_type = C.DT_BLOCK

    def _name(self, spec: BlockDevSpec) -> str:
        lid = spec.logical_id
        if len(lid) != 2 or lid[0] != C.BLOCKDEV_DRIVER_MANUAL or not isinstance(lid[1], str):
            raise errors.BlockDeviceError(
                f"Invalid logical_id {lid!r} for {self.dev_type} disk {spec.uuid}: want"
                f" ['{C.BLOCKDEV_DRIVER_MANUAL}', path]", errors.ECODE_INVAL)
        return adoptable_name(lid[1])

    def create(self, spec: BlockDevSpec, excl_stor: bool = False) -> BlockDevInfo:
        """Adopt the device: check it exists, is a block device and is not in use.

        Nothing is written to it.  Raises BlockDeviceError (``wrong_state``)
        otherwise; exclusive storage is refused (``wrong_input``), as Ganeti.
        """
        if excl_stor:
            raise errors.BlockDeviceError(
                "Persistent block device requested with exclusive_storage",
                errors.ECODE_INVAL)
        name = self._name(spec)
        dev = resolve(name)
        why = in_use(dev)
        if why:
            raise errors.BlockDeviceError(f"Block device {name} ({dev.path}) is in use: {why}",
                                          errors.ECODE_STATE)
        return BlockDevInfo(path=dev.path, size=dev.size)

    def remove(self, spec: BlockDevSpec) -> None:
        """Release the device: gnt forgets it, the device and its data stay."""

    def assemble(self, spec: BlockDevSpec) -> BlockDevInfo:
        """The real device node behind the name (what the hypervisor opens).

        Raises BlockDeviceError when it is missing, not a block device, or
        smaller than the configured ``spec.size`` MiB.
        """
        name = self._name(spec)
        dev = resolve(name)
        if dev.size < spec.size:
            raise errors.BlockDeviceError(
                f"Block device {name} has {dev.size} MiB, less than the {spec.size} MiB"
                " configured", errors.ECODE_STATE)
        return BlockDevInfo(path=dev.path, size=dev.size)

    def shutdown(self, spec: BlockDevSpec) -> None:
        """Nothing to release."""

    def grow(self, spec: BlockDevSpec, amount: int) -> None:
        """Always raises BlockDeviceError: adopted devices are not resized by gnt."""
        raise errors.BlockDeviceError("Grow is not supported for blockdev storage",
                                      errors.ECODE_INVAL)

    def find(self, spec: BlockDevSpec) -> BlockDevInfo | None:
        """The device if its name resolves to a block device here, else None."""
        try:
            dev = resolve(self._name(spec))
        except errors.BlockDeviceError as err:
            if err.ecode == errors.ECODE_INVAL:
                raise
            return None
        return BlockDevInfo(path=dev.path, size=dev.size)


BLOCKDEV_CLASS = BlockDevStorage


def local_name(path: str) -> Path:
    """Where the cluster device name ``path`` lives on this node (under its root)."""
    return paths.get().under_root(adoptable_name(path))
