"""ExtStorage diagnosis LU (``gnt-storage diagnose``/``info``)."""

from __future__ import annotations

from typing import Any

from gnt import errors
from gnt.cmdlib.base import FeedbackFn, NoHooksLU
from gnt.extstorage import query as esq
from gnt.opcodes.extstorage import OpExtStorageDiagnose
from gnt.query import base as qbase


class LUExtStorageDiagnose(NoHooksLU):
    """Ask every online vm-capable node for its providers; one row of the
    requested fields per provider (Ganeti's result shape).  Nodes that do
    not answer are left out (a warning says which)."""

    OP = OpExtStorageDiagnose
    REQ_BGL = False

    def check_arguments(self) -> None:
        op: OpExtStorageDiagnose = self.op  # type: ignore[assignment]
        unknown = [f for f in op.output_fields if esq.TABLE.get(f) is None]
        if unknown or not op.output_fields:
            raise errors.OpPrereqError(
                f"Unknown output fields selected: {', '.join(unknown) or '(none given)'}; "
                f"allowed: {', '.join(f.name for f in esq.TABLE.all())}", errors.ECODE_INVAL)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpExtStorageDiagnose = self.op  # type: ignore[assignment]
        cfg = self.cfg
        nodes = sorted((n for n in cfg.nodes.values() if not n.offline and n.vm_capable),
                       key=lambda n: n.name)
        results = self.ctx.rpc.extstorage_diagnose([n.uuid for n in nodes])
        diagnoses: dict[str, list[dict[str, Any]]] = {}
        for node in nodes:
            res = results[node.uuid]
            if res.fail_msg:
                self.log_warning(f"Cannot get the ExtStorage providers of node {node.name}: "
                                 f"{res.fail_msg}")
                continue
            diagnoses[node.name] = list(res.data or [])
        groups = {g.name: [n.name for n in nodes if n.group == g.uuid]
                  for g in cfg.nodegroups.values()}
        entries = esq.collect(diagnoses, groups)
        if op.names:
            entries = [e for e in entries if e.name in op.names]
        resp = qbase.run_query(esq.TABLE, op.output_fields, None, entries)
        return [[v for _, v in row] for row in resp["data"]]
