"""Placing a new instance with an iallocator from ``LUInstanceCreate``.

Rules (Ganeti's): ``-I NAME`` uses allocator NAME; without ``-I`` and
without ``-n``, the cluster's default iallocator (``gnt-cluster modify
--default-iallocator``) is used on a cluster of more than one node; a
one-node cluster needs neither.  ``-I`` together with ``-n`` is refused.

Public API::

    allocator_for_create(cfg, op) -> str | None     # raises OpPrereqError
    place_new_instance(lu) -> Node                   # runs the allocator
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.objects import ConfigData, Node, fill
from gnt.objects.params import fill_dict


def allocator_for_create(cfg: ConfigData, op: Any) -> str | None:
    """The allocator placing the new instance, or None when a node is known."""
    if op.iallocator and op.pnode:
        raise errors.OpPrereqError("Give either an iallocator (-I) or a primary node (-n), "
                                   "not both", errors.ECODE_INVAL)
    if op.iallocator:
        return str(op.iallocator)
    if op.pnode is not None or len(cfg.nodes) == 1:
        return None
    default = cfg.cluster.default_iallocator
    if not default:
        raise errors.OpPrereqError(
            "No primary node given (-n), no iallocator (-I) and no cluster default "
            "iallocator (gnt-cluster modify --default-iallocator)", errors.ECODE_INVAL)
    return default


def place_new_instance(lu: Any) -> Node:
    """Ask ``lu.iallocator`` for the new instance's node(s); sets ``op.pnode``.

    Uses the LU's parsed ``disks``, ``nics``, ``beparams`` and the opcode;
    raises IAllocatorError (no solution, quoting the allocator) and the
    errors of :func:`gnt.iallocator.allocate`.
    """
    from gnt import iallocator
    from gnt.cmdlib.common import expand_node

    op = lu.op
    cfg: ConfigData = lu.cfg
    cl = cfg.cluster
    be = fill.fill_be(cl, lu.beparams)
    nics = []
    for n in lu.nics:
        params = fill_dict(cl.nicparams.get("default", {}), n.get("nicparams", {}))
        mac = n.get("mac")
        nics.append({"mac": None if mac in (C.VALUE_AUTO, C.VALUE_GENERATE) else mac,
                     "ip": n.get("ip"), "mode": params.get(C.NIC_MODE),
                     "link": params.get(C.NIC_LINK), "network": n.get("network")})
    nodes = iallocator.allocate(
        lu.ctx, lu.iallocator, instance_name=lu.hostname, disk_template=op.disk_template,
        memory=int(be[C.BE_MAXMEM]), vcpus=int(be[C.BE_VCPUS]),
        disks=[{"size": d["size"], "mode": d.get("mode", C.DISK_RDWR),
                "spindles": d.get("spindles")} for d in lu.disks],
        nics=nics, os=op.os_type or "", hypervisor=op.hypervisor or cl.default_hypervisor,
        tags=list(op.tags or []), spindle_use=int(be.get(C.BE_SPINDLE_USE, 1)),
        group_name=getattr(op, "group_name", None))
    lu.log_info(f"Selected nodes for instance {lu.hostname} via iallocator "
                f"{lu.iallocator}: {', '.join(nodes)}")
    op.pnode = nodes[0]
    return expand_node(cfg, nodes[0])
