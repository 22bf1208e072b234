"""Detached disks (Ganeti 3.0): ``gnt-instance modify --disk N:detach`` and
``--disk attach:name=X|uuid=X`` (master side).

A detached disk stays in the configuration's ``disks`` (with its nodes and
data) but belongs to no instance, so ``gnt-cluster verify`` does not report
its volume as an orphan.  As in Ganeti, the file of a ``file``/``sharedfile``
disk moves out of its instance's directory on detach
(``<dir>/<instance>/<file>`` -> ``<dir>/<file>``) and into the new
instance's directory on attach; other templates keep their volume as it is.

Attaching checks, with Ganeti's messages, that the disk exists (by name or
UUID), is not attached elsewhere, has the instance's template (any template
for a diskless instance) and lives on the instance's nodes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib import disk_layout
from gnt.cmdlib.base import LogicalUnit
from gnt.cmdlib.common import disk_bdev_specs
from gnt.cmdlib.instance_disks import renumber, rpc_raise, same_directory
from gnt.objects import ConfigData, Disk, Instance


def owners(cfg: ConfigData) -> dict[str, Instance]:
    """Disk UUID -> the instance it is attached to."""
    return {d: i for i in cfg.instances.values() for d in i.disks}


def detached(cfg: ConfigData) -> list[Disk]:
    """The disks of the configuration that belong to no instance."""
    used = owners(cfg)
    return [d for u, d in cfg.disks.items() if u not in used]


def find_disk(cfg: ConfigData, uuid: str | None = None, name: str | None = None) -> Disk:
    """The disk with ``uuid`` or (else) ``name`` (of several disks with that name,
    the only detached one); raises OpPrereqError (``wrong_input``) when there
    is none, or when the name stays ambiguous."""
    if uuid is not None:
        disk = cfg.disks.get(uuid)
        if disk is None:
            raise errors.OpPrereqError(f"No disk was found with this UUID: {uuid}",
                                       errors.ECODE_INVAL)
        return disk
    found = [d for d in cfg.disks.values() if name is not None and d.name == name]
    if not found:
        raise errors.OpPrereqError(f"No disk was found with this name: {name}",
                                   errors.ECODE_INVAL)
    if len(found) > 1:  # names are not unique cluster-wide: prefer a detached disk
        used = owners(cfg)
        free = [d for d in found if d.uuid not in used]
        if len(free) == 1:
            return free[0]
        raise errors.OpPrereqError(
            f"More than one disk is named '{name}' ({', '.join(d.uuid for d in found)}); "
            f"attach it by uuid", errors.ECODE_NOTUNIQUE)
    return found[0]


def check_attach(cfg: ConfigData, inst: Instance, params: dict[str, Any],
                 planned: Sequence[Disk]) -> Disk:
    """The detached disk ``params`` (``uuid`` or ``name``) names, checked for
    attaching to ``inst`` (``planned``: the instance's disks as the earlier
    modifications of the same request leave them).  Raises OpPrereqError."""
    disk = find_disk(cfg, params.get("uuid"), params.get("name"))
    owner = owners(cfg).get(disk.uuid)
    if owner is not None or any(d.uuid == disk.uuid for d in planned):
        where = owner.name if owner is not None else inst.name
        raise errors.OpPrereqError(f"Disk {disk.uuid} is already attached to instance "
                                   f"{where}", errors.ECODE_STATE)
    template = inst.disk_template
    if disk.dev_type != template and template != C.DT_DISKLESS:
        raise errors.OpPrereqError(f"Instance has '{template}' template while disk has "
                                   f"'{disk.dev_type}' template", errors.ECODE_INVAL)
    if disk.nodes and inst.primary_node not in disk.nodes:
        names = [cfg.nodes[n].name if n in cfg.nodes else n for n in disk.nodes]
        inst_nodes = [cfg.nodes[inst.primary_node].name]
        raise errors.OpPrereqError(f"Disk nodes are {names} while the instance's nodes are "
                                   f"{inst_nodes}", errors.ECODE_INVAL)
    return disk


def _rename(lu: LogicalUnit, node_uuid: str, disk: Disk, lid: list[Any], what: str) -> None:
    rpc_raise(lu.ctx.rpc.blockdev_rename(node_uuid, disk_bdev_specs([disk], lu.cfg)[0], lid),
              f"Failed before {what}")
    disk.logical_id = lid


def move_into_instance(lu: LogicalUnit, inst: Instance, disk: Disk,
                       index: int) -> list[Any] | None:
    """Move a file-based ``disk`` into ``inst``'s disk directory (on the node; the
    new ``logical_id`` is set on ``disk``, not saved); returns the old
    ``logical_id``, or None when the template has no instance-dependent path."""
    if disk.dev_type not in C.DTS_INSTANCE_DEPENDENT_PATH:
        return None
    old = list(disk.logical_id)
    lid = disk_layout.logical_id(disk_layout.NewDisk(
        template=disk.dev_type, index=index, uuid=disk.uuid, instance=inst.name,
        cluster=lu.cfg.cluster, file_driver=str(old[0])))
    lid = same_directory(lu, inst, lid)
    _rename(lu, inst.primary_node, disk, lid, "attach")
    return old


def move_back(lu: LogicalUnit, disk: Disk, old: list[Any]) -> None:
    """Undo :func:`move_into_instance` (a warning when the node refuses)."""
    node = disk.nodes[0] if disk.nodes else None
    try:
        if node is not None:
            _rename(lu, node, disk, old, "undoing the attach")
    except errors.GntError as err:
        lu.log_warning(f"Could not move disk {disk.uuid} back to {old[1]}: {err}")
    disk.logical_id = old


def config_attach(lu: LogicalUnit, inst: Instance, disk: Disk, index: int) -> None:
    """Make the detached ``disk`` the instance's disk at ``index`` (one config write;
    a diskless instance takes the disk's template); nothing changes when the
    write fails."""
    store = lu.ctx.cfg
    with store.lock:
        old_disks, old_template = list(inst.disks), inst.disk_template
        old_names = {u: store.data.disks[u].iv_name for u in inst.disks}
        old_iv = disk.iv_name
        inst.disks.insert(index, disk.uuid)
        if inst.disk_template == C.DT_DISKLESS:
            inst.disk_template = disk.dev_type
        renumber(lu.cfg.instance_disks(inst))
        try:
            store.update(inst, *lu.cfg.instance_disks(inst))
        except BaseException:
            inst.disks, inst.disk_template, disk.iv_name = old_disks, old_template, old_iv
            for u, name in old_names.items():
                store.data.disks[u].iv_name = name
            raise


def detach(lu: LogicalUnit, inst: Instance, disk: Disk) -> None:
    """Take ``disk`` (shut down already) out of ``inst``: a file-based disk's file
    moves out of the instance's directory, then one config write keeps the
    disk without instance (an instance left without disks becomes diskless).
    Raises OpExecError/RPC errors with nothing changed."""
    old = list(disk.logical_id)
    moved = False
    if disk.dev_type in C.DTS_INSTANCE_DEPENDENT_PATH:
        inst_dir, fname = os.path.split(str(old[1]))
        _rename(lu, inst.primary_node, disk, [old[0], os.path.join(os.path.dirname(inst_dir),
                                                                   fname)], "detach")
        moved = True
    store = lu.ctx.cfg
    with store.lock:
        old_disks, old_template = list(inst.disks), inst.disk_template
        old_names = {u: store.data.disks[u].iv_name for u in inst.disks}
        inst.disks.remove(disk.uuid)
        if not inst.disks:
            inst.disk_template = C.DT_DISKLESS
        renumber(lu.cfg.instance_disks(inst))
        try:
            store.update(inst, disk, *lu.cfg.instance_disks(inst))
        except BaseException:
            inst.disks, inst.disk_template = old_disks, old_template
            for u, name in old_names.items():
                store.data.disks[u].iv_name = name
            if moved:
                move_back(lu, disk, old)
            raise


__all__ = ["check_attach", "config_attach", "detach", "detached", "find_disk",
           "move_back", "move_into_instance", "owners"]
