"""Unix socket addresses longer than the kernel's limit (108 bytes).

Test roots and ``GNT_ROOT`` prefixes can make socket paths too long for
``sockaddr_un``.  On Linux a path through ``/proc/self/fd/<dirfd>/`` reaches
the same directory with a short name, for both ``bind`` and ``connect``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

#: Longest path (bytes) that fits ``sockaddr_un.sun_path`` with its NUL.
MAX_UNIX_PATH = 107


@contextlib.contextmanager
def unix_address(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield an address for ``path`` usable with ``bind``/``connect``.

    Short paths are yielded unchanged; long ones go through an ``O_PATH``
    descriptor on the parent directory, kept open while the context lasts.
    Raises ``OSError`` (e.g. ``FileNotFoundError``) if the parent directory
    of a long path does not exist.
    """
    p = os.fspath(path)
    if len(os.fsencode(p)) <= MAX_UNIX_PATH:
        yield p
        return
    parent, name = os.path.split(os.path.abspath(p))
    fd = os.open(parent or "/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        short = f"/proc/self/fd/{fd}/{name}"
        if len(os.fsencode(short)) > MAX_UNIX_PATH:
            raise OSError(f"socket name {name!r} is too long")
        yield short
    finally:
        os.close(fd)


def same_file(path: Path, ino_dev: tuple[int, int] | None) -> bool:
    """True if ``path`` is still the inode ``(st_ino, st_dev)``."""
    if ino_dev is None:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_ino, st.st_dev) == ino_dev
