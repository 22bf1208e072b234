"""Renaming and reinstalling stopped instances (OP_INSTANCE_RENAME, OP_INSTANCE_REINSTALL).

Rename: the new name is resolved (unless ``name_check`` is off) and its IP
must not answer (``ip_check``); file-based disks live in a directory named
after the instance, which is renamed on the node first, then the config
(instance name, disk paths) is changed - and the directory renamed back if
that fails.  The instance lock follows the new name.  The OS ``rename``
script runs last; its failure is a warning, as in Ganeti (the instance is
renamed already).

Reinstall: runs the OS ``create`` script again (``INSTANCE_REINSTALL=1``),
optionally with a new OS (``os_type``) and new OS parameters, which are
checked on the primary node first and saved before the script runs.
"""

from __future__ import annotations

import os
from typing import Any

from gnt import constants as C
from gnt import errors, hooks, netutils
from gnt.cmdlib.base import FeedbackFn, Level
from gnt.cmdlib.common import bdev_specs, check_node_online, os_script_spec
from gnt.cmdlib.instance_disks import (
    INSTANCE_DOWN,
    INSTANCE_NOT_RUNNING,
    check_instance_state,
    rpc_raise,
)
from gnt.cmdlib.instance_ops import _InstanceLU
from gnt.cmdlib.os import check_os_allowed_for_install
from gnt.objects import Disk, fill
from gnt.objects.params import apply_update
from gnt.opcodes.instance_modify import OpInstanceReinstall, OpInstanceRename


def renamed_path(path: str, new_name: str) -> str:
    """A file disk's cluster path moved to the directory of ``new_name``:
    ``<dir>/<old name>/<file>`` -> ``<dir>/<new name>/<file>`` (Ganeti's rule)."""
    directory, fname = os.path.split(path)
    return os.path.join(os.path.dirname(directory), new_name, fname)


class LUInstanceRename(_InstanceLU):
    """Rename a stopped instance (``gnt-instance rename``); returns the new name."""

    OP = OpInstanceRename
    HPATH = "instance-rename"
    #: the instance lock changes its name: no other job may run meanwhile
    REQ_BGL = True

    @property
    def o(self) -> OpInstanceRename:
        return self.op  # type: ignore[return-value]

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.instance_env(self.cfg, self.instance,
                                  override={"INSTANCE_NEW_NAME": self.new_name})

    def check_arguments(self) -> None:
        op = self.o
        if op.ip_check and not op.name_check:
            raise errors.OpPrereqError("IP address check requires a name check",
                                       errors.ECODE_INVAL)
        self.new_name = op.new_name
        self.new_ip: str | None = None
        if op.name_check:
            host = netutils.resolve(op.new_name)
            self.new_name, self.new_ip = host.name, host.ip

    def check_prereq(self) -> None:
        super().check_prereq()
        op, inst = self.o, self.instance
        check_node_online(self.pnode, "Cannot rename instance")
        check_instance_state(self, inst, INSTANCE_NOT_RUNNING, "cannot rename")
        if self.new_name != inst.name:
            if self.cfg.instance_by_name(self.new_name) is not None:
                raise errors.OpPrereqError(
                    f"Instance '{self.new_name}' is already in the cluster",
                    errors.ECODE_EXISTS)
            for disk in self.cfg.instance_disks(inst):
                if (disk.dev_type in C.DTS_FILEBASED
                        and disk.dev_type not in self.cfg.cluster.enabled_disk_templates):
                    raise errors.OpPrereqError(
                        f"Disk template '{disk.dev_type}' is not enabled in the cluster; "
                        "cannot rename its files", errors.ECODE_STATE)
        if op.ip_check and self.new_ip and netutils.tcp_ping(self.new_ip,
                                                             C.DEFAULT_NODED_PORT):
            raise errors.OpPrereqError(
                f"IP {self.new_ip} of instance {self.new_name} already in use",
                errors.ECODE_NOTUNIQUE)

    def _file_dirs(self) -> tuple[str, str] | None:
        """(old, new) directory of the instance's file-based disks, if they move."""
        for disk in self.cfg.instance_disks(self.instance):
            if disk.dev_type in C.DTS_FILEBASED and disk.dev_type != C.DT_GLUSTER:
                path = str(disk.logical_id[1])
                return os.path.dirname(path), os.path.dirname(renamed_path(path,
                                                                           self.new_name))
        return None

    def exec(self, feedback: FeedbackFn) -> Any:
        inst, old_name = self.instance, self.instance.name
        if self.new_name != old_name:
            dirs = self._file_dirs()
            if dirs is not None and dirs[0] != dirs[1]:
                rpc_raise(self.ctx.rpc.file_storage_dir_rename(self.pnode.uuid, *dirs),
                          f"Could not rename on node {self.pnode.name} directory "
                          f"'{dirs[0]}' to '{dirs[1]}'")
            try:
                self._rename_in_config()
            except BaseException:
                if dirs is not None and dirs[0] != dirs[1]:
                    self.ctx.rpc.file_storage_dir_rename(self.pnode.uuid, dirs[1], dirs[0])
                raise
            # the lock follows the name (the cluster lock keeps other jobs out)
            self.ctx.glm.add(Level.INSTANCE, self.new_name)
            self.ctx.glm.remove(self.owner, Level.INSTANCE, [old_name])
            self._set_disk_info()
        if inst.os:
            res = self.ctx.rpc.instance_os_rename(self.pnode.uuid, os_script_spec(self.cfg, inst),
                                                  bdev_specs(self.cfg, inst), old_name,
                                                  self.op.debug_level)
            if res.fail_msg:
                self.log_warning(
                    f"Could not run OS rename script for instance {inst.name} on node "
                    f"{self.pnode.name} (but the instance has been renamed in Ganeti): "
                    f"{res.fail_msg}")
        return inst.name

    def _rename_in_config(self) -> None:
        store, inst = self.ctx.cfg, self.instance
        with store.lock:
            disks = self.cfg.instance_disks(inst)
            saved: list[tuple[Disk, list[Any]]] = [(d, list(d.logical_id)) for d in disks]
            old_name = inst.name
            for d in disks:
                if d.dev_type in C.DTS_FILEBASED and d.dev_type != C.DT_GLUSTER:
                    d.logical_id = [d.logical_id[0], renamed_path(str(d.logical_id[1]),
                                                                  self.new_name)]
            inst.name = self.new_name
            try:
                store.update(inst, *disks)
            except BaseException:
                inst.name = old_name
                for d, lid in saved:
                    d.logical_id = lid
                raise

    def _set_disk_info(self) -> None:
        inst = self.instance
        for spec in bdev_specs(self.cfg, inst):
            if spec.dev_type == C.DT_EXT:
                res = self.ctx.rpc.extstorage_setinfo(self.pnode.uuid, spec,
                                                      f"originstname+{inst.name}")
                if res.fail_msg:
                    self.log_warning(f"Error setting info on node {self.pnode.name} for "
                                     f"disk {spec.iv_name}: {res.fail_msg}")


class LUInstanceReinstall(_InstanceLU):
    """Reinstall the OS of a stopped instance (``gnt-instance reinstall``)."""

    OP = OpInstanceReinstall
    HPATH = "instance-reinstall"

    @property
    def o(self) -> OpInstanceReinstall:
        return self.op  # type: ignore[return-value]

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.instance_env(self.cfg, self.instance)

    @staticmethod
    def _new_params(current: dict[str, Any], update: dict[str, Any] | None, clear: bool,
                    remove: list[str] | None) -> dict[str, Any]:
        out = {} if clear else dict(current)
        out = apply_update(out, {k: (None if v == C.VALUE_DEFAULT else v)
                                 for k, v in (update or {}).items()})
        for key in remove or []:
            out.pop(key, None)
        return out

    def check_prereq(self) -> None:
        super().check_prereq()
        op, inst, cl = self.o, self.instance, self.cfg.cluster
        check_node_online(self.pnode, "Cannot reinstall")
        check_instance_state(self, inst, INSTANCE_DOWN, "cannot reinstall")
        if inst.disk_template == C.DT_DISKLESS or not inst.disks:
            raise errors.OpPrereqError(f"Instance '{inst.name}' has no disks",
                                       errors.ECODE_INVAL)
        self.os_name = op.os_type or inst.os
        if not self.os_name:
            raise errors.OpPrereqError(
                f"Instance '{inst.name}' has no OS; give one with -o", errors.ECODE_INVAL)
        if op.os_type:
            check_os_allowed_for_install(cl, op.os_type)
        self.osparams = self._new_params(inst.osparams, op.osparams, op.clear_osparams,
                                         op.remove_osparams)
        self.osparams_private = self._new_params(
            inst.osparams_private, op.osparams_private, op.clear_osparams_private,
            op.remove_osparams_private)
        self.secret = dict(op.osparams_secret or {})
        self.script_params = fill.fill_os(cl, self.os_name, {
            **self.osparams, **self.osparams_private, **self.secret})
        rpc_raise(self.ctx.rpc.os_validate(self.pnode.uuid, self.os_name, self.script_params,
                                           op.force_variant),
                  f"OS '{self.os_name}' check failed on node {self.pnode.name}", prereq=True)

    def exec(self, feedback: FeedbackFn) -> Any:
        op, inst = self.o, self.instance
        changed = (self.os_name != inst.os or self.osparams != inst.osparams
                   or self.osparams_private != inst.osparams_private)
        if changed:
            inst.os = self.os_name
            inst.osparams = self.osparams
            inst.osparams_private = self.osparams_private
            self.ctx.cfg.update(inst)
        feedback("Running the instance OS create scripts...")
        spec = os_script_spec(self.cfg, inst, self.secret)  # the same as script_params
        rpc_raise(self.ctx.rpc.instance_os_add(self.pnode.uuid, spec,
                                               bdev_specs(self.cfg, inst), True,
                                               op.debug_level, self.pnode.name),
                  f"Could not install OS for instance {inst.name} on node {self.pnode.name}")
        return None


__all__ = ["LUInstanceReinstall", "LUInstanceRename", "renamed_path"]
