"""Jobs from an iallocator's evacuation answer (node-evacuate, change-group).

Both ``gnt-node evacuate`` and ``gnt-instance change-group`` move nothing
themselves: they submit the opcodes the iallocator answered (Ganeti's
``LoadNodeEvacResult``), one job per instance, and return the job IDs.
"""

from __future__ import annotations

from gnt import errors
from gnt.cmdlib.base import LogicalUnit
from gnt.iallocator import EvacResult
from gnt.opcodes.base import OpCode, from_dict


def with_early_release(op: OpCode, early_release: bool) -> OpCode:
    """``op`` with ``early_release`` set where the opcode has that parameter."""
    if "early_release" in type(op).model_fields:
        return op.model_copy(update={"early_release": early_release})
    return op


def load_evac_jobs(lu: LogicalUnit, result: EvacResult, early_release: bool,
                   use_nodes: bool) -> list[list[OpCode]]:
    """The jobs of ``result`` (lists of opcodes, one list per job).

    Logs where each instance goes: its new nodes (``use_nodes``, node
    evacuation) or its new group's name (change-group).  Raises
    :class:`errors.OpExecError` naming every instance the allocator could
    not move (and submits nothing then).
    """
    if result.failed:
        why = ", ".join(f"{name} ({reason})" for name, reason in result.failed)
        lu.log_warning(f"Unable to evacuate instances {why}")
        raise errors.OpExecError(f"Unable to evacuate instances {why}")
    if result.moved:
        def dest(group: str, nodes: list[str]) -> str:
            if use_nodes:
                return ", ".join(nodes)
            grp = lu.cfg.nodegroups.get(group)
            return grp.name if grp is not None else group
        lu.log_info("Instances to be moved: " + ", ".join(
            f"{name} (to {dest(group, nodes)})" for name, group, nodes in result.moved))
    return [[with_early_release(from_dict(raw), early_release) for raw in ops]
            for ops in result.jobs]


__all__ = ["load_evac_jobs", "with_early_release"]
