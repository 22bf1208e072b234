"""What an executor sees of the job it runs: the :class:`OpContext`.

The executor (the master's opcode processor) implements :class:`OpExecutor`.
For each opcode the queue calls ``executor.execute(op, ctx)``; the opcode
is ``waiting`` until the executor calls ``ctx.notify_start()`` (after it has
its locks, before it changes anything), then ``running``.  ``notify_start``
returns only once ``running`` is on disk: a job found ``running`` after a
crash is failed, never replayed, while one found ``waiting`` (or
``queued``) runs again, so an executor must not change anything before
``notify_start``.

``waiting`` is written lazily: an opcode that reaches ``notify_start``
within ~50 ms goes from ``queued`` to ``running`` in one write; one that
keeps waiting (for locks) is shown ``waiting`` after that delay.  While
waiting, the executor (or the lock manager on its behalf) calls
``ctx.check_cancel()``, which raises :class:`JobCanceled` once the job was
asked to cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gnt import constants as C

if TYPE_CHECKING:
    from gnt.jqueue.model import QueuedOpCode
    from gnt.opcodes.base import OpCode


class JobCanceled(Exception):
    """Raised by :meth:`OpContext.check_cancel` (and ``notify_start``) when
    the job was asked to cancel while its opcode was still waiting.

    Deliberately not a GntError, so generic error handlers in logical units
    don't turn a cancellation into an opcode failure.
    """


@dataclass(frozen=True, slots=True)
class JobOwner:
    """The lock-owner token of a job (hashable, unique per job)."""

    job_id: int

    def __str__(self) -> str:
        return f"job/{self.job_id}"


class OpExecutor(Protocol):
    """Runs one opcode.  Returns a JSON-able result; raises a GntError on
    failure (any other exception is reported as an internal error)."""

    def execute(self, op: OpCode, ctx: OpContext) -> Any: ...


class _Host(Protocol):
    """The queue side of a context (implemented by JobQueue)."""

    def _ctx_feedback(self, ctx: OpContext, msg_type: str, msg: Any) -> None: ...
    def _ctx_notify_start(self, ctx: OpContext) -> None: ...
    def _ctx_submit(self, jobs: list[list[OpCode]]) -> list[tuple[bool, int | str]]: ...


class OpContext:
    """Handle given to the executor for one opcode of one job.  Thread-safe."""

    __slots__ = ("_host", "_live", "_qop", "closed", "job_id", "op_index", "owner")

    def __init__(self, host: _Host, live: Any, op_index: int, qop: QueuedOpCode) -> None:
        self._host = host
        self._live = live
        self._qop = qop
        #: the job's id
        self.job_id: int = live.job.id
        #: position of the opcode in its job (0-based)
        self.op_index = op_index
        #: lock-owner token of the job
        self.owner = JobOwner(self.job_id)
        #: set once the opcode has finished; later calls are ignored
        self.closed = False

    @property
    def priority(self) -> int:
        """The opcode's current priority (``change_priority`` may change it
        while the opcode waits)."""
        return self._qop.priority

    def feedback(self, msg_type: str, msg: Any) -> None:
        """Append a log entry (``msg_type`` one of the ELOG_* constants,
        ``msg`` JSON-able), persist it and wake clients waiting on the job."""
        self._host._ctx_feedback(self, msg_type, msg)

    def notify_start(self) -> None:
        """Mark the opcode running (waiting -> running), persisted before this
        returns.  Raises JobCanceled if the job was asked to cancel."""
        self._host._ctx_notify_start(self)

    def check_cancel(self) -> None:
        """Raise JobCanceled if the job was asked to cancel."""
        if self._qop.status == C.OP_STATUS_CANCELING:
            raise JobCanceled(f"Job {self.job_id} canceled")

    def submit_jobs(self, jobs: list[list[OpCode]]) -> list[tuple[bool, int | str]]:
        """Submit new jobs from within this one (as ``JobQueue.submit_many``)."""
        return self._host._ctx_submit(jobs)

    def __repr__(self) -> str:
        return f"<OpContext job={self.job_id} op={self.op_index}>"

