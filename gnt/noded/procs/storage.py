"""Node procedures for storage units: space, listing (``gnt-node list-storage``)
and the volumes on the node (``gnt-node volumes``).

A storage unit is ``[type, name]``: for ``file``/``sharedfile`` the name is
the storage directory as a cluster path (mapped under this node's root).
Sizes are MiB, rounded up, as Ganeti: a file unit's ``size``/``free`` are
its filesystem's, ``used`` is the apparent size of the files below the
directory (so size may differ from used + free).  Only directories allowed
by the node's file-storage-paths file are read.
"""

from __future__ import annotations

import logging
import math
import os
import stat
from pathlib import Path
from typing import Any

from gnt import constants as C
from gnt import errors, paths
from gnt.noded.registry import procedure
from gnt.storage.file import check_path_acceptance

log = logging.getLogger(__name__)

MIB = 1024 * 1024
FILE_TYPES = (C.ST_FILE, C.ST_SHARED_FILE)


def to_mib(nbytes: int) -> int:
    """Bytes -> MiB, rounded up (Ganeti's ``BytesToMebibyte``)."""
    return math.ceil(nbytes / MIB)


def _local_dir(directory: str) -> Path:
    """The node-local path of storage directory ``directory`` (a cluster path);
    raises BlockDeviceError when the directory is not allowed for file storage."""
    check_path_acceptance(directory, exact_match_ok=True)
    return paths.get().under_root(directory)


def filesystem_space(local: Path) -> tuple[int, int]:
    """``(total, free)`` MiB of the filesystem holding ``local`` (or its nearest
    existing parent, for a directory not created yet)."""
    probe = local
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = os.statvfs(probe)
    return to_mib(st.f_blocks * st.f_frsize), to_mib(st.f_bavail * st.f_frsize)


def _walk_files(local: Path) -> list[tuple[Path, os.stat_result]]:
    """Regular files below ``local`` (symlinks not followed), sorted by path."""
    out: list[tuple[Path, os.stat_result]] = []
    if not local.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(local, followlinks=False):
        dirnames.sort()
        for fname in sorted(filenames):
            p = Path(dirpath, fname)
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue  # removed while we looked
            if stat.S_ISREG(st.st_mode):
                out.append((p, st))
    return out


def directory_used(local: Path) -> int:
    """Apparent size (MiB, rounded up) of every file below ``local``."""
    return to_mib(sum(st.st_size for _, st in _walk_files(local)))


def _file_unit_space(directory: str) -> dict[str, Any]:
    total, free = filesystem_space(_local_dir(directory))
    return {"storage_size": total, "storage_free": free}


@procedure("storage_space")
def storage_space(units: list[list[str]]) -> list[dict[str, Any]]:
    """Space of each storage unit ``[type, name]``: ``{"type", "name",
    "storage_size", "storage_free"}`` in MiB; both None when this node cannot
    tell (type not reportable here, directory not allowed, I/O error)."""
    out = []
    for stype, name in units:
        entry: dict[str, Any] = {"type": stype, "name": name, "storage_size": None,
                                 "storage_free": None}
        if stype in FILE_TYPES:
            try:
                entry.update(_file_unit_space(name))
            except (errors.GntError, OSError) as err:
                log.warning("Cannot get the space of %s storage %s: %s", stype, name, err)
        out.append(entry)
    return out


def _file_unit_row(directory: str, fields: list[str]) -> list[Any]:
    local = _local_dir(directory)
    total, free = filesystem_space(local)
    values: dict[str, Any] = {C.SF_NAME: directory, C.SF_SIZE: total, C.SF_FREE: free,
              C.SF_ALLOCATABLE: True}
    row: list[Any] = []
    for f in fields:
        if f == C.SF_USED:
            row.append(directory_used(local))
        elif f in values:
            row.append(values[f])
        else:
            raise errors.ParameterError(
                f"Unknown storage field '{f}'; allowed: name, size, used, free, allocatable",
                errors.ECODE_INVAL)
    return row


@procedure("storage_list")
def storage_list(storage_type: str, units: list[str], name: str | None,
                 fields: list[str]) -> list[list[Any]]:
    """Rows of ``fields`` (name, size, used, free, allocatable) for the units
    ``units`` of ``storage_type`` (for ``file``/``sharedfile``: storage
    directories), only the one called ``name`` if given.

    Raises ParameterError for a type this node cannot list and
    BlockDeviceError for a directory not allowed for file storage.
    """
    if storage_type not in FILE_TYPES:
        raise errors.ParameterError(
            f"Listing storage of type '{storage_type}' is not supported on this node; "
            f"supported: {', '.join(FILE_TYPES)}", errors.ECODE_INVAL)
    wanted = [u for u in units if name is None or u == name]
    return [_file_unit_row(u, fields) for u in wanted]


@procedure("node_volumes")
def node_volumes(directories: list[str]) -> list[dict[str, Any]]:
    """The disk files below the file storage ``directories`` (cluster paths):
    ``{"dev": path, "vg": directory, "name": path inside it, "size": MiB}``,
    sorted by path.  A directory not created yet holds no volumes."""
    out = []
    for directory in map(os.path.normpath, directories):
        local = _local_dir(directory)
        for p, st in _walk_files(local):
            rel = p.relative_to(local).as_posix()
            out.append({"dev": os.path.join(directory, rel), "vg": directory,
                        "name": rel, "size": to_mib(st.st_size)})
    return sorted(out, key=lambda v: v["dev"])
