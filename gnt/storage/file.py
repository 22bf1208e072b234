"""The ``file`` disk template: one sparse file per disk on the node.

``logical_id`` is ``[file_driver, path]`` (Ganeti's shape): ``file_driver``
is one of ``loop``/``blktap``/``blktap2`` and ``path`` the cluster path of
the disk file, e.g. ``/srv/ganeti/file-storage/<instance>/<uuid>.file.disk0``.
On the node the file lives at that path under the node's root
(``paths.get().under_root(path)``).

As in Ganeti, a path is only used when it lies below one of the directories
listed in the node's ``/etc/ganeti/file-storage-paths`` (one per line, ``#``
comments) and not below a system directory (``/bin``, ``/etc``, ``/usr/lib``,
...).  Paths in that file are cluster paths too.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from gnt import constants as C
from gnt import errors, paths
from gnt.storage.base import BlockDev, BlockDevInfo, BlockDevSpec
from gnt.utils.io import atomic_write

MIB = 1024 * 1024


def _forbidden_prefixes() -> frozenset[str]:
    base = {"/boot", "/dev", "/etc", "/home", "/proc", "/root", "/sys"}
    for prefix in ("", "/usr", "/usr/local"):
        base.update(f"{prefix}/{d}" for d in ("bin", "lib", "lib32", "lib64", "sbin"))
    return frozenset(base)


# System directories file storage may never use (Ganeti's list).
FORBIDDEN_PREFIXES = _forbidden_prefixes()


def _is_below(root: str, path: str) -> bool:
    """True when the absolute ``path`` lies strictly below ``root``."""
    root, path = os.path.normpath(root), os.path.normpath(path)
    if path == "/":
        return False
    prefix = root if root.endswith("/") else root + "/"
    return path.startswith(prefix)


def load_allowed_paths() -> list[str]:
    """The directories listed in the node's file-storage-paths file (empty if missing)."""
    try:
        text = paths.get().file_storage_paths_file.read_text()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def wrong_paths(candidates: Iterable[str]) -> list[str]:
    """The (normalised) paths that are relative or use a forbidden prefix, sorted."""
    bad = set()
    for p in map(os.path.normpath, candidates):
        if (not os.path.isabs(p) or p in FORBIDDEN_PREFIXES
                or any(_is_below(f, p) for f in FORBIDDEN_PREFIXES)):
            bad.add(p)
    return sorted(bad)


def check_path_acceptance(path: str, exact_match_ok: bool = False,
                          allowed: list[str] | None = None) -> None:
    """Refuse a cluster path not usable for file storage.

    ``path`` must be absolute, use no forbidden prefix and lie below one of
    the ``allowed`` directories (default: the file-storage-paths file),
    or equal one when ``exact_match_ok``.  Raises
    :class:`errors.BlockDeviceError` (``wrong_input``) saying why and what
    is allowed.
    """
    if not os.path.isabs(path):
        raise errors.BlockDeviceError(f"File storage path must be absolute, got '{path}'",
                                      errors.ECODE_INVAL)
    if allowed is None:
        allowed = load_allowed_paths()
    if not allowed:
        raise errors.BlockDeviceError(
            f"No file storage paths are allowed on this node: "
            f"{paths.get().file_storage_paths_file} is missing or empty (list the allowed "
            f"directories there, one per line)", errors.ECODE_ENVIRON)
    if wrong_paths([path]):
        raise errors.BlockDeviceError(f"Path '{path}' uses a forbidden prefix",
                                      errors.ECODE_INVAL)
    norm = os.path.normpath(path)
    for a in allowed:
        if not os.path.isabs(a):
            continue  # Ganeti ignores relative entries
        if _is_below(a, norm) or (exact_match_ok and os.path.normpath(a) == norm):
            return
    raise errors.BlockDeviceError(
        f"Path '{path}' is not acceptable for file storage; allowed directories: "
        f"{', '.join(allowed)}", errors.ECODE_INVAL)


def check_storage_dir(path: str) -> str | None:
    """Ganeti's file storage dir check: None when ``path`` (a cluster path) is an
    allowed, existing, writable directory on this node, else the problem."""
    try:
        check_path_acceptance(path, exact_match_ok=True)
    except errors.BlockDeviceError as err:
        return str(err)
    local = paths.get().under_root(path)
    if not local.is_dir():
        return f"Path '{path}' is not existing or not a directory."
    if not os.access(local, os.W_OK):
        return f"Path '{path}' is not writable"
    return None


def space_info(path: str) -> dict[str, int]:
    """Size and free space (MiB) of the file system holding the cluster path ``path``.

    Returns ``{"storage_size": MiB, "storage_free": MiB}``; raises
    BlockDeviceError when the path does not exist.
    """
    try:
        st = os.statvfs(paths.get().under_root(path))
    except OSError as err:
        raise errors.BlockDeviceError(f"Cannot get file system information about "
                                      f"'{path}': {err.strerror}") from err
    return {"storage_size": st.f_frsize * st.f_blocks // MIB,
            "storage_free": st.f_frsize * st.f_bavail // MIB}


class FileStorage(BlockDev):
    """Disks as sparse files (``size`` MiB) below the allowed file storage dirs."""

    dev_type = C.DT_FILE

    def _cluster_path(self, spec: BlockDevSpec) -> str:
        lid = spec.logical_id
        if len(lid) != 2 or not isinstance(lid[1], str):
            raise errors.BlockDeviceError(
                f"Invalid logical_id {lid!r} for {self.dev_type} disk {spec.uuid}: "
                f"want [file_driver, path]", errors.ECODE_INVAL)
        if lid[0] not in C.FILE_DRIVERS:
            raise errors.BlockDeviceError(
                f"Invalid file driver '{lid[0]}' for disk {spec.uuid}; allowed: "
                f"{', '.join(C.FILE_DRIVERS)}", errors.ECODE_INVAL)
        path = os.path.normpath(lid[1])
        check_path_acceptance(path)
        return path

    def local_path(self, spec: BlockDevSpec) -> Path:
        """Where the disk's file is on this node (checks the path is allowed)."""
        return paths.get().under_root(self._cluster_path(spec))

    @staticmethod
    def _size_mib(local: Path) -> int | None:
        try:
            st = local.stat()
        except FileNotFoundError:
            return None
        if not os.path.isfile(local):
            raise errors.BlockDeviceError(f"'{local}' exists but is not a regular file")
        return st.st_size // MIB

    def create(self, spec: BlockDevSpec, excl_stor: bool = False) -> BlockDevInfo:
        """Create the sparse file with ``spec.size`` MiB (and its directory).

        Raises BlockDeviceError (``already_exists``) when the file exists, or
        for a bad size, a path outside the allowed dirs or an OS error.
        """
        if spec.size <= 0 or spec.size > C.MAX_DISK_SIZE_MIB:
            raise errors.BlockDeviceError(
                f"Invalid size {spec.size} MiB for disk {spec.uuid}; allowed 1 to "
                f"{C.MAX_DISK_SIZE_MIB} MiB", errors.ECODE_INVAL)
        local = self.local_path(spec)
        try:
            local.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise errors.BlockDeviceError(f"File already existing: {local}",
                                          errors.ECODE_EXISTS) from None
        except OSError as err:
            raise errors.BlockDeviceError(f"Cannot create file {local}: {err.strerror}") from err
        try:
            os.ftruncate(fd, spec.size * MIB)
        except OSError as err:
            os.close(fd)
            local.unlink(missing_ok=True)
            raise errors.BlockDeviceError(
                f"Cannot size file {local} to {spec.size} MiB: {err.strerror}") from err
        os.close(fd)
        return BlockDevInfo(path=str(local), size=spec.size)

    def remove(self, spec: BlockDevSpec) -> None:
        """Delete the file (missing is fine), then its directory if empty.

        The directory is only removed when it lies below an allowed file
        storage dir (never an allowed dir itself).
        """
        cluster_path = self._cluster_path(spec)
        local = paths.get().under_root(cluster_path)
        try:
            local.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            raise errors.BlockDeviceError(f"Cannot remove file {local}: {err.strerror}") from err
        parent = os.path.dirname(cluster_path)
        if any(_is_below(a, parent) for a in load_allowed_paths() if os.path.isabs(a)):
            try:
                local.parent.rmdir()
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    raise errors.BlockDeviceError(
                        f"Cannot remove directory {local.parent}: {err.strerror}") from err

    def assemble(self, spec: BlockDevSpec) -> BlockDevInfo:
        """Check the file exists with at least ``spec.size`` MiB; return its local path.

        Raises BlockDeviceError when it is missing or smaller.
        """
        local = self.local_path(spec)
        size = self._size_mib(local)
        if size is None:
            raise errors.BlockDeviceError(f"File device '{local}' does not exist",
                                          errors.ECODE_STATE)
        if size < spec.size:
            raise errors.BlockDeviceError(
                f"File device '{local}' has {size} MiB, less than the {spec.size} MiB "
                f"configured", errors.ECODE_STATE)
        return BlockDevInfo(path=str(local), size=size)

    def shutdown(self, spec: BlockDevSpec) -> None:
        """Nothing to release for a plain file."""

    def grow(self, spec: BlockDevSpec, amount: int) -> None:
        """Extend the file by ``amount`` MiB (sparse).

        Raises BlockDeviceError for a negative amount (shrinking is refused)
        or a missing file.
        """
        if amount < 0:
            raise errors.BlockDeviceError(
                f"Cannot shrink disk {spec.uuid} (grow by {amount} MiB); only growing is "
                f"supported", errors.ECODE_INVAL)
        local = self.local_path(spec)
        size = self._size_mib(local)
        if size is None:
            raise errors.BlockDeviceError(f"File device '{local}' does not exist",
                                          errors.ECODE_STATE)
        if amount == 0:
            return
        try:
            os.truncate(local, local.stat().st_size + amount * MIB)
        except OSError as err:
            raise errors.BlockDeviceError(f"Cannot grow {local}: {err.strerror}") from err

    def find(self, spec: BlockDevSpec) -> BlockDevInfo | None:
        """The file's local path and size (MiB) if it exists, else None."""
        local = self.local_path(spec)
        size = self._size_mib(local)
        return None if size is None else BlockDevInfo(path=str(local), size=size)


BLOCKDEV_CLASS = FileStorage


def allow_file_storage_paths(dirs: list[str]) -> None:
    """Make sure ``dirs`` are listed in ``file-storage-paths`` (Ganeti's allowlist)."""
    p = paths.get().file_storage_paths_file
    try:
        lines = p.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    missing = [d for d in dirs if d not in {ln.strip() for ln in lines}]
    if missing:
        atomic_write(p, "\n".join(lines + missing) + "\n")
