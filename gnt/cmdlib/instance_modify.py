"""LUInstanceSetParams: ``gnt-instance modify`` (OP_INSTANCE_SET_PARAMS).

Every requested change is checked in ``check_prereq`` (disk and NIC
modifications are simulated in order on copies, as Ganeti applies them);
``exec`` then applies them in Ganeti's order: new primary node, runtime
memory, disks, NICs, hypervisor/backend/OS parameters, offline state.

Disks and NICs of a running instance are hot-plugged when ``hotplug`` is
set (the default) and the hypervisor can; otherwise the changes are made in
the configuration only and take effect at the next start (removing a disk
from a running instance then is refused, as in Ganeti).  Each disk/NIC
change is atomic: a disk is created on the node, hot-plugged, then added to
the configuration; when a step fails the earlier ones are undone (no disk
in the configuration without its file, no file without its configuration
entry).

The result is Ganeti's list of ``[parameter, new value]`` pairs, e.g.
``["disk/1", "add:size=1024,mode=rw"]``, ``["disk/1", "hotplug:done"]``,
``["be/maxmem", 512]``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt import errors, hooks, hypervisor, netutils
from gnt.cmdlib import detached_disks, disk_mobility, instance_convert
from gnt.cmdlib import ipolicy as ipolicy_mod
from gnt.cmdlib.base import FeedbackFn, Level
from gnt.cmdlib.common import (
    check_node_free_memory,
    check_node_online,
    check_node_vm_capable,
    disk_bdev_specs,
    expand_node,
)
from gnt.cmdlib.instance_disks import (
    INSTANCE_NOT_RUNNING,
    check_instance_state,
    check_mode,
    config_add_disk,
    config_remove_disk,
    disk_index,
    is_running,
    new_disk,
    parse_size,
    remove_disk_on_node,
    rpc_raise,
)
from gnt.cmdlib.instance_ops import _InstanceLU
from gnt.extstorage import diskparams as ext_diskparams
from gnt.hypervisor.base import NICSpec
from gnt.objects import NIC, Disk, Node, fill
from gnt.objects.params import apply_update, check_params, upgrade_beparams
from gnt.opcodes.instance_modify import OpInstanceSetParams

_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_DISK_ADD_KEYS = {"size", "mode", "name", "vg", "metavg", "spindles", "provider", "access"}
_NICPARAM_KEYS = (C.NIC_MODE, C.NIC_LINK, C.NIC_VLAN)
_NO_HOTPLUG_MSG = "Modification will take place without hotplugging."


@dataclass
class DiskChange:
    """One planned disk change; ``index`` is its position when it is applied."""

    action: str
    index: int
    disk: Disk
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class NicChange:
    """One planned NIC change; ``nic`` is the new/changed/removed NIC object."""

    action: str
    index: int
    nic: NIC
    old: NIC | None = None
    keys: list[str] = field(default_factory=list)


def _none_value(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == C.VALUE_NONE


class LUInstanceSetParams(_InstanceLU):
    """Modify an instance's parameters, disks and NICs."""

    OP = OpInstanceSetParams
    HPATH = "instance-modify"
    LOCK_NODE_RES = True
    _is_running_cache: bool | None = None

    @property
    def o(self) -> OpInstanceSetParams:
        return self.op  # type: ignore[return-value]

    # ------------------------------------------------------------- arguments
    def check_arguments(self) -> None:
        op = self.o
        if not (op.nics or op.disks or op.disk_template or op.hvparams or op.beparams
                or op.os_name or op.osparams or op.osparams_private
                or op.offline is not None or op.runtime_mem or op.pnode
                or op.instance_communication is not None):
            raise errors.OpPrereqError("No changes submitted", errors.ECODE_INVAL)
        if op.disk_template:
            if op.disks:
                raise errors.OpPrereqError("Disk template conversion and other disk changes "
                                           "not supported at the same time",
                                           errors.ECODE_INVAL)
            instance_convert.check_arguments(op.disk_template, op.ext_params, op.file_driver,
                                             op.file_storage_dir)
        elif op.remote_node or op.iallocator or op.ext_params:
            raise errors.OpPrereqError(
                "A new secondary node, an iallocator or ExtStorage parameters only apply to "
                "a disk template conversion (-t)", errors.ECODE_INVAL)
        elif op.file_driver or op.file_storage_dir:
            raise errors.OpPrereqError(
                "Specifying file-based configuration arguments requires converting to a "
                "file-based disk template", errors.ECODE_INVAL)
        if op.instance_communication is not None:
            raise errors.OpPrereqError("Instance communication (-c) is not supported by gnt "
                                       "yet", errors.ECODE_INVAL)
        for action, _, params in op.disks:
            if action == C.DDM_ATTACH and (len(params) != 1 or not (
                    set(params) & {"uuid", "name"})):
                raise errors.OpPrereqError(
                    f"Only one argument is permitted in {C.DDM_ATTACH} op, either "
                    "name or uuid", errors.ECODE_INVAL)
            if action == C.DDM_MODIFY and "size" in params:
                raise errors.OpPrereqError("Disk size change not possible, use grow-disk",
                                           errors.ECODE_INVAL)
        for action, _, params in op.nics:
            if action in (C.DDM_ATTACH, C.DDM_DETACH):
                raise errors.OpPrereqError(
                    f"{action.capitalize()} operation is not supported for NICs",
                    errors.ECODE_INVAL)
            unknown = sorted(set(params) - set(C.INIC_KEYS))
            if unknown:
                raise errors.OpPrereqError(
                    f"Unknown NIC parameter(s) {', '.join(unknown)}; allowed: "
                    f"{', '.join(C.INIC_KEYS)}", errors.ECODE_INVAL)

    def expand_names(self) -> None:
        super().expand_names()
        self.new_pnode: Node | None = None
        if self.o.pnode:
            self.new_pnode = expand_node(self.cfg, self.o.pnode)
            for level in (Level.NODE, Level.NODE_RES):
                self.needed_locks[level] = [self.instance.primary_node, self.new_pnode.uuid]

    # ------------------------------------------------------------------ hooks
    def build_hooks_env(self) -> dict[str, Any]:
        override: dict[str, Any] = {}
        if self.o.runtime_mem:
            override["RUNTIME_MEMORY"] = self.o.runtime_mem
        return hooks.instance_env(self.cfg, self.instance, beparams=self.be_filled,
                                  override=override)

    # ------------------------------------------------------------ prereqs
    def _running(self) -> bool:
        if self._is_running_cache is None:
            self._is_running_cache = is_running(self, self.instance)
        return self._is_running_cache

    def check_prereq(self) -> None:
        super().check_prereq()
        op, inst = self.o, self.instance
        self._is_running_cache = None
        self.warnings: list[str] = []
        self._check_pnode()
        self.hotplug = self._decide_hotplug()
        self.disk_plan = self._plan_disks()
        self.nic_plan = self._plan_nics()
        self.conversion: instance_convert.ConversionPlan | None = None
        if op.disk_template:
            if op.remote_node and op.disk_template not in C.DTS_INT_MIRROR:
                self.log_warning("Changing the disk template to a non-mirrored one, the "
                                 "secondary node will be ignored")
            self.conversion = instance_convert.plan(
                self, inst, self.pnode, op.disk_template, op.ext_params, op.file_driver,
                op.file_storage_dir)
        self._check_hvparams()
        self._check_beparams()
        self._check_os()
        self._check_runtime_mem()
        if op.offline is not None:
            msg = ("can't change to offline without being down first" if op.offline
                   else "can't change to online (down) without being offline first")
            check_instance_state(self, inst, INSTANCE_NOT_RUNNING, msg)
        self._check_ipolicy()

    def _check_pnode(self) -> None:
        op, inst, new = self.o, self.instance, self.new_pnode
        if new is None:
            return
        if new.uuid == inst.primary_node:
            raise errors.OpPrereqError(f"Node {new.name} is already the primary node of "
                                       f"instance {inst.name}", errors.ECODE_INVAL)
        if not disk_mobility.for_template(inst.disk_template).any_target:
            raise errors.OpPrereqError(
                f"Instance {inst.name} has disk template '{inst.disk_template}', whose disks"
                f" live on its primary node; --new-primary needs shared storage "
                f"({', '.join(t for t in C.DTS_EXT_MIRROR if t in C.DTS_IMPLEMENTED)}); use "
                f"'gnt-instance move' to copy the disks", errors.ECODE_INVAL)
        check_node_online(new, "Cannot make it the primary node")
        check_node_vm_capable(new)
        if not op.force:
            if self.pnode.offline:
                self.log_warning(f"Primary node {self.pnode.name} is offline; not checking "
                                 "that the instance is stopped")
            elif self._running():
                raise errors.OpPrereqError(f"Instance is still running on {self.pnode.name}",
                                           errors.ECODE_STATE)

    def _decide_hotplug(self) -> bool:
        op, inst = self.o, self.instance
        if not (op.hotplug or op.hotplug_if_possible) or not (op.disks or op.nics):
            return False
        if self.pnode.offline or not self._running():
            return False  # nothing to plug into: the changes apply at the next start
        res = self.ctx.rpc.hotplug_supported(self.pnode.uuid, inst.hypervisor, inst.name)
        if res.fail_msg:
            self.log_warning(res.fail_msg)
            self.log_info(_NO_HOTPLUG_MSG)
            return False
        return True

    # --- disks
    def _plan_disks(self) -> list[DiskChange]:
        op, inst = self.o, self.instance
        sim: list[Disk] = [d.model_copy(deep=True) for d in self.cfg.instance_disks(inst)]
        plan: list[DiskChange] = []
        new_disks: list[dict[str, Any]] = []
        for action, ident, raw in op.disks:
            params = dict(raw)
            if action == C.DDM_ADD:
                idx = self._add_index(sim, ident, "disk")
                dparams = self._disk_add_params(idx, params)
                disk = new_disk(self, inst, idx, dparams)
                new_disks.append(dparams)
                sim.insert(idx, disk)
                plan.append(DiskChange(C.DDM_ADD, idx, disk))
            elif action == C.DDM_ATTACH:
                idx = self._add_index(sim, ident, "disk")
                disk = detached_disks.check_attach(self.cfg, inst, params, sim)
                sim.insert(idx, disk)
                plan.append(DiskChange(C.DDM_ATTACH, idx, disk))
            elif action == C.DDM_MODIFY:
                idx = disk_index(sim, ident)
                plan.append(DiskChange(C.DDM_MODIFY, idx, sim[idx],
                                       self._disk_modify_params(idx, params, sim[idx])))
            else:  # remove, detach
                idx = disk_index(sim, ident)
                self._check_disk_removal(idx, sim[idx])
                plan.append(DiskChange(action, idx, sim.pop(idx)))
        if len(sim) > C.MAX_DISKS:
            raise errors.OpPrereqError(
                f"Instance has too many disks ({len(sim)}), cannot add more (at most "
                f"{C.MAX_DISKS})", errors.ECODE_STATE)
        self._check_unique_names("disk", [d.name for d in sim])
        if new_disks and inst.disk_template == C.DT_EXT:
            ext_diskparams.check_disks_on_node(self.ctx.rpc, self.cfg, self.pnode,
                                               inst.hypervisor, new_disks)
        self.final_disk_sizes = tuple(d.size for d in sim)
        return plan

    @staticmethod
    def _add_index(items: list[Any], ident: Any, kind: str) -> int:
        try:
            idx = int(ident)
        except (TypeError, ValueError):
            raise errors.OpPrereqError(
                f"Invalid {kind} index '{ident}' for add: give a number (-1: at the end)",
                errors.ECODE_INVAL) from None
        if idx == -1:
            return len(items)
        if not 0 <= idx <= len(items):
            raise errors.OpPrereqError(
                f"Invalid {kind} index {idx} for add: must be between 0 and {len(items)} "
                f"(or -1 for the end)", errors.ECODE_INVAL)
        return idx

    def _disk_add_params(self, idx: int, params: dict[str, Any]) -> dict[str, Any]:
        inst, cl = self.instance, self.cfg.cluster
        what = f"Disk {idx}"
        if inst.disk_template == C.DT_DISKLESS:
            raise errors.OpPrereqError(
                "Must specify disk type on diskless instance: a diskless instance cannot "
                "get disks (its disk template has none)", errors.ECODE_INVAL)
        if inst.disk_template not in C.DTS_IMPLEMENTED:
            raise errors.OpPrereqError(f"Disk template '{inst.disk_template}' is not "
                                       "supported by gnt yet", errors.ECODE_INVAL)
        if inst.disk_template not in cl.enabled_disk_templates:
            raise errors.OpPrereqError(
                f"Disk template '{inst.disk_template}' is not enabled in the cluster; "
                f"enabled: {', '.join(cl.enabled_disk_templates)}", errors.ECODE_STATE)
        if inst.disk_template in C.DTS_MUST_ADOPT:
            raise errors.OpPrereqError(
                f"Disks of template '{inst.disk_template}' are adopted devices; they cannot "
                "be added by modify", errors.ECODE_INVAL)
        ext = ext_diskparams.parse_disk(inst.disk_template, idx, params, _DISK_ADD_KEYS)
        if not ext:
            unknown = sorted(set(params) - _DISK_ADD_KEYS)
            if unknown:
                raise errors.OpPrereqError(
                    f"{what}: unknown parameter(s) {', '.join(unknown)}; allowed: "
                    f"{', '.join(sorted(_DISK_ADD_KEYS))}", errors.ECODE_INVAL)
        if "size" not in params:
            raise errors.OpPrereqError("Required disk parameter 'size' missing",
                                       errors.ECODE_INVAL)
        out: dict[str, Any] = {"size": parse_size(what, params["size"]),
                               "mode": check_mode(what, params.get("mode", C.DISK_RDWR)),
                               "name": None if _none_value(params.get("name"))
                               else params.get("name"), **ext}
        if ext:
            out[C.IDISK_PROVIDER] = ext["provider"]
        return out

    def _disk_modify_params(self, idx: int, params: dict[str, Any],
                            disk: Disk) -> dict[str, Any]:
        unknown = sorted(set(params) - set(C.MODIFIABLE_IDISK_PARAMS))
        if unknown:
            raise errors.OpPrereqError(
                f"Disk {idx}: parameter(s) {', '.join(unknown)} cannot be modified; "
                f"allowed: {', '.join(C.MODIFIABLE_IDISK_PARAMS)}", errors.ECODE_INVAL)
        if not params:
            raise errors.OpPrereqError(f"Disk {idx}: nothing to modify (give mode= or name=)",
                                       errors.ECODE_INVAL)
        out: dict[str, Any] = {}
        if "mode" in params:
            out["mode"] = check_mode(f"Disk {idx}", params["mode"])
            disk.mode = out["mode"]
        if "name" in params:
            out["name"] = None if _none_value(params["name"]) else params["name"]
            disk.name = out["name"]
        return out

    def _check_disk_removal(self, idx: int, disk: Disk) -> None:
        inst = self.instance
        if self.pnode.offline or not self._running():
            return
        if not self.hotplug:
            check_instance_state(self, inst, INSTANCE_NOT_RUNNING,
                                 "can't remove volume from a running instance without "
                                 "using hotplug")
        if idx == 0:
            raise errors.OpPrereqError(
                f"Cannot remove disk 0 of running instance {inst.name}: it is the disk the "
                f"instance runs from; stop the instance first", errors.ECODE_STATE)

    @staticmethod
    def _check_unique_names(kind: str, names: list[str | None]) -> None:
        seen: set[str] = set()
        for name in names:
            if name is None:
                continue
            if name in seen:
                raise errors.OpPrereqError(
                    f"{kind.capitalize()} name '{name}' is used more than once; names must "
                    "be unique", errors.ECODE_NOTUNIQUE)
            seen.add(name)

    # --- NICs
    def _plan_nics(self) -> list[NicChange]:
        op, inst = self.o, self.instance
        sim: list[NIC] = [n.model_copy(deep=True) for n in inst.nics]
        self.used_macs = [n.mac for i in self.cfg.instances.values() for n in i.nics]
        self.used_ips = {n.ip for i in self.cfg.instances.values() if i.uuid != inst.uuid
                         for n in i.nics if n.ip}
        plan: list[NicChange] = []
        for action, ident, raw in op.nics:
            params = dict(raw)
            if action == C.DDM_ADD:
                idx = self._add_index(sim, ident, "NIC")
                nic = self._nic_from_params(idx, params, None)
                sim.insert(idx, nic)
                plan.append(NicChange(C.DDM_ADD, idx, nic))
            elif action == C.DDM_MODIFY:
                idx = disk_index(sim, ident, "NIC")
                old = sim[idx].model_copy(deep=True)
                sim[idx] = self._nic_from_params(idx, params, sim[idx])
                plan.append(NicChange(C.DDM_MODIFY, idx, sim[idx], old, sorted(params)))
            else:
                idx = disk_index(sim, ident, "NIC")
                plan.append(NicChange(C.DDM_REMOVE, idx, sim.pop(idx)))
        if len(sim) > C.MAX_NICS:
            raise errors.OpPrereqError(
                f"Instance has too many network interfaces ({len(sim)}), cannot add more (at "
                f"most {C.MAX_NICS})", errors.ECODE_STATE)
        self._check_unique_names("NIC", [n.name for n in sim])
        ips = [n.ip for n in sim if n.ip]
        if op.conflicts_check and len(ips) != len(set(ips)):
            raise errors.OpPrereqError("Two NICs of the instance would have the same IP",
                                       errors.ECODE_NOTUNIQUE)
        self.final_nic_count = len(sim)
        return plan

    def _nic_from_params(self, idx: int, params: dict[str, Any], old: NIC | None) -> NIC:
        """A NIC as ``params`` make it: a new one (``old`` None) or ``old`` changed."""
        op, cl = self.o, self.cfg.cluster
        nic = old.model_copy(deep=True) if old is not None else NIC(mac=C.VALUE_AUTO)
        if params.get("network") not in (None, "") and not _none_value(params["network"]):
            raise errors.OpPrereqError(
                f"NIC {idx}: networks (gnt-network) are not supported by gnt yet",
                errors.ECODE_INVAL)
        if "name" in params:
            nic.name = None if _none_value(params["name"]) else str(params["name"])
        if "ip" in params:
            ip = params["ip"]
            if ip is None or _none_value(ip):
                nic.ip = None
            elif str(ip).lower() == C.NIC_IP_POOL:
                raise errors.OpPrereqError("If ip=pool, parameter network cannot be none",
                                           errors.ECODE_INVAL)
            elif not netutils.is_valid_ip4(str(ip)):
                raise errors.OpPrereqError(f"Invalid IP address '{ip}'", errors.ECODE_INVAL)
            else:
                nic.ip = str(ip)
                if op.conflicts_check and nic.ip in self.used_ips:
                    raise errors.OpPrereqError(
                        f"IP address {nic.ip} already in use by another instance (use "
                        f"--no-conflicts-check to allow it)", errors.ECODE_NOTUNIQUE)
        mac = str(params.get("mac", C.VALUE_AUTO if old is None else nic.mac)).lower()
        if old is not None and "mac" in params and mac == C.VALUE_AUTO:
            raise errors.OpPrereqError(
                "'auto' is not a valid MAC address when modifying an existing NIC",
                errors.ECODE_INVAL)
        if old is None or "mac" in params:
            if mac in (C.VALUE_AUTO, C.VALUE_GENERATE):
                mac = self.ctx.cfg.reservations.generate_mac(cl.mac_prefix, self.used_macs,
                                                             self.owner)
            elif not _MAC_RE.match(mac):
                raise errors.OpPrereqError(f"Invalid MAC address '{params['mac']}'",
                                           errors.ECODE_INVAL)
            elif old is None or mac != old.mac:
                self.ctx.cfg.reservations.reserve_mac(mac, self.used_macs, self.owner)
            self.used_macs.append(mac)
            nic.mac = mac
        update = check_params("NIC", C.NICS_PARAMETER_TYPES,
                              {k: params[k] for k in _NICPARAM_KEYS if k in params},
                              allow_default=True)
        nic.nicparams = apply_update(nic.nicparams, update)
        filled = fill.fill_nic(cl, nic)
        if filled.get(C.NIC_MODE) not in C.NIC_VALID_MODES:
            raise errors.OpPrereqError(
                f"NIC {idx}: invalid mode {filled.get(C.NIC_MODE)!r}; allowed: "
                f"{', '.join(C.NIC_VALID_MODES)}", errors.ECODE_INVAL)
        if filled[C.NIC_MODE] == C.NIC_MODE_ROUTED and nic.ip is None:
            raise errors.OpPrereqError(
                "Cannot set the NIC IP address to None on a routed NIC if not attached to a"
                " network", errors.ECODE_INVAL)
        return nic

    # --- parameters
    def _check_hvparams(self) -> None:
        op, inst = self.o, self.instance
        self.hv_new = inst.hvparams
        if not op.hvparams:
            return
        update = hypervisor.check_parameters(inst.hypervisor, op.hvparams, allow_default=True)
        self.hv_new = apply_update(inst.hvparams, update)
        hypervisor.check_parameters(inst.hypervisor, self.hv_new)

    def _check_beparams(self) -> None:
        op, inst, cl = self.o, self.instance, self.cfg.cluster
        self.be_new = inst.beparams
        if op.beparams:
            update = check_params("backend", C.BES_PARAMETER_TYPES,
                                  upgrade_beparams(op.beparams), allow_default=True)
            self.be_new = apply_update(inst.beparams, update)
        self.be_filled = fill.fill_be(cl, self.be_new)
        for key in (C.BE_MAXMEM, C.BE_MINMEM):
            value = self.be_filled.get(key)
            if value is not None and not 0 < int(value) <= C.MAX_MEMORY_MIB:
                raise errors.OpPrereqError(
                    f"Invalid backend parameter '{key}': {value} MiB out of range (1 to "
                    f"{C.MAX_MEMORY_MIB} MiB)", errors.ECODE_INVAL)
        vcpus = self.be_filled.get(C.BE_VCPUS)
        if vcpus is not None and not 0 < int(vcpus) <= C.MAX_VCPUS:
            raise errors.OpPrereqError(
                f"Invalid backend parameter 'vcpus': {vcpus} out of range (1 to "
                f"{C.MAX_VCPUS})", errors.ECODE_INVAL)
        if int(self.be_filled[C.BE_MINMEM]) > int(self.be_filled[C.BE_MAXMEM]):
            raise errors.OpPrereqError(
                f"Minimum memory ({self.be_filled[C.BE_MINMEM]} MiB) can't be bigger than "
                f"maximum memory ({self.be_filled[C.BE_MAXMEM]} MiB)", errors.ECODE_INVAL)
        old_max = int(fill.fill_instance_be(cl, inst)[C.BE_MAXMEM])
        new_max = int(self.be_filled[C.BE_MAXMEM])
        if op.beparams and new_max > old_max and not op.force and not self.pnode.offline:
            res = self.ctx.rpc.node_info([self.pnode.uuid], [inst.hypervisor])[self.pnode.uuid]
            if res.fail_msg:
                self.warnings.append(f"Can't get info from primary node {self.pnode.name}: "
                                     f"{res.fail_msg}")
                return
            free = int(res.data["hv"][inst.hypervisor]["memory_free"])
            current = 0
            info = self.ctx.rpc.instance_info(self.pnode.uuid, inst.hypervisor, inst.name)
            if not info.fail_msg and info.data:
                current = int(info.data["memory"])
            missing = new_max - current - free
            if missing > 0:
                raise errors.OpPrereqError(
                    f"This change will prevent the instance from starting, due to {missing} "
                    f"MB of memory missing on its primary node", errors.ECODE_NORES)

    def _check_os(self) -> None:
        op, inst, cl = self.o, self.instance, self.cfg.cluster
        self.os_new = op.os_name or inst.os
        self.osp_new = inst.osparams
        self.osp_private_new = inst.osparams_private
        if op.osparams or op.osparams_private:
            dupes = sorted(set(op.osparams) & set(op.osparams_private))
            if dupes:
                raise errors.OpPrereqError(
                    f"OS parameters repeated multiple times: {', '.join(dupes)}",
                    errors.ECODE_INVAL)
            self.osp_new = apply_update(inst.osparams, self._os_update(op.osparams))
            self.osp_private_new = apply_update(inst.osparams_private,
                                                self._os_update(op.osparams_private))
        if not (op.os_name or op.osparams or op.osparams_private):
            return
        if op.os_name and op.force:
            return  # Ganeti: --force accepts an OS the node does not have
        if not self.os_new:
            raise errors.OpPrereqError(
                f"Instance {inst.name} has no OS; set one with -o before OS parameters",
                errors.ECODE_INVAL)
        check_node_online(self.pnode, "Cannot check the OS")
        params = fill.fill_os(cl, self.os_new, {**self.osp_new, **self.osp_private_new})
        rpc_raise(self.ctx.rpc.os_validate(self.pnode.uuid, self.os_new, params,
                                           op.force_variant),
                  f"OS '{self.os_new}' check failed on node {self.pnode.name}", prereq=True)

    @staticmethod
    def _os_update(params: dict[str, Any]) -> dict[str, Any]:
        return {k: (None if v is None or v == C.VALUE_DEFAULT else v)
                for k, v in params.items()}

    def _check_runtime_mem(self) -> None:
        op, inst = self.o, self.instance
        if not op.runtime_mem:
            return
        check_node_online(self.pnode, "Cannot change the runtime memory")
        res = self.ctx.rpc.instance_info(self.pnode.uuid, inst.hypervisor, inst.name)
        rpc_raise(res, f"Error checking node {self.pnode.name}", prereq=True)
        if not res.data:
            raise errors.OpPrereqError(f"Instance {inst.name} is not running",
                                       errors.ECODE_STATE)
        lo, hi = int(self.be_filled[C.BE_MINMEM]), int(self.be_filled[C.BE_MAXMEM])
        if not op.force and not lo <= op.runtime_mem <= hi:
            raise errors.OpPrereqError(
                f"Instance {inst.name} must have memory between {lo} and {hi} MB of memory "
                f"unless --force is given", errors.ECODE_INVAL)
        delta = op.runtime_mem - int(res.data["memory"])
        if delta > 0:
            check_node_free_memory(self.ctx, self.pnode,
                                   f"ballooning memory for instance {inst.name}", delta,
                                   inst.hypervisor)

    def _check_ipolicy(self) -> None:
        op, inst = self.o, self.instance
        if not (op.beparams or op.disks or op.nics or op.pnode):
            return
        target = self.new_pnode or self.pnode
        specs = [dataclasses.replace(
            ipolicy_mod.ISpecs.of_instance(self.cfg, inst, beparams=self.be_filled,
                                           memory=mem),
            disk_sizes=self.final_disk_sizes, nic_count=self.final_nic_count)
            for mem in (C.BE_MAXMEM, C.BE_MINMEM)]
        ipolicy_mod.check_instance_ipolicy(self.cfg, specs, target, op.ignore_ipolicy)

    # ----------------------------------------------------------------- exec
    def exec(self, feedback: FeedbackFn) -> Any:
        op, inst = self.o, self.instance
        for warning in self.warnings:
            feedback(f"WARNING: {warning}")
        result: list[list[Any]] = []
        if self.new_pnode is not None:
            inst.primary_node = self.new_pnode.uuid
            for d in self.cfg.instance_disks(inst):
                d.nodes = [self.new_pnode.uuid]
            self.ctx.cfg.update(inst, *self.cfg.instance_disks(inst))
            self.pnode = self.new_pnode
        if op.runtime_mem:
            rpc_raise(self.ctx.rpc.instance_balloon_memory(
                self.pnode.uuid, inst.hypervisor, inst.name, op.runtime_mem),
                "Cannot modify instance runtime memory")
            result.append(["runtime_memory", op.runtime_mem])
        for dchange in self.disk_plan:
            result.extend(self._apply_disk(dchange, feedback))
        if self.conversion is not None:
            instance_convert.convert(self, inst, self.pnode, self.conversion, feedback)
            result.append(["disk_template", op.disk_template])
        for nchange in self.nic_plan:
            result.extend(self._apply_nic(nchange, feedback))
        if op.hvparams:
            inst.hvparams = self.hv_new
            result.extend([f"hv/{k}", v] for k, v in op.hvparams.items())
        if op.beparams:
            inst.beparams = self.be_new
            result.extend([f"be/{k}", v] for k, v in op.beparams.items())
        if op.os_name:
            inst.os = op.os_name
        if op.osparams:
            inst.osparams = self.osp_new
            result.extend([f"os/{k}", v] for k, v in op.osparams.items())
        if op.osparams_private:
            inst.osparams_private = self.osp_private_new
            result.extend([f"os_private/{k}", "<redacted>"] for k in op.osparams_private)
        if op.offline is not None:
            inst.admin_state = C.ADMINST_OFFLINE if op.offline else C.ADMINST_DOWN
            inst.admin_state_source = C.ADMIN_SOURCE
            result.append(["admin_state", inst.admin_state])
        if op.hvparams or op.beparams or op.os_name or op.osparams or op.osparams_private \
                or op.offline is not None:
            self.ctx.cfg.update(inst)
        return result

    # --- disks
    def _hotplug(self, action: str, target: str, device: dict[str, Any]) -> Any:
        inst = self.instance
        res = self.ctx.rpc.hotplug_device(self.pnode.uuid, inst.hypervisor, inst.name,
                                          action, target, device)
        rpc_raise(res, f"Could not hotplug {target} of instance {inst.name}")
        return res.data

    def _apply_disk(self, ch: DiskChange, feedback: FeedbackFn) -> list[list[Any]]:
        key = f"disk/{ch.index}"
        if ch.action == C.DDM_ADD:
            return self._add_disk(ch, feedback)
        if ch.action == C.DDM_ATTACH:
            return self._attach_disk(ch)
        if ch.action == C.DDM_DETACH:
            return self._detach_disk(ch)
        if ch.action == C.DDM_MODIFY:
            disk = self.cfg.disks[ch.disk.uuid]
            out = []
            for k, v in ch.params.items():
                setattr(disk, k, v)
                out.append([f"disk.{k}/{ch.index}", v])
            self.ctx.cfg.update(disk)
            return out
        out = [[key, "remove"]]
        disk = self.cfg.disks[ch.disk.uuid]
        if self._unplug_disk(disk):
            out.append([key, "hotplug:done"])
        self.ctx.rpc.blockdev_shutdown(self.pnode.uuid, disk_bdev_specs([disk], self.cfg)[0])
        remove_disk_on_node(self, self.pnode, disk)
        config_remove_disk(self, self.instance, disk.uuid)
        return out

    def _plug_disk(self, ch: DiskChange, spec: Any) -> bool:
        """Hot-add the created/attached disk of ``ch`` if hotplugging; True if plugged."""
        if not self.hotplug:
            return False
        self.log_info("Trying to hotplug device...")
        self._hotplug(C.HOTPLUG_ACTION_ADD, C.HOTPLUG_TARGET_DISK,
                      {**spec.model_dump(mode="json"), "index": ch.index})
        self.log_info("Hotplug done.")
        return True

    def _unplug_disk(self, disk: Disk) -> bool:
        """Hot-remove ``disk`` if hotplugging; True if unplugged."""
        if not self.hotplug:
            return False
        self.log_info("Trying to hotplug device...")
        self._hotplug(C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_DISK, {"uuid": disk.uuid})
        self.log_info("Hotplug done.")
        return True

    def _plug_and_commit(self, ch: DiskChange, spec: Any, out: list[list[Any]], what: str,
                         commit: Callable[[], object], undo: Callable[[], object],
                         before: Callable[[], None] | None = None) -> None:
        """``before()``, hot-plug the disk of ``ch`` (when hotplugging), then
        ``commit()`` (the config write); when a step fails, unplug it again,
        ``undo()`` the node side and re-raise."""
        key = f"disk/{ch.index}"
        plugged = False
        try:
            if before is not None:
                before()
            plugged = self._plug_disk(ch, spec)
            if plugged:
                out.append([key, "hotplug:done"])
            commit()
        except errors.GntError as err:
            self.log_warning(f"{what} disk {key} failed, undoing it: {err}")
            if plugged:
                inst = self.instance
                self.ctx.rpc.hotplug_device(self.pnode.uuid, inst.hypervisor, inst.name,
                                            C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_DISK,
                                            {"uuid": ch.disk.uuid})
            undo()
            raise

    def _attach_disk(self, ch: DiskChange) -> list[list[Any]]:
        inst, disk = self.instance, self.cfg.disks[ch.disk.uuid]
        moved = detached_disks.move_into_instance(self, inst, disk, ch.index)
        out: list[list[Any]] = [[f"disk/{ch.index}",
                                 f"attach:size={disk.size},mode={disk.mode}"]]

        def undo() -> None:
            if moved is not None:
                detached_disks.move_back(self, disk, moved)
        self._plug_and_commit(ch, disk_bdev_specs([disk], self.cfg)[0], out, "Attaching",
                              lambda: detached_disks.config_attach(self, inst, disk, ch.index),
                              undo)
        return out

    def _detach_disk(self, ch: DiskChange) -> list[list[Any]]:
        disk = self.cfg.disks[ch.disk.uuid]
        key = f"disk/{ch.index}"
        out = [[key, "detach"]]
        if self._unplug_disk(disk):
            out.append([key, "hotplug:done"])
        self.ctx.rpc.blockdev_shutdown(self.pnode.uuid, disk_bdev_specs([disk], self.cfg)[0])
        detached_disks.detach(self, self.instance, disk)
        return out

    def _add_disk(self, ch: DiskChange, feedback: FeedbackFn) -> list[list[Any]]:
        inst, disk = self.instance, ch.disk
        key = f"disk/{ch.index}"
        spec = disk_bdev_specs([disk], self.cfg)[0]
        feedback(f"* creating disk {key} ({disk.size} MiB) on {self.pnode.name}")
        rpc_raise(self.ctx.rpc.blockdev_create(self.pnode.uuid, spec),
                  f"Can't create disk {key} on node {self.pnode.name}")
        out: list[list[Any]] = [[key, f"add:size={disk.size},mode={disk.mode}"]]

        def set_info() -> None:
            if disk.dev_type == C.DT_EXT:
                rpc_raise(self.ctx.rpc.extstorage_setinfo(self.pnode.uuid, spec,
                                                          f"originstname+{inst.name}"),
                          f"Can't set info on disk {key} on node {self.pnode.name}")
        self._plug_and_commit(ch, spec, out, "Adding",
                              lambda: config_add_disk(self, inst, disk, ch.index),
                              lambda: remove_disk_on_node(self, self.pnode, disk),
                              before=set_info)
        return out

    # --- NICs
    def _nic_spec(self, nic: NIC, index: int) -> dict[str, Any]:
        return NICSpec(uuid=nic.uuid, name=nic.name, index=index, mac=nic.mac, ip=nic.ip,
                       nicparams=fill.fill_nic(self.cfg.cluster, nic)).model_dump(mode="json")

    def _save_nics(self, nics: list[NIC]) -> None:
        inst = self.instance
        old = inst.nics
        inst.nics = nics
        try:
            self.ctx.cfg.update(inst)
        except BaseException:
            inst.nics = old
            raise

    def _apply_nic(self, ch: NicChange, feedback: FeedbackFn) -> list[list[Any]]:
        inst, nic = self.instance, ch.nic
        nics = list(inst.nics)
        if ch.action == C.DDM_ADD:
            filled = fill.fill_nic(self.cfg.cluster, nic)
            out: list[list[Any]] = [[f"nic.{ch.index}", (
                f"add:mac={nic.mac},ip={nic.ip},mode={filled.get(C.NIC_MODE)},"
                f"link={filled.get(C.NIC_LINK)},network={nic.network}")]]
            if self.hotplug:
                self.log_info("Trying to hotplug device...")
                self._hotplug(C.HOTPLUG_ACTION_ADD, C.HOTPLUG_TARGET_NIC,
                              self._nic_spec(nic, ch.index))
                self.log_info("Hotplug done.")
                out.append([f"nic.{ch.index}", "hotplug:done"])
            nics.insert(ch.index, nic)
            try:
                self._save_nics(nics)
            except errors.GntError:
                if self.hotplug:
                    self.ctx.rpc.hotplug_device(self.pnode.uuid, inst.hypervisor, inst.name,
                                                C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_NIC,
                                                {"uuid": nic.uuid})
                raise
            return out
        if ch.action == C.DDM_MODIFY:
            out = [[f"nic.{k}/{ch.index}", getattr(nic, k)] for k in ("mac", "ip", "name")
                   if k in ch.keys]
            out.extend([f"nic.{k}/{ch.index}", v]
                       for k, v in fill.fill_nic(self.cfg.cluster, nic).items())
            if self.hotplug:
                assert ch.old is not None
                self.log_info("Trying to hotplug device...")
                self._hotplug(C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_NIC,
                              {"uuid": ch.old.uuid})
                try:
                    self._hotplug(C.HOTPLUG_ACTION_ADD, C.HOTPLUG_TARGET_NIC,
                                  self._nic_spec(nic, ch.index))
                except errors.GntError:
                    self.ctx.rpc.hotplug_device(self.pnode.uuid, inst.hypervisor, inst.name,
                                                C.HOTPLUG_ACTION_ADD, C.HOTPLUG_TARGET_NIC,
                                                self._nic_spec(ch.old, ch.index))
                    raise
                self.log_info("Hotplug done.")
                out.append([f"nic/{ch.index}", "hotplug:done"])
            nics[ch.index] = nic
            self._save_nics(nics)
            return out
        out = [[f"nic/{ch.index}", "remove"]]
        if self.hotplug:
            self.log_info("Trying to hotplug device...")
            self._hotplug(C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_NIC, {"uuid": nic.uuid})
            self.log_info("Hotplug done.")
            out.append([f"nic/{ch.index}", "hotplug:done"])
        del nics[ch.index]
        self._save_nics(nics)
        return out


__all__ = ["LUInstanceSetParams"]
