"""LUs that empty a node: ``gnt-node migrate`` and ``gnt-node evacuate``.

As in Ganeti they do not move anything themselves: they submit one job per
instance (``OP_INSTANCE_MIGRATE``, or failover for stopped ones when
evacuating) and return the job IDs (:class:`ResultWithJobs`), so each move
is its own job in ``gnt-job list`` and one failure does not stop the rest.
"""

from __future__ import annotations

from typing import Any

from gnt import errors
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit, ResultWithJobs
from gnt.cmdlib.common import expand_node
from gnt.objects import Instance, Node
from gnt.opcodes.mobility import OpInstanceMigrate, OpNodeEvacuate, OpNodeMigrate


def primary_instances(cfg: Any, node: Node) -> list[Instance]:
    """The instances whose primary node is ``node``, by name."""
    return sorted((i for i in cfg.instances.values() if i.primary_node == node.uuid),
                  key=lambda i: i.name)


class _NodeJobsLU(LogicalUnit):
    REQ_BGL = False

    def expand_names(self) -> None:
        op: Any = self.op
        self.node: Node = expand_node(self.cfg, op.node_name)
        self.needed_locks[Level.NODE] = [self.node.uuid]
        self.share_locks[Level.NODE] = True

    def _check_target(self, name: str | None) -> str | None:
        if name is None:
            return None
        target = expand_node(self.cfg, name)
        if target.uuid == self.node.uuid:
            raise errors.OpPrereqError(
                f"Cannot move the instances of node {self.node.name} to the node itself",
                errors.ECODE_INVAL)
        return target.name


class LUNodeMigrate(_NodeJobsLU):
    """Migrate every primary instance of a node: one job per instance."""

    OP = OpNodeMigrate

    def check_arguments(self) -> None:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        if op.mode is not None and op.live is not None:
            raise errors.OpPrereqError("Only one of the 'live' and 'mode' parameters may be "
                                       "given", errors.ECODE_INVAL)

    def check_prereq(self) -> None:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        self.target = self._check_target(op.target_node)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        insts = primary_instances(self.cfg, self.node)
        feedback(f"Migrating {len(insts)} instance(s) away from node {self.node.name}")
        return ResultWithJobs([[OpInstanceMigrate(
            instance_name=i.name, mode=op.mode, live=op.live, target_node=self.target,
            iallocator=op.iallocator, allow_runtime_changes=op.allow_runtime_changes,
            ignore_ipolicy=op.ignore_ipolicy, priority=op.priority)] for i in insts])


class LUNodeEvacuate(_NodeJobsLU):
    """Move instances off a node: running ones live, stopped ones by failover."""

    OP = OpNodeEvacuate

    def check_prereq(self) -> None:
        op: OpNodeEvacuate = self.op  # type: ignore[assignment]
        if op.remote_node is not None and op.iallocator is not None:
            raise errors.OpPrereqError("Give either a remote node or an iallocator, not "
                                       "both", errors.ECODE_INVAL)
        self.target = self._check_target(op.remote_node)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpNodeEvacuate = self.op  # type: ignore[assignment]
        # gnt has no replicated (secondary) storage yet: only primaries move
        insts = [] if op.mode == "secondary-only" else primary_instances(self.cfg, self.node)
        feedback(f"Evacuating {len(insts)} instance(s) from node {self.node.name}")
        return ResultWithJobs([[OpInstanceMigrate(
            instance_name=i.name, target_node=self.target, iallocator=op.iallocator,
            allow_failover=True, ignore_ipolicy=False, priority=op.priority)]
            for i in insts])
