"""Running one job: its opcodes in order through the executor.

For each opcode: mark it ``waiting`` (written lazily, see
``WAITING_PUBLISH_DELAY``), check its dependencies, call the executor with
an :class:`OpContext`, then record success, the encoded error (the
remaining opcodes fail with "Preceding opcode failed") or the
cancellation.  Feedback (log) entries are written with the job's next
change, or ``FEEDBACK_PUBLISH_DELAY`` after the first unwritten one.  The runner also serves the contexts' calls (feedback,
notify_start, job submission).  Persisting goes through the queue's
``commit(live, strict)``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from gnt import constants as C
from gnt import errors
from gnt.jqueue.context import JobCanceled, OpContext, OpExecutor
from gnt.jqueue.delayed import DelayedCalls
from gnt.jqueue.live import LiveJob
from gnt.jqueue.model import (
    CANCELED_MSG,
    JOBS_FINALIZED,
    OPS_FINALIZED,
    PRECEDING_FAILED_MSG,
    QueuedJob,
    QueuedOpCode,
    now_ts,
    to_json_value,
)
from gnt.opcodes.base import OpCode

log = logging.getLogger(__name__)

#: how long an opcode may be waiting (for locks) before that is written and
#: shown; most opcodes get their locks sooner and go straight to ``running``
WAITING_PUBLISH_DELAY = 0.05
#: how long a feedback (log) entry may wait to be written with the next change
#: of its job: an opcode logging several messages in a row costs one write
#: (and one push to the candidates) for all of them instead of one each
FEEDBACK_PUBLISH_DELAY = 0.1

_DEP_CANCEL = "cancel"
_DEP_ERROR = "error"


class CommitFn(Protocol):
    """Persist and publish a job's working copy (see ``JobQueue._commit``)."""

    def __call__(self, live: LiveJob, strict: bool) -> None: ...


StatusFn = Callable[[int], "str | None"]
SubmitFn = Callable[[list[list[OpCode]]], list[tuple[bool, "int | str"]]]


class JobRunner:
    """Runs jobs for the queue (called from its worker threads).

    ``commit(live, strict)`` persists and publishes a job's working copy;
    ``job_status(job_id)`` gives another job's published status (None if
    unknown); ``submit_many`` is offered to executors through the context.
    """

    def __init__(self, executor: OpExecutor, commit: CommitFn, job_status: StatusFn,
                 submit_many: SubmitFn) -> None:
        self._executor = executor
        self._commit = commit
        self._job_status = job_status
        self._submit_many = submit_many
        self._waiting_flusher = DelayedCalls(WAITING_PUBLISH_DELAY, self._flush_unpublished)
        self._feedback_flusher = DelayedCalls(FEEDBACK_PUBLISH_DELAY, self._flush_unpublished)

    def stop(self) -> None:
        """Write the deferred ``waiting`` states and log entries still pending;
        stop the flushers."""
        self._waiting_flusher.stop()
        self._feedback_flusher.stop()

    def run(self, live: LiveJob) -> set[int] | None:
        """Run the job's remaining opcodes.  Returns the dependencies to wait
        for if it must wait, else None (the job is final)."""
        job = live.job
        thread = threading.current_thread()
        thread.name = f"Job{job.id}"
        try:
            for idx, qop in enumerate(job.ops):
                with live.lock:
                    if job.is_finalized():
                        return None
                    if qop.status in OPS_FINALIZED:
                        continue
                    if qop.status == C.OP_STATUS_CANCELING:
                        self._finish_canceled(live)
                        return None
                    if _mark_waiting(job, qop):
                        # written with the next change (normally notify_start)
                        # or by the flusher if the opcode keeps waiting
                        live.unpublished = True
                        self._waiting_flusher.schedule(live)
                dep = self._check_dependencies(job, qop)
                if isinstance(dep, set):
                    return dep
                if dep is not None:
                    self._fail_dependency(live, qop, *dep)
                    return None
                status, result = self._execute(live, idx, qop)
                with live.lock:
                    self._finish_op(live, qop, status, result)
                    if job.is_finalized():
                        return None
            return None
        finally:
            thread.name = "jq-worker"

    def _execute(self, live: LiveJob, idx: int, qop: QueuedOpCode) -> tuple[str, Any]:
        """Run one opcode through the executor; returns (op status, result)."""
        job_id = live.job.id
        if qop.op is None:  # only for a job whose input never parsed
            return (C.OP_STATUS_ERROR, errors.OpExecError("Opcode could not be loaded").encode())
        summary = qop.op.summary()
        threading.current_thread().name = f"Job{job_id}/{summary}"
        ctx = OpContext(self, live, idx, qop)
        try:
            if qop.status == C.OP_STATUS_CANCELING:
                return (C.OP_STATUS_CANCELING, None)
            log.debug("Job %s: executing opcode %s/%s %s", job_id, idx + 1,
                      len(live.job.ops), summary)
            result = self._executor.execute(qop.op, ctx)
        except JobCanceled:
            log.info("Job %s: opcode %s canceled", job_id, summary)
            return (C.OP_STATUS_CANCELING, None)
        except errors.GntError as err:
            log.info("Job %s: opcode %s failed: %s", job_id, summary, err)
            return (C.OP_STATUS_ERROR, err.encode())
        except BaseException as err:  # a bug in the executor (even sys.exit) fails the opcode
            log.exception("Job %s: unexpected error in opcode %s", job_id, summary)
            return (C.OP_STATUS_ERROR,
                    errors.OpExecError(f"{type(err).__name__}: {err}").encode())
        finally:
            with live.lock:
                ctx.closed = True
        try:
            return (C.OP_STATUS_SUCCESS, to_json_value(result))
        except (TypeError, ValueError) as err:
            log.error("Job %s: opcode %s returned a non-JSON result: %s", job_id, summary, err)
            return (C.OP_STATUS_ERROR, errors.OpExecError(
                f"Opcode {summary} returned a result that is not JSON-serialisable: {err}"
            ).encode())

    def _finish_op(self, live: LiveJob, qop: QueuedOpCode, status: str, result: Any) -> None:
        job = live.job
        if status == C.OP_STATUS_CANCELING:
            self._finish_canceled(live)
            return
        qop.status = status
        qop.result = result
        qop.end_timestamp = now_ts()
        if status == C.OP_STATUS_ERROR:
            job.mark_unfinished(C.OP_STATUS_ERROR,
                                errors.OpExecError(PRECEDING_FAILED_MSG).encode())
        if all(op.status in OPS_FINALIZED for op in job.ops):
            job.finalize()
        self._commit(live, strict=False)

    def _finish_canceled(self, live: LiveJob) -> None:
        live.job.mark_unfinished(C.OP_STATUS_CANCELED, CANCELED_MSG)
        live.job.finalize()
        self._commit(live, strict=False)

    def _fail_dependency(self, live: LiveJob, qop: QueuedOpCode, kind: str, msg: str) -> None:
        log.info("Job %s: %s", live.job.id, msg)
        with live.lock:
            if live.job.is_finalized():
                return
            if kind == _DEP_CANCEL:
                live.job.add_log(qop, C.ELOG_MESSAGE, msg)
                self._finish_canceled(live)
            else:
                self._finish_op(live, qop, C.OP_STATUS_ERROR,
                                errors.OpExecError(msg).encode())

    def fail_internal(self, live: LiveJob, err: Exception) -> None:
        with live.lock:
            if live.job.is_finalized():
                return
            live.job.mark_unfinished(
                C.OP_STATUS_ERROR,
                errors.OpExecError(f"Internal error in the job queue: {err}").encode())
            live.job.finalize()
            try:
                self._commit(live, strict=False)
            except Exception:
                log.exception("Cannot record the failure of job %s", live.job.id)

    def _check_dependencies(self, job: QueuedJob, qop: QueuedOpCode
                            ) -> set[int] | tuple[str, str] | None:
        """None when the opcode may run, the unfinished dependency ids when it
        must wait, or (``_DEP_CANCEL``/``_DEP_ERROR``, message)."""
        pending: set[int] = set()
        for dep in qop.input.get("depends") or ():
            dep_id = dependency_id(dep[0])
            wanted = list(dep[1])
            if dep_id is None:
                return (_DEP_ERROR, f"Dependency error: invalid job id {dep[0]!r}")
            if dep_id == job.id:
                return (_DEP_ERROR, "Job can't depend on itself")
            status = self._job_status(dep_id)
            if status is None:
                return (_DEP_ERROR, f"Dependency error: Job {dep_id} not found")
            if status not in JOBS_FINALIZED:
                pending.add(dep_id)
            elif status == C.JOB_STATUS_CANCELED and C.JOB_STATUS_CANCELED not in wanted:
                return (_DEP_CANCEL, f"Dependency job {dep_id} was cancelled")
            elif wanted and status not in wanted:
                return (_DEP_ERROR, (f"Dependency job {dep_id} finished with status"
                                    f" '{status}', not one of '{', '.join(wanted)}' as required"))
        return pending or None

    # --- OpContext host side ---

    def _ctx_feedback(self, ctx: OpContext, msg_type: str, msg: Any) -> None:
        try:
            msg = to_json_value(msg)
        except (TypeError, ValueError):
            msg = str(msg)
        live: LiveJob = ctx._live
        with live.lock:
            if ctx.closed:
                log.warning("Job %s: feedback after its opcode finished, ignored: %r",
                            ctx.job_id, msg)
                return
            live.job.add_log(ctx._qop, str(msg_type), msg)
            # written (then shown) with the job's next change or by the flusher
            if not live.unpublished:
                live.unpublished = True
                self._feedback_flusher.schedule(live)

    def _ctx_notify_start(self, ctx: OpContext) -> None:
        live: LiveJob = ctx._live
        qop = ctx._qop
        with live.lock:
            if qop.status == C.OP_STATUS_CANCELING:
                raise JobCanceled(f"Job {ctx.job_id} canceled")
            if qop.status == C.OP_STATUS_RUNNING:
                return
            # (queued only if writing a deferred "waiting" failed and was undone)
            if ctx.closed or qop.status not in (C.OP_STATUS_WAITING, C.OP_STATUS_QUEUED):
                raise errors.ProgrammerError(
                    f"notify_start for job {ctx.job_id} opcode {ctx.op_index} in status"
                    f" {qop.status}")
            qop.status = C.OP_STATUS_RUNNING
            qop.exec_timestamp = now_ts()
            self._commit(live, strict=True)

    def _ctx_submit(self, jobs: list[list[OpCode]]) -> list[tuple[bool, int | str]]:
        return self._submit_many(jobs)

    def _flush_unpublished(self, live: LiveJob) -> None:
        with live.lock:
            if live.unpublished and not live.archived:
                self._commit(live, strict=False)


def _mark_waiting(job: QueuedJob, qop: QueuedOpCode) -> bool:
    """queued -> waiting with start timestamps; True if anything changed."""
    changed = False
    if qop.status == C.OP_STATUS_QUEUED:
        qop.status = C.OP_STATUS_WAITING
        qop.result = None
        changed = True
    if qop.start_timestamp is None:
        qop.start_timestamp = now_ts()
        changed = True
    if job.start_timestamp is None:
        job.start_timestamp = qop.start_timestamp
        changed = True
    return changed


def dependency_id(value: Any) -> int | None:
    """A dependency's job id as an int, None if it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
