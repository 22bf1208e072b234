"""Disks of existing instances: ``activate-disks``, ``deactivate-disks``,
``recreate-disks``, ``grow-disk``, and the helpers the other instance LUs
share (state checks, disk objects, config updates with roll-back).

Sizes are MiB.  Every check runs in ``check_prereq``; ``exec`` changes the
node first and the config after, and undoes the node change when the config
write fails, so a failed operation leaves no half-made disk behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gnt import constants as C
from gnt import errors, hooks
from gnt.cmdlib import disk_layout
from gnt.cmdlib import ipolicy as ipolicy_mod
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import (
    bdev_specs,
    check_node_online,
    check_node_vm_capable,
    disk_bdev_specs,
    expand_node,
)
from gnt.cmdlib.instance_ops import _InstanceLU
from gnt.objects import Disk, Instance, Node
from gnt.objects.base import new_uuid
from gnt.opcodes.instance_modify import (
    OpInstanceActivateDisks,
    OpInstanceDeactivateDisks,
    OpInstanceGrowDisk,
    OpInstanceRecreateDisks,
)
from gnt.rpc.client import RpcResult
from gnt.storage.base import BlockDevSpec
from gnt.units import format_unit, parse_unit

#: admin states of Ganeti's INSTANCE_DOWN / INSTANCE_NOT_RUNNING checks
INSTANCE_DOWN = (C.ADMINST_DOWN,)
INSTANCE_NOT_RUNNING = (C.ADMINST_DOWN, C.ADMINST_OFFLINE)
#: keys ``recreate-disks --disk N:...`` may change
_RECREATE_KEYS = ("size", "mode", "spindles")


# ------------------------------------------------------------------ checks
def rpc_raise(res: RpcResult, prefix: str, prereq: bool = False) -> None:
    """Raise when the node call ``res`` failed, as Ganeti's ``Raise``: OpExecError
    (OpPrereqError with ``prereq``) with ``prefix`` and the node's message, keeping
    the node's error code."""
    if res.fail_msg is None:
        return
    code = res.remote_error.ecode if res.remote_error is not None else errors.ECODE_ENVIRON
    if prereq:
        raise errors.OpPrereqError(f"{prefix}: {res.fail_msg}", code)
    raise errors.OpExecError(f"{prefix}: {res.fail_msg}", code)


def is_running(lu: LogicalUnit, inst: Instance) -> bool:
    """Whether ``inst`` runs on its primary node (asks the node); raises
    OpPrereqError when the node cannot be asked."""
    node = lu.cfg.get_node(inst.primary_node)
    res = lu.ctx.rpc.instance_info(node.uuid, inst.hypervisor, inst.name)
    rpc_raise(res, f"Can't contact node {node.name} for instance information", prereq=True)
    return bool(res.data)


def check_instance_state(lu: LogicalUnit, inst: Instance, req_states: Sequence[str],
                         msg: str) -> None:
    """Ganeti's ``CheckInstanceState``: the admin state must be one of
    ``req_states``, and unless ``up`` is allowed the instance must not run.

    Raises OpPrereqError (``wrong_state``): "Instance 'X' is marked to be up,
    <msg>" or "Instance X is running, <msg>".  An offline primary node skips
    the running check with a warning.
    """
    if inst.admin_state not in req_states:
        raise errors.OpPrereqError(
            f"Instance '{inst.name}' is marked to be {inst.admin_state}, {msg}",
            errors.ECODE_STATE)
    if C.ADMINST_UP in req_states:
        return
    if lu.cfg.get_node(inst.primary_node).offline:
        lu.log_warning("Primary node offline, ignoring check that instance is down")
        return
    if is_running(lu, inst):
        raise errors.OpPrereqError(f"Instance {inst.name} is running, {msg}",
                                   errors.ECODE_STATE)


def disk_index(disks: Sequence[Any], ident: Any, kind: str = "disk") -> int:
    """Position of item ``ident`` in ``disks``/NICs: an index (``-1``: the last
    one), a name or a UUID.  Raises OpPrereqError (``wrong_input``)."""
    try:
        idx = int(ident)
    except (TypeError, ValueError):
        for i, item in enumerate(disks):
            if ident in (item.name, item.uuid):
                return i
        raise errors.OpPrereqError(f"Cannot find {kind} with identifier '{ident}'",
                                   errors.ECODE_NOENT) from None
    if idx == -1 and disks:
        return len(disks) - 1
    if not 0 <= idx < len(disks):
        raise errors.OpPrereqError(
            f"Invalid {kind} index {ident}: the instance has {len(disks)} "
            f"{kind}{'' if len(disks) == 1 else 's'}", errors.ECODE_INVAL)
    return idx


def parse_size(what: str, value: Any) -> int:
    """A disk size (MiB, or a size string) between 1 MiB and the maximum."""
    try:
        size = parse_unit(value)
    except errors.ParameterError as err:
        raise errors.OpPrereqError(f"{what}: invalid size: {err}", errors.ECODE_INVAL) from None
    if not 0 < size <= C.MAX_DISK_SIZE_MIB:
        raise errors.OpPrereqError(
            f"{what}: size {size} MiB out of range (1 to {C.MAX_DISK_SIZE_MIB} MiB)",
            errors.ECODE_INVAL)
    return size


def check_mode(what: str, mode: Any) -> str:
    if mode not in C.DISK_ACCESS_SET:
        raise errors.OpPrereqError(f"{what}: invalid access mode {mode!r}; allowed: "
                                   f"{', '.join(C.DISK_ACCESS_SET)}", errors.ECODE_INVAL)
    return str(mode)


# ------------------------------------------------------------ disk objects
def new_disk(lu: LogicalUnit, inst: Instance, index: int, params: dict[str, Any]) -> Disk:
    """A new Disk object of ``inst``'s template at ``index`` (not created anywhere).

    ``params``: ``size`` (MiB), ``mode``, ``name`` and, for ext, ``params``.
    """
    uuid = new_uuid()
    lid = disk_layout.logical_id(disk_layout.NewDisk(
        template=inst.disk_template, index=index, uuid=uuid, instance=inst.name,
        cluster=lu.cfg.cluster, params=params, file_driver=file_driver(lu, inst),
        file_storage_dir=None))
    if inst.disk_template in C.DTS_FILEBASED:  # beside the instance's other disks
        lid = same_directory(lu, inst, lid)
    return Disk(uuid=uuid, dev_type=inst.disk_template, logical_id=lid, size=params["size"],
                mode=params.get("mode", C.DISK_RDWR), name=params.get("name"),
                iv_name=f"disk/{index}", nodes=[inst.primary_node],
                params=params.get("params", {}))


def file_driver(lu: LogicalUnit, inst: Instance) -> str | None:
    """The file driver of ``inst``'s existing file-based disks (None: the default)."""
    for d in lu.cfg.instance_disks(inst):
        if d.dev_type in C.DTS_FILEBASED and d.logical_id:
            return str(d.logical_id[0])
    return None


def same_directory(lu: LogicalUnit, inst: Instance, lid: list[Any]) -> list[Any]:
    """``lid`` moved into the directory of ``inst``'s existing file disks (which may
    have been created with ``--file-storage-dir``)."""
    for d in lu.cfg.instance_disks(inst):
        if d.dev_type in C.DTS_FILEBASED and len(d.logical_id) == 2:
            directory = str(d.logical_id[1]).rsplit("/", 1)[0]
            return [lid[0], f"{directory}/{str(lid[1]).rsplit('/', 1)[1]}"]
    return lid


def renumber(disks: Sequence[Disk]) -> None:
    """Set every disk's ``iv_name`` to ``disk/<position>`` (Ganeti's naming)."""
    for i, d in enumerate(disks):
        d.iv_name = f"disk/{i}"


def config_add_disk(lu: LogicalUnit, inst: Instance, disk: Disk, index: int) -> None:
    """Insert ``disk`` into the config at ``index`` of ``inst``; nothing changes when
    the write fails."""
    store = lu.ctx.cfg
    with store.lock:
        old_disks = list(inst.disks)
        old_names = {u: store.data.disks[u].iv_name for u in inst.disks}
        store.data.disks[disk.uuid] = disk
        inst.disks.insert(index, disk.uuid)
        renumber(lu.cfg.instance_disks(inst))
        try:
            store.update(inst, *lu.cfg.instance_disks(inst))
        except BaseException:
            inst.disks = old_disks
            store.data.disks.pop(disk.uuid, None)
            for u, name in old_names.items():
                store.data.disks[u].iv_name = name
            raise


def config_remove_disk(lu: LogicalUnit, inst: Instance, disk_uuid: str) -> None:
    """Remove disk ``disk_uuid`` of ``inst`` from the config; nothing changes when
    the write fails."""
    store = lu.ctx.cfg
    with store.lock:
        old_disks = list(inst.disks)
        disk = store.data.disks.pop(disk_uuid)
        old_names = {u: store.data.disks[u].iv_name for u in inst.disks if u != disk_uuid}
        inst.disks.remove(disk_uuid)
        renumber(lu.cfg.instance_disks(inst))
        try:
            store.update(inst, *lu.cfg.instance_disks(inst))
        except BaseException:
            inst.disks = old_disks
            store.data.disks[disk_uuid] = disk
            for u, name in old_names.items():
                store.data.disks[u].iv_name = name
            raise


def remove_disk_on_node(lu: LogicalUnit, node: Node, disk: Disk) -> bool:
    """Remove ``disk`` from ``node``; False (and a warning) when that failed."""
    res = lu.ctx.rpc.blockdev_remove(node.uuid, disk_bdev_specs([disk])[0])
    if res.fail_msg:
        lu.log_warning(f"Could not remove disk {disk.iv_name} ({disk.uuid}) on node "
                       f"{node.name}: {res.fail_msg}; remove it manually")
        return False
    return True


def set_disks_active(lu: LogicalUnit, inst: Instance, active: bool) -> None:
    if inst.disks_active != active:
        inst.disks_active = active
        lu.ctx.cfg.update(inst)


# --------------------------------------------------- activate / deactivate
class LUInstanceActivateDisks(_InstanceLU):
    """Assemble an instance's disks on its primary node (``activate-disks``).

    Returns ``[[node name, "disk/N", device path], ...]`` (Ganeti's output).
    """

    OP = OpInstanceActivateDisks

    def check_prereq(self) -> None:
        super().check_prereq()
        check_node_online(self.pnode, "Cannot activate disks")

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceActivateDisks = self.op  # type: ignore[assignment]
        inst = self.instance
        done: list[BlockDevSpec] = []
        out: list[list[str]] = []
        for spec in bdev_specs(self.cfg, inst):
            send = spec.model_copy(update={"size": 0}) if op.ignore_size else spec
            res = self.ctx.rpc.blockdev_assemble(self.pnode.uuid, send)
            if res.fail_msg:
                self.log_warning(f"Could not prepare block device {spec.iv_name} on node "
                                 f"{self.pnode.name}: {res.fail_msg}")
                for d in done:  # leave the disks as they were
                    self.ctx.rpc.blockdev_shutdown(self.pnode.uuid, d)
                raise errors.OpExecError("Cannot activate block devices")
            done.append(spec)
            out.append([self.pnode.name, spec.iv_name, str(res.data["path"])])
        set_disks_active(self, inst, True)
        return out


class LUInstanceDeactivateDisks(_InstanceLU):
    """Release an instance's disks (``deactivate-disks``); refused while the
    instance may run, unless ``force``."""

    OP = OpInstanceDeactivateDisks

    def check_prereq(self) -> None:
        super().check_prereq()
        op: OpInstanceDeactivateDisks = self.op  # type: ignore[assignment]
        if not op.force:
            check_node_online(self.pnode, "Cannot deactivate disks")
            check_instance_state(self, self.instance, INSTANCE_DOWN, "cannot shutdown disks")

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceDeactivateDisks = self.op  # type: ignore[assignment]
        failed = []
        for spec in bdev_specs(self.cfg, self.instance):
            res = self.ctx.rpc.blockdev_shutdown(self.pnode.uuid, spec)
            if res.fail_msg:
                failed.append(spec.iv_name)
                self.log_warning(f"Could not shutdown block device {spec.iv_name} on node "
                                 f"{self.pnode.name}: {res.fail_msg}")
        if failed and not op.force:
            raise errors.OpExecError(f"Cannot shutdown disks {', '.join(failed)}")
        set_disks_active(self, self.instance, False)
        return None


# ------------------------------------------------------------ recreate
class LUInstanceRecreateDisks(_InstanceLU):
    """Recreate missing disks (``recreate-disks``), optionally on new nodes."""

    OP = OpInstanceRecreateDisks
    HPATH = "instance-recreate-disks"
    LOCK_NODE_RES = True

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.instance_env(self.cfg, self.instance)

    def check_arguments(self) -> None:
        op: OpInstanceRecreateDisks = self.op  # type: ignore[assignment]
        if op.iallocator:
            raise errors.OpPrereqError("Iallocators are not supported by recreate-disks "
                                       "yet; give the node with -n", errors.ECODE_INVAL)
        self.changes: dict[int, dict[str, Any]] = {}
        for item in op.disks:
            idx, params = (item, {}) if isinstance(item, int) else (item[0], dict(item[1]))
            if idx in self.changes:
                raise errors.OpPrereqError(f"Disk {idx} given more than once",
                                           errors.ECODE_INVAL)
            bad = sorted(set(params) - set(_RECREATE_KEYS))
            if bad:
                raise errors.OpPrereqError(
                    f"Parameter(s) {', '.join(bad)} not allowed for recreating disks; "
                    f"allowed: {', '.join(_RECREATE_KEYS)}", errors.ECODE_INVAL)
            if "size" in params:
                params["size"] = parse_size(f"Disk {idx}", params["size"])
            if "mode" in params:
                check_mode(f"Disk {idx}", params["mode"])
            self.changes[idx] = params

    def expand_names(self) -> None:
        op: OpInstanceRecreateDisks = self.op  # type: ignore[assignment]
        super().expand_names()
        self.new_nodes: list[Node] = [expand_node(self.cfg, n) for n in op.nodes]
        extra = [n.uuid for n in self.new_nodes]
        self.needed_locks[Level.NODE] = [self.instance.primary_node, *extra]
        self.needed_locks[Level.NODE_RES] = [self.instance.primary_node, *extra]

    def check_prereq(self) -> None:
        super().check_prereq()
        op: OpInstanceRecreateDisks = self.op  # type: ignore[assignment]
        inst = self.instance
        disks = self.cfg.instance_disks(inst)
        if not disks:
            raise errors.OpPrereqError(f"Instance {inst.name} has no disks",
                                       errors.ECODE_INVAL)
        for idx in self.changes:
            if idx >= len(disks):
                raise errors.OpPrereqError(
                    f"Invalid disk index {idx}: the instance has {len(disks)} disk(s)",
                    errors.ECODE_INVAL)
        if self.new_nodes:
            if len(self.new_nodes) != 1:
                raise errors.OpPrereqError(
                    f"Instance {inst.name} currently has 1 node, but new node list has "
                    f"{len(self.new_nodes)} nodes", errors.ECODE_INVAL)
            if self.changes and len(self.changes) != len(disks):
                raise errors.OpPrereqError(
                    "Cannot recreate disks on other nodes without recreating all of them "
                    "(give no --disk, or one for every disk)", errors.ECODE_INVAL)
            target = self.new_nodes[0]
            check_node_online(target, "Cannot recreate disks")
            check_node_vm_capable(target)
        else:
            target = self.pnode
            check_node_online(target, "Cannot recreate disks")
        check_instance_state(self, inst, INSTANCE_NOT_RUNNING, "cannot recreate disks")
        self.target = target
        self.to_create = sorted(self.changes) if self.changes else list(range(len(disks)))
        for idx in self.to_create:
            res = self.ctx.rpc.blockdev_find(target.uuid, disk_bdev_specs([disks[idx]])[0])
            rpc_raise(res, f"Can't check disk {disks[idx].iv_name} on node {target.name}",
                      prereq=True)
            if res.data:
                raise errors.OpPrereqError(
                    f"Disk {disks[idx].iv_name} of instance {inst.name} exists on node "
                    f"{target.name} ({res.data['path']}); recreate-disks only recreates "
                    "missing disks", errors.ECODE_EXISTS)
        if op.nodes and target.uuid != inst.primary_node:
            self.log_info(f"Disks of {inst.name} will be recreated on {target.name}")

    def exec(self, feedback: FeedbackFn) -> Any:
        inst = self.instance
        disks = self.cfg.instance_disks(inst)
        planned: list[Disk] = []
        for idx in self.to_create:
            d = disks[idx].model_copy(deep=True)
            for key, value in self.changes.get(idx, {}).items():
                setattr(d, key, value)
            d.nodes = [self.target.uuid]
            planned.append(d)
        created: list[Disk] = []
        try:
            for d in planned:
                feedback(f"* creating disk {d.iv_name} ({format_unit(d.size, 'h')}) on "
                         f"{self.target.name}")
                rpc_raise(self.ctx.rpc.blockdev_create(self.target.uuid,
                                                       disk_bdev_specs([d])[0]),
                          f"Can't create disk {d.iv_name} on node {self.target.name}")
                created.append(d)
        except errors.GntError:
            for d in created:
                remove_disk_on_node(self, self.target, d)
            raise
        store = self.ctx.cfg
        with store.lock:
            saved = {d.uuid: store.data.disks[d.uuid] for d in planned}
            old_pnode = inst.primary_node
            for d in planned:
                store.data.disks[d.uuid] = d
            inst.primary_node = self.target.uuid
            try:
                store.update(inst, *planned)
            except BaseException:
                store.data.disks.update(saved)
                inst.primary_node = old_pnode
                for d in created:
                    remove_disk_on_node(self, self.target, d)
                raise
        return None


# ------------------------------------------------------------------- grow
class LUInstanceGrowDisk(_InstanceLU):
    """Grow one disk (``grow-disk``); a running guest is told the new size."""

    OP = OpInstanceGrowDisk
    HPATH = "disk-grow"
    LOCK_NODE_RES = True

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceGrowDisk = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance,
                                  override={"DISK": op.disk, "AMOUNT": op.amount,
                                            "ABSOLUTE": op.absolute})

    def check_prereq(self) -> None:
        super().check_prereq()
        op: OpInstanceGrowDisk = self.op  # type: ignore[assignment]
        inst = self.instance
        check_node_online(self.pnode, "Cannot grow disk")
        disks = self.cfg.instance_disks(inst)
        if op.disk >= len(disks):
            raise errors.OpPrereqError(
                f"Invalid disk index {op.disk}: instance {inst.name} has {len(disks)} "
                f"disk(s)", errors.ECODE_INVAL)
        self.disk = disks[op.disk]
        if self.disk.dev_type not in (C.DT_FILE, C.DT_SHARED_FILE, C.DT_PLAIN, C.DT_DRBD8,
                                      C.DT_RBD, C.DT_EXT, C.DT_GLUSTER):
            raise errors.OpPrereqError(
                f"Instance's disk layout '{self.disk.dev_type}' does not support growing",
                errors.ECODE_INVAL)
        if op.absolute:
            self.target = op.amount
            self.delta = self.target - self.disk.size
            if self.delta < 0:
                raise errors.OpPrereqError(
                    f"Requested size ({format_unit(self.target, 'h')}) is smaller than "
                    f"current disk size ({format_unit(self.disk.size, 'h')})",
                    errors.ECODE_STATE)
        else:
            self.delta = op.amount
            self.target = self.disk.size + self.delta
            if self.delta < 0:
                raise errors.OpPrereqError(
                    f"Requested increment ({op.amount} MiB) is negative; disks can only "
                    "grow", errors.ECODE_INVAL)
        if self.target > C.MAX_DISK_SIZE_MIB:
            raise errors.OpPrereqError(
                f"Requested size {format_unit(self.target, 'h')} is larger than the maximum "
                f"disk size ({format_unit(C.MAX_DISK_SIZE_MIB, 'h')})", errors.ECODE_INVAL)
        sizes = tuple(self.target if d.uuid == self.disk.uuid else d.size for d in disks)
        specs = dataclasses.replace(ipolicy_mod.ISpecs.of_instance(self.cfg, inst),
                                    disk_sizes=sizes)
        ipolicy_mod.check_instance_ipolicy(self.cfg, specs, self.pnode, op.ignore_ipolicy)
        self.running = is_running(self, inst)

    def exec(self, feedback: FeedbackFn) -> Any:
        inst, disk = self.instance, self.disk
        op: OpInstanceGrowDisk = self.op  # type: ignore[assignment]
        spec = disk_bdev_specs([disk])[0]
        feedback(f"Growing disk {op.disk} of instance '{inst.name}' by "
                 f"{format_unit(self.delta, 'h')} to {format_unit(self.target, 'h')}")
        rpc_raise(self.ctx.rpc.blockdev_grow(self.pnode.uuid, spec, self.delta, True),
                  f"Dry-run grow request failed to node {self.pnode.name}")
        if self.delta > 0:
            rpc_raise(self.ctx.rpc.blockdev_grow(self.pnode.uuid, spec, self.delta, False),
                      f"Grow request failed to node {self.pnode.name}")
        disk.size = self.target
        self.ctx.cfg.update(disk)
        if self.running and self.delta > 0:
            res = self.ctx.rpc.hotplug_resize_disk(self.pnode.uuid, inst.hypervisor,
                                                   inst.name, disk.uuid, disk.size)
            if res.fail_msg:
                self.log_warning(f"The running instance was not told the new size of disk "
                                 f"{op.disk} ({res.fail_msg}); it will see it after a "
                                 "restart")
            else:
                feedback(f"The running instance sees disk {op.disk} with "
                         f"{format_unit(disk.size, 'h')} now")
        return None


__all__ = [
    "INSTANCE_DOWN",
    "INSTANCE_NOT_RUNNING",
    "LUInstanceActivateDisks",
    "LUInstanceDeactivateDisks",
    "LUInstanceGrowDisk",
    "LUInstanceRecreateDisks",
    "check_instance_state",
    "config_add_disk",
    "config_remove_disk",
    "disk_index",
    "is_running",
    "new_disk",
    "remove_disk_on_node",
    "rpc_raise",
]
