"""OS LUs and checks: ``OP_OS_DIAGNOSE`` (Ganeti's legacy OS listing) and the
blacklist check of instance creation."""

from __future__ import annotations

from typing import Any

from gnt import errors
from gnt.cmdlib.base import FeedbackFn, NoHooksLU
from gnt.masterd.queries import collect_os
from gnt.objects.cluster import Cluster
from gnt.opcodes.query import OpOsDiagnose
from gnt.query import base as qbase
from gnt.query import osq


def legacy_filter(fields: list[str], names: list[str]) -> list[Any] | None:
    """Ganeti's OpOsDiagnose filter: the given names, and unless the field is
    requested, no hidden, no blacklisted and only valid OSes."""
    parts: list[Any] = []
    if names:
        parts.append(["|", *[["=", "name", n] for n in names]])
    parts.extend(["!", ["?", f]] for f in ("hidden", "blacklisted") if f not in fields)
    if "valid" not in fields:
        parts.append(["?", "valid"])
    return ["&", *parts] if parts else None


class LUOsDiagnose(NoHooksLU):
    """Return the requested OS fields, one row per OS (Ganeti's legacy result)."""

    OP = OpOsDiagnose
    REQ_BGL = False

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpOsDiagnose = self.op  # type: ignore[assignment]
        entries = collect_os(self.ctx, self.cfg)
        resp = qbase.run_query(osq.TABLE, op.output_fields, None, entries,
                               legacy_filter(op.output_fields, op.names))
        return [[v for _, v in row] for row in resp["data"]]


def check_os_allowed_for_install(cluster: Cluster, os_name: str | None) -> None:
    """Refuse a blacklisted OS for a new installation, as Ganeti's instance creation.

    ``os_name`` is compared exactly (a blacklisted ``name`` does not cover
    ``name+variant`` and vice versa).  Hidden OSes stay usable.  Raises
    OpPrereqError (``wrong_state``).
    """
    if os_name and os_name in cluster.blacklisted_os:
        raise errors.OpPrereqError(f"Guest OS '{os_name}' is not allowed for installation",
                                   errors.ECODE_STATE)
