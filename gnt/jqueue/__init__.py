"""The persistent job queue: jobs, their files, scheduling and execution.

Public API::

    queue = JobQueue(executor, max_running=20, on_job_update=hook)
    job_id = queue.submit([op1, op2])
    queue.wait_for_job_change(job_id, ["status"], None, None, timeout=10)
    queue.query([job_id], ["id", "status", "opresult"])

The executor implements :class:`OpExecutor`: ``execute(op, ctx)`` with an
:class:`OpContext` (feedback, notify_start, check_cancel, priority, owner).
"""

from gnt.jqueue.context import JobCanceled, JobOwner, OpContext, OpExecutor
from gnt.jqueue.fields import FIELD_DEFS, FieldDef
from gnt.jqueue.model import (
    CANCELED_MSG,
    OP_PRIO_SUBMIT_VALID,
    PRECEDING_FAILED_MSG,
    UNCLEAN_SHUTDOWN_MSG,
    JobFileCorrupt,
    QueuedJob,
    QueuedOpCode,
    calc_job_priority,
    calc_job_status,
)
from gnt.jqueue.queue import JOB_NOTCHANGED, JobQueue, JobsArchivedHook, JobUpdateHook
from gnt.jqueue.store import JobStore

__all__ = [
    "CANCELED_MSG",
    "FIELD_DEFS",
    "JOB_NOTCHANGED",
    "OP_PRIO_SUBMIT_VALID",
    "PRECEDING_FAILED_MSG",
    "UNCLEAN_SHUTDOWN_MSG",
    "FieldDef",
    "JobCanceled",
    "JobFileCorrupt",
    "JobOwner",
    "JobQueue",
    "JobStore",
    "JobUpdateHook",
    "JobsArchivedHook",
    "OpContext",
    "OpExecutor",
    "QueuedJob",
    "QueuedOpCode",
    "calc_job_priority",
    "calc_job_status",
]
