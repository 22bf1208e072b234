"""Job query fields (Ganeti's job fields), computed from a job's JSON form.

Each field maps a :class:`JobView` (a serialised job plus its status,
archive flag and opcode summaries) to a JSON-native value.  Values share
structure with the queue's published job state: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.constants import QFT_BOOL, QFT_NUMBER, QFT_OTHER, QFT_TEXT
from gnt.jqueue.model import calc_job_priority


@dataclass(frozen=True, slots=True)
class JobView:
    """What a field is computed from."""

    data: dict[str, Any]
    status: str
    archived: bool
    summary: Callable[[], list[str]]


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A job field: name, column title, kind and a one-line description."""

    name: str
    title: str
    kind: str
    doc: str


Getter = Callable[[JobView], Any]


def _per_op(key: str) -> Getter:
    return lambda v: [op[key] for op in v.data["ops"]]


def _job_key(key: str) -> Getter:
    return lambda v: v.data.get(key)


_TS_DOC = " ([seconds, microseconds])"

_FIELDS: list[tuple[FieldDef, Getter]] = [
    (FieldDef("id", "ID", QFT_NUMBER, "Job ID"), lambda v: v.data["id"]),
    (FieldDef("status", "Status", QFT_TEXT, "Job status"), lambda v: v.status),
    (FieldDef("priority", "Priority", QFT_NUMBER,
              f"Current job priority ({C.OP_PRIO_LOWEST} to {C.OP_PRIO_HIGHEST})"),
     lambda v: calc_job_priority((op["status"], op["priority"]) for op in v.data["ops"])),
    (FieldDef("archived", "Archived", QFT_BOOL, "Whether the job is archived"),
     lambda v: v.archived),
    (FieldDef("ops", "OpCodes", QFT_OTHER, "The job's opcodes"), _per_op("input")),
    (FieldDef("opresult", "OpCode_result", QFT_OTHER, "Result of each opcode"),
     _per_op("result")),
    (FieldDef("opstatus", "OpCode_status", QFT_OTHER, "Status of each opcode"),
     _per_op("status")),
    (FieldDef("oplog", "OpCode_log", QFT_OTHER, "Log entries of each opcode"),
     _per_op("log")),
    (FieldDef("opstart", "OpCode_start", QFT_OTHER,
              "Start of each opcode, before it acquired its locks"),
     _per_op("start_timestamp")),
    (FieldDef("opexec", "OpCode_exec", QFT_OTHER,
              "Execution start of each opcode, after it acquired its locks"),
     _per_op("exec_timestamp")),
    (FieldDef("opend", "OpCode_end", QFT_OTHER, "End of each opcode"),
     _per_op("end_timestamp")),
    (FieldDef("oppriority", "OpCode_prio", QFT_OTHER, "Priority of each opcode"),
     _per_op("priority")),
    (FieldDef("summary", "Summary", QFT_OTHER, "Summary of each opcode"),
     lambda v: v.summary()),
    (FieldDef("received_ts", "Received", QFT_OTHER, "When the job was received" + _TS_DOC),
     _job_key("received_timestamp")),
    (FieldDef("start_ts", "Start", QFT_OTHER, "When the job started" + _TS_DOC),
     _job_key("start_timestamp")),
    (FieldDef("end_ts", "End", QFT_OTHER, "When the job ended" + _TS_DOC),
     _job_key("end_timestamp")),
]

#: field name -> definition, in Ganeti's order
FIELD_DEFS: dict[str, FieldDef] = {d.name: d for d, _ in _FIELDS}
_GETTERS: dict[str, Getter] = {d.name: g for d, g in _FIELDS}


def getters(fields: Sequence[str]) -> list[Getter]:
    """The getters for ``fields``; raises ParameterError naming unknown fields."""
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise errors.ParameterError(f"Job fields must be a list of names, got {fields!r}")
    unknown = [f for f in fields if f not in _GETTERS]
    if unknown:
        raise errors.ParameterError(
            f"Unknown job field(s): {', '.join(map(str, unknown))}; known fields:"
            f" {', '.join(_GETTERS)}")
    return [_GETTERS[f] for f in fields]


def extract(view: JobView, fns: list[Getter]) -> list[Any]:
    """The values of the fields selected by ``fns`` for one job."""
    return [fn(view) for fn in fns]
