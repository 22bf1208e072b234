"""``gnt-instance change-group``: move an instance to another node group.

Ganeti's ``LUInstanceChangeGroup``: the LU moves nothing itself.  It asks
the iallocator (``-I``, else the cluster default) for a ``change-group``
solution and submits the opcodes of the answer as jobs, returning their
IDs (:class:`ResultWithJobs`, like ``gnt-node evacuate``).  The moves are
the allocator's: with gnt's ``hail`` (as with Ganeti's) instances on
shared storage (``sharedfile``, ``ext``, ``blockdev``, ``diskless`` ...)
migrate (or fail over when stopped) to a node of the best target group;
``plain``/``file`` instances cannot change group that way (hail answers
"cannot be relocated"): move them with ``gnt-instance move -n``.
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors, hooks
from gnt import iallocator as ialloc
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit, ResultWithJobs
from gnt.cmdlib.common import expand_instance
from gnt.cmdlib.evacuation import load_evac_jobs
from gnt.objects import Instance
from gnt.opcodes.mobility import OpInstanceChangeGroup


def instance_groups(cfg: Any, inst: Instance) -> set[str]:
    """UUIDs of the groups of the instance's nodes (primary and secondaries)."""
    nodes = [inst.primary_node, *cfg.instance_secondary_nodes(inst)]
    return {cfg.get_node(u).group for u in nodes}


class LUInstanceChangeGroup(LogicalUnit):
    """Move an instance to another node group through the iallocator."""

    OP = OpInstanceChangeGroup
    REQ_BGL = False
    HPATH = "instance-change-group"
    HTYPE = C.HTYPE_INSTANCE

    def expand_names(self) -> None:
        op: OpInstanceChangeGroup = self.op  # type: ignore[assignment]
        cfg = self.cfg
        self.instance: Instance = expand_instance(cfg, op.instance_name)
        self.req_targets: list[str] | None = None
        if op.target_groups:
            self.req_targets = []
            for g in op.target_groups:
                grp = cfg.group_by_name(g) or cfg.nodegroups.get(g)
                if grp is None:
                    raise errors.OpPrereqError(f"Node group '{g}' not found",
                                               errors.ECODE_NOENT)
                self.req_targets.append(grp.uuid)
        self.iallocator = op.iallocator or cfg.cluster.default_iallocator
        if not self.iallocator:
            raise errors.OpPrereqError(
                "No iallocator given and no cluster-wide default iallocator found; please "
                "specify an iallocator (-I) or set a cluster-wide default iallocator",
                errors.ECODE_INVAL)
        self.share_all()
        self.needed_locks[Level.INSTANCE] = [self.instance.name]
        if self.req_targets:
            # optimistic: the instance's groups are checked again in check_prereq
            groups = set(self.req_targets) | instance_groups(cfg, self.instance)
            self.needed_locks[Level.NODEGROUP] = sorted(groups)
            self.needed_locks[Level.NODE] = sorted(
                n.uuid for n in cfg.nodes.values() if n.group in groups)
        else:
            self.needed_locks[Level.NODEGROUP] = ALL_SET
            self.needed_locks[Level.NODE] = ALL_SET

    def check_prereq(self) -> None:
        cfg = self.cfg
        inst = self.instance = expand_instance(cfg, self.instance.name)
        inst_groups = instance_groups(cfg, inst)
        locked = self.needed_locks[Level.NODEGROUP]
        if locked is not ALL_SET and not inst_groups <= set(locked):
            raise errors.OpPrereqError(
                f"Instance {inst.name}'s node groups changed while waiting for the locks; "
                f"retry", errors.ECODE_STATE)
        if self.req_targets:
            targets = set(self.req_targets)
        else:
            targets = set(cfg.nodegroups) - inst_groups
        conflicting = targets & inst_groups
        if conflicting:
            names = ", ".join(sorted(cfg.get_group(g).name for g in conflicting))
            raise errors.OpPrereqError(f"Can't use group(s) '{names}' as targets, they are "
                                       f"used by the instance '{inst.name}'",
                                       errors.ECODE_INVAL)
        if not targets:
            raise errors.OpPrereqError("There are no possible target groups",
                                       errors.ECODE_INVAL)
        self.target_uuids = sorted(targets)

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.instance_env(self.cfg, self.instance, override={
            "TARGET_GROUPS": " ".join(self.target_uuids)})

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        mn = [self.cfg.cluster.master_node]
        return mn, list(mn)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceChangeGroup = self.op  # type: ignore[assignment]
        inst = self.instance
        try:
            result = ialloc.change_group(self.ctx, self.iallocator, [inst.uuid],
                                         self.target_uuids)
        except errors.OpPrereqError as err:
            if err.ecode != errors.ECODE_NORES:
                raise
            raise errors.OpPrereqError(
                f"Can't compute solution for changing group of instance '{inst.name}' "
                f"using iallocator '{self.iallocator}': {err}", errors.ECODE_NORES) from None
        jobs = load_evac_jobs(self, result, op.early_release, use_nodes=False)
        self.log_info(f"Iallocator returned {len(jobs)} job(s) for changing group of "
                      f"instance '{inst.name}'")
        return ResultWithJobs(jobs)


__all__ = ["LUInstanceChangeGroup", "instance_groups"]
