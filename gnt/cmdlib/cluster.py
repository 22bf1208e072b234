"""Cluster LUs: post-init, query, modify, redistribute, destroy."""

from __future__ import annotations

import platform
import re
from typing import Any

from gnt import constants as C
from gnt import errors, hooks, hypervisor
from gnt.cmdlib import disk_access
from gnt.cmdlib import ipolicy as ipolicy_mod
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit, NoHooksLU
from gnt.cmdlib.common import bdev_specs
from gnt.cmdlib.os_params import apply_os_changes, prepare_os_changes
from gnt.config.ssconf import compute_values
from gnt.objects import ConfigData
from gnt.objects.params import apply_update, check_params, upgrade_beparams
from gnt.opcodes.cluster import (
    OpClusterDestroy,
    OpClusterPostInit,
    OpClusterQuery,
    OpClusterRedistConf,
    OpClusterSetParams,
)

_MAC_PREFIX_RE = re.compile(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")


def cluster_info(cfg: ConfigData) -> dict[str, Any]:
    """Ganeti's ``OpClusterQuery`` result: cluster settings as a dict."""
    cl = cfg.cluster
    master = cfg.nodes.get(cl.master_node)
    return {
        "software_version": C.RELEASE_VERSION,
        "protocol_version": C.PROTOCOL_VERSION,
        "config_version": C.CONFIG_VERSION,
        "os_api_version": max(C.OS_API_VERSIONS),
        "export_version": 0,
        "vcs_version": f"gnt {C.RELEASE_VERSION}",
        "architecture": (platform.architecture()[0], platform.machine()),
        "name": cl.cluster_name,
        "master": master.name if master else None,
        "default_hypervisor": cl.default_hypervisor,
        "enabled_hypervisors": cl.enabled_hypervisors,
        "hvparams": {hv: {**hypervisor.defaults_for(hv), **cl.hvparams.get(hv, {})}
                     for hv in cl.enabled_hypervisors},
        "os_hvp": cl.os_hvp,
        "beparams": cl.beparams,
        "osparams": cl.osparams,
        "ipolicy": cl.ipolicy,
        "nicparams": cl.nicparams,
        "ndparams": cl.ndparams,
        "diskparams": cl.diskparams,
        "candidate_pool_size": cl.candidate_pool_size,
        "max_running_jobs": cl.max_running_jobs,
        "max_tracked_jobs": cl.max_tracked_jobs,
        "master_netdev": cl.master_netdev,
        "master_netmask": cl.master_netmask,
        "use_external_mip_script": False,
        "volume_group_name": cl.volume_group_name,
        "file_storage_dir": cl.file_storage_dir,
        "shared_file_storage_dir": cl.shared_file_storage_dir,
        "maintain_node_health": cl.maintain_node_health,
        "ctime": cl.ctime,
        "mtime": cl.mtime,
        "uuid": cl.uuid,
        "tags": sorted(cl.tags),
        "uid_pool": cl.uid_pool,
        "default_iallocator": cl.default_iallocator,
        "default_iallocator_params": cl.default_iallocator_params,
        "primary_ip_version": 4,
        "prealloc_wipe_disks": cl.prealloc_wipe_disks,
        "hidden_os": cl.hidden_os,
        "blacklisted_os": cl.blacklisted_os,
        "enabled_disk_templates": cl.enabled_disk_templates,
        "mac_prefix": cl.mac_prefix,
        "modify_etc_hosts": cl.modify_etc_hosts,
        "enabled_user_shutdown": cl.enabled_user_shutdown,
    }


class LUClusterPostInit(NoHooksLU):
    """Nothing to do beyond checking the master answers (hooks come later)."""

    OP = OpClusterPostInit
    HPATH = "cluster-init"
    HTYPE = C.HTYPE_CLUSTER

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.cluster_env(self.cfg)

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """No pre hooks; post hooks on the master."""
        return [], hooks.master_nodes(self.cfg)

    def exec(self, feedback: FeedbackFn) -> Any:
        master = self.cfg.master_node
        self.ctx.rpc.version([master.uuid])[master.uuid].raise_on_fail(
            f"Master node {master.name} does not answer")
        return True


class LUClusterQuery(NoHooksLU):
    """``gnt-cluster info``."""

    OP = OpClusterQuery
    REQ_BGL = False

    def exec(self, feedback: FeedbackFn) -> Any:
        return cluster_info(self.cfg)


class LUClusterRedistConf(NoHooksLU):
    """Push the config and ssconf files to every node again."""

    OP = OpClusterRedistConf
    REQ_BGL = False

    def expand_names(self) -> None:
        self.needed_locks[Level.NODE] = ALL_SET
        self.share_all()

    def exec(self, feedback: FeedbackFn) -> Any:
        """Full resync of every online node (config and job queue on candidates),
        then the ancillary files (RAPI certificate and users file, confd HMAC
        key, cluster domain secret), as Ganeti's redist-conf does."""
        replicator = self.ctx.extra.get("replicator")
        online = [n for n in self.cfg.nodes.values()
                  if not n.offline and n.uuid != self.cfg.cluster.master_node]
        failed_files = self._upload_ancillary_files([n.uuid for n in online])
        if replicator is None:  # no replication (embedded use): ssconf only
            online_uuids = [n.uuid for n in self.cfg.nodes.values() if not n.offline]
            results = self.ctx.rpc.write_ssconf_files(online_uuids, compute_values(self.cfg))
            failed = [u for u, r in results.items() if r.fail_msg]
        else:
            replicator.config_written(self.cfg, self.ctx.cfg.raw())
            failed = [n.uuid for n in online if not replicator.resync(n.uuid)]
        for uuid in failed:
            self.log_warning(f"Could not update node {self.cfg.get_node(uuid).name}; it will"
                             " be retried when it answers")
        for uuid, msg in failed_files.items():
            self.log_warning(f"Copy of the cluster files to node "
                             f"{self.cfg.get_node(uuid).name} failed: {msg}")
        return None

    def _upload_ancillary_files(self, node_uuids: list[str]) -> dict[str, str]:
        """Upload every ancillary file to ``node_uuids``; {node uuid: error}."""
        from gnt.cmdlib.node_add import cluster_files_payload

        failed: dict[str, str] = {}
        for name, (content, mode) in cluster_files_payload(ancillary_only=True).items():
            results = self.ctx.rpc.call_many(node_uuids, "upload_file", [name, content, mode])
            for uuid, res in results.items():
                if res.fail_msg:
                    failed.setdefault(uuid, f"{name}: {res.fail_msg}")
        return failed


class LUClusterDestroy(NoHooksLU):
    """Stop the instances and remove their disks (unless kept); the CLI then stops
    the daemons and removes the node's state.

    Refuses while other nodes are in the cluster (remove them first).
    """

    OP = OpClusterDestroy
    HPATH = "cluster-destroy"
    HTYPE = C.HTYPE_CLUSTER

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.cluster_env(self.cfg)

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """No pre hooks; post hooks on the master (its daemons still run then)."""
        return [], hooks.master_nodes(self.cfg)

    def expand_names(self) -> None:
        self.needed_locks[Level.INSTANCE] = ALL_SET
        self.needed_locks[Level.NODE] = ALL_SET

    def check_prereq(self) -> None:
        if len(self.cfg.nodes) > 1:
            raise errors.OpPrereqError(
                f"There are still {len(self.cfg.nodes) - 1} node(s) in this cluster.",
                errors.ECODE_STATE)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpClusterDestroy = self.op  # type: ignore[assignment]
        for inst in sorted(self.cfg.instances.values(), key=lambda i: i.name):
            feedback(f"Stopping instance {inst.name}")
            self.ctx.rpc.instance_shutdown(inst.primary_node, inst.hypervisor, inst.name, 0,
                                           True).raise_on_fail(
                f"Could not stop instance {inst.name}")
            if op.keep_instance_disks:
                feedback(f"Keeping the disks of instance {inst.name}")
            else:
                for spec in bdev_specs(self.cfg, inst):
                    self.ctx.rpc.blockdev_remove(inst.primary_node, spec).raise_on_fail(
                        f"Could not remove disk {spec.iv_name} of instance {inst.name}")
            self.ctx.cfg.remove_instance(inst.uuid)
        return self.cfg.master_node.uuid


class LUClusterSetParams(LogicalUnit):
    """``gnt-cluster modify``: parameters checked first, then applied in one write."""

    OP = OpClusterSetParams
    HPATH = "cluster-modify"
    HTYPE = C.HTYPE_CLUSTER

    def build_hooks_env(self) -> dict[str, Any]:
        return {**hooks.cluster_env(self.cfg), "NEW_VG_NAME": self.op.vg_name}  # type: ignore[attr-defined]

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = hooks.master_nodes(self.cfg)
        return nl, nl

    def expand_names(self) -> None:
        self.needed_locks[Level.NODE] = ALL_SET
        self.share_all()

    def check_prereq(self) -> None:
        op: OpClusterSetParams = self.op  # type: ignore[assignment]
        cl = self.cfg.cluster
        self.new_hvs = op.enabled_hypervisors or cl.enabled_hypervisors
        for hv in self.new_hvs:
            if hv not in C.HYPER_TYPES:
                raise errors.OpPrereqError(
                    f"Unknown hypervisor '{hv}'; allowed: {', '.join(C.HYPER_TYPES)}",
                    errors.ECODE_INVAL)
        if op.enabled_hypervisors is not None and not op.enabled_hypervisors:
            raise errors.OpPrereqError("At least one hypervisor must be enabled",
                                       errors.ECODE_INVAL)
        self.new_hvparams: dict[str, dict[str, Any]] = {}
        for hv, params in (op.hvparams or {}).items():
            checked = hypervisor.check_parameters(hv, params, allow_default=True)
            self.new_hvparams[hv] = apply_update(cl.hvparams.get(hv, {}), checked)
        self.new_beparams = None
        if op.beparams is not None:
            checked = check_params("backend", C.BES_PARAMETER_TYPES,
                                   upgrade_beparams(op.beparams), allow_default=True)
            self.new_beparams = apply_update(cl.beparams.get("default", {}), checked)
            for k in C.BEC_DEFAULTS:
                self.new_beparams.setdefault(k, C.BEC_DEFAULTS[k])
        self.new_nicparams = None
        if op.nicparams is not None:
            checked = check_params("NIC", C.NICS_PARAMETER_TYPES, op.nicparams,
                                   allow_default=True)
            self.new_nicparams = apply_update(cl.nicparams.get("default", {}), checked)
            mode = self.new_nicparams.get("mode", C.NIC_MODE_BRIDGED)
            if mode not in C.NIC_VALID_MODES:
                raise errors.OpPrereqError(f"Invalid NIC mode '{mode}'; allowed: "
                                           f"{', '.join(C.NIC_VALID_MODES)}",
                                           errors.ECODE_INVAL)
        self.new_ndparams = None
        if op.ndparams is not None:
            checked = check_params("node", C.NDS_PARAMETER_TYPES, op.ndparams,
                                   allow_default=True)
            self.new_ndparams = apply_update(cl.ndparams, checked)
        self.new_diskparams: dict[str, dict[str, Any]] = {}
        for dt, params in (op.diskparams or {}).items():
            if dt not in C.DISK_DT_TYPES:
                raise errors.OpPrereqError(f"Invalid disk template '{dt}' in disk "
                                           "parameters", errors.ECODE_INVAL)
            checked = check_params(f"{dt} disk", C.DISK_DT_TYPES[dt], params,
                                   allow_default=True)
            self.new_diskparams[dt] = apply_update(cl.diskparams.get(dt, {}), checked)
        if self.new_diskparams:  # no instance left with an access mode it cannot use
            disk_access.check_values(self.new_diskparams)
            disk_access.check_consistency(self.cfg, {**cl.diskparams, **self.new_diskparams})
        self.new_ipolicy = None
        if op.ipolicy:  # checked as Ganeti; instances newly out of policy: a warning
            self.new_ipolicy = ipolicy_mod.update_cluster_ipolicy(cl.ipolicy, op.ipolicy)
            warning = ipolicy_mod.policy_change_warning(
                ipolicy_mod.cluster_policy_change_violations(self.cfg, self.new_ipolicy))
            if warning:
                self.log_warning(warning)
        if op.enabled_disk_templates is not None:
            bad = [t for t in op.enabled_disk_templates if t not in C.DISK_TEMPLATES]
            if bad or not op.enabled_disk_templates:
                raise errors.OpPrereqError(
                    f"Invalid disk template(s) {', '.join(bad) or '(none given)'}; allowed: "
                    f"{', '.join(C.DISK_TEMPLATES)}", errors.ECODE_INVAL)
            in_use = {i.disk_template for i in self.cfg.instances.values()}
            missing = in_use - set(op.enabled_disk_templates)
            if missing:
                raise errors.OpPrereqError(
                    f"Cannot disable disk template(s) {', '.join(sorted(missing))}: "
                    "instances use them", errors.ECODE_STATE)
        if op.enabled_hypervisors is not None:
            in_use = {i.hypervisor for i in self.cfg.instances.values()}
            missing = in_use - set(op.enabled_hypervisors)
            if missing:
                raise errors.OpPrereqError(
                    f"Cannot disable hypervisor(s) {', '.join(sorted(missing))}: instances "
                    "use them", errors.ECODE_STATE)
        if op.mac_prefix is not None and not _MAC_PREFIX_RE.match(op.mac_prefix.lower()):
            raise errors.OpPrereqError(f"Invalid MAC prefix '{op.mac_prefix}'; expected "
                                       "three hex octets like aa:00:00", errors.ECODE_INVAL)
        for attr in ("candidate_pool_size", "max_running_jobs", "max_tracked_jobs"):
            value = getattr(op, attr)
            if value is not None and value < 1:
                raise errors.OpPrereqError(f"Invalid {attr} {value}: must be at least 1",
                                           errors.ECODE_INVAL)
        # OS settings (gnt-os modify): os_hvp, osparams, hidden/blacklisted OS lists
        self.os_changes = prepare_os_changes(self, op.os_hvp, op.osparams, op.hidden_os,
                                             op.blacklisted_os)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpClusterSetParams = self.op  # type: ignore[assignment]
        cl = self.cfg.cluster
        with self.ctx.cfg.lock:
            if op.enabled_hypervisors is not None:
                cl.enabled_hypervisors = list(op.enabled_hypervisors)
            for hv, params in self.new_hvparams.items():
                cl.hvparams = {**cl.hvparams, hv: params}
            if self.new_beparams is not None:
                cl.beparams = {**cl.beparams, "default": self.new_beparams}
            if self.new_nicparams is not None:
                cl.nicparams = {**cl.nicparams, "default": self.new_nicparams}
            if self.new_ndparams is not None:
                cl.ndparams = self.new_ndparams
            for dt, params in self.new_diskparams.items():
                cl.diskparams = {**cl.diskparams, dt: params}
            if op.enabled_disk_templates is not None:
                cl.enabled_disk_templates = list(op.enabled_disk_templates)
            if self.new_ipolicy is not None:
                cl.ipolicy = self.new_ipolicy
            for attr in ("candidate_pool_size", "max_running_jobs", "max_tracked_jobs",
                         "master_netdev", "file_storage_dir", "shared_file_storage_dir",
                         "default_iallocator", "maintain_node_health",
                         "prealloc_wipe_disks", "modify_etc_hosts"):
                value = getattr(op, attr)
                if value is not None:
                    setattr(cl, attr, value)
            if op.mac_prefix is not None:
                cl.mac_prefix = op.mac_prefix.lower()
            if op.vg_name is not None:
                cl.volume_group_name = op.vg_name or None
            apply_os_changes(cl, self.os_changes, feedback)
            self.ctx.cfg.update(cl)
        if op.max_running_jobs is not None and self.ctx.queue is not None:
            self.ctx.queue.set_max_running(op.max_running_jobs)
        return None
