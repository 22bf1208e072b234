"""LUInstanceCreate: ``gnt-instance add``.

Order of work (each step undone if a later one fails): create disks on the
primary node, add the instance to the config, run the OS create script,
start the instance.  Every check that can fail runs before the first step.
"""

from __future__ import annotations

import re
from typing import Any

from gnt import constants as C
from gnt import errors, hooks, hypervisor, netutils
from gnt.cmdlib import disk_adopt, disk_layout
from gnt.cmdlib import ipolicy as ipolicy_mod
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import (
    bdev_specs,
    check_node_free_memory,
    check_node_not_drained,
    check_node_online,
    check_node_vm_capable,
    disk_bdev_specs,
    expand_node,
    instance_spec,
    os_script_spec,
)
from gnt.cmdlib.os import check_os_allowed_for_install
from gnt.extstorage import diskparams as ext_diskparams
from gnt.iallocator.lu import allocator_for_create, place_new_instance
from gnt.objects import NIC, Disk, Instance, fill
from gnt.objects.base import new_uuid
from gnt.objects.params import check_params, upgrade_beparams
from gnt.opcodes.instance import OpInstanceCreate
from gnt.units import parse_unit

_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_DISK_KEYS = {"size", "mode", "name", "vg", "metavg", "spindles", "provider", "adopt",
              "access"}
_NIC_KEYS = {"mac", "ip", "mode", "link", "vlan", "name", "network"}


def _check_keys(what: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(given) - allowed
    if unknown:
        raise errors.OpPrereqError(
            f"{what}: unknown parameter(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(sorted(allowed))}", errors.ECODE_INVAL)


def _parse_disks(op: OpInstanceCreate) -> list[dict[str, Any]]:
    if op.disk_template == C.DT_DISKLESS:
        if op.disks:
            raise errors.OpPrereqError(
                "Disk template 'diskless' takes no disks; remove the --disk options",
                errors.ECODE_INVAL)
        return []
    if not op.disks:
        raise errors.OpPrereqError(
            f"Disk template '{op.disk_template}' needs at least one disk (--disk or -s)",
            errors.ECODE_INVAL)
    if len(op.disks) > C.MAX_DISKS:
        raise errors.OpPrereqError(f"Too many disks ({len(op.disks)}); at most "
                                   f"{C.MAX_DISKS}", errors.ECODE_INVAL)
    adopt = disk_adopt.adoption_requested(op)  # Ganeti's adoption rules
    out = []
    for idx, d in enumerate(op.disks):
        # ext: {"provider", "params"}; the other keys are provider parameters
        ext = ext_diskparams.parse_disk(op.disk_template, idx, d, _DISK_KEYS)
        if not ext:
            _check_keys(f"Disk {idx}", d, _DISK_KEYS)
        if adopt:  # the size is the device's (check_prereq)
            out.append(disk_adopt.parse_adopted_disk(idx, d))
            continue
        if "size" not in d:
            raise errors.OpPrereqError(f"Disk {idx}: missing 'size'", errors.ECODE_INVAL)
        try:
            size = parse_unit(d["size"])
        except errors.ParameterError as err:
            raise errors.OpPrereqError(f"Disk {idx}: invalid size: {err}",
                                       errors.ECODE_INVAL) from None
        if size <= 0 or size > C.MAX_DISK_SIZE_MIB:
            raise errors.OpPrereqError(
                f"Disk {idx}: size {size} MiB out of range (1 to {C.MAX_DISK_SIZE_MIB} MiB)",
                errors.ECODE_INVAL)
        mode = d.get("mode", C.DISK_RDWR)
        if mode not in C.DISK_ACCESS_SET:
            raise errors.OpPrereqError(f"Disk {idx}: invalid mode {mode!r}; allowed: rw, ro",
                                       errors.ECODE_INVAL)
        if "adopt" in d:
            raise errors.OpPrereqError(
                f"Disk {idx}: adoption is not supported for template '{op.disk_template}'",
                errors.ECODE_INVAL)
        out.append({"size": size, "mode": mode, "name": d.get("name"), **ext})
    return out


def _parse_nics(op: OpInstanceCreate) -> list[dict[str, Any]]:
    if len(op.nics) > C.MAX_NICS:
        raise errors.OpPrereqError(f"Too many NICs ({len(op.nics)}); at most {C.MAX_NICS}",
                                   errors.ECODE_INVAL)
    out = []
    for idx, n in enumerate(op.nics):
        _check_keys(f"NIC {idx}", n, _NIC_KEYS)
        mac = str(n.get("mac") or C.VALUE_AUTO).lower()
        if mac not in (C.VALUE_AUTO, C.VALUE_GENERATE) and not _MAC_RE.match(mac):
            raise errors.OpPrereqError(f"NIC {idx}: invalid MAC address {mac!r}",
                                       errors.ECODE_INVAL)
        ip = n.get("ip")
        if ip is not None and str(ip).lower() == C.VALUE_NONE:
            ip = None
        if ip is not None and ip != "pool" and not netutils.is_valid_ip4(str(ip)):
            raise errors.OpPrereqError(f"NIC {idx}: invalid IP address {ip!r}",
                                       errors.ECODE_INVAL)
        nicparams = check_params("NIC", C.NICS_PARAMETER_TYPES,
                                 {k: n[k] for k in ("mode", "link", "vlan") if k in n})
        if nicparams.get("mode", C.NIC_MODE_BRIDGED) not in C.NIC_VALID_MODES:
            raise errors.OpPrereqError(
                f"NIC {idx}: invalid mode {nicparams['mode']!r}; allowed: "
                f"{', '.join(C.NIC_VALID_MODES)}", errors.ECODE_INVAL)
        if nicparams.get("mode") == C.NIC_MODE_ROUTED and ip is None:
            raise errors.OpPrereqError(f"NIC {idx}: routed mode needs an IP address",
                                       errors.ECODE_INVAL)
        out.append({"mac": mac, "ip": ip, "name": n.get("name"), "nicparams": nicparams})
    return out


class LUInstanceCreate(LogicalUnit):
    """Create an instance on one node (templates: diskless, file)."""

    OP = OpInstanceCreate
    REQ_BGL = False
    HPATH = "instance-add"
    HTYPE = C.HTYPE_INSTANCE

    @property
    def o(self) -> OpInstanceCreate:
        return self.op  # type: ignore[return-value]

    def build_hooks_env(self) -> dict[str, Any]:
        op = self.o
        env: dict[str, Any] = {"ADD_MODE": op.mode}
        if op.mode == C.INSTANCE_IMPORT:
            env.update(SRC_NODE=op.src_node, SRC_PATH=op.src_path, SRC_IMAGES="")
        # Ganeti gives the --no-start/--start flag as INSTANCE_STATUS here
        return {**env, **hooks.instance_env(self.cfg, self.inst, disks=self.disk_objs,
                                            status=op.start)}

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = hooks.master_and_instance_nodes(self.cfg, self.inst, self.disk_objs)
        return nl, nl

    def check_arguments(self) -> None:
        op = self.o
        if op.disk_template is None:
            op.disk_template = self.cfg.cluster.enabled_disk_templates[0]
        if op.mode != C.INSTANCE_CREATE:
            raise errors.OpPrereqError(f"Instance creation mode '{op.mode}' is not "
                                       "supported yet; use 'create'", errors.ECODE_INVAL)
        if op.disk_template not in C.DISK_TEMPLATES:
            raise errors.OpPrereqError(
                f"Invalid disk template '{op.disk_template}'; allowed: "
                f"{', '.join(C.DISK_TEMPLATES)}", errors.ECODE_INVAL)
        if op.disk_template not in C.DTS_IMPLEMENTED:
            raise errors.OpPrereqError(
                f"Disk template '{op.disk_template}' is not supported by gnt yet; "
                f"supported: {', '.join(C.DTS_IMPLEMENTED)}", errors.ECODE_INVAL)
        if op.ip_check and not op.name_check:
            raise errors.OpPrereqError("Cannot do IP address check without a name check",
                                       errors.ECODE_INVAL)
        if op.snode:
            raise errors.OpPrereqError(
                "Secondary nodes are not supported yet; give -n NODE or -I NAME",
                errors.ECODE_INVAL)
        if not op.os_type and not op.no_install:
            raise errors.OpPrereqError("No OS given (-o) and --no-install not set",
                                       errors.ECODE_INVAL)
        if op.file_driver and op.file_driver not in C.FILE_DRIVERS:
            raise errors.OpPrereqError(f"Invalid file driver '{op.file_driver}'; allowed: "
                                       f"{', '.join(C.FILE_DRIVERS)}", errors.ECODE_INVAL)
        self.disks = _parse_disks(op)
        self.nics = _parse_nics(op)
        self.beparams = check_params("backend", C.BES_PARAMETER_TYPES,
                                     upgrade_beparams(op.beparams))
        for k in (C.BE_MAXMEM, C.BE_MINMEM):
            if k in self.beparams and not 0 < self.beparams[k] <= C.MAX_MEMORY_MIB:
                raise errors.OpPrereqError(
                    f"Invalid backend parameter '{k}': {self.beparams[k]} MiB out of range "
                    f"(1 to {C.MAX_MEMORY_MIB} MiB)", errors.ECODE_INVAL)
        if C.BE_VCPUS in self.beparams and not 0 < self.beparams[C.BE_VCPUS] <= C.MAX_VCPUS:
            raise errors.OpPrereqError(
                f"Invalid backend parameter 'vcpus': {self.beparams[C.BE_VCPUS]} out of range"
                f" (1 to {C.MAX_VCPUS})", errors.ECODE_INVAL)

        self.hostname: str = op.instance_name
        self.check_ip: str | None = None
        if op.name_check:
            host = netutils.resolve(op.instance_name)
            self.hostname = host.name
            self.check_ip = host.ip
        self.op.instance_name = self.hostname

    def _instance_named(self, name: str) -> Instance | None:
        """The instance called ``name``, looked up under the config's lock (other
        creation jobs add instances to the live config at the same time)."""
        with self.ctx.cfg.lock:
            return self.cfg.instance_by_name(name)

    def expand_names(self) -> None:
        op = self.o
        if self._instance_named(self.hostname) is not None:
            raise errors.OpPrereqError(f"Instance '{self.hostname}' is already in the "
                                       "cluster", errors.ECODE_EXISTS)
        # -I, or the cluster default iallocator without -n (gnt.iallocator.lu)
        self.iallocator = allocator_for_create(self.cfg, op)
        if self.iallocator is not None:
            self.add_locks[Level.INSTANCE] = [self.hostname]
            self.needed_locks[Level.NODE] = ALL_SET  # the allocator may pick any node
            self.needed_locks[Level.NODE_RES] = ALL_SET
            return
        if op.pnode is None:
            if len(self.cfg.nodes) == 1:
                op.pnode = next(iter(self.cfg.nodes.values())).name
            else:
                raise errors.OpPrereqError("No primary node given (-n) and no iallocator",
                                           errors.ECODE_INVAL)
        self.pnode = expand_node(self.cfg, op.pnode)
        self.add_locks[Level.INSTANCE] = [self.hostname]
        self.needed_locks[Level.NODE] = [self.pnode.uuid]
        self.needed_locks[Level.NODE_RES] = [self.pnode.uuid]

    def check_prereq(self) -> None:
        op, cl = self.o, self.cfg.cluster
        if self.iallocator is not None:  # sets self.pnode (and op.pnode)
            self.pnode = place_new_instance(self)
        check_os_allowed_for_install(cl, op.os_type)  # blacklisted OSes (gnt-os modify)
        if self._instance_named(self.hostname) is not None:
            raise errors.OpPrereqError(f"Instance '{self.hostname}' is already in the "
                                       "cluster", errors.ECODE_EXISTS)
        if op.disk_template not in cl.enabled_disk_templates:
            raise errors.OpPrereqError(
                f"Disk template '{op.disk_template}' is not enabled in the cluster; enabled:"
                f" {', '.join(cl.enabled_disk_templates)}", errors.ECODE_STATE)
        self.hv_name = op.hypervisor or cl.default_hypervisor
        if self.hv_name not in cl.enabled_hypervisors:
            raise errors.OpPrereqError(
                f"Hypervisor '{self.hv_name}' is not enabled in the cluster; enabled: "
                f"{', '.join(cl.enabled_hypervisors)}", errors.ECODE_STATE)
        self.hvparams = hypervisor.check_parameters(self.hv_name, op.hvparams)
        check_node_online(self.pnode, "Cannot use offline primary node")
        check_node_not_drained(self.pnode)
        check_node_vm_capable(self.pnode)

        if op.ip_check and self.check_ip and netutils.tcp_ping(self.check_ip, 22, 1.0):
            raise errors.OpPrereqError(f"IP {self.check_ip} of instance {self.hostname} "
                                       "already in use", errors.ECODE_NOTUNIQUE)
        # MACs and IPs
        with self.ctx.cfg.lock:
            used_macs = [n.mac for i in self.cfg.instances.values() for n in i.nics]
            used_ips = {n.ip for i in self.cfg.instances.values() for n in i.nics if n.ip}
        self.nic_objs: list[NIC] = []
        for idx, n in enumerate(self.nics):
            if n["mac"] in (C.VALUE_AUTO, C.VALUE_GENERATE):
                mac = self.ctx.cfg.reservations.generate_mac(cl.mac_prefix, used_macs,
                                                             self.owner)
            else:
                self.ctx.cfg.reservations.reserve_mac(n["mac"], used_macs, self.owner)
                mac = n["mac"]
            used_macs.append(mac)  # two NICs of this instance may not share one either
            ip = n["ip"]
            if ip == "pool":
                raise errors.OpPrereqError(f"NIC {idx}: ip=pool needs a network",
                                           errors.ECODE_INVAL)
            if ip and op.conflicts_check and ip in used_ips:
                raise errors.OpPrereqError(f"NIC {idx}: IP address {ip} already in use",
                                           errors.ECODE_NOTUNIQUE)
            if ip:
                used_ips.add(ip)
            self.nic_objs.append(NIC(mac=mac, ip=ip, name=n["name"],
                                     nicparams=n["nicparams"]))
        if op.disk_template in C.DTS_FILEBASED:  # refuse a bad --file-storage-dir early
            disk_layout.file_dir(cl, op.disk_template, self.hostname, op.file_storage_dir)
        if op.disk_template == C.DT_EXT:  # providers usable on the node, params declared
            ext_diskparams.check_disks_on_node(self.ctx.rpc, self.cfg, self.pnode, self.hv_name,
                                               self.disks)
        self.adopt = any(C.IDISK_ADOPT in d for d in self.disks)
        if self.adopt and op.disk_template == C.DT_BLOCK:  # devices usable, sizes known
            disk_adopt.check_block_adoption(self.ctx, self.cfg, self.pnode, self.disks)
        ipolicy_mod.check_instance_ipolicy(  # the group's instance policy, as Ganeti
            self.cfg, ipolicy_mod.ISpecs.new(cl, self.beparams, [d["size"] for d in self.disks],
                                             len(self.nics), op.disk_template),
            self.pnode, op.ignore_ipolicy)
        # OS
        self.inst = self._build_instance()
        if not op.no_install:
            res = self.ctx.rpc.os_validate(self.pnode.uuid, op.os_type or "",
                                           fill.fill_instance_os(cl, self.inst,
                                                                 op.osparams_secret),
                                           op.force_variant)
            res.raise_on_fail(f"OS '{op.os_type}' check failed on node {self.pnode.name}")
        # memory, when starting
        if op.start:
            bep = fill.fill_be(cl, self.beparams)
            check_node_free_memory(self.ctx, self.pnode, f"starting instance {self.hostname}",
                                   int(bep[C.BE_MAXMEM]), self.hv_name)

    def _build_instance(self) -> Instance:
        op = self.o
        inst_uuid = new_uuid()
        disks: list[Disk] = []
        for idx, d in enumerate(self.disks):
            duuid = new_uuid()
            logical_id = disk_layout.logical_id(disk_layout.NewDisk(
                template=op.disk_template, index=idx, uuid=duuid, instance=self.hostname,
                cluster=self.cfg.cluster, params=d, file_driver=op.file_driver,
                file_storage_dir=op.file_storage_dir))
            disks.append(Disk(uuid=duuid, dev_type=op.disk_template, logical_id=logical_id,
                              size=d["size"], mode=d["mode"], name=d["name"],
                              iv_name=f"disk/{idx}", nodes=[self.pnode.uuid],
                              params=d.get("params", {})))
        self.disk_objs = disks
        port = None
        if self.hv_name == C.HT_KVM:
            with self.ctx.cfg.lock:
                used = [i.network_port for i in self.cfg.instances.values() if i.network_port]
            port = self.ctx.cfg.reservations.allocate_port(
                used, self.cfg.cluster.tcpudp_port_pool, self.owner)
        return Instance(uuid=inst_uuid, name=self.hostname, primary_node=self.pnode.uuid,
                        os=op.os_type or "", hypervisor=self.hv_name, hvparams=self.hvparams,
                        beparams=self.beparams, osparams=op.osparams,
                        osparams_private=op.osparams_private,
                        admin_state=C.ADMINST_DOWN, nics=self.nic_objs,
                        disk_template=op.disk_template, network_port=port,
                        tags=list(op.tags))

    # --- execution ---
    def _remove_disks(self, created: list[Disk]) -> None:
        specs = {b.uuid: b for b in disk_bdev_specs(created, self.cfg)}
        for d in created:
            res = self.ctx.rpc.blockdev_remove(self.pnode.uuid, specs[d.uuid])
            if res.fail_msg:
                self.log_warning(f"Could not remove disk {d.iv_name} on node "
                                 f"{self.pnode.name}: {res.fail_msg}")

    def exec(self, feedback: FeedbackFn) -> Any:
        op, inst = self.o, self.inst
        created: list[Disk] = []
        try:
            for spec, d in zip(disk_bdev_specs(self.disk_objs, self.cfg), self.disk_objs):
                feedback(f"* creating disk {d.iv_name} ({d.size} MiB) on {self.pnode.name}")
                self.ctx.rpc.blockdev_create(self.pnode.uuid, spec).raise_on_fail(
                    f"Can't create disk {d.iv_name} on node {self.pnode.name}")
                created.append(d)
                if d.dev_type == C.DT_EXT:  # as Ganeti: tag the volume with its instance
                    self.ctx.rpc.extstorage_setinfo(
                        self.pnode.uuid, spec, f"originstname+{inst.name}").raise_on_fail(
                        f"Can't set info on disk {d.iv_name} on node {self.pnode.name}")
        except errors.GntError:
            self._remove_disks(created)
            raise
        feedback(f"adding instance {inst.name} to cluster config")
        # with nothing to install, the admin state is "up" from the first write:
        # one config write instead of two (the start below is undone on failure)
        start_now = op.start and (op.no_install or self.adopt)
        if start_now:
            inst.admin_state = C.ADMINST_UP
            inst.admin_state_source = C.ADMIN_SOURCE
        try:
            self.ctx.cfg.add_instance(inst, self.disk_objs)
        except errors.GntError:
            self._remove_disks(created)
            raise
        try:
            if not op.no_install and not self.adopt:  # adopted disks are used as they are
                feedback("* running the instance OS create scripts...")
                spec = os_script_spec(self.cfg, inst, op.osparams_secret)
                res = self.ctx.rpc.instance_os_add(self.pnode.uuid, spec,
                                                   bdev_specs(self.cfg, inst), False,
                                                   op.debug_level, self.pnode.name)
                res.raise_on_fail(f"Could not add os for instance {inst.name} on node "
                                  f"{self.pnode.name}")
            if op.start:
                if not start_now:
                    inst.admin_state = C.ADMINST_UP
                    inst.admin_state_source = C.ADMIN_SOURCE
                    self.ctx.cfg.update(inst)
                feedback("* starting instance...")
                spec = instance_spec(self.cfg, inst)
                self.ctx.rpc.instance_start(self.pnode.uuid, spec,
                                            bdev_specs(self.cfg, inst)).raise_on_fail(
                    "Could not start instance")
        except errors.GntError as err:
            self.log_warning(f"Creation of instance {inst.name} failed, removing it: {err}")
            self.ctx.rpc.instance_shutdown(self.pnode.uuid, inst.hypervisor, inst.name, 0,
                                           True)
            self._remove_disks(created)
            self.ctx.cfg.remove_instance(inst.uuid)
            raise
        return [self.pnode.name]

