"""Job query fields (``gnt-job list``), evaluated over the job queue's rows."""

from __future__ import annotations

from typing import Any

from gnt.query.base import (
    QFT_BOOL,
    QFT_NUMBER,
    QFT_OTHER,
    QFT_TEXT,
    FieldDef,
    FieldTable,
    run_query,
)

DEFAULT_FIELDS = ["id", "status", "summary"]

_DEFS = [
    ("id", "ID", QFT_NUMBER, "Job ID"),
    ("status", "Status", QFT_TEXT, "Job status"),
    ("priority", "Priority", QFT_NUMBER, "Current job priority"),
    ("archived", "Archived", QFT_BOOL, "Whether job is archived"),
    ("ops", "OpCodes", QFT_OTHER, "List of all opcodes"),
    ("opresult", "OpCode_result", QFT_OTHER, "List of opcodes results"),
    ("opstatus", "OpCode_status", QFT_OTHER, "List of opcodes status"),
    ("oplog", "OpCode_log", QFT_OTHER, "List of opcode output logs"),
    ("opstart", "OpCode_start", QFT_OTHER, "List of opcode start timestamps"),
    ("opexec", "OpCode_exec", QFT_OTHER, "List of opcode execution start timestamps"),
    ("opend", "OpCode_end", QFT_OTHER, "List of opcode end timestamps"),
    ("oppriority", "OpCode_prio", QFT_OTHER, "List of opcode priorities"),
    ("summary", "Summary", QFT_OTHER, "List of per-opcode summaries"),
    ("received_ts", "Received", QFT_OTHER, "Timestamp of when job was received"),
    ("start_ts", "Start", QFT_OTHER, "Timestamp of job start"),
    ("end_ts", "End", QFT_OTHER, "Timestamp of job end"),
]
NAMES = [d[0] for d in _DEFS]


def _getter(name: str) -> Any:
    return lambda ctx, row: row[name]


TABLE = FieldTable([FieldDef(n, t, k, doc, _getter(n)) for n, t, k, doc in _DEFS])


def query_jobs(queue: Any, fields: list[str], qfilter: Any) -> dict[str, Any]:
    """Query every job (live and archived when asked by id) through ``queue.query``."""
    rows = [r for r in queue.query(None, NAMES) if r is not None]
    items = [dict(zip(NAMES, r)) for r in rows]
    return run_query(TABLE, fields, None, items, qfilter)
