"""LUs that empty a node: ``gnt-node migrate`` and ``gnt-node evacuate``.

As in Ganeti they do not move anything themselves: they submit one job per
instance and return the job IDs (:class:`ResultWithJobs`), so each move is
its own job in ``gnt-job list`` and one failure does not stop the rest.

* ``LUNodeMigrate``: ``OP_INSTANCE_MIGRATE`` per primary instance, with the
  opcode's target node or iallocator (each job chooses its own target);
  hooks ``node-migrate`` on the master (``NODE_NAME``,
  ``ALLOW_RUNTIME_CHANGES``).
* ``LUNodeEvacuate`` (no hooks, as in Ganeti): with an iallocator (``-I`` or
  the cluster default) the allocator's ``node-evacuate`` answer decides the
  jobs (migrate, failover or replace-disks opcodes; ``early_release`` is set
  on the ones that have it) and refuses when it could not place an
  instance; a remote node (``-n``) only serves ``secondary-only``, which
  replaces the secondaries of internally mirrored instances (none exist on
  shared storage, so there is nothing to do).
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors, hooks
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit, ResultWithJobs
from gnt.cmdlib.common import expand_node
from gnt.cmdlib.evacuation import load_evac_jobs
from gnt.cmdlib.instance_migration import NO_TARGET_MSG, check_iallocator_or_node
from gnt.objects import Instance, Node
from gnt.opcodes.mobility import OpInstanceMigrate, OpNodeEvacuate, OpNodeMigrate

EVAC_PRIMARY, EVAC_SECONDARY, EVAC_ALL = "primary-only", "secondary-only", "all"


def primary_instances(cfg: Any, node: Node) -> list[Instance]:
    """The instances whose primary node is ``node``, by name."""
    return sorted((i for i in cfg.instances.values() if i.primary_node == node.uuid),
                  key=lambda i: i.name)


def secondary_instances(cfg: Any, node: Node) -> list[Instance]:
    """The instances that have ``node`` as a secondary node, by name."""
    return sorted((i for i in cfg.instances.values()
                   if node.uuid in cfg.instance_secondary_nodes(i)), key=lambda i: i.name)


class _NodeJobsLU(LogicalUnit):
    REQ_BGL = False

    def expand_names(self) -> None:
        op: Any = self.op
        self.node: Node = expand_node(self.cfg, op.node_name)
        self.needed_locks[Level.NODE] = [self.node.uuid]
        self.share_locks[Level.NODE] = True


class LUNodeMigrate(_NodeJobsLU):
    """Migrate every primary instance of a node: one job per instance."""

    OP = OpNodeMigrate
    HPATH = "node-migrate"
    HTYPE = C.HTYPE_NODE

    def check_arguments(self) -> None:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        if op.mode is not None and op.live is not None:
            raise errors.OpPrereqError("Only one of the 'live' and 'mode' parameters may be "
                                       "given", errors.ECODE_INVAL)
        check_iallocator_or_node(op.iallocator, op.target_node)

    def check_prereq(self) -> None:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        self.target: str | None = None
        if op.target_node is not None:
            target = expand_node(self.cfg, op.target_node)
            if target.uuid == self.node.uuid:
                raise errors.OpPrereqError(
                    f"Cannot migrate the instances of node {self.node.name} to the node "
                    f"itself", errors.ECODE_INVAL)
            self.target = target.name

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        return {**hooks.node_env(self.node.name),
                "ALLOW_RUNTIME_CHANGES": op.allow_runtime_changes}

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = hooks.master_nodes(self.cfg)
        return nl, nl

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpNodeMigrate = self.op  # type: ignore[assignment]
        insts = primary_instances(self.cfg, self.node)
        feedback(f"Migrating {len(insts)} instance(s) away from node {self.node.name}")
        return ResultWithJobs([[OpInstanceMigrate(
            instance_name=i.name, mode=op.mode, live=op.live, target_node=self.target,
            iallocator=op.iallocator, allow_runtime_changes=op.allow_runtime_changes,
            ignore_ipolicy=op.ignore_ipolicy, priority=op.priority)] for i in insts])


class LUNodeEvacuate(_NodeJobsLU):
    """Move instances off a node, where the iallocator says (Ganeti's rules)."""

    OP = OpNodeEvacuate

    def check_arguments(self) -> None:
        op: OpNodeEvacuate = self.op  # type: ignore[assignment]
        check_iallocator_or_node(op.iallocator, op.remote_node)

    def check_prereq(self) -> None:
        op: OpNodeEvacuate = self.op  # type: ignore[assignment]
        self.remote: Node | None = None
        self.iallocator: str | None = None
        if op.remote_node is not None:
            self.remote = expand_node(self.cfg, op.remote_node)
            if self.remote.uuid == self.node.uuid:
                raise errors.OpPrereqError("Can not use evacuated node as a new secondary "
                                           "node", errors.ECODE_INVAL)
            if op.mode != EVAC_SECONDARY:
                raise errors.OpPrereqError("Without the use of an iallocator only secondary"
                                           " instances can be evacuated", errors.ECODE_INVAL)
        else:
            self.iallocator = op.iallocator or self.cfg.cluster.default_iallocator or None
            if not self.iallocator:
                raise errors.OpPrereqError(NO_TARGET_MSG, errors.ECODE_INVAL)
        insts: dict[str, Instance] = {}
        if op.mode in (EVAC_PRIMARY, EVAC_ALL):
            insts.update((i.name, i) for i in primary_instances(self.cfg, self.node))
        if op.mode in (EVAC_SECONDARY, EVAC_ALL):
            insts.update((i.name, i) for i in secondary_instances(self.cfg, self.node))
        self.instances = [insts[n] for n in sorted(insts)]

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpNodeEvacuate = self.op  # type: ignore[assignment]
        if not self.instances:
            feedback(f"No instances to evacuate on node {self.node.name}")
            return ResultWithJobs([])
        if self.iallocator is None:
            # remote node, secondary-only: replace the secondaries (DRBD); gnt has no
            # internally mirrored template, so no instance has a secondary
            raise errors.OpPrereqError(
                f"Cannot change the secondary node of instances "
                f"{', '.join(i.name for i in self.instances)}: no disk template with "
                f"secondaries is supported", errors.ECODE_INVAL)
        from gnt import iallocator as ialloc  # the iallocator runner

        try:
            res = ialloc.node_evacuate(self.ctx, self.iallocator,
                                       [i.uuid for i in self.instances], op.mode)
        except errors.OpPrereqError as err:
            if err.ecode != errors.ECODE_NORES:
                raise
            raise errors.OpPrereqError(
                f"Can't compute node evacuation using iallocator '{self.iallocator}': "
                f"{_allocator_info(err)}", errors.ECODE_NORES) from None
        return ResultWithJobs(load_evac_jobs(self, res, op.early_release, use_nodes=True))


def _allocator_info(err: errors.OpPrereqError) -> str:
    """The allocator's own words from an IAllocatorError."""
    msg = str(err.args[0]) if err.args else str(err)
    return msg.split(": ", 1)[1] if ": " in msg else msg


