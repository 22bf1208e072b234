"""LUs that move one instance: ``gnt-instance migrate`` and ``failover``.

The work is :class:`gnt.cmdlib.migration.Migrater`'s; these LUs pick the
target node (``-n``, or an iallocator for shared storage), take the locks
(the instance; the source and target nodes and their resources; every node,
shared, for ``--cleanup``, which must ask them all) and check everything
before anything moves.
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import check_node_online, expand_instance, expand_node
from gnt.cmdlib.disk_mobility import for_template
from gnt.cmdlib.migration import Migrater, check_target_node, runtime_memory
from gnt.objects import Instance, Node, fill
from gnt.opcodes.mobility import OpInstanceFailover, OpInstanceMigrate


def choose_target(lu: LogicalUnit, inst: Instance, target_node: str | None,
                  iallocator: str | None, action: str) -> Node:
    """The target node: ``target_node``, else the iallocator's choice (``iallocator``
    or the cluster default).  Raises OpPrereqError."""
    mob = for_template(inst.disk_template)
    if target_node:
        if not mob.any_target:
            raise errors.OpPrereqError(
                f"Instances with disk template {inst.disk_template} can only {action} to "
                f"their secondary node; do not give a target node", errors.ECODE_INVAL)
        return expand_node(lu.cfg, target_node)
    name = iallocator or lu.cfg.cluster.default_iallocator
    if not name:
        raise errors.OpPrereqError(
            f"No target node given (-n) and no iallocator (-I, or a cluster default "
            f"iallocator) to choose where {inst.name} goes", errors.ECODE_INVAL)
    from gnt import iallocator as ialloc  # the iallocator runner

    nodes = ialloc.relocate(lu.ctx, name, inst, action)
    if not nodes:
        raise errors.OpPrereqError(f"Iallocator '{name}' found no node for {inst.name}",
                                   errors.ECODE_NORES)
    return expand_node(lu.cfg, nodes[0])


class _MoveInstanceLU(LogicalUnit):
    """Common locking and checks of migrate and failover."""

    REQ_BGL = False
    ACTION = ""

    def expand_names(self) -> None:
        op: Any = self.op
        self.instance: Instance = expand_instance(self.cfg, op.instance_name)
        self.needed_locks[Level.INSTANCE] = [self.instance.name]
        if getattr(op, "cleanup", False) or not op.target_node:
            # cleanup asks every node; an iallocator may choose any node
            self.needed_locks[Level.NODE] = ALL_SET
            self.needed_locks[Level.NODE_RES] = ALL_SET
            self.share_locks[Level.NODE] = self.share_locks[Level.NODE_RES] = bool(
                getattr(op, "cleanup", False))
        else:
            target = expand_node(self.cfg, op.target_node)
            nodes = [self.instance.primary_node, target.uuid]
            self.needed_locks[Level.NODE] = nodes
            self.needed_locks[Level.NODE_RES] = nodes

    def check_prereq(self) -> None:
        op: Any = self.op
        self.instance = expand_instance(self.cfg, self.instance.name)
        inst = self.instance
        self.source: Node = self.cfg.get_node(inst.primary_node)
        if inst.admin_state == C.ADMINST_OFFLINE:
            raise errors.OpPrereqError(f"Instance {inst.name} is marked offline",
                                       errors.ECODE_STATE)
        for_template(inst.disk_template).check_migratable(inst, self.ACTION)
        if getattr(op, "cleanup", False):
            self.target = None
            return
        self.target = choose_target(self, inst, op.target_node, op.iallocator, self.ACTION)
        check_target_node(self, inst, self.source, self.target, self.ACTION)


class LUInstanceMigrate(_MoveInstanceLU):
    """Live-migrate an instance (``gnt-instance migrate``)."""

    OP = OpInstanceMigrate
    ACTION = "migrate"

    def check_arguments(self) -> None:
        op: OpInstanceMigrate = self.op  # type: ignore[assignment]
        if op.mode is not None and op.live is not None:
            raise errors.OpPrereqError("Only one of the 'live' and 'mode' parameters may be "
                                       "given", errors.ECODE_INVAL)
        if op.cleanup and op.target_node:
            raise errors.OpPrereqError("--cleanup and a target node are mutually exclusive",
                                       errors.ECODE_INVAL)

    def check_prereq(self) -> None:
        op: OpInstanceMigrate = self.op  # type: ignore[assignment]
        super().check_prereq()
        inst = self.instance
        self.failover = False
        if op.cleanup:
            return
        migrater = Migrater(self, inst, self.target)
        check_node_online(self.source, f"Cannot migrate instance {inst.name}")
        running = migrater.is_running()
        if not running:
            if not op.allow_failover:
                raise errors.OpPrereqError(
                    f"Instance {inst.name} is not running on {self.source.name}, cannot "
                    f"migrate it (use failover, or --allow-failover)", errors.ECODE_STATE)
            self.log_info(f"Instance {inst.name} is not running, switching to failover")
            self.failover = True
        mode: str | None = op.mode
        if mode is None and op.live is not None:
            mode = C.HT_MIGRATION_LIVE if op.live else C.HT_MIGRATION_NONLIVE
        if mode is None:
            hvp = fill.fill_instance_hv(self.cfg.cluster, inst)
            mode = str(hvp.get("migration_mode") or C.HT_MIGRATION_LIVE)
        self.live = mode == C.HT_MIGRATION_LIVE
        migrater.check_target(runtime_memory(self, inst, self.source)
                              if running or inst.admin_state == C.ADMINST_UP else None)
        self.migrater = migrater

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceMigrate = self.op  # type: ignore[assignment]
        inst = self.instance
        if op.cleanup:
            verdict = Migrater(self, inst, None).cleanup(feedback)
            feedback(verdict)
            return verdict
        if self.failover:
            self.migrater.failover(C.DEFAULT_SHUTDOWN_TIMEOUT, False, feedback)
            return None
        feedback(f"Migrating instance {inst.name}")
        res = self.migrater.migrate(self.live, feedback)
        return {"total_time_ms": res.total_time_ms, "downtime_ms": res.downtime_ms,
                "transferred_ram": res.transferred_ram}


class LUInstanceFailover(_MoveInstanceLU):
    """Stop an instance and start it on another node (``gnt-instance failover``)."""

    OP = OpInstanceFailover
    ACTION = "failover"

    def check_prereq(self) -> None:
        op: OpInstanceFailover = self.op  # type: ignore[assignment]
        super().check_prereq()
        if op.cleanup:
            return
        inst = self.instance
        if not self.source.offline and not op.ignore_consistency:
            check_node_online(self.source, f"Cannot fail over instance {inst.name}")
        self.migrater = Migrater(self, inst, self.target)
        memory = (int(fill.fill_instance_be(self.cfg.cluster, inst)[C.BE_MAXMEM])
                  if inst.admin_state == C.ADMINST_UP else None)
        self.migrater.check_target(memory)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceFailover = self.op  # type: ignore[assignment]
        if op.cleanup:
            verdict = Migrater(self, self.instance, None).cleanup(feedback)
            feedback(verdict)
            return verdict
        feedback(f"Failover instance {self.instance.name}")
        self.migrater.failover(op.shutdown_timeout, op.ignore_consistency, feedback)
        return None
