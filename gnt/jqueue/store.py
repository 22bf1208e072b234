"""The job queue's files, in Ganeti's layout.

Under ``queue_dir`` (``/var/lib/ganeti/queue``)::

    job-<id>                       a live job (JSON, see gnt.jqueue.model)
    archive/<id // 10000>/job-<id> an archived job
    serial                         the last job id handed out
    version                        queue format version ("1")
    drain                          present while the queue is drained
    lock                           flock'ed by the process owning the queue

Every write is atomic (temp file, fsync, rename, fsync dir); archiving is a
rename plus directory fsyncs.  Temp files left by a crash are removed when
the queue is opened.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from gnt import errors
from gnt import paths as gnt_paths
from gnt.jqueue.model import JobFileCorrupt
from gnt.utils.io import atomic_write, fsync_dir

log = logging.getLogger(__name__)

QUEUE_VERSION = 1
JOBS_PER_ARCHIVE_DIR = 10000
JOB_FILE_MODE = 0o640
_JOB_FILE_RE = re.compile(r"^job-(\d+)$")
_TEMP_FILE_RE = re.compile(r"^\..+\.tmp$")


class JobStore:
    """Reads and writes the queue directory.  Not thread-safe on its own:
    the queue serialises writes per job and id allocation."""

    def __init__(self, queue_dir: Path, archive_dir: Path | None = None) -> None:
        self.queue_dir = Path(queue_dir)
        self.archive_dir = Path(archive_dir) if archive_dir else self.queue_dir / "archive"
        self.serial_file = self.queue_dir / "serial"
        self.version_file = self.queue_dir / "version"
        self.drain_file = self.queue_dir / "drain"
        self.lock_file = self.queue_dir / "lock"
        self._lock_fd: int | None = None

    @classmethod
    def from_paths(cls, p: gnt_paths.Paths | None = None) -> JobStore:
        p = p or gnt_paths.get()
        store = cls(p.queue_dir, p.queue_archive_dir)
        store.serial_file = p.job_queue_serial_file
        store.drain_file = p.job_queue_drain_file
        return store

    # --- opening ---
    def open(self) -> None:
        """Create the directories, take the queue lock, check or write the
        version file and remove temp files left by a crash.

        Raises JobQueueError if another process holds the queue or the
        version is unknown.
        """
        self.queue_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        self.archive_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise errors.JobQueueError(
                    f"Job queue {self.queue_dir} is in use by another process") from None
            raise
        self._lock_fd = fd
        try:
            self._check_version()
            self._remove_temp_files()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the queue lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _check_version(self) -> None:
        try:
            raw = self.version_file.read_text().strip()
        except FileNotFoundError:
            atomic_write(self.version_file, f"{QUEUE_VERSION}\n", mode=JOB_FILE_MODE)
            return
        if raw != str(QUEUE_VERSION):
            raise errors.JobQueueError(
                f"Found job queue version {raw!r} in {self.version_file},"
                f" expected {QUEUE_VERSION}")

    def _remove_temp_files(self) -> None:
        for name in os.listdir(self.queue_dir):
            if _TEMP_FILE_RE.match(name):
                log.info("Removing temporary file %s left by an interrupted write", name)
                try:
                    os.unlink(self.queue_dir / name)
                except FileNotFoundError:
                    pass

    # --- serial ---
    def read_serial(self) -> int:
        """The last job id handed out (0 for a new queue or an unreadable file)."""
        try:
            raw = self.serial_file.read_text().strip()
        except FileNotFoundError:
            return 0
        try:
            value = int(raw)
        except ValueError:
            log.error("Job queue serial file %s is unreadable (%r); recomputing from"
                      " the job files", self.serial_file, raw)
            return 0
        return max(value, 0)

    def write_serial(self, last_id: int) -> None:
        atomic_write(self.serial_file, f"{last_id}\n", mode=JOB_FILE_MODE)

    # --- job files ---
    def live_path(self, job_id: int) -> Path:
        return self.queue_dir / f"job-{job_id}"

    def archive_path(self, job_id: int) -> Path:
        return self.archive_dir / str(job_id // JOBS_PER_ARCHIVE_DIR) / f"job-{job_id}"

    def write_job(self, job_id: int, data: dict[str, Any]) -> None:
        """Atomically replace the live file of ``job_id`` with ``data``."""
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
        atomic_write(self.live_path(job_id), text, mode=JOB_FILE_MODE)

    def live_ids(self) -> list[int]:
        """Ids of the live job files, ascending."""
        ids = []
        for name in os.listdir(self.queue_dir):
            m = _JOB_FILE_RE.match(name)
            if m:
                ids.append(int(m.group(1)))
        return sorted(ids)

    def read_live(self, job_id: int) -> dict[str, Any]:
        """The parsed live file; raises FileNotFoundError or JobFileCorrupt."""
        return _read_json(self.live_path(job_id))

    def read_archived(self, job_id: int) -> dict[str, Any] | None:
        """The parsed archived file, or None if there is none or it is corrupt."""
        path = self.archive_path(job_id)
        try:
            return _read_json(path)
        except FileNotFoundError:
            return None
        except JobFileCorrupt as err:
            log.error("Archived job file %s is corrupt: %s", path, err)
            return None

    def archived_ids(self) -> list[int]:
        """Ids of every archived job, ascending (scans the whole archive)."""
        ids: list[int] = []
        for sub in self._archive_subdirs():
            for name in os.listdir(self.archive_dir / str(sub)):
                m = _JOB_FILE_RE.match(name)
                if m:
                    ids.append(int(m.group(1)))
        return sorted(ids)

    def max_archived_id(self) -> int:
        """Highest archived job id (0 if none); reads only the newest
        non-empty archive directories."""
        for sub in reversed(self._archive_subdirs()):
            ids = [int(m.group(1)) for name in os.listdir(self.archive_dir / str(sub))
                   if (m := _JOB_FILE_RE.match(name))]
            if ids:
                return max(ids)
        return 0

    def _archive_subdirs(self) -> list[int]:
        try:
            names = os.listdir(self.archive_dir)
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names
                      if n.isdigit() and (self.archive_dir / n).is_dir())

    def archive(self, job_ids: list[int]) -> list[int]:
        """Move live job files into the archive; returns the ids moved.

        Each move is a rename, so a job file is always in exactly one place;
        the directories are fsynced once at the end.
        """
        moved: list[int] = []
        touched: set[Path] = set()
        for job_id in job_ids:
            dst = self.archive_path(job_id)
            if not dst.parent.is_dir():
                dst.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
                touched.add(self.archive_dir)
            try:
                os.rename(self.live_path(job_id), dst)
            except FileNotFoundError:
                log.warning("Job %s has no live file to archive", job_id)
                continue
            touched.add(dst.parent)
            moved.append(job_id)
        if moved:
            touched.add(self.queue_dir)
        for d in touched:
            fsync_dir(d)
        return moved

    def quarantine(self, job_id: int) -> None:
        """Move an unreadable live job file out of the way (into the archive,
        as Ganeti does) so it neither blocks the queue nor loses its id."""
        self.archive([job_id])

    # --- drain flag ---
    def is_drained(self) -> bool:
        return self.drain_file.exists()

    def set_drained(self, drained: bool) -> None:
        if drained:
            atomic_write(self.drain_file, "", mode=JOB_FILE_MODE)
        else:
            try:
                os.unlink(self.drain_file)
            except FileNotFoundError:
                return
            fsync_dir(self.drain_file.parent)


def _read_json(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise JobFileCorrupt(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise JobFileCorrupt(f"{path}: not a JSON object")
    return data
