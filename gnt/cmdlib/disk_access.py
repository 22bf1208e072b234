"""The ``access`` disk parameter set at the cluster or node-group level.

Disks of the templates in :data:`~gnt.constants.DTS_HAVE_ACCESS` (``rbd``,
``ext``, ``gluster``) are reached through the kernel (a block device) or by
the hypervisor itself (``userspace``: a URI QEMU opens). A disk's mode is
its own ``access`` parameter, else its node group's ``diskparams``, else
the cluster's (the usual cluster -> group -> disk inheritance), else
``kernelspace``. Only kvm can use userspace access (Ganeti's rule, see
:func:`gnt.extstorage.diskparams.check_access`).

So that ``gnt-cluster modify -D ext:access=userspace`` or ``gnt-group
modify -D ...`` cannot leave an instance with a mode its hypervisor cannot
use, both are checked against every instance they would affect, as Ganeti
checks them (its ``CheckDiskAccessModeValidity`` and
``CheckDiskAccessModeConsistency``); nothing is changed when one fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.extstorage.diskparams import check_access
from gnt.objects import ConfigData, fill

#: diskparams: template -> parameter -> value
DiskParams = Mapping[str, Mapping[str, Any]]


def check_values(diskparams: DiskParams) -> None:
    """Every ``access`` value in ``diskparams`` is a known mode.

    Raises OpPrereqError (``wrong_input``) naming the template, the value
    and the allowed modes.
    """
    for template, params in diskparams.items():
        access = params.get(C.LDP_ACCESS)
        if access is not None and access not in C.DISK_VALID_ACCESS_MODES:
            raise errors.OpPrereqError(
                f"Invalid value of '{template}:{C.LDP_ACCESS}': '{access}'; allowed: "
                f"{', '.join(C.DISK_VALID_ACCESS_MODES)}", errors.ECODE_INVAL)


def check_consistency(cfg: ConfigData, cluster_diskparams: DiskParams | None = None,
                      group_uuid: str | None = None,
                      group_diskparams: DiskParams | None = None) -> None:
    """Every instance keeps an access mode its hypervisor can use under new
    diskparams: the cluster's (``cluster_diskparams``, the whole new value)
    or those of the node group ``group_uuid`` (``group_diskparams``); with a
    group only the instances whose primary node is in it are looked at.

    Raises OpPrereqError (``wrong_state``) naming the first instance (by
    name) that could not run, its hypervisor and template.
    """
    # the nodes' own inheritance (fill_disk_params) on copies carrying the new values
    cluster = cfg.cluster if cluster_diskparams is None else cfg.cluster.model_copy(
        update={"diskparams": dict(cluster_diskparams)})
    groups = dict(cfg.nodegroups)
    if group_uuid in groups and group_diskparams is not None:
        groups[group_uuid] = groups[group_uuid].model_copy(
            update={"diskparams": dict(group_diskparams)})
    for inst in sorted(cfg.instances.values(), key=lambda i: i.name):
        template = inst.disk_template
        node = cfg.nodes.get(inst.primary_node)
        gid = node.group if node is not None else None
        if template not in C.DTS_HAVE_ACCESS or group_uuid not in (None, gid):
            continue
        group = groups.get(gid) if gid is not None else None
        for disk in cfg.instance_disks(inst):
            access = fill.fill_disk_params(cluster, group, disk).get(C.LDP_ACCESS)
            try:
                check_access(inst.hypervisor, template, access)
            except errors.OpPrereqError:
                raise errors.OpPrereqError(
                    f"Instance {inst.name}: cannot use '{access}' access setting with the "
                    f"{inst.hypervisor} hypervisor and the {template} disk template (userspace"
                    f" access needs {C.HT_KVM})", errors.ECODE_STATE) from None
