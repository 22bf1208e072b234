"""Read-only queries answered by the master without a job (``Query`` over LUXI).

Instance and node queries read the config and, only when a requested field
(or the filter) needs it, ask the nodes for live data in parallel; group
queries read the config only.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gnt import errors
from gnt.cmdlib.node_query import default_storage_unit
from gnt.masterd.context import MasterContext
from gnt.objects import ConfigData, Instance
from gnt.query import base as qbase
from gnt.query import group as qgroup
from gnt.query import instance as qinst
from gnt.query import job as qjob
from gnt.query import node as qnode
from gnt.query import osq
from gnt.query.qlang import filter_fields

RESOURCES = ("instance", "node", "group", "os", "job", "cluster")


def _live_instances(ctx: MasterContext, cfg: ConfigData, items: list[Instance] | None,
                    console: bool = False) -> qinst.InstanceQueryContext:
    """Live data for an instance query: one ``all_instances_info`` RPC per node, all
    nodes in parallel.  ``items`` (None: every instance) limits the nodes asked to
    those the instances use; offline and non-vm-capable nodes are not asked.
    With ``console``, the console information of each running instance too."""
    qctx = qinst.InstanceQueryContext(cfg=cfg, have_live=True)
    if items is None:
        wanted = [n for n in cfg.nodes.values() if n.vm_capable]
    else:
        uuids: set[str] = set()
        for inst in items:
            uuids.add(inst.primary_node)
            uuids.update(cfg.instance_secondary_nodes(inst))
        wanted = [cfg.nodes[u] for u in uuids if u in cfg.nodes]
    online = [n.uuid for n in wanted if not n.offline]
    if not online:
        return qctx
    results = ctx.rpc.all_instances_info(online, cfg.cluster.enabled_hypervisors)
    for uuid, res in results.items():
        if res.fail_msg:
            qctx.bad_nodes.add(uuid)
        else:
            qctx.live[uuid] = res.data or {}
    if console:
        qctx.console = _consoles(ctx, cfg, items if items is not None
                                 else list(cfg.instances.values()), qctx)
    return qctx


def _consoles(ctx: MasterContext, cfg: ConfigData, items: list[Instance],
              qctx: qinst.InstanceQueryContext) -> dict[str, Any]:
    """Console information of the running instances among ``items``: one
    ``instances_console_info`` RPC per primary node, the nodes in parallel."""
    from gnt.cmdlib.common import instance_spec

    by_node: dict[str, list[Instance]] = {}
    for inst in items:
        if qctx.live.get(inst.primary_node, {}).get(inst.name):
            by_node.setdefault(inst.primary_node, []).append(inst)
    if not by_node:
        return {}

    def one(node_uuid: str) -> dict[str, Any]:
        node = cfg.nodes[node_uuid]
        res = ctx.rpc.instances_console_info(
            node_uuid, [instance_spec(cfg, i) for i in by_node[node_uuid]], node.name)
        return {} if res.fail_msg else dict(res.data or {})

    out: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=min(16, len(by_node))) as pool:
        for part in pool.map(one, list(by_node)):
            out.update(part)
    return out


def wanted_names(qfilter: Any) -> list[str] | None:
    """The names a plain name filter (``["|", ["=", "name", n], ...]``, what
    ``gnt-* list NAME...`` sends) selects; None for any other filter."""
    if not isinstance(qfilter, list) or not qfilter:
        return None
    terms = qfilter[1:] if qfilter[0] == "|" else [qfilter]
    names = []
    for term in terms:
        if (not isinstance(term, list) or len(term) != 3 or term[0] not in ("=", "==")
                or term[1] != "name" or not isinstance(term[2], str)):
            return None
        names.append(term[2])
    return names


def _select(items: list[Any], names: list[str] | None) -> list[Any]:
    """``items`` (sorted by name) whose name matches one of ``names`` (short names
    allowed); all items when ``names`` is None."""
    if names is None:
        return items
    return [i for i in items if any(i.name == n or i.name.startswith(n + ".") for n in names)]


def _live_nodes(ctx: MasterContext, cfg: ConfigData, wanted: set[str]
                ) -> qnode.NodeQueryContext:
    """Live values of every online node, asking only for what ``wanted`` needs:
    the hypervisor's view (``node_info``) and/or the default storage unit's
    space (``storage_space``).  A node whose call fails goes to ``bad_nodes``."""
    qctx = qnode.NodeQueryContext(cfg=cfg, have_live=True)
    online = [n.uuid for n in cfg.nodes.values() if not n.offline]
    if not online:
        return qctx
    live: dict[str, dict[str, Any]] = {u: {} for u in online}
    hv = cfg.cluster.default_hypervisor
    unit = default_storage_unit(cfg.cluster)
    calls: dict[str, Any] = {}
    if wanted & qnode.HV_LIVE_FIELDS:
        calls["hv"] = lambda: ctx.rpc.node_info(online, [hv])
    if wanted & qnode.STORAGE_LIVE_FIELDS and unit is not None:
        calls["storage"] = lambda: ctx.rpc.storage_space(online, [unit])
    if len(calls) > 1:  # both rounds of RPCs at once
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = {k: pool.submit(fn) for k, fn in calls.items()}
            answers = {k: f.result() for k, f in futures.items()}
    else:
        answers = {k: fn() for k, fn in calls.items()}
    for uuid, res in answers.get("hv", {}).items():
        if res.fail_msg or not res.data:
            qctx.bad_nodes.add(uuid)
            continue
        hvd = res.data.get("hv", {}).get(hv) or {}
        live[uuid].update({
            "mtotal": hvd.get("memory_total"), "mnode": hvd.get("memory_dom0"),
            "mfree": hvd.get("memory_free"), "ctotal": hvd.get("cpu_total"),
            "cnodes": hvd.get("cpu_nodes"), "csockets": hvd.get("cpu_sockets"),
            "cnos": hvd.get("cpu_dom0"), "bootid": res.data.get("bootid"),
        })
    for uuid, res in answers.get("storage", {}).items():
        if res.fail_msg or not res.data:
            qctx.bad_nodes.add(uuid)
            continue
        space = res.data[0]
        # spindles (sptotal/spfree) only come with LVM exclusive storage
        live[uuid].update({"dtotal": space.get("storage_size"),
                           "dfree": space.get("storage_free")})
    qctx.live = live
    return qctx


def collect_os(ctx: MasterContext, cfg: ConfigData) -> list[osq.OsEntry]:
    """OS entries from every online vm-capable node's diagnosis."""
    nodes = [n for n in cfg.nodes.values() if not n.offline and n.vm_capable]
    entries: dict[str, osq.OsEntry] = {}
    results = ctx.rpc.os_diagnose([n.uuid for n in nodes])
    for node in nodes:
        res = results[node.uuid]
        if res.fail_msg:
            continue
        for diag in res.data:
            entry = entries.setdefault(diag["name"], osq.OsEntry(name=diag["name"]))
            entry.node_status.setdefault(node.name, []).append(diag)
    cl = cfg.cluster
    for entry in entries.values():
        for node in nodes:
            entry.node_status.setdefault(node.name, [])
        entry.hidden = entry.name in cl.hidden_os
        entry.blacklisted = entry.name in cl.blacklisted_os
        entry.os_hvp = cl.os_hvp.get(entry.name, {})
        entry.osparams = cl.osparams.get(entry.name, {})
    return sorted(entries.values(), key=lambda e: e.name)


def query(ctx: MasterContext, what: str, fields: list[str], qfilter: Any) -> dict[str, Any]:
    """Ganeti's ``Query``: ``{"fields": [...], "data": [[[status, value], ...], ...]}``."""
    cfg = ctx.cfg.data
    if what == "instance":
        with ctx.cfg.lock:
            items = sorted(cfg.instances.values(), key=lambda i: i.name)
        names = wanted_names(qfilter)
        items = _select(items, names)
        used = set(fields) | filter_fields(qfilter)
        if used & qinst.LIVE_FIELDS:
            qctx = _live_instances(ctx, cfg, None if names is None else items,
                                   console="console" in used)
        else:
            qctx = qinst.InstanceQueryContext(cfg=cfg)
        return qbase.run_query(qinst.TABLE, fields, qctx, items, qfilter)
    if what == "node":
        with ctx.cfg.lock:
            nodes = sorted(cfg.nodes.values(), key=lambda n: n.name)
        wanted = qnode.live_fields_needed(fields, qfilter)
        nctx = (_live_nodes(ctx, cfg, wanted) if wanted
                else qnode.NodeQueryContext(cfg=cfg))
        return qbase.run_query(qnode.TABLE, fields, nctx, nodes, qfilter)
    if what == "group":
        with ctx.cfg.lock:
            groups = sorted(cfg.nodegroups.values(), key=lambda g: g.name)
        return qbase.run_query(qgroup.TABLE, fields, cfg, groups, qfilter)
    if what == "os":
        return qbase.run_query(osq.TABLE, fields, None, collect_os(ctx, cfg), qfilter)
    if what == "job":
        return qjob.query_jobs(ctx.queue, fields, qfilter)
    raise errors.OpPrereqError(f"Unknown query resource '{what}'; allowed: "
                               f"{', '.join(RESOURCES)}", errors.ECODE_INVAL)


def query_fields(ctx: MasterContext, what: str, fields: list[str] | None) -> dict[str, Any]:
    """Ganeti's ``QueryFields``: ``{"fields": [{name, title, kind, doc}, ...]}``."""
    tables = {"instance": qinst.TABLE, "node": qnode.TABLE, "os": osq.TABLE,
              "job": qjob.TABLE, "group": qgroup.TABLE}
    if what not in tables:
        raise errors.OpPrereqError(f"Unknown query resource '{what}'; allowed: "
                                   f"{', '.join(RESOURCES)}", errors.ECODE_INVAL)
    return {"fields": tables[what].describe(fields)}
