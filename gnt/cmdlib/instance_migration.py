"""LUs that move one instance: ``gnt-instance migrate`` and ``failover``.

The work is :class:`gnt.cmdlib.migration.Migrater`'s; these LUs pick the
target node (``-n``; else an iallocator, ``-I`` or the cluster default, for
shared storage), take the locks (the instance; the source and target nodes
and their resources; every node when an iallocator chooses, and every node,
shared, for ``--cleanup``, which must ask them all) and check everything
before anything moves.

Hooks (Ganeti's): ``instance-migrate`` (pre and post on the master, the
source, the secondaries and the target) with ``MIGRATE_LIVE``,
``MIGRATE_CLEANUP``, ``ALLOW_RUNTIME_CHANGES``, ``OLD_PRIMARY``,
``NEW_PRIMARY``, ``OLD_SECONDARY``, ``NEW_SECONDARY``; ``instance-failover``
(pre on the master, the secondaries and the target; post also on the source)
with ``IGNORE_CONSISTENCY``, ``SHUTDOWN_TIMEOUT`` and the same four node
variables.  For ``--cleanup`` (no target) ``NEW_PRIMARY`` is the node the
config names: before the cleanup in the pre phase, after it in the post.
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors, hooks
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import check_node_online, expand_instance, expand_node
from gnt.cmdlib.disk_mobility import for_template
from gnt.cmdlib.migration import Migrater, check_target_node
from gnt.objects import Instance, Node, fill
from gnt.opcodes.mobility import OpInstanceFailover, OpInstanceMigrate

NO_TARGET_MSG = ("No iallocator or node given and no cluster-wide default iallocator "
                 "found; please specify either an iallocator or a node, or set a "
                 "cluster-wide default iallocator")


def check_iallocator_or_node(iallocator: str | None, node: str | None) -> None:
    """Ganeti's rule for an iallocator and a node: not both (``OpPrereqError``)."""
    if iallocator and node:
        raise errors.OpPrereqError("Do not specify both, iallocator and node",
                                   errors.ECODE_INVAL)


def choose_target(lu: LogicalUnit, inst: Instance, target_node: str | None,
                  iallocator: str | None, action: str) -> Node:
    """The target node: ``target_node``, else the iallocator's choice (``iallocator``
    or the cluster default), logged as in Ganeti.  Raises OpPrereqError."""
    mob = for_template(inst.disk_template)
    if target_node:
        if not mob.any_target:
            raise errors.OpPrereqError(
                f"Instances with disk template {inst.disk_template} can only {action} to "
                f"their secondary node; do not give a target node", errors.ECODE_INVAL)
        return expand_node(lu.cfg, target_node)
    name = iallocator or lu.cfg.cluster.default_iallocator
    if not name:
        raise errors.OpPrereqError(NO_TARGET_MSG, errors.ECODE_INVAL)
    from gnt import iallocator as ialloc  # the iallocator runner

    nodes = ialloc.relocate(lu.ctx, name, inst, action)
    if not nodes:
        raise errors.OpPrereqError(f"Iallocator '{name}' found no node for {inst.name}",
                                   errors.ECODE_NORES)
    lu.log_info(f"Selected nodes for instance {inst.name} via iallocator {name}: "
                f"{', '.join(nodes)}")
    return expand_node(lu.cfg, nodes[0])


class _MoveInstanceLU(LogicalUnit):
    """Common locking, checks and hook variables of migrate and failover."""

    REQ_BGL = False
    ACTION = ""
    HTYPE = C.HTYPE_INSTANCE

    def check_arguments(self) -> None:
        op: Any = self.op
        check_iallocator_or_node(op.iallocator, op.target_node)

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
        self.target: Node | None = None
        if inst.admin_state == C.ADMINST_OFFLINE:
            raise errors.OpPrereqError(f"Instance {inst.name} is marked offline",
                                       errors.ECODE_STATE)
        for_template(inst.disk_template).check_migratable(inst, self.ACTION)
        if getattr(op, "cleanup", False):
            return
        self.target = choose_target(self, inst, op.target_node, op.iallocator, self.ACTION)
        check_target_node(self, inst, self.source, self.target, self.ACTION)

    # --- hooks ---
    def _nodes_env(self) -> dict[str, Any]:
        """``OLD_/NEW_PRIMARY`` and ``OLD_/NEW_SECONDARY`` (Ganeti's values: for
        shared storage the secondaries are empty)."""
        new = self.target or self.cfg.get_node(self.instance.primary_node)
        env: dict[str, Any] = {"OLD_PRIMARY": self.source.name, "NEW_PRIMARY": new.name}
        secondaries = self.cfg.instance_secondary_nodes(self.instance)
        if secondaries and self.target is not None:  # internally mirrored: they swap
            env["OLD_SECONDARY"] = self.target.name
            env["NEW_SECONDARY"] = self.source.name
        else:
            env["OLD_SECONDARY"] = env["NEW_SECONDARY"] = self.NO_SECONDARY
        return env

    #: the secondaries' value for shared storage (Ganeti: None for migrate, "" failover)
    NO_SECONDARY: Any = None

    def _hook_nodes(self) -> list[str]:
        """Master, secondaries and target (UUIDs)."""
        nl = [self.cfg.cluster.master_node, *self.cfg.instance_secondary_nodes(self.instance)]
        if self.target is not None:
            nl.append(self.target.uuid)
        return hooks.unique(nl)


class LUInstanceMigrate(_MoveInstanceLU):
    """Live-migrate an instance (``gnt-instance migrate``)."""

    OP = OpInstanceMigrate
    ACTION = "migrate"
    HPATH = "instance-migrate"

    def check_arguments(self) -> None:
        op: OpInstanceMigrate = self.op  # type: ignore[assignment]
        if op.mode is not None and op.live is not None:
            raise errors.OpPrereqError("Only one of the 'live' and 'mode' parameters may be "
                                       "given", errors.ECODE_INVAL)
        if op.cleanup and op.target_node:
            raise errors.OpPrereqError("--cleanup and a target node are mutually exclusive",
                                       errors.ECODE_INVAL)
        super().check_arguments()

    def check_prereq(self) -> None:
        op: OpInstanceMigrate = self.op  # type: ignore[assignment]
        super().check_prereq()
        inst = self.instance
        self.failover = False
        mode: str | None = op.mode
        if mode is None and op.live is not None:
            mode = C.HT_MIGRATION_LIVE if op.live else C.HT_MIGRATION_NONLIVE
        if mode is None:
            hvp = fill.fill_instance_hv(self.cfg.cluster, inst)
            mode = str(hvp.get("migration_mode") or C.HT_MIGRATION_LIVE)
        self.live = mode == C.HT_MIGRATION_LIVE
        if op.cleanup:
            return
        check_node_online(self.source, f"Cannot migrate instance {inst.name}")
        migrater = Migrater(self, inst, self.target)
        pre = migrater.gather(source=True)
        be = fill.fill_instance_be(self.cfg.cluster, inst)
        if not pre.running:
            if not op.allow_failover:
                raise errors.OpPrereqError(
                    f"Instance {inst.name} is not running on {self.source.name}, cannot "
                    f"migrate it (use failover, or --allow-failover)", errors.ECODE_STATE)
            self.log_info(f"Instance {inst.name} is not running, switching to failover")
            self.failover = True
            if inst.admin_state == C.ADMINST_UP:
                migrater.check_target_memory(int(be[C.BE_MAXMEM]),
                                             f"failing over instance {inst.name}")
        else:
            # the minimum: more is ballooned away before the move (fit_memory)
            migrater.check_target_memory(int(be[C.BE_MINMEM]),
                                         f"migrating instance {inst.name}")
        self.migrater = migrater

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceMigrate = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, override={
            "MIGRATE_LIVE": self.live, "MIGRATE_CLEANUP": op.cleanup,
            "ALLOW_RUNTIME_CHANGES": op.allow_runtime_changes, **self._nodes_env()})

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = hooks.unique([self.cfg.cluster.master_node, self.source.uuid,
                           *self._hook_nodes()])
        return nl, nl

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
        self.migrater.fit_memory(op.allow_runtime_changes, feedback)
        res = self.migrater.migrate(self.live, feedback)
        return {"total_time_ms": res.total_time_ms, "downtime_ms": res.downtime_ms,
                "transferred_ram": res.transferred_ram}


class LUInstanceFailover(_MoveInstanceLU):
    """Stop an instance and start it on another node (``gnt-instance failover``)."""

    OP = OpInstanceFailover
    ACTION = "failover"
    HPATH = "instance-failover"
    NO_SECONDARY = ""

    def check_prereq(self) -> None:
        op: OpInstanceFailover = self.op  # type: ignore[assignment]
        super().check_prereq()
        if op.cleanup:
            return
        inst = self.instance
        if not self.source.offline and not op.ignore_consistency:
            check_node_online(self.source, f"Cannot fail over instance {inst.name}")
        self.migrater = Migrater(self, inst, self.target)
        self.migrater.gather(source=False)
        if inst.admin_state == C.ADMINST_UP:
            maxmem = int(fill.fill_instance_be(self.cfg.cluster, inst)[C.BE_MAXMEM])
            self.migrater.check_target_memory(maxmem, f"failing over instance {inst.name}")

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceFailover = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, override={
            "IGNORE_CONSISTENCY": op.ignore_consistency,
            "SHUTDOWN_TIMEOUT": op.shutdown_timeout, **self._nodes_env()})

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = self._hook_nodes()
        return nl, hooks.unique([*nl, self.source.uuid])

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceFailover = self.op  # type: ignore[assignment]
        if op.cleanup:
            verdict = Migrater(self, self.instance, None).cleanup(feedback)
            feedback(verdict)
            return verdict
        feedback(f"Failover instance {self.instance.name}")
        self.migrater.failover(op.shutdown_timeout, op.ignore_consistency, feedback)
        return None
