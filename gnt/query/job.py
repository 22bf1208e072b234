"""Job query fields (``gnt-job list``), evaluated over the job queue's rows.

The field definitions are the job queue's own (:data:`gnt.jqueue.FIELD_DEFS`).
"""

from __future__ import annotations

from typing import Any

from gnt.jqueue import FIELD_DEFS
from gnt.query import defaults
from gnt.query.base import FieldDef, FieldTable, run_query

DEFAULT_FIELDS = defaults.JOB
NAMES = list(FIELD_DEFS)


def _getter(name: str) -> Any:
    return lambda ctx, row: row[name]


TABLE = FieldTable([FieldDef(d.name, d.title, d.kind, d.doc, _getter(d.name))
                    for d in FIELD_DEFS.values()])


def query_jobs(queue: Any, fields: list[str], qfilter: Any) -> dict[str, Any]:
    """Query every job (archived ones too when the filter mentions ``archived``)."""
    archived = "archived" in str(qfilter)
    rows = [r for r in queue.query(None, NAMES, include_archived=archived) if r is not None]
    items = [dict(zip(NAMES, r)) for r in rows]
    return run_query(TABLE, fields, None, items, qfilter)
