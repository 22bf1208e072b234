"""Crash-safe file writing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename inside it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644,
                 fsync: bool = True, fsync_parent: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically.

    Writes a temp file in the same directory, fsyncs it, renames it over
    ``path`` and fsyncs the directory: after a crash at any point the file
    holds either the old or the new content, never a mix.  With
    ``fsync_parent=False`` the directory is not fsynced: the caller does it
    once after several renames, before relying on them.  Creates the
    parent directory if needed.  Raises OSError on failure (the old file is
    left untouched).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if fsync and fsync_parent:
        fsync_dir(p.parent)
