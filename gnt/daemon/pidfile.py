"""Daemon pid files that double as "one instance only" locks.

The daemon keeps an exclusive ``flock`` on its pid file for as long as it
runs, so "is it running?" is answered by the kernel (the lock goes away
with the process, whatever kills it) rather than by trusting a pid that
may have been reused.  The pid is written in place under that lock: an
atomic rename would put a new, unlocked inode at the path and let a
second daemon start.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Self

from gnt import errors


class DaemonRunningError(errors.GntError):
    """Another live process holds the daemon's pid file."""

    default_ecode = errors.ECODE_STATE


def _try_lock(fd: int, flags: int) -> bool:
    try:
        fcntl.flock(fd, flags | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def read_pid(path: str | os.PathLike[str]) -> int | None:
    """The pid written in ``path``, or None if missing, empty or garbled."""
    try:
        text = Path(path).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        pid = int(text)
    except ValueError:
        return None
    return pid if pid > 0 else None


def is_locked(path: str | os.PathLike[str]) -> bool:
    """Whether a live process holds the lock on ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        if _try_lock(fd, fcntl.LOCK_SH):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


def holder_pid(path: str | os.PathLike[str], settle: float = 1.0) -> int | None:
    """The pid of the live daemon holding ``path``, or None if none does.

    A daemon that has just taken the lock may not have written its pid
    yet; this waits up to ``settle`` seconds for it.  Returns None if the
    lock is held but no pid appears (a daemon still starting).
    """
    deadline = time.monotonic() + settle
    while True:
        if not is_locked(path):
            return None
        pid = read_pid(path)
        if pid is not None or time.monotonic() >= deadline:
            return pid
        time.sleep(0.02)


class PidFile:
    """The pid file of a running daemon, held from :meth:`acquire` to :meth:`release`.

    Usable as a context manager.  Acquiring raises
    :class:`DaemonRunningError` when another live process holds the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float = 0.5) -> None:
        """Lock the file and write this process's pid into it.

        Retries for ``wait`` seconds (someone may be probing the lock).
        """
        if self._fd is not None:
            raise errors.ProgrammerError(f"Pid file {self.path} is already held")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            locked = False
            try:
                locked = _try_lock(fd, fcntl.LOCK_EX)
                if locked and self._same_file(fd):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            if not locked and time.monotonic() >= deadline:
                pid = read_pid(self.path)
                who = f" (pid {pid})" if pid else ""
                raise DaemonRunningError(
                    f"Another daemon{who} holds the pid file {self.path}; it is already running")
            if not locked:
                time.sleep(0.05)
            # else: the file was removed or replaced while we locked it; retry
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def _same_file(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        fst = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)

    def release(self) -> None:
        """Remove the file and drop the lock (no-op if not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._same_file(fd):
                self.path.unlink()
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
