"""Cluster data from query results (RAPI bulk listings, LUXI queries).

Both live backends (:mod:`gnt.htools.backend_rapi`, :mod:`gnt.htools.backend_luxi`)
fetch the same objects -- groups, nodes, instances as dicts keyed by
Ganeti's RAPI bulk field names, plus the cluster info and tags -- and
build the model here, with Ganeti's loader rules:

* nodes that are offline or not vm_capable report no resources (all zero)
  and are marked offline, as are drained nodes;
* a node's spindles are ``sptotal``/``spfree`` with exclusive storage,
  otherwise ``ndparams/spindle_count`` and 0 free;
* an instance's memory is its ``oper_ram`` when known (running), else
  ``beparams/maxmem``; its disk is ``disk_usage``;
* the master node (``info["master"]``) is flagged.

Public API::

    NODE_FIELDS, INSTANCE_FIELDS, GROUP_FIELDS      # field names fetched
    build_cluster(groups, nodes, instances, info, cluster_tags, source) -> ClusterData

Raises :class:`gnt.htools.errors.DataError` naming the object and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gnt.htools.errors import DataError
from gnt.htools.iallocator import _ipolicy
from gnt.htools.model import ClusterData, Group, Instance, Node
from gnt.htools.types import (
    DEFAULT_IPOLICY,
    NO_SECONDARY,
    AllocPolicy,
    DiskTemplate,
    InstanceStatus,
)

NODE_FIELDS = ["name", "offline", "drained", "vm_capable", "mtotal", "mnode", "mfree",
               "dtotal", "dfree", "ctotal", "cnos", "sptotal", "spfree", "ndparams",
               "group.uuid", "tags"]
INSTANCE_FIELDS = ["name", "disk_usage", "disk.sizes", "disk.spindles", "beparams",
                   "oper_ram", "status", "pnode", "snodes", "disk_template", "tags",
                   "nic.networks"]
GROUP_FIELDS = ["name", "uuid", "alloc_policy", "ipolicy", "tags"]

_NUM = (int, float)


class _Rec:
    """One result object with errors naming the object and the field."""

    def __init__(self, data: Any, what: str, source: str) -> None:
        if not isinstance(data, dict):
            raise DataError(f"{what}: expected an object, got {type(data).__name__}", source)
        self.data, self.what, self.source = data, what, source

    def fail(self, msg: str) -> DataError:
        return DataError(f"{self.what}: {msg}", self.source)

    def get(self, key: str, kind: type | tuple[type, ...] | None = None,
            default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is not ...:
                return default
            raise self.fail(f"field '{key}' missing")
        val = self.data[key]
        if kind is not None and (not isinstance(val, kind) or
                                 (isinstance(val, bool) and kind in (_NUM, int, float))):
            raise self.fail(f"field '{key}' has a bad value {val!r}")
        return val


def _group(data: Any, source: str) -> Group:
    r = _Rec(data, "group", source)
    name = r.get("name", str)
    r.what = f"group '{name}'"
    apol = r.get("alloc_policy", str)
    try:
        policy = AllocPolicy(apol)
    except ValueError:
        raise r.fail(f"invalid alloc_policy '{apol}'") from None
    pol = r.get("ipolicy", dict)
    return Group(name=name, uuid=r.get("uuid", str), alloc_policy=policy,
                 tags=list(r.get("tags", list, [])),
                 networks=list(r.get("networks", list, [])),
                 ipolicy=_ipolicy(pol, f"ipolicy of group '{name}'"))


def _node(data: Any, groups: dict[str, int], source: str) -> Node:
    r = _Rec(data, "node", source)
    name = r.get("name", str)
    r.what = f"node '{name}'"
    offline = bool(r.get("offline", bool))
    drained = bool(r.get("drained", bool))
    vm_capable = bool(r.get("vm_capable", bool, True))
    nd = _Rec(r.get("ndparams", dict), f"ndparams of node '{name}'", source)
    excl = bool(nd.get("exclusive_storage", bool, False))
    guuid = r.get("group.uuid", str)
    if guuid not in groups:
        raise r.fail(f"unknown group '{guuid}'")
    live = not offline and vm_capable

    def lv(key: str, default: float, optional: bool = False) -> float:
        if not live:
            return default
        return r.get(key, _NUM, default if optional else ...)

    spindles = int(lv("sptotal", 0)) if excl else int(nd.get("spindle_count", int, 1))
    free_sp = int(lv("spfree", 0)) if excl else 0
    return Node(name=name, t_mem=float(lv("mtotal", 0.0)), n_mem=int(lv("mnode", 0)),
                f_mem=int(lv("mfree", 0)), t_dsk=float(lv("dtotal", 0.0, True)),
                f_dsk=int(lv("dfree", 0, True)), t_cpu=float(lv("ctotal", 0.0)),
                n_cpu=int(lv("cnos", 0)), offline=not live or drained, group=groups[guuid],
                spindles=spindles, free_spindles=free_sp, tags=list(r.get("tags", list, [])),
                excl_storage=excl, cpu_speed=float(nd.get("cpu_speed", _NUM, 1.0)))


def _instance(data: Any, nodes: dict[str, int], source: str) -> Instance:
    r = _Rec(data, "instance", source)
    name = r.get("name", str)
    r.what = f"instance '{name}'"
    be = _Rec(r.get("beparams", dict), f"beparams of instance '{name}'", source)
    oper = data.get("oper_ram")
    if isinstance(oper, _NUM) and not isinstance(oper, bool):
        mem = int(oper)
    elif "memory" in be.data:
        mem = int(be.get("memory", _NUM))
    else:
        mem = int(be.get("maxmem", _NUM))
    status = r.get("status", str)
    try:
        st = InstanceStatus(status)
    except ValueError:
        raise r.fail(f"invalid status '{status}'") from None
    dt = r.get("disk_template", str)
    try:
        template = DiskTemplate(dt)
    except ValueError:
        raise r.fail(f"invalid disk template '{dt}'") from None
    pname = r.get("pnode", str)
    if pname not in nodes:
        raise r.fail(f"unknown primary node '{pname}'")
    snodes = r.get("snodes", list, [])
    if snodes and snodes[0] not in nodes:
        raise r.fail(f"unknown secondary node '{snodes[0]}'")
    sizes = [int(s) for s in r.get("disk.sizes", list, [])]
    spn = list(r.get("disk.spindles", list, [])) + [None] * len(sizes)
    disks = [(s, None if p is None else int(p)) for s, p in zip(sizes, spn)]
    total_sp = None if any(p is None for _, p in disks) else sum(
        int(p) for _, p in disks if p is not None)
    nets = data.get("nic.networks") or []
    return Instance(name=name, mem=mem, dsk=int(r.get("disk_usage", _NUM, 0)),
                    vcpus=int(be.get("vcpus", _NUM)), status=st,
                    auto_balance=bool(be.get("auto_balance", bool, True)),
                    pnode=nodes[pname],
                    snode=nodes[snodes[0]] if snodes else NO_SECONDARY,
                    template=template, tags=list(r.get("tags", list, [])),
                    spindle_use=int(be.get("spindle_use", _NUM, 1)), spindles=total_sp,
                    forthcoming=bool(r.get("forthcoming", bool, False)), disks=disks,
                    nic_networks=[n if isinstance(n, str) else None for n in nets])


def build_cluster(groups: Sequence[Any], nodes: Sequence[Any], instances: Sequence[Any],
                  info: Any, cluster_tags: Sequence[str], source: str) -> ClusterData:
    """The model from query results; objects keep the order of the results.

    ``info`` is the cluster info (``ipolicy``, ``master``); ``source``
    names the backend in error messages.
    """
    glist = [_group(g, source) for g in groups]
    gidx = {g.uuid: k for k, g in enumerate(glist)}
    nlist = [_node(n, gidx, source) for n in nodes]
    nidx = {n.name: k for k, n in enumerate(nlist)}
    ilist = [_instance(i, nidx, source) for i in instances]
    inf = _Rec(info, "cluster info", source)
    pol = inf.get("ipolicy", dict, None)
    cdata = ClusterData(groups=glist, nodes=nlist, instances=ilist,
                        cluster_tags=[str(t) for t in cluster_tags],
                        ipolicy=DEFAULT_IPOLICY if pol is None
                        else _ipolicy(pol, "cluster ipolicy"))
    master = inf.get("master", str, None)
    for n in nlist:
        n.master = n.name == master
    cdata.reindex()
    return cdata
