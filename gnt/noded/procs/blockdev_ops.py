"""Node procedures that change existing block devices: grow, and rename the
directory of a file-based instance's disks.

* ``blockdev_find(spec)``: the device (BlockDevInfo: ``path``, ``size`` MiB) if
  it exists on this node, else None;
* ``blockdev_grow(spec, amount, dryrun)``: grow the device by ``amount``
  MiB (with ``dryrun`` only check that it exists and can be grown); returns
  the size found afterwards (MiB);
* ``file_storage_dir_rename(old, new)``: rename a file storage directory
  (cluster paths, both below an allowed file storage dir), as Ganeti's: fine
  when ``old`` is already gone and ``new`` exists, refused when both exist.
"""

from __future__ import annotations

import os
from typing import Any

from gnt import errors, paths
from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec
from gnt.storage.file import check_path_acceptance
from gnt.utils.io import fsync_dir


@procedure("blockdev_find")
def blockdev_find(spec: dict[str, Any]) -> dict[str, Any] | None:
    b = BlockDevSpec.model_validate(spec)
    found = get_bdev(b.dev_type).find(b)
    return None if found is None else found.model_dump(mode="json")


@procedure("blockdev_grow")
def blockdev_grow(spec: dict[str, Any], amount: int, dryrun: bool) -> int:
    b = BlockDevSpec.model_validate(spec)
    amount = int(amount)
    if amount < 0:
        raise errors.BlockDeviceError(
            f"Cannot grow disk {b.iv_name or b.uuid} by a negative amount ({amount} MiB)",
            errors.ECODE_INVAL)
    drv = get_bdev(b.dev_type)
    found = drv.find(b)
    if found is None:
        raise errors.BlockDeviceError(
            f"Disk {b.iv_name or b.uuid} does not exist on this node", errors.ECODE_STATE)
    if dryrun:
        return found.size
    drv.grow(b, amount)
    after = drv.find(b)
    return after.size if after is not None else found.size + amount


@procedure("file_storage_dir_rename")
def file_storage_dir_rename(old: str, new: str) -> None:
    for p in (old, new):
        check_path_acceptance(p)
    local_old = paths.get().under_root(old)
    local_new = paths.get().under_root(new)
    if local_new.exists():
        if local_old.exists():
            raise errors.BlockDeviceError(
                f"Cannot rename '{old}' to '{new}': both locations exist",
                errors.ECODE_EXISTS)
        return
    if not local_old.is_dir():
        raise errors.BlockDeviceError(f"Specified storage dir '{old}' is not a directory",
                                      errors.ECODE_STATE)
    try:
        os.rename(local_old, local_new)
        fsync_dir(local_new.parent)
    except OSError as err:
        raise errors.BlockDeviceError(
            f"Cannot rename '{old}' to '{new}': {err.strerror}") from err
