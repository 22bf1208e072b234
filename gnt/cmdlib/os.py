"""OS diagnosis LU (``gnt-os diagnose`` through a job, as Ganeti)."""

from __future__ import annotations

from typing import Any

from gnt.cmdlib.base import FeedbackFn, NoHooksLU
from gnt.masterd.queries import collect_os
from gnt.opcodes.query import OpOsDiagnose
from gnt.query import base as qbase
from gnt.query import osq


class LUOsDiagnose(NoHooksLU):
    """Return the requested OS fields, one row per OS (Ganeti's legacy result)."""

    OP = OpOsDiagnose
    REQ_BGL = False

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpOsDiagnose = self.op  # type: ignore[assignment]
        entries = collect_os(self.ctx, self.cfg)
        if op.names:
            entries = [e for e in entries if e.name in op.names]
        resp = qbase.run_query(osq.TABLE, op.output_fields, None, entries)
        return [[v for _, v in row] for row in resp["data"]]
