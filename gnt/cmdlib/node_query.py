"""LUs for ``gnt-node volumes`` (OpNodeQueryvols) and ``gnt-node list-storage``
(OpNodeQueryStorage), plus the cluster's storage units.

gnt stores disks in files, so the "volumes" of a node are the disk files
below the file storage directories of the enabled file-based templates
(``vg`` is the directory, ``name`` the path inside it, ``phys`` the whole
path), and the storage units of type ``file``/``sharedfile`` are those
directories.  Sizes are MiB.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, NoHooksLU
from gnt.cmdlib.common import expand_node
from gnt.objects import Cluster, ConfigData
from gnt.opcodes.node import OpNodeQueryStorage, OpNodeQueryvols

VOLUME_FIELDS = ("node", "phys", "vg", "name", "size", "instance")


def storage_unit(cluster: Cluster, storage_type: str) -> list[str] | None:
    """``[type, name]`` of the cluster's unit of ``storage_type``, or None when the
    type has no unit this cluster can report (e.g. no volume group set)."""
    name: str | None = None
    if storage_type == C.ST_FILE:
        name = cluster.file_storage_dir
    elif storage_type == C.ST_SHARED_FILE:
        name = cluster.shared_file_storage_dir
    elif storage_type == C.ST_LVM_VG:
        name = cluster.volume_group_name
    return [storage_type, name] if name else None


def default_storage_unit(cluster: Cluster) -> list[str] | None:
    """The unit behind a node's ``dtotal``/``dfree``: that of the first enabled disk
    template with reportable storage (Ganeti's default storage unit)."""
    for dt in cluster.enabled_disk_templates:
        stype = C.MAP_DISK_TEMPLATE_STORAGE_TYPE.get(dt)
        if stype in C.STS_REPORT_NODE_STORAGE and stype != C.ST_LVM_PV:
            return storage_unit(cluster, stype)
    return None


def enabled_storage_types(cluster: Cluster) -> list[str]:
    """Storage types of the enabled disk templates (lvm-vg also gives lvm-pv)."""
    out: list[str] = []
    for dt in cluster.enabled_disk_templates:
        stype = C.MAP_DISK_TEMPLATE_STORAGE_TYPE.get(dt)
        if stype and stype not in out:
            out.append(stype)
            if stype == C.ST_LVM_VG:
                out.append(C.ST_LVM_PV)
    return out


def _check_fields(fields: list[str], allowed: tuple[str, ...]) -> None:
    bad = [f for f in fields if f not in allowed]
    if bad:
        raise errors.OpPrereqError(f"Unknown output fields selected: {', '.join(bad)}; "
                                   f"allowed: {', '.join(allowed)}", errors.ECODE_INVAL)
    if not fields:
        raise errors.OpPrereqError("No output fields selected", errors.ECODE_INVAL)


class _NodesQueryLU(NoHooksLU):
    """Shared locks on the named nodes (all nodes when none are named)."""

    REQ_BGL = False

    def expand_names(self) -> None:
        names: list[str] = self.op.nodes  # type: ignore[attr-defined]
        self.share_all()
        if names:
            self.needed_locks[Level.NODE] = [expand_node(self.cfg, n).uuid for n in names]
        else:
            self.needed_locks[Level.NODE] = ALL_SET

    def _nodes(self) -> list[str]:
        """UUIDs of the locked nodes still in the config, by node name."""
        uuids = [u for u in self.acquired.get(Level.NODE, set()) if u in self.cfg.nodes]
        return sorted(uuids, key=lambda u: self.cfg.nodes[u].name)

    def _answers(self, results: dict[str, Any], failed: str) -> Iterator[tuple[str, str, Any]]:
        """``(node UUID, node name, data)`` of each node that answered, in ``results``' order;
        offline nodes are skipped, failed ones logged as "``failed`` NAME: why"."""
        for uuid, res in results.items():
            name = self.cfg.nodes[uuid].name
            if res.offline:
                continue
            if res.fail_msg:
                self.log_warning(f"{failed} {name}: {res.fail_msg}")
                continue
            yield uuid, name, res.data


def _volume_owners(cfg: ConfigData) -> dict[tuple[str, str], str]:
    """(node UUID, file path) -> instance name, for every file-based disk."""
    out: dict[tuple[str, str], str] = {}
    for inst in cfg.instances.values():
        for disk in cfg.instance_disks(inst):
            if disk.dev_type in C.DTS_FILEBASED and len(disk.logical_id) > 1:
                for node in disk.nodes or [inst.primary_node]:
                    out[(node, os.path.normpath(str(disk.logical_id[1])))] = inst.name
    return out


class LUNodeQueryvols(_NodesQueryLU):
    """``gnt-node volumes``: rows of strings, one per disk file."""

    OP = OpNodeQueryvols

    def check_arguments(self) -> None:
        _check_fields(self.op.output_fields, VOLUME_FIELDS)  # type: ignore[attr-defined]

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpNodeQueryvols = self.op  # type: ignore[assignment]
        cl = self.cfg.cluster
        dirs = [u[1] for u in (storage_unit(cl, st) for st in enabled_storage_types(cl)
                               if st in (C.ST_FILE, C.ST_SHARED_FILE)) if u]
        nodes = self._nodes()
        if not dirs or not nodes:
            return []
        owners = _volume_owners(self.cfg)
        output = []
        for uuid, name, data in self._answers(self.ctx.rpc.node_volumes(nodes, dirs),
                                              "Can't compute volume data on node"):
            for vol in data:
                values = {"node": name, "phys": vol["dev"], "vg": vol["vg"],
                          "name": vol["name"], "size": int(vol["size"]),
                          "instance": owners.get((uuid, vol["dev"]), "-")}
                output.append([str(values[f]) for f in op.output_fields])
        return output


class LUNodeQueryStorage(_NodesQueryLU):
    """``gnt-node list-storage``: rows of the requested storage unit fields."""

    OP = OpNodeQueryStorage

    def check_arguments(self) -> None:
        _check_fields(self.op.output_fields, C.VALID_STORAGE_FIELDS)  # type: ignore[attr-defined]

    def check_prereq(self) -> None:
        op: OpNodeQueryStorage = self.op  # type: ignore[assignment]
        cl = self.cfg.cluster
        if op.storage_type is None:
            unit = default_storage_unit(cl)
            if unit is None:
                raise errors.OpPrereqError(
                    "No enabled disk template has storage that can be reported; use"
                    " --storage-type to choose one of: "
                    f"{', '.join(C.STS_REPORT_NODE_STORAGE)}", errors.ECODE_INVAL)
            self.storage_type = unit[0]
        else:
            if op.storage_type not in C.STORAGE_TYPES:
                raise errors.OpPrereqError(
                    f"Unknown storage type '{op.storage_type}'; allowed: "
                    f"{', '.join(C.STS_REPORT_NODE_STORAGE)}", errors.ECODE_INVAL)
            if op.storage_type not in enabled_storage_types(cl):
                raise errors.OpPrereqError(
                    f"Storage type '{op.storage_type}' is not enabled: no enabled disk"
                    f" template uses it (enabled templates: "
                    f"{', '.join(cl.enabled_disk_templates)})", errors.ECODE_STATE)
            self.storage_type = op.storage_type
        if self.storage_type not in (C.ST_FILE, C.ST_SHARED_FILE):
            raise errors.OpPrereqError(
                f"Storage reporting for storage type '{self.storage_type}' is not supported;"
                f" supported: {C.ST_FILE}, {C.ST_SHARED_FILE}", errors.ECODE_INVAL)
        unit = storage_unit(cl, self.storage_type)
        self.units = [unit[1]] if unit else []

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpNodeQueryStorage = self.op  # type: ignore[assignment]
        # the node knows neither node nor type; always fetch the name to sort by
        fields = [f for f in op.output_fields if f not in (C.SF_NODE, C.SF_TYPE)]
        if C.SF_NAME not in fields:
            fields.insert(0, C.SF_NAME)
        idx = {f: i for i, f in enumerate(fields)}
        nodes = self._nodes()
        if not nodes or not self.units:
            return []
        results = self.ctx.rpc.storage_list(nodes, self.storage_type, self.units, op.name,
                                            fields)
        output = []
        for _uuid, name, data in self._answers(results, "Can't get storage data from node"):
            for row in sorted(data, key=lambda r: r[idx[C.SF_NAME]]):
                out = []
                for f in op.output_fields:
                    if f == C.SF_NODE:
                        out.append(name)
                    elif f == C.SF_TYPE:
                        out.append(self.storage_type)
                    else:
                        out.append(row[idx[f]])
                output.append(out)
        return output
