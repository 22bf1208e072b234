"""Jobs and queued opcodes: the in-memory model and its JSON form.

The JSON form is Ganeti's job file shape, so job files, replicas and
queries carry the same thing::

    {"id": 12,
     "ops": [{"input": {"OP_ID": ..., ...}, "status": "success", "result": ...,
              "log": [[serial, [sec, usec], type, message], ...],
              "start_timestamp": [sec, usec] | null, "exec_timestamp": ...,
              "end_timestamp": ..., "priority": 0}, ...],
     "received_timestamp": [sec, usec], "start_timestamp": ..., "end_timestamp": ...}

Every value held here is JSON-native (lists, never tuples), so a serialised
job compares equal to its JSON round trip.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.opcodes.base import OpCode

#: ``[seconds, microseconds]`` since the epoch, as Ganeti stores timestamps.
Timestamp = list[int]

OP_STATUS_ALL = frozenset({
    C.OP_STATUS_QUEUED, C.OP_STATUS_WAITING, C.OP_STATUS_CANCELING,
    C.OP_STATUS_RUNNING, C.OP_STATUS_CANCELED, C.OP_STATUS_SUCCESS, C.OP_STATUS_ERROR,
})
OPS_FINALIZED = frozenset({C.OP_STATUS_CANCELED, C.OP_STATUS_SUCCESS, C.OP_STATUS_ERROR})
JOBS_FINALIZED = frozenset(C.JOBS_FINALIZED)

#: Priorities a client may submit or change to (Ganeti's OP_PRIO_SUBMIT_VALID).
OP_PRIO_SUBMIT_VALID = tuple(sorted(C.PRIORITY_NAMES.values()))

#: Result of the opcodes after a failed one (Ganeti's wording).
PRECEDING_FAILED_MSG = "Preceding opcode failed"
#: Result of canceled opcodes (Ganeti's wording).
CANCELED_MSG = "Job canceled by request"
#: Reason running jobs fail with when found after a restart (Ganeti's wording).
UNCLEAN_SHUTDOWN_MSG = "Unclean master daemon shutdown"

#: Prefix of the reason-trail source the queue adds to each opcode.
REASON_SRC_OPCODE = "gnt:opcode"


class JobFileCorrupt(errors.JobQueueError):
    """A job file could not be parsed."""


def now_ts() -> Timestamp:
    """The current time as ``[seconds, microseconds]``."""
    sec, usec = divmod(time.time_ns() // 1000, 1_000_000)
    return [sec, usec]


def to_json_value(value: Any) -> Any:
    """Return ``value`` as JSON-native data (tuples become lists, ...).

    Raises TypeError or ValueError when ``value`` cannot be encoded as JSON
    (objects, NaN/infinity, non-string-able keys).
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    return json.loads(json.dumps(value, allow_nan=False))


def calc_job_status(op_statuses: Iterable[str]) -> str:
    """A job's status from its opcodes' statuses, as Ganeti derives it.

    The first error, canceling or canceled opcode decides; otherwise the last
    waiting or running opcode does; otherwise the job is ``success`` when
    every opcode succeeded and ``queued`` when some are still queued.
    """
    status = C.JOB_STATUS_QUEUED
    all_success = True
    for st in op_statuses:
        if st == C.OP_STATUS_SUCCESS:
            continue
        all_success = False
        if st == C.OP_STATUS_QUEUED:
            continue
        if st == C.OP_STATUS_WAITING:
            status = C.JOB_STATUS_WAITING
        elif st == C.OP_STATUS_RUNNING:
            status = C.JOB_STATUS_RUNNING
        elif st == C.OP_STATUS_CANCELING:
            return C.JOB_STATUS_CANCELING
        elif st == C.OP_STATUS_ERROR:
            return C.JOB_STATUS_ERROR
        elif st == C.OP_STATUS_CANCELED:
            return C.JOB_STATUS_CANCELED
    return C.JOB_STATUS_SUCCESS if all_success else status


def calc_job_priority(ops: Iterable[tuple[str, int]]) -> int:
    """A job's priority: the highest (lowest number) of its unfinished
    opcodes' ``(status, priority)``, or the default when all are done."""
    prios = [prio for (st, prio) in ops if st not in OPS_FINALIZED]
    return min(prios) if prios else C.OP_PRIO_DEFAULT


def summarize_input(data: Any) -> str:
    """The summary of a serialised opcode (``INSTANCE_CREATE(name)``).

    Falls back to the bare ``OP_ID`` without ``OP_`` for an opcode that no
    longer parses, and to ``INVALID_OP`` for garbage.
    """
    from gnt.opcodes.base import from_dict

    try:
        return from_dict(data).summary()
    except Exception:  # noqa: BLE001 - any failure means "not a valid opcode"
        op_id = data.get("OP_ID") if isinstance(data, dict) else None
        if isinstance(op_id, str) and op_id:
            return op_id.removeprefix("OP_")
        return "INVALID_OP"


def reason_source(op_id: str) -> str:
    """Reason-trail source for an opcode: ``gnt:opcode:instance_create``."""
    name = op_id.removeprefix("OP_")
    return f"{REASON_SRC_OPCODE}:{name.lower()}"


def _check_ts(value: Any, what: str) -> Timestamp | None:
    if value is None:
        return None
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value)):
        return [value[0], value[1]]
    raise JobFileCorrupt(f"{what}: invalid timestamp {value!r}")


@dataclass(slots=True, eq=False)
class QueuedOpCode:
    """One opcode of a job with its execution state.

    ``input`` is the opcode's JSON form as submitted (reason trail extended,
    relative dependencies resolved); ``op`` the parsed opcode, present while
    the opcode may still run.  ``log`` holds ``[serial, timestamp, type,
    message]`` entries.
    """

    input: dict[str, Any]
    op: OpCode | None = None
    status: str = C.OP_STATUS_QUEUED
    result: Any = None
    log: list[list[Any]] = field(default_factory=list)
    start_timestamp: Timestamp | None = None
    exec_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    priority: int = C.OP_PRIO_DEFAULT

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "status": self.status,
            "result": self.result,
            "log": list(self.log),
            "start_timestamp": self.start_timestamp,
            "exec_timestamp": self.exec_timestamp,
            "end_timestamp": self.end_timestamp,
            "priority": self.priority,
        }

    @classmethod
    def from_dict(cls, data: Any) -> QueuedOpCode:
        """Rebuild from :meth:`to_dict` output; raises JobFileCorrupt."""
        if not isinstance(data, dict):
            raise JobFileCorrupt(f"opcode entry is not an object: {data!r}")
        inp = data.get("input")
        status = data.get("status")
        log = data.get("log", [])
        prio = data.get("priority", C.OP_PRIO_DEFAULT)
        if not isinstance(inp, dict):
            raise JobFileCorrupt("opcode entry without an 'input' object")
        if status not in OP_STATUS_ALL:
            raise JobFileCorrupt(f"invalid opcode status {status!r}")
        if not isinstance(log, list) or not all(
                isinstance(e, list) and len(e) == 4 and isinstance(e[0], int) for e in log):
            raise JobFileCorrupt("invalid opcode log")
        if not isinstance(prio, int) or isinstance(prio, bool):
            raise JobFileCorrupt(f"invalid opcode priority {prio!r}")
        return cls(
            input=inp, status=status, result=data.get("result"), log=log,
            start_timestamp=_check_ts(data.get("start_timestamp"), "start_timestamp"),
            exec_timestamp=_check_ts(data.get("exec_timestamp"), "exec_timestamp"),
            end_timestamp=_check_ts(data.get("end_timestamp"), "end_timestamp"),
            priority=prio)


@dataclass(slots=True, eq=False)
class QueuedJob:
    """A job: its id, opcodes and timestamps.  Not thread-safe by itself:
    the queue serialises changes per job."""

    id: int
    ops: list[QueuedOpCode]
    received_timestamp: Timestamp | None = None
    start_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    #: serial of the newest log entry (log serials are per job, from 1)
    log_serial: int = 0

    # --- derived state ---
    @property
    def status(self) -> str:
        return calc_job_status(op.status for op in self.ops)

    @property
    def priority(self) -> int:
        return calc_job_priority((op.status, op.priority) for op in self.ops)

    def is_finalized(self) -> bool:
        return self.status in JOBS_FINALIZED

    # --- changes ---
    def mark_unfinished(self, status: str, result: Any) -> None:
        """Give every opcode not yet finished ``status`` and ``result``; when
        ``status`` is final, their end timestamp is set too."""
        ts = now_ts() if status in OPS_FINALIZED else None
        for op in self.ops:
            if op.status in OPS_FINALIZED:
                continue
            op.status = status
            op.result = result
            if ts is not None:
                op.end_timestamp = ts

    def finalize(self) -> None:
        """Record the job's end (call once every opcode is final)."""
        self.end_timestamp = now_ts()

    def add_log(self, op: QueuedOpCode, msg_type: str, msg: Any) -> list[Any]:
        """Append a log entry to ``op`` with the next serial; returns it."""
        self.log_serial += 1
        entry = [self.log_serial, now_ts(), msg_type, msg]
        op.log.append(entry)
        return entry

    def restore(self, data: dict[str, Any]) -> None:
        """Reset every field to ``data`` (a :meth:`to_dict` of this job),
        keeping the parsed opcodes; used to undo a change that failed to
        persist."""
        other = QueuedJob.from_dict(data)
        for mine, theirs in zip(self.ops, other.ops, strict=True):
            theirs.op = mine.op
            for name in QueuedOpCode.__slots__:
                setattr(mine, name, getattr(theirs, name))
        self.received_timestamp = other.received_timestamp
        self.start_timestamp = other.start_timestamp
        self.end_timestamp = other.end_timestamp
        self.log_serial = other.log_serial

    # --- JSON form ---
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ops": [op.to_dict() for op in self.ops],
            "start_timestamp": self.start_timestamp,
            "end_timestamp": self.end_timestamp,
            "received_timestamp": self.received_timestamp,
        }

    @classmethod
    def from_dict(cls, data: Any) -> QueuedJob:
        """Rebuild from :meth:`to_dict` output (or a Ganeti job file);
        raises JobFileCorrupt."""
        if not isinstance(data, dict):
            raise JobFileCorrupt("job is not a JSON object")
        job_id = data.get("id")
        if isinstance(job_id, str) and job_id.isdigit():
            job_id = int(job_id)
        if not isinstance(job_id, int) or isinstance(job_id, bool) or job_id < 0:
            raise JobFileCorrupt(f"invalid job id {job_id!r}")
        raw_ops = data.get("ops")
        if not isinstance(raw_ops, list) or not raw_ops:
            raise JobFileCorrupt(f"job {job_id}: no opcodes")
        ops = [QueuedOpCode.from_dict(op) for op in raw_ops]
        serial = max((e[0] for op in ops for e in op.log), default=0)
        return cls(
            id=job_id, ops=ops,
            received_timestamp=_check_ts(data.get("received_timestamp"), "received_timestamp"),
            start_timestamp=_check_ts(data.get("start_timestamp"), "start_timestamp"),
            end_timestamp=_check_ts(data.get("end_timestamp"), "end_timestamp"),
            log_serial=serial)


def log_entries(data: dict[str, Any], newer_than: int | None) -> list[list[Any]]:
    """Log entries of a serialised job with a serial above ``newer_than``
    (all of them for None), in order."""
    serial = -1 if newer_than is None else newer_than
    return [e for op in data["ops"] for e in op["log"] if e[0] > serial]


def job_status_of(data: dict[str, Any]) -> str:
    """Status of a serialised job."""
    return calc_job_status(op["status"] for op in data["ops"])
