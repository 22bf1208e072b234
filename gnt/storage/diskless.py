"""The ``diskless`` disk template: instances without disks.

A diskless instance has no disk objects, so nothing should ever reach this
driver with a disk; creating or assembling one is refused, releasing or
removing one is a no-op.
"""

from __future__ import annotations

from gnt import constants as C
from gnt import errors
from gnt.storage.base import BlockDev, BlockDevInfo, BlockDevSpec


class Diskless(BlockDev):
    """The template without disks."""

    dev_type = C.DT_DISKLESS

    def _refuse(self, spec: BlockDevSpec, what: str) -> errors.BlockDeviceError:
        return errors.BlockDeviceError(
            f"Cannot {what} disk {spec.uuid}: the diskless template has no disks",
            errors.ECODE_INVAL)

    def create(self, spec: BlockDevSpec, excl_stor: bool = False) -> BlockDevInfo:
        """Always raises BlockDeviceError."""
        raise self._refuse(spec, "create")

    def remove(self, spec: BlockDevSpec) -> None:
        """Nothing to remove."""

    def assemble(self, spec: BlockDevSpec) -> BlockDevInfo:
        """Always raises BlockDeviceError."""
        raise self._refuse(spec, "assemble")

    def shutdown(self, spec: BlockDevSpec) -> None:
        """Nothing to release."""

    def grow(self, spec: BlockDevSpec, amount: int) -> None:
        """Always raises BlockDeviceError."""
        raise self._refuse(spec, "grow")

    def find(self, spec: BlockDevSpec) -> BlockDevInfo | None:
        """There is never a device."""
        return None


BLOCKDEV_CLASS = Diskless
