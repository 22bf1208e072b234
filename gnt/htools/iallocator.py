"""The iallocator backend: Ganeti's iallocator request JSON, read and written.

Ganeti runs an allocator as ``<allocator> <request-file>``; the file holds
one JSON object (protocol version 2) describing the whole cluster
(``nodegroups``, ``nodes``, ``instances``, ``cluster_tags``, ...) and the
``request`` (``allocate``, ``multi-allocate``, ``relocate``,
``node-evacuate``, ``change-group``, ``allocate-secondary``).  This module
turns such a file into a :class:`~gnt.htools.model.ClusterData` plus a typed
:class:`Request`, the way Ganeti's hail reads it (offline and non-vm-capable
nodes report no resources; drained nodes count as offline; on KVM
clusters the node's own memory is the static value given by
``--static-kvm-node-memory``, 4096 MiB by default), and builds such a file
from a ``ClusterData`` (for tests and tools).

Public API::

    parse_request(text, source, static_kvm_mem=4096) -> ParsedRequest
    load_request(path, static_kvm_mem=4096) -> ParsedRequest
    cluster_to_json(cdata, request, hypervisor="xen-pvm") -> dict
    EvacMode, AllocateRequest, MultiAllocateRequest, RelocateRequest,
    NodeEvacuateRequest, ChangeGroupRequest, AllocateSecondaryRequest
"""

from __future__ import annotations

import enum
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from gnt.htools.errors import DataError
from gnt.htools.model import ClusterData, Group, Instance, Node
from gnt.htools.types import (
    DEFAULT_IPOLICY,
    NO_SECONDARY,
    AllocPolicy,
    DiskTemplate,
    InstanceStatus,
    IPolicy,
    ISpec,
    MinMaxISpecs,
)

#: Ganeti's default for ``--static-kvm-node-memory`` (MiB).
DEFAULT_STATIC_KVM_MEM = 4096

ADMIN_STATES = {"up": InstanceStatus.RUNNING, "down": InstanceStatus.ADMIN_DOWN,
                "offline": InstanceStatus.ADMIN_OFFLINE}
ADMIN_STATE_OF = {InstanceStatus.RUNNING: "up", InstanceStatus.ERROR_UP: "up",
                  InstanceStatus.ADMIN_OFFLINE: "offline"}


class EvacMode(enum.Enum):
    """Node evacuation modes (raw value = the protocol's spelling)."""

    PRIMARY = "primary-only"
    SECONDARY = "secondary-only"
    ALL = "all"


@dataclass
class AllocateRequest:
    """Place a new instance (``inst`` has no nodes yet) on 1 or 2 nodes."""

    inst: Instance
    required_nodes: int
    group_name: str | None = None
    restrict_nodes: list[str] | None = None


@dataclass
class MultiAllocateRequest:
    """Place several new instances, one after the other."""

    requests: list[AllocateRequest]


@dataclass
class RelocateRequest:
    """Move one node of an existing instance (index) away from ``relocate_from``."""

    inst: int
    required_nodes: int
    relocate_from: list[int]


@dataclass
class NodeEvacuateRequest:
    """Move instances (indices) off their nodes according to ``mode``."""

    insts: list[int]
    mode: EvacMode


@dataclass
class ChangeGroupRequest:
    """Move instances (indices) to one of ``target_groups`` (any other if empty)."""

    insts: list[int]
    target_groups: list[int]


@dataclass
class AllocateSecondaryRequest:
    """Find a secondary node for an existing single-node instance."""

    inst: int


Request = (AllocateRequest | MultiAllocateRequest | RelocateRequest | NodeEvacuateRequest
           | ChangeGroupRequest | AllocateSecondaryRequest)


@dataclass
class ParsedRequest:
    """A request file: the cluster, the request and load warnings."""

    cdata: ClusterData
    request: Request
    warnings: list[str] = field(default_factory=list)
    hypervisor: str | None = None


# -- small typed accessors ---------------------------------------------------

class _Obj:
    """A JSON object with Ganeti-style "missing key" errors."""

    def __init__(self, data: Any, what: str) -> None:
        if not isinstance(data, dict):
            raise DataError(f"{what}: expected a JSON object, got {type(data).__name__}")
        self.data = data
        self.what = what

    def get(self, key: str, kind: type | tuple[type, ...] | None = None) -> Any:
        if key not in self.data:
            raise DataError(f"{self.what}: key '{key}' not found")
        return self._check(key, self.data[key], kind)

    def opt(self, key: str, default: Any, kind: type | tuple[type, ...] | None = None) -> Any:
        if key not in self.data or self.data[key] is None:
            return default
        return self._check(key, self.data[key], kind)

    def _check(self, key: str, val: Any, kind: type | tuple[type, ...] | None) -> Any:
        if kind is None:
            return val
        if kind is int and isinstance(val, float) and val.is_integer():
            return int(val)
        if isinstance(val, bool) and kind in (int, float, (int, float)):
            raise DataError(f"{self.what}: key '{key}' must be a number, got {val!r}")
        if not isinstance(val, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(
                k.__name__ for k in kind)
            raise DataError(f"{self.what}: key '{key}' must be {names}, got {val!r}")
        return val


_NUM = (int, float)


def _ispec(data: Any, what: str) -> ISpec:
    o = _Obj(data, what)
    return ISpec(mem_size=o.get("memory-size", int), cpu_count=o.get("cpu-count", int),
                 disk_size=o.get("disk-size", int), disk_count=o.get("disk-count", int),
                 nic_count=o.get("nic-count", int), spindle_use=o.get("spindle-use", int))


def _ipolicy(data: Any, what: str) -> IPolicy:
    o = _Obj(data, what)
    minmax = tuple(MinMaxISpecs(_ispec(_Obj(mm, what).get("min"), what + "/min"),
                                _ispec(_Obj(mm, what).get("max"), what + "/max"))
                   for mm in o.get("minmax", list))
    templates = tuple(_template(t, what) for t in o.get("disk-templates", list))
    return IPolicy(minmax=minmax, std=_ispec(o.get("std"), what + "/std"),
                   disk_templates=templates, vcpu_ratio=float(o.get("vcpu-ratio", _NUM)),
                   spindle_ratio=float(o.get("spindle-ratio", _NUM)))


def _template(value: Any, what: str) -> DiskTemplate:
    try:
        return DiskTemplate(value)
    except ValueError:
        allowed = ", ".join(t.value for t in DiskTemplate)
        raise DataError(f"{what}: invalid disk template {value!r} (allowed: {allowed})") \
            from None


def _group(uuid: str, data: Any) -> Group:
    o = _Obj(data, f"invalid data for group '{uuid}'")
    apol = o.get("alloc_policy", str)
    try:
        policy = AllocPolicy(apol)
    except ValueError:
        raise DataError(f"invalid data for group '{uuid}': invalid alloc_policy "
                        f"'{apol}'") from None
    return Group(name=o.get("name", str), uuid=uuid, alloc_policy=policy,
                 networks=list(o.get("networks", list)),
                 ipolicy=_ipolicy(o.get("ipolicy"), f"ipolicy of group '{uuid}'"),
                 tags=list(o.get("tags", list)))


def _node(name: str, data: Any, groups: dict[str, int], hypervisor: str | None,
          static_kvm_mem: int) -> Node:
    o = _Obj(data, f"invalid data for node '{name}'")
    offline = o.get("offline", bool)
    drained = o.get("drained", bool)
    guuid = o.get("group", str)
    if guuid not in groups:
        raise DataError(f"Unknown group '{guuid}' for node {name}")
    vm_capable = o.opt("vm_capable", True, bool)
    nd = _Obj(o.get("ndparams"), f"ndparams of node '{name}'")
    excl = bool(nd.get("exclusive_storage", bool))
    live = not offline and vm_capable

    def lv(key: str, default: Any) -> Any:
        return o.get(key, _NUM) if live else default

    spindles = int(lv("total_spindles", 0)) if excl else int(nd.get("spindle_count", int))
    n_mem = int(lv("reserved_memory", 0))
    if hypervisor == "kvm" and static_kvm_mem > 0:
        n_mem = static_kvm_mem
    return Node(name=name, t_mem=float(lv("total_memory", 0.0)), n_mem=n_mem,
                f_mem=int(lv("free_memory", 0)), t_dsk=float(lv("total_disk", 0.0)),
                f_dsk=int(lv("free_disk", 0)), t_cpu=float(lv("total_cpus", 0.0)),
                offline=not live or drained, group=groups[guuid], spindles=spindles,
                tags=list(o.opt("tags", [], list)), excl_storage=excl,
                free_spindles=int(lv("free_spindles", 0)), n_cpu=int(lv("reserved_cpus", 0)))


def _base_instance(name: str, data: Any) -> Instance:
    """Fields shared by cluster instances and allocation requests."""
    what = f"invalid data for instance '{name}'"
    o = _Obj(data, what)
    disk = o.get("disk_space_total", int)
    disks = []
    for d in o.get("disks", list):
        do = _Obj(d, what)
        disks.append((do.get("size", int), do.opt("spindles", None, int)))
    networks = [_Obj(n, what).opt("network", None, str) for n in o.get("nics", list)]
    state = o.opt("admin_state", "up", str)
    if state not in ADMIN_STATES:
        raise DataError(f"{what}: invalid admin_state '{state}' (up, down or offline)")
    spn = [s for _, s in disks]
    # Ganeti sums the disks' spindles: unknown if any is, 0 without disks
    total_sp = None if any(s is None for s in spn) else sum(
        s for s in spn if s is not None)
    return Instance(name=name, mem=o.get("memory", int), dsk=disk, vcpus=o.get("vcpus", int),
                    status=ADMIN_STATES[state], auto_balance=True, pnode=NO_SECONDARY,
                    snode=NO_SECONDARY, template=_template(o.get("disk_template", str), what),
                    tags=list(o.get("tags", list)), spindle_use=o.get("spindle_use", int),
                    spindles=total_sp, forthcoming=bool(o.opt("forthcoming", False, bool)),
                    disks=disks, nic_networks=networks)


def _lookup(kind: str, names: dict[str, int], name: Any) -> int:
    if not isinstance(name, str) or name not in names:
        raise DataError(f"Unknown {kind} '{name}'")
    return names[name]


def parse_request(text: str, source: str = "<request>",
                  static_kvm_mem: int = DEFAULT_STATIC_KVM_MEM) -> ParsedRequest:
    """Parse an iallocator request; raises :class:`DataError` naming the problem."""
    try:
        top = json.loads(text)
    except ValueError as err:
        raise DataError(f"Parsing input IAllocator message: {err}", source) from None
    o = _Obj(top, "invalid iallocator message")
    req = _Obj(o.get("request"), "invalid request dict")
    hvs = o.opt("enabled_hypervisors", [], list)
    hypervisor = hvs[0] if hvs else None
    groups: list[Group] = []
    gidx: dict[str, int] = {}
    for uuid, gdata in _Obj(o.get("nodegroups"), "nodegroups").data.items():
        gidx[uuid] = len(groups)
        groups.append(_group(uuid, gdata))
    nodes: list[Node] = []
    nidx: dict[str, int] = {}
    for name, ndata in _Obj(o.get("nodes"), "nodes").data.items():
        nidx[name] = len(nodes)
        nodes.append(_node(name, ndata, gidx, hypervisor, static_kvm_mem))
    insts: list[Instance] = []
    iidx: dict[str, int] = {}
    for name, idata in _Obj(o.get("instances"), "instances").data.items():
        inst = _base_instance(name, idata)
        nl = _Obj(idata, f"invalid data for instance '{name}'").get("nodes", list)
        if not nl:
            raise DataError(f"empty node list for instance {name}")
        inst.pnode = _lookup("node", nidx, nl[0])
        inst.snode = _lookup("node", nidx, nl[1]) if len(nl) > 1 else NO_SECONDARY
        iidx[name] = len(insts)
        insts.append(inst)
    ctags = list(o.get("cluster_tags", list))
    cdata = ClusterData(groups=groups, nodes=nodes, instances=insts, cluster_tags=ctags,
                        ipolicy=DEFAULT_IPOLICY)
    cdata.reindex()
    request = _parse_request_body(req, cdata, nidx, iidx)
    return ParsedRequest(cdata, request, [], hypervisor)


def _alloc_request(r: _Obj, group_name: str | None,
                   restrict: list[str] | None) -> AllocateRequest:
    name = r.get("name", str)
    return AllocateRequest(_base_instance(name, r.data), r.get("required_nodes", int),
                           group_name, restrict)


def _parse_request_body(req: _Obj, cdata: ClusterData, nidx: dict[str, int],
                        iidx: dict[str, int]) -> Request:
    rtype = req.get("type", str)
    if rtype == "allocate":
        return _alloc_request(req, req.opt("group_name", None, str),
                              req.opt("restrict-to-nodes", None, list))
    if rtype == "relocate":
        return RelocateRequest(_lookup("instance", iidx, req.get("name", str)),
                               req.get("required_nodes", int),
                               [_find_node(cdata, n) for n in req.get("relocate_from", list)])
    if rtype == "change-group":
        return ChangeGroupRequest([_find_inst(cdata, n) for n in req.get("instances", list)],
                                  [_find_group(cdata, g)
                                   for g in req.get("target_groups", list)])
    if rtype == "node-evacuate":
        insts = [_find_inst(cdata, n) for n in req.get("instances", list)]
        mode = req.get("evac_mode", str)
        try:
            return NodeEvacuateRequest(insts, EvacMode(mode))
        except ValueError:
            raise DataError(f"invalid request dict: invalid evac_mode '{mode}'") from None
    if rtype == "multi-allocate":
        gname = req.opt("group_name", None, str)   # Ganeti reads it from the top level
        return MultiAllocateRequest([
            _alloc_request(_Obj(r, "invalid request dict"), gname, None)
            for r in req.get("instances", list)])
    if rtype == "allocate-secondary":
        return AllocateSecondaryRequest(_lookup("instance", iidx, req.get("name", str)))
    raise DataError(f"Invalid request type '{rtype}'")


def _find_unique(kind: list, name: Any, names) -> int:
    hits = [k for k, obj in enumerate(kind) if name in names(obj)]
    if len(hits) != 1:
        raise DataError(f"Wrong number of elems found with name {name}")
    return hits[0]


def _find_node(cdata: ClusterData, name: Any) -> int:
    return _find_unique(cdata.nodes, name, lambda n: (n.name, n.alias))


def _find_inst(cdata: ClusterData, name: Any) -> int:
    return _find_unique(cdata.instances, name, lambda i: (i.name, i.alias))


def _find_group(cdata: ClusterData, name: Any) -> int:
    return _find_unique(cdata.groups, name, lambda g: (g.name, g.uuid))


def load_request(path: str, static_kvm_mem: int = DEFAULT_STATIC_KVM_MEM) -> ParsedRequest:
    """Read a request file (``-`` for stdin) and parse it."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as err:
        raise DataError(f"cannot read request file: {err.strerror}", path) from None
    return parse_request(text, os.fspath(path), static_kvm_mem)


# -- writing -------------------------------------------------------------------

def ipolicy_to_json(pol: IPolicy) -> dict[str, Any]:
    """An instance policy in the protocol's spelling."""
    def spec(s: ISpec) -> dict[str, int]:
        return {"memory-size": s.mem_size, "cpu-count": s.cpu_count,
                "disk-size": s.disk_size, "disk-count": s.disk_count,
                "nic-count": s.nic_count, "spindle-use": s.spindle_use}
    return {"minmax": [{"min": spec(m.min), "max": spec(m.max)} for m in pol.minmax],
            "std": spec(pol.std), "disk-templates": [t.value for t in pol.disk_templates],
            "vcpu-ratio": pol.vcpu_ratio, "spindle-ratio": pol.spindle_ratio}


def instance_to_json(cdata: ClusterData, inst: Instance, with_nodes: bool = True
                     ) -> dict[str, Any]:
    """An instance as the protocol describes it (sizes in MiB)."""
    disks = [{"size": s, "mode": "rw", "spindles": sp} for s, sp in inst.disk_list()]
    out: dict[str, Any] = {
        "memory": inst.mem, "vcpus": inst.vcpus, "disk_space_total": inst.dsk,
        "disks": disks, "disk_template": inst.template.value,
        "spindle_use": inst.spindle_use, "tags": list(inst.tags),
        "nics": [{"mac": None, "ip": None, "network": n} for n in inst.nic_networks],
        "admin_state": ADMIN_STATE_OF.get(inst.status, "down"), "os": "debian",
    }
    if inst.forthcoming:
        out["forthcoming"] = True
    if with_nodes:
        out["nodes"] = [cdata.nodes[x].name for x in inst.all_nodes() if x >= 0]
    return out


def cluster_to_json(cdata: ClusterData, request: dict[str, Any],
                    hypervisor: str = "xen-pvm") -> dict[str, Any]:
    """A complete request document for ``cdata`` (nodes marked offline stay so)."""
    groups = {g.uuid: {"name": g.name, "alloc_policy": g.alloc_policy.value,
                       "networks": list(g.networks), "ipolicy": ipolicy_to_json(g.ipolicy),
                       "tags": list(g.tags)} for g in cdata.groups}
    nodes = {}
    for n in cdata.nodes:
        nodes[n.name] = {
            "total_memory": n.t_mem, "reserved_memory": n.n_mem, "free_memory": n.f_mem,
            "total_disk": n.t_dsk, "free_disk": n.f_dsk, "total_cpus": n.t_cpu,
            "reserved_cpus": n.n_cpu, "total_spindles": n.spindles,
            "free_spindles": n.free_spindles, "offline": n.offline, "drained": False,
            "vm_capable": True, "master_candidate": n.master, "master_capable": True,
            "group": cdata.groups[n.group].uuid, "tags": list(n.tags),
            "ndparams": {"spindle_count": n.spindles, "exclusive_storage": n.excl_storage},
        }
    insts = {i.name: instance_to_json(cdata, i) for i in cdata.instances}
    for i in cdata.instances:
        insts[i.name]["hypervisor"] = hypervisor
    return {"version": 2, "cluster_name": "cluster", "cluster_tags": list(cdata.cluster_tags),
            "enabled_hypervisors": [hypervisor], "ipolicy": ipolicy_to_json(cdata.ipolicy),
            "nodegroups": groups, "nodes": nodes, "instances": insts, "request": request}
