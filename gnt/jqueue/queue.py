"""The persistent job queue: submission, scheduling, control and queries.

Module map: ``model`` (jobs and their JSON form), ``store`` (the files),
``live`` (a job in memory: working copy and published form), ``runner``
(running one job through the executor), ``scheduler`` (which job next),
``fields`` (job query fields), ``context`` (what the executor sees).

Design
------
* **One writer per job.**  Each job has a lock that serialises its changes
  and their writes; writes of different jobs proceed in parallel.  The queue
  lock only guards the job table and the scheduler and is never held during
  disk I/O, nor while taking a job lock (lock order: job lock -> queue lock).
* **Persist, then publish.**  A change is applied to the job, written
  atomically (and handed to the ``on_job_update`` replication hook), and
  only then published: queries and ``wait_for_job_change`` read the
  published JSON form, so a client never observes a state that is not on
  disk.  The published form is exactly the job file's content.
* **Crash safety.**  The serial file is written before any job file that
  uses its ids; ``notify_start`` persists ``running`` before the executor may
  change anything.  On start, queued and waiting jobs run again, running and
  canceling ones fail with "Unclean master daemon shutdown" (never
  replayed), temp files of interrupted writes are removed, and the next id
  is above every id found in the serial file, the queue and the archive.
* **Few writes.**  A trivial job costs four fsync'ed writes: the serial
  (shared by concurrent submitters), the new job, ``running`` and the final
  state.  ``waiting`` is only written when an opcode keeps waiting for its
  locks (``runner.WAITING_PUBLISH_DELAY``); until written it is not visible.
* **Scheduling.**  Up to ``max_running`` worker threads; each takes the
  ready job with the best (priority, id) and runs its opcodes in order.  A
  job whose dependencies have not finished stays queued (and cancelable)
  until they have, as in Ganeti 3.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, Self

from gnt import constants as C
from gnt import errors
from gnt.jqueue import fields as F
from gnt.jqueue import secrets
from gnt.jqueue.context import OpExecutor
from gnt.jqueue.live import LiveJob
from gnt.jqueue.model import (
    CANCELED_MSG,
    JOBS_FINALIZED,
    OP_PRIO_SUBMIT_VALID,
    OPS_FINALIZED,
    UNCLEAN_SHUTDOWN_MSG,
    JobFileCorrupt,
    QueuedJob,
    QueuedOpCode,
    job_status_of,
    log_entries,
    now_ts,
    reason_source,
    summarize_input,
)
from gnt.jqueue.runner import JobRunner, dependency_id
from gnt.jqueue.scheduler import Scheduler
from gnt.jqueue.store import JobStore
from gnt.opcodes.base import OpCode, from_dict

log = logging.getLogger(__name__)

#: Threads handing one submission's new jobs to the replication hook at once
_REPLICATE_THREADS = 32

#: ``wait_for_job_change`` result when nothing changed before the timeout
JOB_NOTCHANGED: Literal["nochange"] = "nochange"

#: ``on_job_update(job_id, job_data)``: called after each write of a job
#: with its JSON form (read-only); the master replicates it to candidates.
JobUpdateHook = Callable[[int, dict[str, Any]], None]
#: ``on_jobs_archived(job_ids)``: called after job files moved to the archive.
JobsArchivedHook = Callable[[list[int]], None]

_JOB_KEYS = frozenset({"id", "ops", "start_timestamp", "end_timestamp", "received_timestamp"})
_OP_KEYS = frozenset({"input", "status", "result", "log", "start_timestamp", "exec_timestamp",
                      "end_timestamp", "priority"})


def _is_final_own_form(data: Any, job_id: int) -> bool:
    """Whether a job file's content is a finished job ``job_id`` exactly as
    :meth:`QueuedJob.to_dict` writes it (so it may serve as the published
    form without being parsed: see :meth:`LiveJob.loaded`)."""
    if not isinstance(data, dict) or data.keys() != _JOB_KEYS or data["id"] != job_id \
            or isinstance(data["id"], bool):
        return False
    ops = data["ops"]
    if not isinstance(ops, list) or not ops or not all(
            isinstance(op, dict) and op.keys() == _OP_KEYS and isinstance(op["log"], list)
            and op["status"] in OPS_FINALIZED for op in ops):
        return False
    return job_status_of(data) in JOBS_FINALIZED


def _archived_view(data: dict[str, Any]) -> F.JobView:
    return F.JobView(data, job_status_of(data), True,
                     lambda: [summarize_input(op["input"]) for op in data["ops"]])


def _to_job_id(value: Any) -> int:
    """A job id from an int or a decimal string; raises ParameterError."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise errors.ParameterError(f"Invalid job id {value!r}: expected a non-negative integer")


def _check_max_running(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise errors.ParameterError(
            f"Invalid max_running {value!r}: expected an integer of at least 1")
    return value


class JobQueue:
    """The master's persistent job queue.  Every public method is thread-safe.

    ``executor`` runs the opcodes (see :class:`gnt.jqueue.OpExecutor`);
    ``max_running`` is the number of jobs run at once; ``on_job_update`` and
    ``on_jobs_archived`` are replication hooks (exceptions they raise are
    logged, not propagated).  The queue directory comes from ``store`` or
    else from ``gnt.paths.get()`` (``GNT_ROOT``).

    Creating the queue takes the queue's lock file (JobQueueError if another
    process holds it), loads the jobs on disk and starts the queued ones.
    """

    def __init__(self, executor: OpExecutor, max_running: int = C.DEFAULT_MAX_RUNNING_JOBS,
                 on_job_update: JobUpdateHook | None = None, *,
                 on_jobs_archived: JobsArchivedHook | None = None,
                 store: JobStore | None = None) -> None:
        self._max_running = _check_max_running(max_running)
        self._on_job_update = on_job_update
        self._on_jobs_archived = on_jobs_archived
        self._store = store or JobStore.from_paths()

        self._lock = threading.Lock()
        self._work_cv = threading.Condition(self._lock)
        self._idle_cv = threading.Condition(self._lock)
        self._serial_cv = threading.Condition(threading.Lock())
        self._serial_writing = False
        self._serial_persisted = 0
        self._archive_lock = threading.Lock()
        self._jobs: dict[int, LiveJob] = {}
        self._sched = Scheduler()
        self._running: set[int] = set()
        self._threads = 0
        self._idle_threads = 0
        self._accepting = True
        self._stopping = False
        self._closed = False
        self._last_id = 0  # highest id handed out (or reserved)
        self._runner = JobRunner(executor, self._commit, self._job_status, self.submit_many)

        self._store.open()
        try:
            self._load()
        except BaseException:
            self._store.close()
            raise

    # ------------------------------------------------------------------
    # submission

    def submit(self, ops: Sequence[OpCode]) -> int:
        """Submit one job made of ``ops``; returns its id once it is on disk.

        Raises JobQueueDrainError when the queue is drained, JobQueueError
        when it is shutting down or cannot write, ParameterError for an empty
        job, a priority outside low/normal/high (10, 0, -10) or a relative
        dependency (only valid in :meth:`submit_many`).
        """
        (job_id, err), = self._submit([ops], drained_ok=False)
        if err is not None:
            raise err
        return job_id

    def submit_to_drained_queue(self, ops: Sequence[OpCode]) -> int:
        """As :meth:`submit`, but accepted even while the queue is drained."""
        (job_id, err), = self._submit([ops], drained_ok=True)
        if err is not None:
            raise err
        return job_id

    def submit_many(self, jobs: Sequence[Sequence[OpCode]]) -> list[tuple[bool, int | str]]:
        """Submit several jobs; returns ``(True, job_id)`` or ``(False,
        error message)`` per job, in order.

        Relative dependencies (``[[-1, [...]]]``) refer to earlier jobs of
        the same call: -1 is the job just before.  Raises JobQueueDrainError
        or JobQueueError (shutting down, serial not writable) for the whole
        batch.
        """
        results: list[tuple[bool, int | str]] = []
        for (job_id, err), ops in zip(self._submit(jobs, drained_ok=False), jobs, strict=True):
            if err is None:
                results.append((True, job_id))
            else:
                results.append((False, f"{err}; opcodes {_summaries(ops)}"))
        return results

    def _submit(self, jobs: Sequence[Sequence[OpCode]], drained_ok: bool
                ) -> list[tuple[int, errors.GntError | None]]:
        if not self._accepting:
            raise errors.JobQueueError("Job queue is shutting down, refusing job")
        if not drained_ok and self._store.is_drained():
            raise errors.JobQueueDrainError("Job queue is drained, refusing job",
                                            errors.ECODE_STATE)
        if not jobs:
            return []
        ids = self._allocate_ids(len(jobs))
        out: list[tuple[int, errors.GntError | None]] = []
        created: list[LiveJob] = []
        for pos, (job_id, ops) in enumerate(zip(ids, jobs, strict=True)):
            try:
                live = self._build_job(job_id, ops, ids[:pos])
                self._write_new(live)
            except errors.GntError as err:
                log.info("Refusing job %s: %s", job_id, err)
                out.append((job_id, err))
                continue
            created.append(live)
            out.append((job_id, None))
        self._replicate_new(created)
        self._register(created)
        for live in created:
            log.info("Job %s submitted: %s", live.id, ", ".join(live.summaries()))
        return out

    def _allocate_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new ids; returns once the serial file covers them.

        Concurrent callers share serial writes (group commit): whoever finds
        no write in progress writes the highest id reserved so far for all.
        """
        with self._serial_cv:
            first = self._last_id + 1
            self._last_id = last = self._last_id + count
            while self._serial_persisted < last:
                if self._serial_writing:
                    self._serial_cv.wait()
                    continue
                self._serial_writing = True
                target = self._last_id
                self._serial_cv.release()
                try:
                    self._store.write_serial(target)
                except OSError as err:
                    raise errors.JobQueueError(
                        f"Cannot write the job queue serial file: {err}") from err
                finally:
                    self._serial_cv.acquire()
                    self._serial_writing = False
                    self._serial_cv.notify_all()
                self._serial_persisted = max(self._serial_persisted, target)
        return list(range(first, last + 1))

    def _build_job(self, job_id: int, ops: Sequence[OpCode], earlier: list[int]) -> LiveJob:
        if isinstance(ops, OpCode) or not isinstance(ops, Sequence):
            raise errors.ParameterError(f"A job must be a list of opcodes, got {ops!r}")
        if not ops:
            raise errors.ParameterError("A job needs at least one opcode")
        received = now_ts()
        reason_ts = received[0] * 1_000_000_000 + received[1] * 1000
        qops = []
        for idx, op in enumerate(ops):
            if not isinstance(op, OpCode):
                raise errors.ParameterError(f"Opcode {idx} is not an opcode: {op!r}")
            if op.priority not in OP_PRIO_SUBMIT_VALID:
                raise errors.ParameterError(
                    f"Opcode {idx} has invalid priority {op.priority}, allowed are"
                    f" {', '.join(map(str, OP_PRIO_SUBMIT_VALID))}")
            update: dict[str, Any] = {
                "reason": [*op.reason,
                           [reason_source(op.OP_ID), f"job={job_id};index={idx}", reason_ts]],
            }
            if op.depends:
                update["depends"] = _resolve_depends(op.depends, earlier)
            queued_op = op.model_copy(update=update)
            qops.append(QueuedOpCode(input=secrets.redact(queued_op.to_dict()), op=queued_op,
                                     priority=op.priority))
        job = QueuedJob(id=job_id, ops=qops, received_timestamp=received)
        return LiveJob(job, summary=[q.op.summary() for q in qops if q.op is not None])

    def _write_new(self, live: LiveJob) -> None:
        try:
            self._store.write_job(live.id, live.view[0])
        except OSError as err:
            raise errors.JobQueueError(f"Cannot write job {live.id}: {err}") from err

    def _replicate_new(self, lives: list[LiveJob]) -> None:
        """Hand new jobs to the replication hook; returns when every call did.

        The calls of one submission run side by side, so a replicator that
        batches concurrent updates (group commit) sends a submission of many
        jobs in a few rounds instead of one round trip per job.
        """
        if len(lives) <= 1 or self._on_job_update is None:
            for live in lives:
                self._replicate(live.id, live.view[0])
            return
        with ThreadPoolExecutor(min(len(lives), _REPLICATE_THREADS),
                                thread_name_prefix="job-replicate") as pool:
            list(pool.map(lambda live: self._replicate(live.id, live.view[0]), lives))

    def _register(self, lives: list[LiveJob]) -> None:
        """Add jobs to the table and schedule the unfinished ones."""
        if not lives:
            return
        with self._lock:
            for live in lives:
                self._jobs[live.id] = live
            before = self._sched.ready_count
            for live in lives:
                if live.status not in JOBS_FINALIZED:
                    self._sched.add(live.id, live.job.priority,
                                    self._unfinished_deps_locked(live.job))
            self._wake_workers_locked(self._sched.ready_count - before)

    def _unfinished_deps_locked(self, job: QueuedJob) -> set[int]:
        deps: set[int] = set()
        for qop in job.ops:
            if qop.status in OPS_FINALIZED:
                continue
            for dep in qop.input.get("depends") or ():
                dep_id = dependency_id(dep[0]) if isinstance(dep, list) and dep else None
                if dep_id is None or dep_id == job.id:
                    continue
                other = self._jobs.get(dep_id)
                if other is not None and other.status not in JOBS_FINALIZED:
                    deps.add(dep_id)
        return deps

    # ------------------------------------------------------------------
    # persistence

    def _commit(self, live: LiveJob, strict: bool) -> None:
        """Persist the job's working state, then publish it.

        Called with ``live.lock`` held.  When the write fails: if ``strict``,
        the change is undone and JobQueueError raised; otherwise the error is
        logged and the state published anyway (used for transitions whose
        loss a restart handles safely: waiting markers, results, logs).
        """
        job = live.job
        data = job.to_dict()
        live.unpublished = False
        try:
            self._store.write_job(job.id, data)
        except OSError as err:
            if strict:
                job.restore(live.view[0])
                raise errors.JobQueueError(f"Cannot write job {job.id}: {err}") from err
            log.error("Cannot write job %s, keeping the change in memory only: %s", job.id, err)
        else:
            self._replicate(job.id, data)
        self._publish(live, data)

    def _publish(self, live: LiveJob, data: dict[str, Any]) -> None:
        was_final = live.status in JOBS_FINALIZED
        status = live.publish(data)
        if status in JOBS_FINALIZED and not was_final:
            log.info("Job %s finished: %s", job_id := live.id, status)
            self._job_finalized(job_id)

    def _replicate(self, job_id: int, data: dict[str, Any]) -> None:
        if self._on_job_update is not None:
            try:
                self._on_job_update(job_id, data)
            except Exception:
                log.exception("Job update hook failed for job %s", job_id)

    def _job_finalized(self, job_id: int) -> None:
        with self._lock:
            self._sched.remove(job_id)
            ready = self._sched.finished(job_id)
            self._wake_workers_locked(len(ready))
            self._idle_cv.notify_all()

    # ------------------------------------------------------------------
    # loading

    def _load(self) -> None:
        store = self._store
        ids = store.live_ids()
        serial = store.read_serial()
        last = max([serial, store.max_archived_id(), *ids])
        if last != serial:
            log.warning("Job queue serial was %s, highest job id found is %s; fixing it",
                        serial, last)
            store.write_serial(last)
        self._last_id = self._serial_persisted = last
        lives = []
        for job_id in ids:
            try:
                data = store.read_live(job_id)
                if _is_final_own_form(data, job_id):
                    # only queried or archived from now on: parsed when needed
                    lives.append(LiveJob.loaded(data))
                    continue
                job = QueuedJob.from_dict(data)
                if job.id != job_id:
                    raise JobFileCorrupt(f"file job-{job_id} holds job {job.id}")
            except (JobFileCorrupt, OSError) as err:
                log.error("Cannot load job %s (%s); moving its file to the archive", job_id, err)
                try:
                    store.quarantine(job_id)
                except OSError:
                    log.exception("Cannot move job file %s", store.live_path(job_id))
                continue
            live = LiveJob(job)
            with live.lock:
                self._recover(live)
            lives.append(live)
        self._register(lives)

    def _recover(self, live: LiveJob) -> None:
        """Bring a job loaded from disk into a runnable or final state."""
        job = live.job
        status = job.status
        if status in (C.JOB_STATUS_RUNNING, C.JOB_STATUS_CANCELING):
            log.warning("Job %s was %s when the queue stopped; marking it failed",
                        job.id, status)
            job.mark_unfinished(C.OP_STATUS_ERROR,
                                errors.OpExecError(UNCLEAN_SHUTDOWN_MSG).encode())
            job.finalize()
            self._commit(live, strict=False)
            return
        if status not in (C.JOB_STATUS_QUEUED, C.JOB_STATUS_WAITING):
            return
        changed = False
        for qop in job.ops:
            if qop.status == C.OP_STATUS_WAITING:
                qop.status = C.OP_STATUS_QUEUED
                qop.result = None
                changed = True
        try:
            for qop in job.ops:
                if qop.status not in OPS_FINALIZED:
                    secrets.check_not_redacted(qop.input)
                    qop.op = from_dict(qop.input)
        except Exception as err:  # noqa: BLE001 - any parse failure fails the job
            gerr = err if isinstance(err, errors.GntError) else errors.OpExecError(
                f"Cannot load opcode: {err}")
            log.error("Job %s cannot run again: %s", job.id, gerr)
            job.mark_unfinished(C.OP_STATUS_ERROR, gerr.encode())
            job.finalize()
            changed = True
        else:
            log.info("Re-queueing job %s", job.id)
        if changed:
            self._commit(live, strict=False)

    # ------------------------------------------------------------------
    # workers

    def _wake_workers_locked(self, ready: int) -> None:
        """Start worker threads if needed and wake ``ready`` idle ones."""
        while (not self._stopping and self._threads < self._max_running
               and self._idle_threads < self._sched.ready_count):
            self._threads += 1
            self._idle_threads += 1
            threading.Thread(target=self._worker, name="jq-worker", daemon=True).start()
        if ready > 0:
            self._work_cv.notify(ready)

    def _worker(self) -> None:
        while True:
            live = self._next_job()
            if live is None:
                return
            defer: set[int] | None = None
            try:
                defer = self._runner.run(live)
            except Exception as err:
                log.exception("Internal error while processing job %s", live.id)
                self._runner.fail_internal(live, err)
            finally:
                self._release_job(live, defer)

    def _next_job(self) -> LiveJob | None:
        with self._lock:
            while True:
                if self._stopping or self._threads > self._max_running:
                    self._threads -= 1
                    self._idle_threads -= 1
                    self._idle_cv.notify_all()
                    return None
                job_id = self._sched.pop()
                if job_id is not None:
                    live = self._jobs.get(job_id)
                    if live is None:
                        continue
                    self._idle_threads -= 1
                    self._running.add(job_id)
                    return live
                self._work_cv.wait()

    def _release_job(self, live: LiveJob, defer: set[int] | None) -> None:
        job_id = live.id
        with self._lock:
            self._running.discard(job_id)
            self._idle_threads += 1
            if defer is not None and live.status not in JOBS_FINALIZED:
                blocked = {d for d in defer
                           if (o := self._jobs.get(d)) is not None
                           and o.status not in JOBS_FINALIZED}
                self._sched.add(job_id, live.job.priority, blocked)
                self._wake_workers_locked(0 if blocked else 1)
            self._idle_cv.notify_all()

    def _job_status(self, job_id: int) -> str | None:
        with self._lock:
            live = self._jobs.get(job_id)
        if live is not None:
            return live.status
        data = self._store.read_archived(job_id)
        return job_status_of(data) if data is not None else None

    # ------------------------------------------------------------------
    # job control

    def cancel(self, job_id: int | str) -> tuple[bool, str]:
        """Cancel a job that has not started running.

        A queued job becomes ``canceled`` at once; a waiting one becomes
        ``canceling`` and then ``canceled`` as soon as its executor checks.
        Returns ``(success, message)`` with Ganeti's messages.  Raises JobLost
        for an unknown id, JobQueueError if the change cannot be written.
        """
        job_id = _to_job_id(job_id)
        self._check_open()
        live = self._live_or_lost(job_id)
        if live is None:
            return (False, f"Job {job_id} is no longer waiting in the queue")
        with live.lock:
            job = live.job
            status = job.status
            if status == C.JOB_STATUS_QUEUED:
                job.mark_unfinished(C.OP_STATUS_CANCELED, CANCELED_MSG)
                job.finalize()
                self._commit(live, strict=True)
                log.info("Job %s canceled", job_id)
                return (True, f"Job {job_id} canceled")
            if status != C.JOB_STATUS_WAITING:
                return (False, f"Job {job_id} is no longer waiting in the queue")
            job.mark_unfinished(C.OP_STATUS_CANCELING, None)
            self._commit(live, strict=True)
        log.info("Job %s will be canceled", job_id)
        with self._lock:
            if job_id in self._sched:  # waiting without a worker: let one finish it
                self._sched.remove(job_id)
                self._sched.add(job_id, live.job.priority)
                self._wake_workers_locked(1)
        return (True, f"Job {job_id} will be canceled")

    def change_priority(self, job_id: int | str, priority: int) -> tuple[bool, str]:
        """Change the priority of the job's opcodes that have not started.

        ``priority`` is one of 10 (low), 0 (normal), -10 (high); returns
        ``(success, message)`` with Ganeti's messages.  Raises ParameterError
        for another priority, JobLost for an unknown id.
        """
        job_id = _to_job_id(job_id)
        if (not isinstance(priority, int) or isinstance(priority, bool)
                or priority not in OP_PRIO_SUBMIT_VALID):
            raise errors.ParameterError(
                f"Invalid priority {priority!r}, allowed are"
                f" {', '.join(map(str, OP_PRIO_SUBMIT_VALID))}")
        self._check_open()
        live = self._live_or_lost(job_id)
        if live is None:
            return (False, f"Job {job_id} is finished")
        with live.lock:
            job = live.job
            status = job.status
            if status in JOBS_FINALIZED:
                return (False, f"Job {job_id} is finished")
            if status == C.JOB_STATUS_CANCELING:
                return (False, f"Job {job_id} is cancelling")
            pending = [op for op in job.ops
                       if op.status in (C.OP_STATUS_QUEUED, C.OP_STATUS_WAITING)]
            if not pending:
                return (False, f"Job {job_id} had no pending opcodes")
            for op in pending:
                op.priority = priority
            self._commit(live, strict=True)
            new_priority = job.priority
        with self._lock:
            self._sched.set_priority(job_id, new_priority)
        return (True, (f"Priorities of pending opcodes for job {job_id} have been changed"
                      f" to {priority}"))

    # ------------------------------------------------------------------
    # archive

    def archive(self, job_id: int | str) -> bool:
        """Move a finished job to the archive; False if it is not finished or
        already archived.  Raises JobLost for an unknown id."""
        job_id = _to_job_id(job_id)
        self._check_open()
        with self._archive_lock:
            live = self._live_or_lost(job_id)
            if live is None or live.status not in JOBS_FINALIZED:
                return False
            return self._archive_locked([live]) == 1

    def auto_archive(self, age_seconds: float, timeout: float) -> tuple[int, int]:
        """Archive finished jobs that ended more than ``age_seconds`` ago
        (every finished job when negative), spending at most ``timeout``
        seconds; returns ``(archived, jobs left unexamined)``."""
        self._check_open()
        now = time.time()
        deadline = time.monotonic() + timeout
        with self._lock:
            lives = [self._jobs[i] for i in sorted(self._jobs)]
        archived = examined = 0
        batch: list[LiveJob] = []
        with self._archive_lock:
            for live in lives:
                if time.monotonic() > deadline:
                    break
                examined += 1
                data, status = live.view
                if status not in JOBS_FINALIZED or live.archived:
                    continue
                ts = (data.get("end_timestamp") or data.get("start_timestamp")
                      or data.get("received_timestamp"))
                if age_seconds < 0 or ts is None or now - ts[0] > age_seconds:
                    batch.append(live)
                    if len(batch) >= 10:
                        archived += self._archive_locked(batch)
                        batch = []
            archived += self._archive_locked(batch)
        return (archived, len(lives) - examined)

    def _archive_locked(self, lives: list[LiveJob]) -> int:
        if not lives:
            return 0
        try:
            moved = set(self._store.archive([live.id for live in lives]))
        except OSError as err:
            raise errors.JobQueueError(f"Cannot archive jobs: {err}") from err
        with self._lock:
            for live in lives:
                if live.id in moved:
                    live.archived = True
                    self._jobs.pop(live.id, None)
        if moved and self._on_jobs_archived is not None:
            try:
                self._on_jobs_archived(sorted(moved))
            except Exception:
                log.exception("Job archive hook failed for jobs %s", sorted(moved))
        log.info("Archived jobs %s", sorted(moved))
        return len(moved)

    # ------------------------------------------------------------------
    # queries

    def query(self, job_ids: Sequence[int | str] | None, fields: Sequence[str], *,
              include_archived: bool = False) -> list[list[Any] | None]:
        """Field values per job (Ganeti's job fields, see gnt.jqueue.fields).

        With ``job_ids`` None: every live job (plus the archived ones if
        ``include_archived``), by id; otherwise one row per id, in order,
        archived jobs included, None for an unknown id.  Raises
        ParameterError for an unknown field or a malformed id.  Values are
        shared with the queue's state: read-only.
        """
        fns = F.getters(fields)
        if job_ids is None:
            with self._lock:
                lives = [self._jobs[i] for i in sorted(self._jobs)]
            rows: list[tuple[int, list[Any]]] = [
                (live.id, F.extract(live.field_view(), fns)) for live in lives]
            if include_archived:
                seen = {i for i, _ in rows}
                for job_id in self._store.archived_ids():
                    data = None if job_id in seen else self._store.read_archived(job_id)
                    if data is not None:
                        rows.append((job_id, F.extract(_archived_view(data), fns)))
                rows.sort(key=lambda r: r[0])
            return [row for _, row in rows]
        out: list[list[Any] | None] = []
        for raw in job_ids:
            view = self._field_view(_to_job_id(raw))
            out.append(None if view is None else F.extract(view, fns))
        return out

    def _field_view(self, job_id: int) -> F.JobView | None:
        with self._lock:
            live = self._jobs.get(job_id)
        if live is not None:
            return live.field_view()
        data = self._store.read_archived(job_id)
        return None if data is None else _archived_view(data)

    def wait_for_job_change(self, job_id: int | str, fields: Sequence[str],
                            prev_job_info: list[Any] | None, prev_log_serial: int | None,
                            timeout: float) -> tuple[list[Any], list[list[Any]]] | str:
        """Wait until the job changes, as Ganeti's WaitForJobChange.

        Returns ``(job_info, log_entries)`` as soon as the ``fields`` values
        differ from ``prev_job_info`` or log entries with a serial above
        ``prev_log_serial`` exist (all entries for None), and at once for a
        finished job; returns ``"nochange"`` after ``timeout`` seconds.
        Raises JobLost for an unknown id, ParameterError for unknown fields.
        """
        job_id = _to_job_id(job_id)
        fns = F.getters(fields)
        live = self._live_or_lost(job_id)
        if live is None:
            data = self._store.read_archived(job_id)
            if data is None:
                raise errors.JobLost(f"Job {job_id} not found", errors.ECODE_NOENT)
            return (F.extract(_archived_view(data), fns), log_entries(data, prev_log_serial))
        deadline = time.monotonic() + max(float(timeout), 0.0)
        with live.cond:
            while True:
                view = live.field_view()
                info = F.extract(view, fns)
                entries = log_entries(view.data, prev_log_serial)
                if view.status in JOBS_FINALIZED or info != prev_job_info or entries:
                    return (info, entries)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return JOB_NOTCHANGED
                live.cond.wait(remaining)

    def _live_or_lost(self, job_id: int) -> LiveJob | None:
        """The live job, None if archived; raises JobLost if unknown."""
        with self._lock:
            live = self._jobs.get(job_id)
        if live is not None:
            return live
        if self._store.archive_path(job_id).exists():
            return None
        raise errors.JobLost(f"Job {job_id} not found", errors.ECODE_NOENT)

    # ------------------------------------------------------------------
    # queue control

    def set_drain_flag(self, drained: bool) -> None:
        """Drain (True) or open (False) the queue; a drained queue refuses
        new jobs (except :meth:`submit_to_drained_queue`)."""
        self._check_open()
        try:
            self._store.set_drained(bool(drained))
        except OSError as err:
            raise errors.JobQueueError(f"Cannot change the drain flag: {err}") from err

    def is_drained(self) -> bool:
        return self._store.is_drained()

    @property
    def max_running(self) -> int:
        return self._max_running

    def set_max_running(self, value: int) -> None:
        """Change how many jobs may run at once (takes effect immediately for
        new jobs; running ones are not interrupted)."""
        value = _check_max_running(value)
        with self._lock:
            self._max_running = value
            self._wake_workers_locked(0)
            self._work_cv.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is running or ready to run; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._running or (self._sched.ready_count and not self._stopping):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle_cv.wait(remaining)
            return True

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop accepting and starting jobs and wait up to ``timeout`` seconds
        (None: forever) for the running ones to finish.  Queued jobs stay on
        disk and run at the next start.  Returns True when no job is running
        any more; the queue's lock file is then released."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._accepting = False
            self._stopping = True
            self._work_cv.notify_all()
            while self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._idle_cv.wait(remaining)
            if self._running:
                log.warning("Job queue shut down with jobs %s still running",
                            sorted(self._running))
                return False
        self._runner.stop()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._store.close()
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _check_open(self) -> None:
        if self._closed:
            raise errors.JobQueueError("Job queue is shut down")


def _resolve_depends(depends: list[list[Any]], earlier: list[int]) -> list[list[Any]]:
    """Dependencies with relative ids (-1 = the previous job of the batch)
    replaced by absolute ones; raises ParameterError if one cannot be."""
    out = []
    for dep_id, statuses in depends:
        value = dependency_id(dep_id)
        if value is None:
            raise errors.ParameterError(f"Invalid job id {dep_id!r} in dependencies")
        if value < 0:
            pos = len(earlier) + value
            if pos < 0:
                raise errors.ParameterError(f"Unable to resolve relative job ID {value}")
            value = earlier[pos]
        out.append([value, list(statuses)])
    return out


def _summaries(ops: Any) -> str:
    try:
        return ", ".join(op.summary() if isinstance(op, OpCode) else repr(op) for op in ops)
    except TypeError:
        return repr(ops)
