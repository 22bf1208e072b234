"""The master-side iallocator framework: ask an allocator where instances go.

An allocator is an external program speaking Ganeti's iallocator protocol
(version 2): it gets a JSON document describing the cluster and a
request, and answers ``{"success": bool, "info": str, "result": ...}``.
gnt builds the document from its config plus live node data
(:mod:`gnt.iallocator.input`), runs the program on the master node
through its node daemon (looked up by name in the iallocator search path
below the node's root, with gnt's built-in ``hail`` as fallback; see
:mod:`gnt.iallocator.lookup`), and checks the answer against the request.

Functions for logical units (``ctx`` is the master context; every one
raises :class:`IAllocatorError` (``OpPrereqError``, code
``insufficient_resources``) quoting the allocator's ``info`` when it found
no solution, ``OpPrereqError``/``OpExecError`` when the allocator is
unknown, fails or answers nonsense)::

    allocate(ctx, name, instance_name=, disk_template=, memory=, vcpus=, disks=, nics=,
             os=, hypervisor=, tags=(), spindle_use=1, group_name=None) -> list[str]
    relocate(ctx, name, inst, action="relocate", relocate_from=None) -> list[str]
    node_evacuate(ctx, name, instance_uuids, mode) -> EvacResult
    change_group(ctx, name, instance_uuids, target_groups=()) -> EvacResult
    run(ctx, name, request) -> Answer          # the raw, validated answer

Sizes are MiB; node, group and instance arguments and results are names
(group targets accept names or UUIDs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from gnt import constants as C
from gnt import errors
from gnt.iallocator.input import build_input, disk_space_total
from gnt.objects import Instance

#: Seconds an allocator may run.
DEFAULT_TIMEOUT = 300.0
#: Opcodes an allocator may return in evacuation jobs.
ALLOWED_OPCODES = frozenset({"OP_INSTANCE_FAILOVER", "OP_INSTANCE_MIGRATE",
                             "OP_INSTANCE_REPLACE_DISKS"})
EVAC_MODES = ("primary-only", "secondary-only", "all")


#: The allocator found no solution (raised as ``OpPrereqError`` with code
#: ``insufficient_resources``, the message quoting the allocator's ``info``).
IAllocatorError = errors.OpPrereqError


@dataclass
class Answer:
    """A validated answer: ``success``, ``info`` and the type-checked ``result``."""

    success: bool
    info: str
    result: Any


class EvacResult(NamedTuple):
    """Answer of node-evacuate and change-group requests.

    ``moved``: (instance, group, [nodes]); ``failed``: (instance, reason);
    ``jobs``: lists of opcode dicts (failover, migrate, replace-disks only).
    """

    moved: list[tuple[str, str, list[str]]]
    failed: list[tuple[str, str]]
    jobs: list[list[dict[str, Any]]]


def _bad(name: str, what: str) -> errors.OpExecError:
    return errors.OpExecError(f"Iallocator '{name}' returned an invalid answer: {what}",
                              errors.ECODE_FAULT)


def _str_list(name: str, val: Any, what: str) -> list[str]:
    if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
        raise _bad(name, f"{what} must be a list of strings, got {val!r}")
    return val


def parse_answer(name: str, text: str) -> Answer:
    """Decode the allocator's output; raises OpExecError if it is not an answer."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise _bad(name, f"not JSON ({err}); output: {text.strip()[:500]!r}") from None
    if not isinstance(data, dict):
        raise _bad(name, "not a JSON object")
    if "result" not in data and "nodes" in data:   # pre-2.x allocators
        data["result"] = data.pop("nodes")
    for key in ("success", "info", "result"):
        if key not in data:
            raise _bad(name, f"key '{key}' missing")
    if not isinstance(data["success"], bool):
        raise _bad(name, f"'success' must be a boolean, got {data['success']!r}")
    if not isinstance(data["info"], str):
        raise _bad(name, f"'info' must be a string, got {data['info']!r}")
    return Answer(data["success"], data["info"], data["result"])


def _check_nodes(ctx: Any, name: str, nodes: list[str]) -> None:
    cfg = ctx.cfg.data
    unknown = [n for n in nodes if cfg.node_by_name(n) is None]
    if unknown:
        raise _bad(name, f"unknown node(s) {', '.join(unknown)}")


def run(ctx: Any, name: str, request: dict[str, Any],
        timeout: float = DEFAULT_TIMEOUT) -> Answer:
    """Run allocator ``name`` on ``request`` (the ``request`` member of the input).

    Raises IAllocatorError when the answer has ``success: false``.
    """
    cfg = ctx.cfg.data
    doc = build_input(ctx, request)
    master = cfg.cluster.master_node
    res = ctx.rpc.iallocator_runner(master, name, json.dumps(doc),
                                    dict(cfg.cluster.default_iallocator_params), timeout)
    res.raise_on_fail(f"Can't run iallocator '{name}'")
    ans = parse_answer(name, res.data)
    if not ans.success:
        raise IAllocatorError(f"Can't compute nodes using iallocator '{name}': {ans.info}",
                              errors.ECODE_NORES)
    return ans


def allocate(ctx: Any, name: str, *, instance_name: str, disk_template: str, memory: int,
             vcpus: int, disks: list[dict[str, Any]], nics: list[dict[str, Any]], os: str,
             hypervisor: str, tags: list[str] | tuple[str, ...] = (), spindle_use: int = 1,
             group_name: str | None = None) -> list[str]:
    """Nodes for a new instance: [primary] or [primary, secondary] (DRBD).

    ``disks``: dicts with ``size`` (MiB), optional ``mode`` and ``spindles``;
    ``nics``: dicts with ``mac``, ``ip``, ``mode``, ``link``, ``network``.
    """
    required = 2 if disk_template == C.DT_DRBD8 else 1
    sizes = [int(d["size"]) for d in disks]
    request: dict[str, Any] = {
        "type": "allocate", "name": instance_name, "disk_template": disk_template,
        "tags": list(tags), "os": os, "vcpus": vcpus, "memory": memory,
        "spindle_use": spindle_use,
        "disks": [{"size": int(d["size"]), "mode": d.get("mode", C.DISK_RDWR),
                   "spindles": d.get("spindles")} for d in disks],
        "disk_space_total": disk_space_total(disk_template, sizes),
        "nics": [{"mac": n.get("mac"), "ip": n.get("ip"), "mode": n.get("mode"),
                  "link": n.get("link"), "network": n.get("network"),
                  "bridge": n.get("bridge")} for n in nics],
        "required_nodes": required, "hypervisor": hypervisor,
    }
    if group_name is not None:
        request["group_name"] = group_name
    ans = run(ctx, name, request)
    nodes = _str_list(name, ans.result, "the result")
    if len(nodes) != required:
        raise errors.OpPrereqError(
            f"iallocator '{name}' returned invalid number of nodes ({len(nodes)}), "
            f"required {required}", errors.ECODE_FAULT)
    _check_nodes(ctx, name, nodes)
    return nodes


def relocate(ctx: Any, name: str, inst: Instance, action: str = "relocate",
             relocate_from: list[str] | None = None) -> list[str]:
    """A new node for ``inst``: its secondary (DRBD) or primary (shared storage).

    ``relocate_from`` defaults to the node being replaced; ``action`` only
    names the operation in messages.
    """
    cfg = ctx.cfg.data
    if relocate_from is None:
        if inst.disk_template == C.DT_DRBD8:
            relocate_from = [cfg.get_node(u).name for u in cfg.instance_secondary_nodes(inst)]
        else:
            relocate_from = [cfg.get_node(inst.primary_node).name]
    disks = cfg.instance_disks(inst)
    request = {"type": "relocate", "name": inst.name, "required_nodes": 1,
               "relocate_from": list(relocate_from),
               "disk_space_total": disk_space_total(inst.disk_template,
                                                    [d.size for d in disks])}
    try:
        ans = run(ctx, name, request)
    except errors.OpPrereqError as err:
        if err.ecode != errors.ECODE_NORES:
            raise
        raise errors.OpPrereqError(f"Can't {action} instance {inst.name}: {err}",
                                   errors.ECODE_NORES) from None
    nodes = _str_list(name, ans.result, "the result")
    if len(nodes) != 1:
        raise errors.OpPrereqError(
            f"iallocator '{name}' returned invalid number of nodes ({len(nodes)}), "
            f"required 1", errors.ECODE_FAULT)
    _check_nodes(ctx, name, nodes)
    return nodes


def _evac_result(ctx: Any, name: str, result: Any) -> EvacResult:
    if not isinstance(result, list) or len(result) != 3:
        raise _bad(name, f"expected [moved, failed, jobs], got {result!r}")
    moved_raw, failed_raw, jobs_raw = result
    moved = []
    for m in moved_raw if isinstance(moved_raw, list) else [None]:
        if not (isinstance(m, list) and len(m) == 3 and isinstance(m[0], str)
                and isinstance(m[1], str)):
            raise _bad(name, f"invalid moved entry {m!r}")
        nodes = _str_list(name, m[2], "the nodes of a moved instance")
        _check_nodes(ctx, name, nodes)
        moved.append((m[0], m[1], nodes))
    failed = []
    for f in failed_raw if isinstance(failed_raw, list) else [None]:
        if not (isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f)):
            raise _bad(name, f"invalid failed entry {f!r}")
        failed.append((f[0], f[1]))
    jobs = []
    for job in jobs_raw if isinstance(jobs_raw, list) else [None]:
        if not isinstance(job, list):
            raise _bad(name, f"a job must be a list of opcodes, got {job!r}")
        for op in job:
            if not isinstance(op, dict) or op.get("OP_ID") not in ALLOWED_OPCODES:
                raise _bad(name, f"opcode not allowed in an evacuation job: {op!r}")
        jobs.append(job)
    return EvacResult(moved, failed, jobs)


def _inst_names(ctx: Any, instance_uuids: list[str]) -> list[str]:
    cfg = ctx.cfg.data
    out = []
    for u in instance_uuids:
        inst = cfg.instances.get(u) or cfg.instance_by_name(u)
        if inst is None:
            raise errors.OpPrereqError(f"Unknown instance '{u}'", errors.ECODE_NOENT)
        out.append(inst.name)
    return out


def node_evacuate(ctx: Any, name: str, instance_uuids: list[str], mode: str) -> EvacResult:
    """Where the instances go when their nodes are evacuated (``mode``: primary-only,
    secondary-only or all)."""
    if mode not in EVAC_MODES:
        raise errors.OpPrereqError(f"Invalid evacuation mode '{mode}'; allowed: "
                                   f"{', '.join(EVAC_MODES)}", errors.ECODE_INVAL)
    request = {"type": "node-evacuate", "instances": _inst_names(ctx, instance_uuids),
               "evac_mode": mode}
    return _evac_result(ctx, name, run(ctx, name, request).result)


def change_group(ctx: Any, name: str, instance_uuids: list[str],
                 target_groups: list[str] | tuple[str, ...] = ()) -> EvacResult:
    """Where the instances go when moved to one of ``target_groups`` (any other group
    when empty)."""
    cfg = ctx.cfg.data
    uuids = []
    for g in target_groups:
        grp = cfg.nodegroups.get(g) or cfg.group_by_name(g)
        if grp is None:
            raise errors.OpPrereqError(f"Unknown node group '{g}'", errors.ECODE_NOENT)
        uuids.append(grp.uuid)
    request = {"type": "change-group", "instances": _inst_names(ctx, instance_uuids),
               "target_groups": uuids}
    return _evac_result(ctx, name, run(ctx, name, request).result)


__all__ = ["Answer", "EvacResult", "IAllocatorError", "allocate", "change_group",
           "node_evacuate", "parse_answer", "relocate", "run"]
