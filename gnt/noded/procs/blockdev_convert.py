"""Node procedures for disk template conversion and detached disks.

* ``blockdev_convert(src, dst)``: copy the data of block device ``src`` onto
  ``dst`` (both exist on this node; any templates), as Ganeti's
  ``blockdev_convert``: both are assembled, ``min(src, dst)`` MiB are copied
  in 1 MiB chunks (zero chunks are skipped when ``dst`` is a regular file,
  so file disks stay sparse), ``dst`` is flushed to stable storage, then both
  are shut down again.  Returns the MiB copied.
* ``blockdev_rename(spec, logical_id)``: give a file-based disk a new
  ``logical_id`` (``[file_driver, path]``): the file moves to the new path
  (directories created, the old directory removed when left empty);
  Ganeti moves the file of a detached disk out of its instance's directory
  and back into one on attach.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from gnt import constants as C
from gnt import errors, paths
from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec
from gnt.storage.file import check_path_acceptance, load_allowed_paths
from gnt.utils.io import fsync_dir

MIB = 1024 * 1024


def _copy(src: str, dst: str, mib: int) -> None:
    sparse = os.path.isfile(dst)
    zero = bytes(MIB)
    with open(src, "rb", buffering=0) as fin, open(dst, "r+b", buffering=0) as fout:
        for i in range(mib):
            chunk = fin.read(MIB)
            if not chunk:
                break
            if sparse and chunk == zero[:len(chunk)]:
                continue
            fout.seek(i * MIB)
            fout.write(chunk)
        os.fsync(fout.fileno())


@procedure("blockdev_convert")
def blockdev_convert(src: dict[str, Any], dst: dict[str, Any]) -> int:
    s, d = BlockDevSpec.model_validate(src), BlockDevSpec.model_validate(dst)
    sdrv, ddrv = get_bdev(s.dev_type), get_bdev(d.dev_type)
    sinfo = sdrv.assemble(s)
    try:
        dinfo = ddrv.assemble(d)
        try:
            if not sinfo.path or not dinfo.path:
                raise errors.BlockDeviceError(
                    f"Cannot copy disk {s.iv_name or s.uuid}: no local device path "
                    f"(source {sinfo.path!r}, target {dinfo.path!r})", errors.ECODE_ENVIRON)
            mib = min(s.size, d.size)
            try:
                _copy(sinfo.path, dinfo.path, mib)
            except OSError as err:
                raise errors.BlockDeviceError(
                    f"Cannot copy {sinfo.path} to {dinfo.path}: {err.strerror}") from err
            return mib
        finally:
            ddrv.shutdown(d)
    finally:
        sdrv.shutdown(s)


@procedure("blockdev_rename")
def blockdev_rename(spec: dict[str, Any], logical_id: list[Any]) -> None:
    b = BlockDevSpec.model_validate(spec)
    if b.dev_type not in C.DTS_FILEBASED:
        raise errors.BlockDeviceError(
            f"Disk {b.uuid}: renaming is only supported for file-based disks, not "
            f"{b.dev_type}", errors.ECODE_INVAL)
    if len(logical_id) != 2 or not isinstance(logical_id[1], str):
        raise errors.BlockDeviceError(f"Invalid logical_id {logical_id!r}: want "
                                      "[file_driver, path]", errors.ECODE_INVAL)
    old_path, new_path = os.path.normpath(str(b.logical_id[1])), os.path.normpath(logical_id[1])
    for p in (old_path, new_path):
        check_path_acceptance(p)
    if old_path == new_path:
        return
    root = paths.get()
    old, new = root.under_root(old_path), root.under_root(new_path)
    if new.exists():
        raise errors.BlockDeviceError(f"Cannot rename disk {b.uuid} to '{new_path}': it "
                                      "exists already", errors.ECODE_EXISTS)
    try:
        new.parent.mkdir(parents=True, exist_ok=True)
        os.rename(old, new)
        fsync_dir(new.parent)
        fsync_dir(old.parent)
    except OSError as err:
        raise errors.BlockDeviceError(
            f"Cannot rename disk {b.uuid} from '{old_path}' to '{new_path}': "
            f"{err.strerror}") from err
    if os.path.dirname(old_path) in {os.path.normpath(a) for a in load_allowed_paths()}:
        return  # never remove an allowed file storage directory itself
    try:
        old.parent.rmdir()
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.EBUSY):
            raise errors.BlockDeviceError(
                f"Cannot remove directory {old.parent}: {err.strerror}") from err
