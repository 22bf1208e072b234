"""Building an iallocator request (Ganeti's input format, version 2) from the config.

The document describes the cluster (``cluster_name``, ``cluster_tags``,
``enabled_hypervisors``, ``ipolicy``), every node group (``name``,
``alloc_policy``, ``networks``, filled ``ipolicy``, ``tags``), every node
(static data, and for online vm-capable nodes the live data: memory from
the default hypervisor, disk from the default storage unit, CPUs), every
instance, and the ``request``.  As in Ganeti, a node's free memory is
reduced by the memory that running-but-not-yet-started ("up" but not
running) instances will need; sizes are MiB.

Public API::

    disk_space_total(template, sizes) -> int
    instance_entry(cfg, inst) -> dict
    build_input(ctx, request) -> dict            # raises OpExecError on RPC failure
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.objects import ConfigData, Instance, fill

#: DRBD metadata per disk (MiB), counted in ``disk_space_total``.
DRBD_META_SIZE = 128
#: The iallocator protocol version written.
PROTOCOL_VERSION = 2
_NO_DISK_SPACE = (C.DT_DISKLESS, C.DT_BLOCK)


def disk_space_total(template: str, sizes: list[int]) -> int:
    """Ganeti's ``ComputeDiskSize``: the space an instance needs (MiB)."""
    if template in _NO_DISK_SPACE:
        return 0
    if template == C.DT_DRBD8:
        return sum(sizes) + DRBD_META_SIZE * len(sizes)
    return sum(sizes)


def _nic_entry(cfg: ConfigData, nic: Any) -> dict[str, Any]:
    params = fill.fill_nic(cfg.cluster, nic)
    mode = params.get(C.NIC_MODE)
    link = params.get(C.NIC_LINK)
    return {"mac": nic.mac, "ip": nic.ip, "mode": mode, "link": link,
            "network": nic.network,
            "bridge": link if mode == C.NIC_MODE_BRIDGED else None}


def instance_entry(cfg: ConfigData, inst: Instance) -> dict[str, Any]:
    """One instance as the protocol describes it."""
    be = fill.fill_instance_be(cfg.cluster, inst)
    disks = cfg.instance_disks(inst)
    nodes = [cfg.get_node(inst.primary_node).name] + [
        cfg.get_node(u).name for u in cfg.instance_secondary_nodes(inst)]
    return {
        "tags": list(inst.tags), "admin_state": inst.admin_state,
        "admin_state_source": inst.admin_state_source,
        "vcpus": int(be[C.BE_VCPUS]), "memory": int(be[C.BE_MAXMEM]),
        "spindle_use": int(be.get(C.BE_SPINDLE_USE, 1)), "os": inst.os,
        "nodes": nodes, "nics": [_nic_entry(cfg, n) for n in inst.nics],
        "disks": [{"size": d.size, "mode": d.mode, "spindles": d.spindles, "name": d.name}
                  for d in disks],
        "disk_template": inst.disk_template,
        "disk_space_total": disk_space_total(inst.disk_template, [d.size for d in disks]),
        "hypervisor": inst.hypervisor, "forthcoming": inst.forthcoming,
        "disks_active": inst.disks_active,
    }


def _group_entries(cfg: ConfigData) -> dict[str, Any]:
    return {g.uuid: {"name": g.name, "alloc_policy": g.alloc_policy,
                     "networks": list(g.networks), "tags": list(g.tags),
                     "ipolicy": fill.fill_ipolicy(cfg.cluster, g)}
            for g in cfg.nodegroups.values()}


def _static_node(cfg: ConfigData, node: Any) -> dict[str, Any]:
    group = cfg.nodegroups.get(node.group)
    return {"tags": list(node.tags), "primary_ip": node.primary_ip,
            "secondary_ip": node.secondary_ip, "offline": node.offline,
            "drained": node.drained, "master_candidate": node.master_candidate,
            "master_capable": node.master_capable, "vm_capable": node.vm_capable,
            "group": node.group, "ndparams": fill.fill_nd(cfg.cluster, group, node)}


def _live_nodes(ctx: Any, cfg: ConfigData, uuids: list[str]) -> dict[str, dict[str, Any]]:
    """Live data of the given nodes; raises OpExecError if a node does not answer."""
    from gnt.cmdlib.node_query import default_storage_unit

    if not uuids:
        return {}
    hv = cfg.cluster.default_hypervisor
    info = ctx.rpc.node_info(uuids, [hv])
    iinfo = ctx.rpc.all_instances_info(uuids, cfg.cluster.enabled_hypervisors)
    unit = default_storage_unit(cfg.cluster)
    space = ctx.rpc.storage_space(uuids, [unit]) if unit is not None else {}
    out: dict[str, dict[str, Any]] = {}
    for uuid in uuids:
        node = cfg.get_node(uuid)
        res = info[uuid]
        if res.fail_msg or not res.data:
            raise errors.OpExecError(f"Can't get data for node {node.name}: {res.fail_msg}")
        ires = iinfo[uuid]
        if ires.fail_msg:
            raise errors.OpExecError(f"Can't get node instance info from node {node.name}:"
                                     f" {ires.fail_msg}")
        hvd = res.data["hv"][hv]
        total_disk = free_disk = 0
        sres = space.get(uuid)
        if sres is not None and not sres.fail_msg and sres.data:
            total_disk = int(sres.data[0].get("storage_size") or 0)
            free_disk = int(sres.data[0].get("storage_free") or 0)
        running = ires.data or {}
        free_mem = int(hvd["memory_free"])
        i_pri_mem = i_pri_up_mem = 0
        for inst in cfg.instances.values():
            if inst.primary_node != uuid:
                continue
            maxmem = int(fill.fill_instance_be(cfg.cluster, inst)[C.BE_MAXMEM])
            i_pri_mem += maxmem
            used = int(running[inst.name]["memory"]) if inst.name in running else 0
            if inst.admin_state == C.ADMINST_UP:
                i_pri_up_mem += maxmem
                if not inst.forthcoming:
                    free_mem -= max(0, maxmem - used)
        out[uuid] = {
            "total_memory": int(hvd["memory_total"]), "reserved_memory": int(hvd["memory_dom0"]),
            "free_memory": free_mem, "total_disk": total_disk, "free_disk": free_disk,
            "total_cpus": int(hvd["cpu_total"]), "reserved_cpus": int(hvd.get("cpu_dom0", 0)),
            "total_spindles": 0, "free_spindles": 0,
            "i_pri_memory": i_pri_mem, "i_pri_up_memory": i_pri_up_mem,
        }
    return out


def build_input(ctx: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The whole request document for ``request`` (the ``request`` member)."""
    cfg: ConfigData = ctx.cfg.data
    cl = cfg.cluster
    live_uuids = [n.uuid for n in cfg.nodes.values() if not n.offline and n.vm_capable]
    live = _live_nodes(ctx, cfg, live_uuids)
    nodes = {}
    for node in cfg.nodes.values():
        entry = _static_node(cfg, node)
        entry.update(live.get(node.uuid, {}))
        nodes[node.name] = entry
    return {
        "version": PROTOCOL_VERSION,
        "cluster_name": cl.cluster_name, "cluster_tags": list(cl.tags),
        "enabled_hypervisors": list(cl.enabled_hypervisors), "ipolicy": dict(cl.ipolicy),
        "nodegroups": _group_entries(cfg), "nodes": nodes,
        "instances": {i.name: instance_entry(cfg, i) for i in cfg.instances.values()},
        "request": request,
    }
