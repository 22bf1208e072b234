"""Disk adoption at instance creation (master side): Ganeti's rules.

``gnt-instance add --disk N:adopt=SOURCE`` hands existing storage to a new
instance instead of creating it.  gnt implements it for the ``blockdev``
template (which *must* adopt); ``plain`` may adopt in Ganeti but is not
implemented here.  Rules (Ganeti's wording where Ganeti has one):

* either every disk is adopted or none is;
* the template must allow adoption; ``blockdev`` requires it;
* no adoption with an iallocator or for an import;
* device names are normalised, must be unique and lie below
  ``/dev/disk/``;
* on the primary node each device must exist as a block device, not be in
  use (mounted, held, opened exclusively) and not be a device another
  instance of the cluster already uses (by name, or another name of it);
* a disk's size is the device's; any ``size`` given is ignored;
* the OS create scripts do not run on adopted disks (they are used as-is).
"""

from __future__ import annotations

import os
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.objects import ConfigData, Node
from gnt.opcodes.instance import OpInstanceCreate


def adoption_requested(op: OpInstanceCreate) -> bool:
    """Whether ``op`` adopts its disks; raises OpPrereqError (``wrong_input``)
    when the adoption arguments break Ganeti's rules."""
    flags = [C.IDISK_ADOPT in d for d in op.disks]
    if any(flags) and not all(flags):
        raise errors.OpPrereqError("Either all disks are adopted or none is",
                                   errors.ECODE_INVAL)
    adopt = bool(flags) and all(flags)
    if op.disk_template in C.DTS_MUST_ADOPT and not adopt:
        raise errors.OpPrereqError(
            f"Disk template {op.disk_template} requires disk adoption, but no 'adopt'"
            " parameter given", errors.ECODE_INVAL)
    if not adopt:
        return False
    if op.disk_template not in C.DTS_MAY_ADOPT:
        raise errors.OpPrereqError(
            f"Disk adoption is not supported for the '{op.disk_template}' disk template",
            errors.ECODE_INVAL)
    if op.iallocator is not None:
        raise errors.OpPrereqError("Disk adoption not allowed with an iallocator script",
                                   errors.ECODE_INVAL)
    if op.mode == C.INSTANCE_IMPORT:
        raise errors.OpPrereqError("Disk adoption not allowed for instance import",
                                   errors.ECODE_INVAL)
    return True


def parse_adopted_disk(idx: int, d: dict[str, Any]) -> dict[str, Any]:
    """One adopted disk of the opcode -> ``{"size": 0, "mode", "name", "adopt"}``
    (``adopt`` normalised; the size is filled in by :func:`check_block_adoption`).
    Raises OpPrereqError for an empty source, a bad mode or spindles."""
    source = d.get(C.IDISK_ADOPT)
    if not isinstance(source, str) or not source.strip():
        raise errors.OpPrereqError(f"Disk {idx}: 'adopt' needs the device to adopt",
                                   errors.ECODE_INVAL)
    if "spindles" in d:
        raise errors.OpPrereqError(f"Disk {idx}: spindles is not a valid adopted disk"
                                   " parameter", errors.ECODE_INVAL)
    mode = d.get("mode", C.DISK_RDWR)
    if mode not in C.DISK_ACCESS_SET:
        raise errors.OpPrereqError(f"Disk {idx}: invalid mode {mode!r}; allowed: rw, ro",
                                   errors.ECODE_INVAL)
    source = source.strip()
    return {"size": 0, "mode": mode, "name": d.get("name"),
            C.IDISK_ADOPT: os.path.normpath(source) if source.startswith("/") else source}


def blockdev_names_in_use(cfg: ConfigData) -> dict[str, str]:
    """Device name -> instance name, for every blockdev disk in the config."""
    owner = {d: i.name for i in cfg.instances.values() for d in i.disks}
    return {os.path.normpath(str(d.logical_id[1])): owner.get(d.uuid, "(no instance)")
            for d in cfg.disks.values()
            if d.dev_type == C.DT_BLOCK and len(d.logical_id) == 2}


def check_block_adoption(ctx: Any, cfg: ConfigData, node: Node,
                         disks: list[dict[str, Any]]) -> None:
    """Check the ``blockdev`` disks to adopt on ``node`` and set each disk's
    ``size`` (MiB) to its device's.  Changes nothing on the node.

    Raises OpPrereqError: ``wrong_input`` for duplicate names or names
    outside ``/dev/disk/``; ``resource_not_unique`` for devices another
    instance uses; ``wrong_state`` for missing, busy or unusable devices or
    when the node cannot be asked.
    """
    names = [str(d[C.IDISK_ADOPT]) for d in disks]
    if len(set(names)) != len(names):
        raise errors.OpPrereqError("Duplicate disk names given for adoption",
                                   errors.ECODE_INVAL)
    bad = [n for n in names
           if not (n.startswith("/") and n.startswith(C.ADOPTABLE_BLOCKDEV_ROOT))]
    if bad:
        raise errors.OpPrereqError(
            f"Device node(s) {', '.join(bad)} lie outside {C.ADOPTABLE_BLOCKDEV_ROOT} and"
            " cannot be adopted", errors.ECODE_INVAL)
    in_config = blockdev_names_in_use(cfg)
    taken = [f"{n} (instance {in_config[n]})" for n in names if n in in_config]
    if taken:
        raise errors.OpPrereqError(f"Block device(s) already used: {', '.join(taken)}",
                                   errors.ECODE_NOTUNIQUE)
    res = ctx.rpc.blockdev_adopt_info(node.uuid, names, sorted(in_config))
    res.raise_on_fail(f"Cannot get block device information from node {node.name}")
    info: dict[str, dict[str, Any]] = res.data or {}
    unusable = {n: str(info.get(n, {}).get("error") or "no answer for it")
                for n in names if info.get(n, {}).get("size") is None}
    missing = [n for n, why in unusable.items() if why.startswith("Missing block device")]
    if missing:
        raise errors.OpPrereqError(
            f"Missing block device(s): {', '.join(missing)} (on node {node.name})",
            errors.ECODE_STATE)
    for n, why in unusable.items():
        raise errors.OpPrereqError(f"Block device {n} on node {node.name} cannot be adopted:"
                                   f" {why}", errors.ECODE_STATE)
    for n in names:
        same_as = info[n].get("same_as")
        if same_as:
            raise errors.OpPrereqError(
                f"Block device {n} is the same device as {same_as}, already used by"
                f" instance {in_config.get(same_as, '?')}", errors.ECODE_NOTUNIQUE)
        if info[n].get("in_use"):
            raise errors.OpPrereqError(
                f"Block device {n} ({info[n]['path']}) on node {node.name} is in use:"
                f" {info[n]['in_use']}", errors.ECODE_STATE)
        if int(info[n]["size"]) <= 0:
            raise errors.OpPrereqError(f"Block device {n} on node {node.name} is empty"
                                       " (size 0 MiB)", errors.ECODE_STATE)
    for d, n in zip(disks, names):
        d["size"] = int(info[n]["size"])
