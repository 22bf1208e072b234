"""Node group LUs: add, assign nodes, modify, rename, remove.

Locks: a group is locked by UUID at :data:`Level.NODEGROUP`.  Adding a
group registers its new lock (``add_locks``), removing one forgets it;
assigning nodes locks the target group, the nodes' current groups and the
nodes.  Config writes go through the config writer under its lock, so two
jobs cannot give two groups the same name.
"""

from __future__ import annotations

import copy
from typing import Any

from gnt import constants as C
from gnt import errors, hooks
from gnt.cmdlib import disk_access
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import expand_node
from gnt.objects import ConfigData, NodeGroup, new_uuid
from gnt.objects.params import apply_update, check_params, coerce_value
from gnt.opcodes.group import (
    OpGroupAdd,
    OpGroupAssignNodes,
    OpGroupRemove,
    OpGroupRename,
    OpGroupSetParams,
)

#: instance policy keys a group may set (``std`` is cluster-wide only)
IPOLICY_GROUP_KEYS = ("minmax", "disk-templates", "vcpu-ratio", "spindle-ratio")
IPOLICY_RATIOS = ("vcpu-ratio", "spindle-ratio")
ISPEC_KINDS = {C.ISPEC_MEM_SIZE: C.VTYPE_SIZE, C.ISPEC_DISK_SIZE: C.VTYPE_SIZE,
               C.ISPEC_CPU_COUNT: C.VTYPE_INT, C.ISPEC_DISK_COUNT: C.VTYPE_INT,
               C.ISPEC_NIC_COUNT: C.VTYPE_INT, C.ISPEC_SPINDLE_USE: C.VTYPE_INT}


def lookup_group(cfg: ConfigData, name: str) -> NodeGroup:
    """The group with UUID or name ``name``; raises OpPrereqError (unknown_entity)."""
    grp = cfg.nodegroups.get(name) or cfg.group_by_name(name)
    if grp is None:
        raise errors.OpPrereqError(f"Node group '{name}' not found", errors.ECODE_NOENT)
    return grp


def check_group_name(name: str) -> None:
    """Refuse names that cannot be shown or parsed back (blank or with whitespace)."""
    if not name.strip() or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise errors.OpPrereqError(
            f"Invalid node group name {name!r}: it must be non-empty and contain no"
            " whitespace or control characters", errors.ECODE_INVAL)


def _is_default(value: Any) -> bool:
    return value is None or value == C.VALUE_DEFAULT or value == [C.VALUE_DEFAULT]


def check_ispecs(minmax: Any) -> list[dict[str, dict[str, int]]]:
    """Validate ``minmax`` bounds: a non-empty list of ``{"min": spec, "max": spec}``
    with every ispec parameter, integers (sizes in MiB), min <= max.  Returns the
    coerced copy; raises OpPrereqError naming the problem."""
    if not isinstance(minmax, list) or not minmax:
        raise errors.OpPrereqError("Invalid instance policy: 'minmax' must be a non-empty"
                                   " list of min/max specifications", errors.ECODE_INVAL)
    out = []
    for idx, pair in enumerate(minmax):
        if not isinstance(pair, dict) or set(pair) != {"min", "max"}:
            raise errors.OpPrereqError(
                f"Invalid instance policy: bounds specification {idx} must have exactly"
                f" 'min' and 'max', got {sorted(pair) if isinstance(pair, dict) else pair!r}",
                errors.ECODE_INVAL)
        checked: dict[str, dict[str, int]] = {}
        for bound in ("min", "max"):
            spec = pair[bound]
            if not isinstance(spec, dict):
                raise errors.OpPrereqError(f"Invalid instance policy: {bound}/{idx} must be"
                                           " a dict", errors.ECODE_INVAL)
            unknown = sorted(set(spec) - set(ISPEC_KINDS))
            missing = sorted(set(ISPEC_KINDS) - set(spec))
            if unknown or missing:
                raise errors.OpPrereqError(
                    f"Invalid instance policy: {bound}/{idx} "
                    + (f"has unknown parameters {', '.join(unknown)}" if unknown else
                       f"lacks parameters {', '.join(missing)}")
                    + f"; parameters: {', '.join(C.ISPECS_PARAMETERS)}", errors.ECODE_INVAL)
            checked[bound] = {k: coerce_value("instance spec", k, ISPEC_KINDS[k], v)
                              for k, v in spec.items()}
        for k in C.ISPECS_PARAMETERS:
            lo, hi = checked["min"][k], checked["max"][k]
            if lo < 0 or lo > hi:
                raise errors.OpPrereqError(
                    f"Invalid instance policy: {k} bounds {lo}/{hi} (need 0 <= min <= max)",
                    errors.ECODE_INVAL)
        out.append(checked)
    return out


def update_group_ipolicy(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A group's instance policy ``old`` with ``new`` applied (Ganeti's rules:
    a ``default``/empty value removes the group's setting).  Raises OpPrereqError
    for unknown keys, ``std`` (cluster-only) and invalid values."""
    out = copy.deepcopy(old)
    for key, value in new.items():
        if key == "std":
            raise errors.OpPrereqError("Instance policy 'std' specs cannot be set for a node"
                                       " group, only for the cluster", errors.ECODE_INVAL)
        if key not in IPOLICY_GROUP_KEYS:
            raise errors.OpPrereqError(f"Invalid key in instance policy: '{key}'; allowed: "
                                       f"{', '.join(IPOLICY_GROUP_KEYS)}", errors.ECODE_INVAL)
        if _is_default(value) or (isinstance(value, (list, dict, str)) and not value):
            out.pop(key, None)
        elif key in IPOLICY_RATIOS:
            try:
                ratio = float(value)
            except (TypeError, ValueError):
                ratio = -1.0
            if not ratio > 0:
                raise errors.OpPrereqError(f"Invalid value for instance policy '{key}':"
                                           f" {value!r} (expected a positive number)",
                                           errors.ECODE_INVAL)
            out[key] = ratio
        elif key == "minmax":
            out[key] = check_ispecs(value)
        else:  # disk-templates
            templates = [value] if isinstance(value, str) else list(value)
            bad = [t for t in templates if t not in C.DISK_TEMPLATES]
            if bad:
                raise errors.OpPrereqError(
                    f"Invalid disk template(s) {', '.join(map(str, bad))} in instance policy;"
                    f" allowed: {', '.join(C.DISK_TEMPLATES)}", errors.ECODE_INVAL)
            out[key] = templates
    return out


def update_group_diskparams(old: dict[str, dict[str, Any]], new: dict[str, Any],
                            allow_default: bool) -> dict[str, dict[str, Any]]:
    """``old`` disk parameters (template -> params) with ``new`` applied; with
    ``allow_default`` a ``default`` value removes a setting.  Raises
    OpPrereqError/ParameterError for unknown templates, names or bad values."""
    out = copy.deepcopy(old)
    for dt, params in new.items():
        if dt not in C.DISK_DT_TYPES:
            raise errors.OpPrereqError(f"Invalid disk template '{dt}' in disk parameters;"
                                       f" allowed: {', '.join(C.DISK_TEMPLATES)}",
                                       errors.ECODE_INVAL)
        if not isinstance(params, dict):
            raise errors.OpPrereqError(f"Disk parameters of template '{dt}' must be a dict",
                                       errors.ECODE_INVAL)
        checked = check_params(f"{dt} disk", C.DISK_DT_TYPES[dt], params,
                               allow_default=allow_default)
        merged = apply_update(out.get(dt, {}), checked)
        disk_access.check_values({dt: merged})
        if merged:
            out[dt] = merged
        else:
            out.pop(dt, None)
    return out


def _refuse_states(op: Any) -> None:
    if op.hv_state or op.disk_state:
        raise errors.OpPrereqError("Hypervisor and disk state of node groups are not"
                                   " supported", errors.ECODE_INVAL)


class LUGroupAdd(LogicalUnit):
    """``gnt-group add``: a new group, its lock registered with the lock manager."""

    OP = OpGroupAdd
    REQ_BGL = False
    op: OpGroupAdd
    HPATH = "group-add"
    HTYPE = C.HTYPE_GROUP

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.group_env(self.op.group_name)

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = hooks.master_nodes(self.cfg)
        return nl, nl

    def check_arguments(self) -> None:
        op = self.op
        check_group_name(op.group_name)
        _refuse_states(op)
        self.ndparams = check_params("node", C.NDS_PARAMETER_TYPES, op.ndparams or {})
        self.diskparams = update_group_diskparams({}, op.diskparams or {}, False)
        self.ipolicy = update_group_ipolicy({}, op.ipolicy or {})

    def expand_names(self) -> None:
        self._check_free()
        self.group_uuid = new_uuid()
        self.add_locks[Level.NODEGROUP] = [self.group_uuid]

    def _check_free(self) -> None:
        name = self.op.group_name
        existing = self.cfg.group_by_name(name)
        if existing is not None:
            raise errors.OpPrereqError(f"Desired group name '{name}' already exists as a"
                                       f" node group (UUID: {existing.uuid})",
                                       errors.ECODE_EXISTS)
        if name in self.cfg.nodegroups:
            raise errors.OpPrereqError(f"Desired group name '{name}' is the UUID of a node"
                                       " group", errors.ECODE_EXISTS)

    def check_prereq(self) -> None:
        self._check_free()

    def exec(self, feedback: FeedbackFn) -> Any:
        op = self.op
        group = NodeGroup(uuid=self.group_uuid, name=op.group_name,
                          alloc_policy=op.alloc_policy or "preferred",
                          ndparams=self.ndparams, diskparams=self.diskparams,
                          ipolicy=self.ipolicy)
        self.ctx.cfg.add_group(group)
        return None


class LUGroupAssignNodes(LogicalUnit):
    """``gnt-group assign-nodes``: move nodes into a group.

    Refuses (unless ``force``) to split an instance's nodes over groups."""

    OP = OpGroupAssignNodes
    REQ_BGL = False
    op: OpGroupAssignNodes

    def expand_names(self) -> None:
        self.group = lookup_group(self.cfg, self.op.group_name)
        self.node_uuids = list(dict.fromkeys(expand_node(self.cfg, n).uuid
                                             for n in self.op.nodes))
        self.needed_locks[Level.NODEGROUP] = [self.group.uuid]
        self.needed_locks[Level.NODE] = list(self.node_uuids)

    def _groups_of_nodes(self) -> set[str]:
        return {self.cfg.nodes[u].group for u in self.node_uuids if u in self.cfg.nodes}

    def declare_locks(self, level: Level) -> None:
        if level == Level.NODEGROUP:
            # optimistic: verified in check_prereq once the locks are held
            self.needed_locks[Level.NODEGROUP] = sorted(
                {self.group.uuid} | self._groups_of_nodes())

    def check_prereq(self) -> None:
        cfg = self.cfg
        gone = [u for u in self.node_uuids if u not in cfg.nodes]
        if gone:
            raise errors.OpPrereqError("Some nodes were removed meanwhile; retry",
                                       errors.ECODE_STATE)
        if self.group.uuid not in cfg.nodegroups:
            raise errors.OpPrereqError(f"Node group '{self.group.name}' was removed meanwhile",
                                       errors.ECODE_NOENT)
        expected = {self.group.uuid} | self._groups_of_nodes()
        held = self.acquired.get(Level.NODEGROUP, set())
        if not expected <= held:
            raise errors.OpPrereqError(
                "Nodes changed groups since locks were acquired; retry", errors.ECODE_STATE)
        new_splits, old_splits = self.split_instances(cfg, self.node_uuids, self.group.uuid)
        if new_splits:
            names = ", ".join(new_splits)
            if not self.op.force:
                raise errors.OpPrereqError(
                    f"The following instances get split by this change and --force was not"
                    f" given: {names}", errors.ECODE_STATE)
            self.log_warning(f"This operation will split the following instances: {names}")
            if old_splits:
                self.log_warning("In addition, these already-split instances continue to be"
                                 f" split across groups: {', '.join(old_splits)}")

    @staticmethod
    def split_instances(cfg: ConfigData, node_uuids: list[str], group_uuid: str
                        ) -> tuple[list[str], list[str]]:
        """Instances split over groups by moving ``node_uuids`` to ``group_uuid``:
        ``(newly split, split before and after)``, names sorted."""
        moved = set(node_uuids)

        def groups(inst: Any, after: bool) -> set[str]:
            nodes = [inst.primary_node, *cfg.instance_secondary_nodes(inst)]
            return {group_uuid if after and n in moved else cfg.nodes[n].group
                    for n in nodes if n in cfg.nodes}

        new, old = [], []
        for inst in sorted(cfg.instances.values(), key=lambda i: i.name):
            before, after = len(groups(inst, False)) > 1, len(groups(inst, True)) > 1
            if after and not before:
                new.append(inst.name)
            elif after and before:
                old.append(inst.name)
        return new, old

    def exec(self, feedback: FeedbackFn) -> Any:
        cfg = self.cfg
        with self.ctx.cfg.lock:
            moved = [cfg.nodes[u] for u in self.node_uuids
                     if cfg.nodes[u].group != self.group.uuid]
            if not moved:
                return None
            touched = {n.group for n in moved} | {self.group.uuid}
            for node in moved:
                node.group = self.group.uuid
            self.ctx.cfg.update(*moved, *(cfg.nodegroups[g] for g in sorted(touched)
                                          if g in cfg.nodegroups))
        return None


class _OneGroupLU(LogicalUnit):
    """An LU on one existing group, locked exclusively."""

    REQ_BGL = False
    HTYPE = C.HTYPE_GROUP

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.group_env(self.op.group_name)  # type: ignore[attr-defined]

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """The master."""
        nl = hooks.master_nodes(self.cfg)
        return nl, nl

    def expand_names(self) -> None:
        self.group = lookup_group(self.cfg, self.op.group_name)  # type: ignore[attr-defined]
        self.needed_locks[Level.NODEGROUP] = [self.group.uuid]

    def check_prereq(self) -> None:
        # the group may have gone while we waited for its lock
        grp = self.cfg.nodegroups.get(self.group.uuid)
        if grp is None:
            raise errors.OpPrereqError(f"Node group '{self.group.name}' was removed"
                                       " meanwhile", errors.ECODE_NOENT)
        self.group = grp


class LUGroupSetParams(_OneGroupLU):
    """``gnt-group modify``: returns ``[(parameter, new value), ...]``."""

    OP = OpGroupSetParams
    op: OpGroupSetParams
    HPATH = "group-modify"

    def build_hooks_env(self) -> dict[str, Any]:
        return {**hooks.group_env(self.op.group_name), "NEW_ALLOC_POLICY": self.op.alloc_policy}

    def check_arguments(self) -> None:
        op = self.op
        if all(getattr(op, a) is None for a in ("alloc_policy", "ndparams", "diskparams",
                                                 "ipolicy", "hv_state", "disk_state")):
            raise errors.OpPrereqError("Please pass at least one modification",
                                       errors.ECODE_INVAL)
        _refuse_states(op)

    def check_prereq(self) -> None:
        super().check_prereq()
        op, grp = self.op, self.group
        self.new_ndparams = None
        if op.ndparams is not None:
            checked = check_params("node", C.NDS_PARAMETER_TYPES, op.ndparams,
                                   allow_default=True)
            self.new_ndparams = apply_update(grp.ndparams, checked)
        self.new_diskparams = None
        if op.diskparams is not None:
            self.new_diskparams = update_group_diskparams(grp.diskparams, op.diskparams, True)
            disk_access.check_consistency(self.cfg, group_uuid=grp.uuid,
                                          group_diskparams=self.new_diskparams)
        self.new_ipolicy = None
        if op.ipolicy is not None:
            self.new_ipolicy = update_group_ipolicy(grp.ipolicy, op.ipolicy)
            from gnt.cmdlib import ipolicy as ipolicy_mod  # ipolicy imports this module

            warning = ipolicy_mod.policy_change_warning(
                ipolicy_mod.group_policy_change_violations(self.cfg, grp, self.new_ipolicy))
            if warning:
                self.log_warning(warning)

    def exec(self, feedback: FeedbackFn) -> Any:
        op, grp = self.op, self.group
        result: list[tuple[str, str]] = []
        with self.ctx.cfg.lock:
            if self.new_ndparams is not None:
                grp.ndparams = self.new_ndparams
                result.append(("ndparams", str(grp.ndparams)))
            if self.new_diskparams is not None:
                grp.diskparams = self.new_diskparams
                result.append(("diskparams", str(grp.diskparams)))
            if op.alloc_policy is not None:
                grp.alloc_policy = op.alloc_policy
                result.append(("alloc_policy", op.alloc_policy))
            if self.new_ipolicy is not None:
                grp.ipolicy = self.new_ipolicy
                result.append(("ipolicy", str(grp.ipolicy)))
            self.ctx.cfg.update(grp)
        return result


class LUGroupRename(_OneGroupLU):
    """``gnt-group rename``: returns the new name."""

    OP = OpGroupRename
    op: OpGroupRename
    HPATH = "group-rename"

    def build_hooks_env(self) -> dict[str, Any]:
        return {"OLD_NAME": self.op.group_name, "NEW_NAME": self.op.new_name}

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """The master and the group's nodes."""
        nl = hooks.unique([*hooks.master_nodes(self.cfg),
                           *hooks.group_nodes(self.cfg, self.group)])
        return nl, nl

    def check_arguments(self) -> None:
        check_group_name(self.op.new_name)

    def _check_free(self) -> None:
        clash = self.cfg.group_by_name(self.op.new_name)
        if clash is not None and clash.uuid != self.group.uuid:
            raise errors.OpPrereqError(
                f"Desired new name '{self.op.new_name}' clashes with existing node group"
                f" {clash.name} (UUID: {clash.uuid})", errors.ECODE_EXISTS)

    def check_prereq(self) -> None:
        super().check_prereq()
        self._check_free()

    def exec(self, feedback: FeedbackFn) -> Any:
        with self.ctx.cfg.lock:
            self._check_free()  # another job may have taken the name meanwhile
            if self.group.name != self.op.new_name:
                self.group.name = self.op.new_name
                self.ctx.cfg.update(self.group)
        return self.op.new_name


class LUGroupRemove(_OneGroupLU):
    """``gnt-group remove``: only an empty group, never the last one."""

    OP = OpGroupRemove
    op: OpGroupRemove
    HPATH = "group-remove"

    def check_prereq(self) -> None:
        super().check_prereq()
        members = sorted(n.name for n in self.cfg.nodes.values()
                         if n.group == self.group.uuid)
        if members:
            raise errors.OpPrereqError(
                f"Group '{self.group.name}' not empty, has the following nodes: "
                f"{', '.join(members)}", errors.ECODE_STATE)
        if len(self.cfg.nodegroups) == 1:
            raise errors.OpPrereqError(
                f"Group '{self.group.name}' is the only group, cannot be removed",
                errors.ECODE_STATE)

    def exec(self, feedback: FeedbackFn) -> Any:
        self.ctx.cfg.remove_group(self.group.uuid)
        self.ctx.glm.remove(self.owner, Level.NODEGROUP, [self.group.uuid])
        return None
