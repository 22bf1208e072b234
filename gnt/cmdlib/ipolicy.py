"""Instance policy (ipolicy): does an instance fit the limits of its node group?

A policy (Ganeti's shape, a dict) has ``minmax`` (a list of ``{"min": spec,
"max": spec}`` bounds), ``std`` (the standard spec, cluster only),
``disk-templates`` (allowed templates), ``vcpu-ratio`` and
``spindle-ratio``.  A spec maps ``memory-size`` (MiB), ``cpu-count``,
``disk-count``, ``disk-size`` (MiB), ``nic-count`` and ``spindle-use`` to
numbers.  A group's policy is the cluster's with the group's own keys on
top (:func:`group_ipolicy`).

What Ganeti checks, and where (gnt does the same):

* **instance specs** (:func:`compute_violations`): the disk template must
  be allowed; every value must lie within the bounds of one ``min``/``max``
  pair (the pair with the fewest violations is reported); a diskless
  instance's disk count is not checked.  Messages are Ganeti's, e.g.
  ``disk-size/0 value 64 is not in range [1024, 1048576]``.
* **create and modify** refuse a violation unless ``--ignore-ipolicy``
  (:func:`check_instance_ipolicy` with ``mode=ALLOCATION``: "Instance
  allocation to group G (name) violates policy: ..."); ignored violations
  are silent.  Modify checks the specs with ``maxmem`` and with ``minmem``
  (pass both specs).
* **migrate, failover, move, replace-disks, change-group** check the target
  node's group only when it differs from the instance's current group
  (``mode=TARGET``: "Instance does not meet target node group's (G) instance
  policy: ..."); with ``--ignore-ipolicy`` the message becomes a warning.
* **start** checks no policy; only the node's free memory for the
  instance's ``minmem`` (:func:`gnt.cmdlib.common.check_node_free_memory`).
* **changing a policy** (``gnt-cluster modify``/``gnt-group modify``) never
  fails because of existing instances; it warns: "After the ipolicy change
  the following instances violate them: ..." (:func:`policy_change_warning`).
* ``vcpu-ratio`` and ``spindle-ratio`` are not instance violations: they
  cap what a *node* takes (virtual CPUs per physical CPU, spindle use per
  spindle), which Ganeti's allocator (htools) enforces.  The functions
  :func:`vcpu_ratio_violation`, :func:`spindle_ratio_violation` and
  :func:`check_node_ratios` give that check to allocators and LUs that want
  it; no LU calls them by default, as in Ganeti.

How an LU calls it (in ``check_prereq``, before changing anything)::

    from gnt.cmdlib import ipolicy

    # modify: the instance as it will be, with maxmem and with minmem
    new_be = {**fill.fill_instance_be(cfg.cluster, inst), **changed_beparams}
    ipolicy.check_instance_ipolicy(
        cfg, [ipolicy.ISpecs.of_instance(cfg, inst, new_be),
              ipolicy.ISpecs.of_instance(cfg, inst, new_be, memory=C.BE_MINMEM)],
        self.pnode, op.ignore_ipolicy, self.log_warning)
    # migrate/failover/move to target_node
    ipolicy.check_instance_ipolicy(cfg, inst, target_node, op.ignore_ipolicy,
                                   self.log_warning, mode=ipolicy.TARGET)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.objects import Cluster, ConfigData, Instance, Node, NodeGroup, fill
from gnt.objects.params import fill_dict

ALLOCATION = "allocation"
TARGET = "target"
#: Ganeti's warning after a policy change (``{}``: comma-separated instance names)
POLICY_CHANGE_WARNING = "After the ipolicy change the following instances violate them: {}"
#: templates whose disks use the node's spindles (the spindle ratio applies)
DTS_USE_SPINDLES = (C.DT_PLAIN, C.DT_DRBD8)

Feedback = Callable[[str], None]


@dataclass(frozen=True)
class ISpecs:
    """What an instance (existing or planned) asks for, as a policy sees it.

    ``mem_size`` MiB (the filled ``maxmem``, or ``minmem`` for the lower
    check of a modify), ``cpu_count`` vcpus, ``disk_sizes`` MiB per disk,
    ``nic_count``, ``spindle_use``, ``disk_template``.  None values are not
    checked (Ganeti's rule).  ``extra`` holds violations found while
    computing the specs (missing spindles with exclusive storage).
    """

    mem_size: int | None
    cpu_count: int | None
    disk_sizes: tuple[int, ...]
    nic_count: int
    spindle_use: int | None
    disk_template: str
    extra: tuple[str, ...] = ()

    @property
    def disk_count(self) -> int:
        return len(self.disk_sizes)

    @classmethod
    def new(cls, cluster: Cluster, beparams: dict[str, Any] | None, disk_sizes: Iterable[int],
            nic_count: int, disk_template: str, memory: str = C.BE_MAXMEM) -> ISpecs:
        """Specs of a planned instance: ``beparams`` are its own (filled here
        from the cluster's); ``memory`` picks ``maxmem`` or ``minmem``."""
        be = fill.fill_be(cluster, beparams)
        return cls(mem_size=_int(be.get(memory)), cpu_count=_int(be.get(C.BE_VCPUS)),
                   disk_sizes=tuple(int(s) for s in disk_sizes), nic_count=int(nic_count),
                   spindle_use=_int(be.get(C.BE_SPINDLE_USE)), disk_template=disk_template)

    @classmethod
    def of_instance(cls, cfg: ConfigData, inst: Instance,
                    beparams: dict[str, Any] | None = None,
                    memory: str = C.BE_MAXMEM) -> ISpecs:
        """Specs of an instance in the config; ``beparams`` override its filled
        backend parameters (e.g. a modify's new values).  With exclusive
        storage on any of its nodes, spindle use is the sum of its disks'
        spindles (Ganeti), and a disk without spindles is a violation."""
        be = fill.fill_instance_be(cfg.cluster, inst)
        if beparams:
            be.update(beparams)
        disks = cfg.instance_disks(inst)
        extra: tuple[str, ...] = ()
        spindles = _int(be.get(C.BE_SPINDLE_USE))
        if any(_exclusive_storage(cfg, u) for u in _instance_nodes(inst, disks)):
            if any(d.spindles is None for d in disks):
                msg = (f"Number of spindles not configured for disks of instance "
                       f"{inst.name} while exclusive storage is enabled, try running "
                       "gnt-cluster repair-disk-sizes")
                extra = (msg,)
                spindles = None
            else:
                spindles = sum(int(d.spindles or 0) for d in disks)
        return cls(mem_size=_int(be.get(memory)), cpu_count=_int(be.get(C.BE_VCPUS)),
                   disk_sizes=tuple(int(d.size) for d in disks), nic_count=len(inst.nics),
                   spindle_use=spindles, disk_template=inst.disk_template, extra=extra)


def _int(value: Any) -> int | None:
    if value is None or value == C.VALUE_AUTO:
        return None
    return int(value)


def _instance_nodes(inst: Instance, disks: Sequence[Any]) -> list[str]:
    nodes = [inst.primary_node]
    for d in disks:
        nodes.extend(n for n in d.nodes if n not in nodes)
    return nodes


def _exclusive_storage(cfg: ConfigData, node_uuid: str) -> bool:
    node = cfg.nodes.get(node_uuid)
    if node is None:
        return False
    group = cfg.nodegroups.get(node.group)
    return bool(fill.fill_nd(cfg.cluster, group, node).get(C.ND_EXCLUSIVE_STORAGE))


# --- the computation ---------------------------------------------------------

def minmax_violation(name: str, qualifier: str, bounds: dict[str, dict[str, Any]],
                     value: Any) -> str | None:
    """Ganeti's range check of one spec value against one ``{"min", "max"}`` pair.

    None when ``value`` is None/``auto`` or within ``[min, max]`` (a bound
    the pair does not set does not limit); else ``"<name>[/<qualifier>] value
    V is not in range [MIN, MAX]"``.
    """
    if value is None or value == C.VALUE_AUTO:
        return None
    hi = bounds.get(C.ISPECS_MAX, {}).get(name, value)
    lo = bounds.get(C.ISPECS_MIN, {}).get(name, value)
    if lo <= value <= hi:
        return None
    fqn = f"{name}/{qualifier}" if qualifier else name
    return f"{fqn} value {value} is not in range [{lo}, {hi}]"


def compute_violations(ipolicy: dict[str, Any], specs: ISpecs) -> list[str]:
    """Every way ``specs`` break ``ipolicy`` (a filled policy), Ganeti's order and
    messages: ``specs.extra``, a disallowed template, then the range
    violations against the ``minmax`` pair with the fewest of them.  Empty
    when the specs comply."""
    tests: list[tuple[str, str, int | None]] = [
        (C.ISPEC_MEM_SIZE, "", specs.mem_size),
        (C.ISPEC_CPU_COUNT, "", specs.cpu_count),
        (C.ISPEC_NIC_COUNT, "", specs.nic_count),
        (C.ISPEC_SPINDLE_USE, "", specs.spindle_use),
    ] + [(C.ISPEC_DISK_SIZE, str(i), size) for i, size in enumerate(specs.disk_sizes)]
    if specs.disk_template != C.DT_DISKLESS:  # the count makes no sense without disks
        tests.append((C.ISPEC_DISK_COUNT, "", specs.disk_count))
    out = list(specs.extra)
    allowed = list(ipolicy.get(C.IPOLICY_DTS) or [])
    if specs.disk_template not in allowed:
        out.append(f"Disk template {specs.disk_template} is not allowed (allowed templates:"
                   f" {', '.join(allowed)})")
    best: list[str] | None = None
    for bounds in ipolicy.get(C.ISPECS_MINMAX) or []:
        errs = [e for e in (minmax_violation(n, q, bounds, v) for n, q, v in tests) if e]
        if best is None or len(errs) < len(best):
            best = errs
    return out + (best or [])


def group_ipolicy(cfg: ConfigData, group: NodeGroup | str | None) -> dict[str, Any]:
    """The effective policy of ``group`` (object or UUID; None: the cluster's)."""
    if isinstance(group, str):
        group = cfg.get_group(group)
    return fill.fill_ipolicy(cfg.cluster, group)


def instance_violations(cfg: ConfigData, inst: Instance,
                        ipolicy: dict[str, Any] | None = None) -> list[str]:
    """How ``inst`` (as configured) breaks ``ipolicy`` (default: its primary
    node's group policy); empty when it complies."""
    if ipolicy is None:
        node = cfg.nodes.get(inst.primary_node)
        ipolicy = group_ipolicy(cfg, node.group if node else None)
    return compute_violations(ipolicy, ISpecs.of_instance(cfg, inst))


def _group_of(cfg: ConfigData, target: Node | NodeGroup | str) -> NodeGroup:
    if isinstance(target, NodeGroup):
        return target
    if isinstance(target, Node):
        return cfg.get_group(target.group)
    if target in cfg.nodegroups:
        return cfg.nodegroups[target]
    if target in cfg.nodes:
        return cfg.get_group(cfg.nodes[target].group)
    grp = cfg.group_by_name(target)
    if grp is None:
        raise errors.OpPrereqError(f"Node group '{target}' not found", errors.ECODE_NOENT)
    return grp


def check_instance_ipolicy(cfg: ConfigData,
                           specs: ISpecs | Instance | Sequence[ISpecs],
                           target: Node | NodeGroup | str, ignore: bool,
                           feedback: Feedback | None = None, *, mode: str = ALLOCATION,
                           current_group: str | None = None) -> list[str]:
    """Check an instance against the policy of the group it goes to (the entry
    point of every LU that places or changes an instance).

    ``specs``: the instance as it will be: an :class:`ISpecs` (build with
    :meth:`ISpecs.new` or :meth:`ISpecs.of_instance`), several of them (all
    checked, violations merged: a modify passes its ``maxmem`` and
    ``minmem`` specs), or an :class:`Instance` from the config.
    ``target``: the node (its group counts), the group, or a node/group UUID
    or group name.  ``ignore``: the opcode's ``ignore_ipolicy``.
    ``feedback``: receives the warning when violations are ignored in
    ``TARGET`` mode (the LU's ``log_warning``).
    ``mode``: :data:`ALLOCATION` (create, modify) or :data:`TARGET` (migrate,
    failover, move, replace-disks, change-group); in ``TARGET`` mode nothing
    is checked when the target group is ``current_group`` (default: the
    group of the instance's primary node when ``specs`` is an Instance).

    Returns the violations (empty when none, or not checked).  Raises
    :class:`errors.OpPrereqError` (``wrong_input``) with Ganeti's message
    when there are violations and ``ignore`` is false.
    """
    if mode not in (ALLOCATION, TARGET):
        raise errors.ProgrammerError(f"Unknown ipolicy check mode {mode!r}")
    group = _group_of(cfg, target)
    if isinstance(specs, Instance):
        if current_group is None and specs.primary_node in cfg.nodes:
            current_group = cfg.nodes[specs.primary_node].group
        all_specs: list[ISpecs] = [ISpecs.of_instance(cfg, specs)]
    elif isinstance(specs, ISpecs):
        all_specs = [specs]
    else:
        all_specs = list(specs)
    if mode == TARGET and current_group is not None and current_group == group.uuid:
        return []
    policy = group_ipolicy(cfg, group)
    found: list[str] = []
    for s in all_specs:
        for v in compute_violations(policy, s):
            if v not in found:
                found.append(v)
    if not found:
        return []
    if mode == ALLOCATION:
        msg = (f"Instance allocation to group {group.uuid} ({group.name}) violates policy:"
               f" {', '.join(found)}")
    else:
        msg = (f"Instance does not meet target node group's ({group.uuid}) instance policy:"
               f" {', '.join(found)}")
    if not ignore:
        raise errors.OpPrereqError(msg, errors.ECODE_INVAL)
    if mode == TARGET and feedback is not None:
        feedback(msg)
    return found


# --- node ratios (allocation) --------------------------------------------------

def vcpu_ratio_violation(ipolicy: dict[str, Any], node_cpus: int, used_vcpus: int,
                         new_vcpus: int) -> str | None:
    """None when ``used_vcpus + new_vcpus`` virtual CPUs fit ``node_cpus``
    physical CPUs under the policy's ``vcpu-ratio`` (htools' rule: the ratio
    may be reached, not exceeded), else why not."""
    limit = float(ipolicy.get(C.IPOLICY_VCPU_RATIO, C.IPOLICY_DEFAULTS["vcpu-ratio"]))
    total = int(used_vcpus) + int(new_vcpus)
    if node_cpus <= 0:
        return f"vcpu-ratio cannot be checked: the node reports {node_cpus} physical CPUs"
    ratio = total / node_cpus
    if ratio <= limit:
        return None
    return (f"vcpu-ratio value {ratio:g} is over the limit {limit:g} ({total} virtual CPUs"
            f" for {node_cpus} physical CPUs)")


def spindle_ratio_violation(ipolicy: dict[str, Any], node_spindles: int, used: int,
                            new: int, disk_template: str) -> str | None:
    """None when the spindle use ``used + new`` fits ``node_spindles`` under
    the policy's ``spindle-ratio`` or the template uses no node spindles
    (only plain and drbd do), else why not."""
    if disk_template not in DTS_USE_SPINDLES:
        return None
    limit = float(ipolicy.get(C.IPOLICY_SPINDLE_RATIO,
                              C.IPOLICY_DEFAULTS["spindle-ratio"]))
    total = int(used) + int(new)
    if total <= limit * node_spindles:
        return None
    return (f"spindle-ratio exceeded: spindle use {total} over {limit:g} x {node_spindles}"
            " spindles")


def node_ratio_violations(cfg: ConfigData, node: Node, specs: ISpecs, node_cpus: int,
                          exclude: str | None = None) -> list[str]:
    """Ratio violations if an instance with ``specs`` were added to ``node``
    (``node_cpus``: physical CPUs the node reports; ``exclude``: UUID of an
    instance already counted there, e.g. the one being modified)."""
    policy = group_ipolicy(cfg, node.group)
    primaries = [i for i in cfg.instances.values()
                 if i.primary_node == node.uuid and i.uuid != exclude]
    used_cpu = sum(int(fill.fill_instance_be(cfg.cluster, i).get(C.BE_VCPUS) or 0)
                   for i in primaries)
    used_sp = sum(int(fill.fill_instance_be(cfg.cluster, i).get(C.BE_SPINDLE_USE) or 0)
                  for i in primaries if i.disk_template in DTS_USE_SPINDLES)
    spindles = int(fill.fill_nd(cfg.cluster, cfg.nodegroups.get(node.group), node)
                   .get(C.ND_SPINDLE_COUNT) or 0)
    out = []
    v = vcpu_ratio_violation(policy, node_cpus, used_cpu, specs.cpu_count or 0)
    if v:
        out.append(v)
    v = spindle_ratio_violation(policy, spindles, used_sp, specs.spindle_use or 0,
                                specs.disk_template)
    if v:
        out.append(v)
    return out


def check_node_ratios(ctx: Any, cfg: ConfigData, node: Node, specs: ISpecs,
                      hypervisor: str, ignore: bool, feedback: Feedback | None = None,
                      exclude: str | None = None) -> list[str]:
    """:func:`node_ratio_violations` with the node's CPU count asked over RPC.

    Raises OpPrereqError (``insufficient_resources``) naming the node unless
    ``ignore`` (then ``feedback`` gets the message); returns the violations.
    """
    res = ctx.rpc.node_info([node.uuid], [hypervisor])[node.uuid]
    res.raise_on_fail(f"Cannot get current information from node {node.name}")
    cpus = int(res.data["hv"][hypervisor].get("cpu_total") or 0)
    found = node_ratio_violations(cfg, node, specs, cpus, exclude)
    if not found:
        return []
    msg = f"Node {node.name} cannot take the instance: {', '.join(found)}"
    if not ignore:
        raise errors.OpPrereqError(msg, errors.ECODE_NORES)
    if feedback is not None:
        feedback(msg)
    return found


# --- policy changes ------------------------------------------------------------

def _group_instances(cfg: ConfigData, group_uuid: str) -> list[Instance]:
    members = {n.uuid for n in cfg.nodes.values() if n.group == group_uuid}
    out = []
    for inst in cfg.instances.values():
        nodes = _instance_nodes(inst, cfg.instance_disks(inst))
        if any(n in members for n in nodes):
            out.append(inst)
    return out


def new_violations(cfg: ConfigData, old: dict[str, Any], new: dict[str, Any],
                   instances: Iterable[Instance]) -> set[str]:
    """Names of ``instances`` that break the filled policy ``new`` but not ``old``."""
    return {i.name for i in instances
            if instance_violations(cfg, i, new) and not instance_violations(cfg, i, old)}


def cluster_policy_change_violations(cfg: ConfigData, new_cluster_policy: dict[str, Any]
                                     ) -> list[str]:
    """Instances that the new cluster policy would newly break, sorted (each
    group's own keys still apply on top)."""
    out: set[str] = set()
    for group in cfg.nodegroups.values():
        old = fill.fill_ipolicy(cfg.cluster, group)
        new = fill_dict(new_cluster_policy, group.ipolicy)
        out |= new_violations(cfg, old, new, _group_instances(cfg, group.uuid))
    return sorted(out)


def group_policy_change_violations(cfg: ConfigData, group: NodeGroup,
                                   new_group_policy: dict[str, Any]) -> list[str]:
    """Instances of ``group`` that its new own policy would newly break, sorted."""
    old = fill.fill_ipolicy(cfg.cluster, group)
    new = fill_dict(cfg.cluster.ipolicy, new_group_policy)
    return sorted(new_violations(cfg, old, new, _group_instances(cfg, group.uuid)))


def policy_change_warning(names: Sequence[str]) -> str | None:
    """Ganeti's warning text for instances newly violating a policy, or None."""
    return POLICY_CHANGE_WARNING.format(", ".join(names)) if names else None


# --- policy syntax (cluster) ---------------------------------------------------

def _invalid(msg: str) -> errors.OpPrereqError:
    return errors.OpPrereqError(f"Invalid instance policy: {msg}", errors.ECODE_INVAL)


def check_ipolicy_syntax(ipolicy: dict[str, Any], check_std: bool) -> None:
    """Ganeti's policy syntax rules: known keys; non-empty ``minmax`` with
    complete specs and ``min <= max``; with ``check_std`` a complete ``std``
    within one of the pairs; allowed templates non-empty and known; ratios
    numbers.  Raises OpPrereqError (``wrong_input``) "Invalid instance
    policy: ..."."""
    wrong = sorted(set(ipolicy) - set(C.IPOLICY_ALL_KEYS))
    if wrong:
        raise _invalid(f"Invalid keys in ipolicy: {', '.join(wrong)}")
    params = set(C.ISPECS_PARAMETERS)
    if C.ISPECS_MINMAX in ipolicy:
        std = ipolicy.get(C.ISPECS_STD)
        if check_std:
            if std is None:
                raise _invalid(f"Missing key in ipolicy: {C.ISPECS_STD}")
            missing = sorted(params - set(std))
            if missing:
                raise _invalid(f"Missing instance specs parameters for {C.ISPECS_STD}:"
                               f" {', '.join(missing)}")
        if not ipolicy[C.ISPECS_MINMAX]:
            raise _invalid("Empty minmax specifications")
        std_ok = False
        for pair in ipolicy[C.ISPECS_MINMAX]:
            missing = sorted(set(C.ISPECS_MINMAX_KEYS) - set(pair))
            if missing:
                raise _invalid(f"Missing instance specification: {', '.join(missing)}")
            for key in C.ISPECS_MINMAX_KEYS:
                lacking = sorted(params - set(pair[key]))
                if lacking:
                    raise _invalid(f"Missing instance specs parameters for {key}:"
                                   f" {', '.join(lacking)}")
            pair_ok = True
            for p in C.ISPECS_PARAMETERS:
                lo, hi = pair[C.ISPECS_MIN][p], pair[C.ISPECS_MAX][p]
                if lo > hi:
                    raise _invalid(f"Invalid specification of min/max values for {p}:"
                                   f" {lo}/{hi}")
                if check_std and std is not None and not lo <= std.get(p, lo) <= hi:
                    pair_ok = False
            std_ok = std_ok or pair_ok
        if check_std and not std_ok:
            raise _invalid("Invalid std specifications")
    if C.IPOLICY_DTS in ipolicy:
        dts = ipolicy[C.IPOLICY_DTS]
        if not dts:
            raise _invalid("Instance policy must contain at least one disk template")
        bad = sorted(set(dts) - set(C.DISK_TEMPLATES))
        if bad:
            raise _invalid(f"Invalid disk template(s) {', '.join(bad)}")
    for key in C.IPOLICY_PARAMETERS:
        if key in ipolicy:
            try:
                float(ipolicy[key])
            except (TypeError, ValueError) as err:
                raise _invalid(f"Invalid value for key '{key}': '{ipolicy[key]}', error:"
                               f" {err}") from None


def update_cluster_ipolicy(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The cluster policy ``old`` with the changes ``new`` (Ganeti's rules for the
    cluster: nothing can be unset; ``minmax`` replaces the bounds, ``std``
    updates single values, ``disk-templates`` replaces the list, ratios are
    floats), syntax checked with ``std``.  Raises OpPrereqError."""
    from gnt.cmdlib.group import ISPEC_KINDS, check_ispecs
    from gnt.objects.params import coerce_value

    out = copy.deepcopy(old)
    for key, value in new.items():
        if key not in C.IPOLICY_ALL_KEYS:
            raise errors.OpPrereqError(f"Invalid key in new ipolicy: {key}",
                                       errors.ECODE_INVAL)
        if (value is None or value == C.VALUE_DEFAULT or value == [C.VALUE_DEFAULT]
                or (isinstance(value, (list, dict, str)) and not value)):
            raise errors.OpPrereqError(f"Can't unset ipolicy attribute '{key}' on the"
                                       " cluster", errors.ECODE_INVAL)
        if key in C.IPOLICY_PARAMETERS:
            try:
                ratio = float(value)
            except (TypeError, ValueError) as err:
                raise errors.OpPrereqError(f"Invalid value for attribute '{key}': "
                                           f"'{value}', error: {err}",
                                           errors.ECODE_INVAL) from None
            if not ratio > 0:
                raise errors.OpPrereqError(f"Invalid value for attribute '{key}': "
                                           f"'{value}' (expected a positive number)",
                                           errors.ECODE_INVAL)
            out[key] = ratio
        elif key == C.ISPECS_MINMAX:
            out[key] = check_ispecs(value)
        elif key == C.ISPECS_STD:
            if not isinstance(value, dict):
                raise errors.OpPrereqError("Invalid instance policy: std must be a dict of"
                                           " instance spec values", errors.ECODE_INVAL)
            std = dict(out.get(key) or {})
            for p, v in value.items():
                if p not in ISPEC_KINDS:
                    raise errors.OpPrereqError(
                        f"Invalid instance policy: unknown std parameter '{p}'; parameters:"
                        f" {', '.join(C.ISPECS_PARAMETERS)}", errors.ECODE_INVAL)
                std[p] = coerce_value("instance spec", p, ISPEC_KINDS[p], v)
            out[key] = std
        else:  # disk-templates
            out[key] = [value] if isinstance(value, str) else list(value)
    check_ipolicy_syntax(out, check_std=True)
    return out


__all__ = [
    "ALLOCATION", "TARGET", "ISpecs", "check_instance_ipolicy", "check_ipolicy_syntax",
    "check_node_ratios", "cluster_policy_change_violations", "compute_violations",
    "group_ipolicy", "group_policy_change_violations", "instance_violations",
    "minmax_violation", "new_violations", "node_ratio_violations", "policy_change_warning",
    "spindle_ratio_violation", "update_cluster_ipolicy", "vcpu_ratio_violation",
]


# --- cluster verify ---------------------------------------------------------------

EINSTANCEPOLICY = ("instance", "EINSTANCEPOLICY")


def verify_group_instances(cfg: ConfigData, group_uuid: str,
                           error: Callable[..., None]) -> None:
    """``gnt-cluster verify``: warn (Ganeti's ``EINSTANCEPOLICY``, through the
    verify LU's ``error(code, item, message, warning=True)``) about each
    instance whose primary node is in the group and which breaks the group's
    policy; the message lists the violations."""
    policy = group_ipolicy(cfg, group_uuid)
    for inst in sorted(cfg.instances.values(), key=lambda i: i.name):
        node = cfg.nodes.get(inst.primary_node)
        if node is None or node.group != group_uuid:
            continue
        found = instance_violations(cfg, inst, policy)
        if found:
            error(EINSTANCEPOLICY, inst.name, ", ".join(found), warning=True)
