"""``gnt-cluster verify``: volumes on the nodes that no instance owns.

Ganeti reports each unknown volume as a warning ``ENODEORPHANLV`` ("volume
X is unknown") on the node holding it, skipping volumes matching the
cluster's reserved patterns.  gnt has no LVM; its volumes are the files in
the file storage directories (what ``gnt-node volumes`` lists), so:

* ``file``: every file below the cluster's file storage directory on a
  node that is not the disk of an instance on that node is an orphan;
* ``sharedfile``: every file below the shared directory that is no
  instance's disk is an orphan, reported once (by the first node of the
  group, by name, that answers) since every node sees the same files.

An ExtStorage provider may keep its volumes as files there too (gnt's
reference provider ``gnt-file`` does, below the shared directory): a file
named as the volume of an ``ext`` disk in the config, or as that name
followed by a dot and a suffix (the provider's companion files, such as
``gnt-file``'s ``<volume>.meta``), is that disk's, not an orphan; one
named after no volume is reported.

Only the storage of enabled templates is looked at; nodes that cannot be
asked (offline, RPC failure, directory not allowed on the node) are
skipped, as Ganeti skips unhealthy nodes.  Blockdev devices belong to the
administrator and are never orphans.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gnt import constants as C
from gnt.objects import ConfigData, Node

ENODEORPHANLV = ("node", "ENODEORPHANLV")

ErrorFn = Callable[..., None]


def owned_files(cfg: ConfigData) -> tuple[dict[str, set[str]], set[str]]:
    """``(node UUID -> paths of its file disks, paths of all sharedfile disks)``
    (cluster paths, normalised)."""
    per_node: dict[str, set[str]] = {}
    shared: set[str] = set()
    primaries = {d: i.primary_node for i in cfg.instances.values() for d in i.disks}
    for disk in cfg.disks.values():
        if len(disk.logical_id) != 2 or not isinstance(disk.logical_id[1], str):
            continue
        path = os.path.normpath(disk.logical_id[1])
        if disk.dev_type == C.DT_SHARED_FILE:
            shared.add(path)
        elif disk.dev_type == C.DT_FILE:
            nodes = disk.nodes or ([primaries[disk.uuid]] if disk.uuid in primaries else [])
            for n in nodes:
                per_node.setdefault(n, set()).add(path)
    return per_node, shared


def ext_volume_names(cfg: ConfigData) -> set[str]:
    """The volume names of the config's ``ext`` disks (``logical_id`` is
    ``[provider, volume name]``)."""
    return {str(d.logical_id[1]) for d in cfg.disks.values()
            if d.dev_type == C.DT_EXT and len(d.logical_id) == 2}


def _ext_file(name: str, ext_names: set[str]) -> bool:
    """Whether a file called ``name`` is an ext volume or a companion file of one."""
    return name in ext_names or any(name[:i] in ext_names
                                    for i, ch in enumerate(name) if ch == ".")


def _reserved(cfg: ConfigData) -> Callable[[str], bool]:
    patterns = [re.compile(f"^{p}$") for p in getattr(cfg.cluster, "reserved_lvs", None) or []]
    return lambda name: any(p.match(name) for p in patterns)


#: volumes found: directory -> node UUID -> volumes below it (nodes that answered)
Volumes = Mapping[str, Mapping[str, list[dict[str, Any]]]]


def orphan_directories(cfg: ConfigData) -> list[str]:
    """The file storage directories whose volumes the orphan check looks at
    (those of the enabled file-based templates)."""
    cl = cfg.cluster
    dirs = []
    if C.DT_FILE in cl.enabled_disk_templates and cl.file_storage_dir:
        dirs.append(cl.file_storage_dir)
    if C.DT_SHARED_FILE in cl.enabled_disk_templates and cl.shared_file_storage_dir:
        dirs.append(cl.shared_file_storage_dir)
    return dirs


def _volumes(ctx: Any, nodes: list[Node], directory: str) -> dict[str, list[dict[str, Any]]]:
    """Node UUID -> volumes below ``directory`` for the nodes that answered."""
    results = ctx.rpc.node_volumes([n.uuid for n in nodes], [directory])
    return {uuid: list(res.data or []) for uuid, res in results.items() if not res.fail_msg}


def verify_orphan_volumes(ctx: Any, cfg: ConfigData, nodes: Iterable[Node], error: ErrorFn,
                          feedback: Callable[[str], None], volumes: Volumes | None = None
                          ) -> None:
    """Report (as warnings through ``error(code, item, message, warning=True)``,
    the verify LU's ``_error``) every orphan file on ``nodes`` (the group's
    reachable nodes).  ``volumes``: what the nodes already said (the
    ``node_verify`` call) for each of :func:`orphan_directories`; without
    it the nodes are asked."""
    feedback("* Verifying orphan volumes")
    cl = cfg.cluster
    online = sorted((n for n in nodes if not n.offline), key=lambda n: n.name)
    if not online:
        return

    def found_in(directory: str) -> Mapping[str, list[dict[str, Any]]]:
        if volumes is not None and directory in volumes:
            return volumes[directory]
        return _volumes(ctx, online, directory)
    per_node, shared = owned_files(cfg)
    reserved = _reserved(cfg)
    ext_names = ext_volume_names(cfg)

    def report(node: Node, vols: list[dict[str, Any]], owned: set[str]) -> None:
        for vol in sorted(vols, key=lambda v: str(v.get("dev"))):
            path = os.path.normpath(str(vol.get("dev")))
            if path not in owned and not _ext_file(os.path.basename(path), ext_names) \
                    and not reserved(path):
                error(ENODEORPHANLV, node.name, f"volume {path} is unknown", warning=True)

    if C.DT_FILE in cl.enabled_disk_templates and cl.file_storage_dir:
        found = found_in(cl.file_storage_dir)
        for node in online:
            if node.uuid in found:
                report(node, found[node.uuid], per_node.get(node.uuid, set()))
    if C.DT_SHARED_FILE in cl.enabled_disk_templates and cl.shared_file_storage_dir:
        found = found_in(cl.shared_file_storage_dir)
        first = next((n for n in online if n.uuid in found), None)
        if first is not None:
            report(first, found[first.uuid], shared)
