"""Disk template conversion: ``gnt-instance modify -t TEMPLATE`` (master side).

Ganeti 3.0 converts between every pair of disk templates except from
``diskless`` and to ``diskless`` or ``blockdev`` (adopted devices); the
instance must be stopped.  ``plain``<->``drbd`` have their own code path in
Ganeti (rename the LVs, add/drop the DRBD layer); every other pair goes the
generic way, which gnt implements for the templates that run here
(``file``, ``sharedfile``, ``ext``):

1. the instance's disks are shut down;
2. new empty disks of the new template (same size, mode and name) are
   created on the primary node;
3. each old disk's data is copied onto its new disk by the node
   (``blockdev_convert``);
4. the configuration swaps the disks and the template in one write;
5. the old disks are removed.

When a step before 4 fails, the new disks are removed again and the
instance is left exactly as it was.  LVM-based templates are refused as in
Ganeti when the cluster has no volume group, and as not supported by gnt
when it has one (no LVM/DRBD on gnt's nodes yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib import disk_layout
from gnt.cmdlib.base import FeedbackFn, LogicalUnit
from gnt.cmdlib.common import check_node_online, disk_bdev_specs
from gnt.cmdlib.disk_shutdown import shutdown_instance_disks
from gnt.cmdlib.instance_disks import INSTANCE_DOWN, check_instance_state, rpc_raise
from gnt.extstorage import diskparams as ext_diskparams
from gnt.objects import Disk, Instance, Node, fill
from gnt.objects.base import new_uuid


@dataclass
class ConversionPlan:
    """A checked conversion: ``old`` disks (config order) become ``new`` (not
    created yet) of template ``target``."""

    target: str
    old: list[Disk]
    new: list[Disk] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``ext:<provider>`` for ext (Ganeti's feedback), else the template."""
        if self.target == C.DT_EXT and self.new:
            return f"{C.DT_EXT}:{self.new[0].logical_id[0]}"
        return self.target


def check_arguments(target: str, ext_params: dict[str, Any], file_driver: str | None,
                    file_storage_dir: str | None) -> None:
    """Syntax checks of a conversion request; raises OpPrereqError (``wrong_input``)."""
    if target not in C.DISK_TEMPLATES:
        raise errors.OpPrereqError(f"Invalid disk template '{target}'; valid: "
                                   f"{', '.join(C.DISK_TEMPLATES)}", errors.ECODE_INVAL)
    if ext_params and target != C.DT_EXT:
        raise errors.OpPrereqError(
            f"ExtStorage parameters (-e) are only valid when converting to the "
            f"'{C.DT_EXT}' disk template, not '{target}'", errors.ECODE_INVAL)
    if (file_driver or file_storage_dir) and target not in C.DTS_FILEBASED:
        raise errors.OpPrereqError(
            "Specifying file-based configuration arguments requires converting to a "
            "file-based disk template", errors.ECODE_INVAL)
    if file_driver and file_driver not in C.FILE_DRIVERS:
        raise errors.OpPrereqError(f"Invalid file driver name '{file_driver}'",
                                   errors.ECODE_INVAL)


def plan(lu: LogicalUnit, inst: Instance, pnode: Node, target: str,
         ext_params: dict[str, Any], file_driver: str | None,
         file_storage_dir: str | None) -> ConversionPlan:
    """Check that ``inst`` can be converted to ``target`` and compute its new disks.

    Raises OpPrereqError with Ganeti's messages: conversion from/to the
    template not supported, already that template, template not enabled,
    LVM without a volume group, instance not stopped, template not allowed
    by the group's instance policy; and gnt's own for templates it cannot
    run (plain, drbd, rbd, gluster).
    """
    cfg, cl = lu.cfg, lu.cfg.cluster
    old = cfg.instance_disks(inst)
    source = inst.disk_template
    if source in C.DTS_NOT_CONVERTIBLE_FROM:
        raise errors.OpPrereqError(
            f"Conversion from the '{source}' disk template is not supported",
            errors.ECODE_INVAL)
    if target in C.DTS_NOT_CONVERTIBLE_TO:
        raise errors.OpPrereqError(
            f"Conversion to the '{target}' disk template is not supported",
            errors.ECODE_INVAL)
    if target != C.DT_EXT and source == target:
        raise errors.OpPrereqError(f"Instance already has disk template {target}",
                                   errors.ECODE_INVAL)
    if target not in cl.enabled_disk_templates:
        raise errors.OpPrereqError(
            f"Disk template '{target}' is not enabled for this cluster (enabled templates:"
            f" {', '.join(cl.enabled_disk_templates)})", errors.ECODE_STATE)
    if target in C.DTS_LVM and not cl.volume_group_name:
        raise errors.OpPrereqError("Disk template conversions to lvm-based instances are "
                                   "not supported by the cluster", errors.ECODE_STATE)
    for tmpl, what in ((source, "from"), (target, "to")):
        if tmpl not in C.DTS_IMPLEMENTED or tmpl in C.DTS_LVM:
            raise errors.OpPrereqError(
                f"Conversion {what} the '{tmpl}' disk template is not supported by gnt: its "
                f"storage cannot run on gnt's nodes (gnt converts between "
                f"{', '.join(t for t in C.DTS_IMPLEMENTED if t not in C.DTS_NOT_CONVERTIBLE_TO)})",
                errors.ECODE_INVAL)
    check_instance_state(lu, inst, INSTANCE_DOWN, "cannot change disk template")
    check_node_online(pnode, "Cannot convert the disk template")
    group = cfg.nodegroups.get(pnode.group) if getattr(pnode, "group", None) else None
    allowed = fill.fill_ipolicy(cl, group).get(C.IPOLICY_DTS)
    if allowed is not None and target not in allowed:
        raise errors.OpPrereqError(
            f"Disk template '{target}' in not allowed (allowed templates: "
            f"{', '.join(allowed)})", errors.ECODE_STATE)
    ext: dict[str, Any] = {}
    if target == C.DT_EXT:
        ext = ext_diskparams.parse_disk(C.DT_EXT, 0, ext_params, ())
    new: list[Disk] = []
    for idx, d in enumerate(old):
        uuid = new_uuid()
        params: dict[str, Any] = {"size": d.size, "mode": d.mode, "name": d.name, **ext}
        lid = disk_layout.logical_id(disk_layout.NewDisk(
            template=target, index=idx, uuid=uuid, instance=inst.name, cluster=cl,
            params=params, file_driver=file_driver, file_storage_dir=file_storage_dir))
        new.append(Disk(uuid=uuid, dev_type=target, logical_id=lid, size=d.size, mode=d.mode,
                        name=d.name, iv_name=f"disk/{idx}", nodes=[inst.primary_node],
                        params=dict(ext.get("params", {}))))
    if target == C.DT_EXT:
        ext_diskparams.check_disks_on_node(lu.ctx.rpc, lu.cfg, pnode, inst.hypervisor,
                                           [{"size": d.size, **ext} for d in old])
    return ConversionPlan(target=target, old=old, new=new)


def _remove(lu: LogicalUnit, pnode: Node, disks: list[Disk], what: str) -> None:
    for spec in disk_bdev_specs(disks, lu.cfg):
        res = lu.ctx.rpc.blockdev_remove(pnode.uuid, spec)
        if res.fail_msg:
            lu.log_warning(f"Could not remove {what} disk {spec.iv_name} on node "
                           f"{pnode.name}: {res.fail_msg}; remove it manually")


def _swap_config(lu: LogicalUnit, inst: Instance, p: ConversionPlan) -> None:
    """Replace the instance's disks and template in one config write; nothing
    changes when the write fails."""
    store = lu.ctx.cfg
    with store.lock:
        old_uuids, old_template = list(inst.disks), inst.disk_template
        for d in p.new:
            store.data.disks[d.uuid] = d
        inst.disks = [d.uuid for d in p.new]
        inst.disk_template = p.target
        removed = {d.uuid: store.data.disks.pop(d.uuid) for d in p.old}
        try:
            store.update(inst, *p.new)
        except BaseException:
            inst.disks, inst.disk_template = old_uuids, old_template
            store.data.disks.update(removed)
            for d in p.new:
                store.data.disks.pop(d.uuid, None)
            raise


def convert(lu: LogicalUnit, inst: Instance, pnode: Node, p: ConversionPlan,
            feedback: FeedbackFn) -> None:
    """Carry out ``p`` (see the module docstring); raises OpExecError, leaving the
    instance as it was, when creating or copying a new disk fails."""
    feedback(f"Converting disk template from '{inst.disk_template}' to '{p.label}'")
    if shutdown_instance_disks(lu, inst, pnode):
        raise errors.OpExecError("Cannot shutdown instance disks, unable to proceed with "
                                 "disk template conversion", errors.ECODE_STATE)
    feedback(f"Creating new empty disks of type '{p.label}'...")
    created: list[Disk] = []
    try:
        for disk, spec in zip(p.new, disk_bdev_specs(p.new, lu.cfg)):
            rpc_raise(lu.ctx.rpc.blockdev_create(pnode.uuid, spec),
                      f"Can't create disk {disk.iv_name} on node {pnode.name}")
            created.append(disk)
        feedback(f"Populating the new empty disks of type '{p.label}'...")
        for idx, (src, dst) in enumerate(zip(disk_bdev_specs(p.old, lu.cfg), disk_bdev_specs(p.new, lu.cfg))):
            feedback(f" - copying data from disk {idx} ({src.dev_type}), size {dst.size}M")
            rpc_raise(lu.ctx.rpc.blockdev_convert(pnode.uuid, src, dst),
                      f"Error while converting the instance's template (disk {idx})")
        _swap_config(lu, inst, p)
    except errors.GntError:
        lu.log_info("The instance will not be affected, aborting operation")
        lu.log_info(f"Removing newly created disks of type '{p.label}'...")
        _remove(lu, pnode, created, "new")
        raise
    for spec in disk_bdev_specs(p.new, lu.cfg):
        if spec.dev_type == C.DT_EXT:  # as at creation: tag the volume with its instance
            res = lu.ctx.rpc.extstorage_setinfo(pnode.uuid, spec, f"originstname+{inst.name}")
            if res.fail_msg:
                lu.log_warning(f"Error setting info on disk {spec.iv_name}: {res.fail_msg}")
    feedback(f"Removing old block devices of type '{p.old[0].dev_type if p.old else ''}'...")
    _remove(lu, pnode, p.old, "old")


__all__ = ["ConversionPlan", "check_arguments", "convert", "plan"]
