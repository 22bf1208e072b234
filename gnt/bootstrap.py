"""Cluster bootstrap: ``gnt-cluster init`` and the final part of ``destroy``.

Init runs locally on the future master (there is no master daemon yet):
every parameter is checked first, then the crypto files, ``config.data``
(atomically) and ssconf are written and the daemons started.  If a step
after the first write fails, what was written is removed again.
"""

from __future__ import annotations

import copy
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt import daemon_util, errors, hypervisor, netutils, paths
from gnt.config import write_config_file
from gnt.config.ssconf import compute_values
from gnt.crypto.cluster import generate_cluster_crypto
from gnt.storage.file import allow_file_storage_paths
from gnt.objects import Cluster, ConfigData, Node, NodeGroup
from gnt.objects.params import check_params, upgrade_beparams
from gnt.utils.io import atomic_write

log = logging.getLogger(__name__)

_MAC_PREFIX_RE = re.compile(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")


@dataclass
class InitParams:
    """Everything ``gnt-cluster init`` accepts (Ganeti's option names)."""

    cluster_name: str
    enabled_hypervisors: list[str] = field(default_factory=lambda: [C.HT_KVM])
    hvparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    beparams: dict[str, Any] = field(default_factory=dict)
    nicparams: dict[str, Any] = field(default_factory=dict)
    ndparams: dict[str, Any] = field(default_factory=dict)
    diskparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    enabled_disk_templates: list[str] | None = None
    file_storage_dir: str | None = None
    shared_file_storage_dir: str | None = None
    mac_prefix: str = C.DEFAULT_MAC_PREFIX
    master_netdev: str = C.DEFAULT_MASTER_NETDEV
    master_netmask: int | None = None
    vg_name: str | None = None
    candidate_pool_size: int = C.DEFAULT_CANDIDATE_POOL_SIZE
    secondary_ip: str | None = None
    modify_etc_hosts: bool = True
    modify_ssh_setup: bool = True
    maintain_node_health: bool = False
    default_iallocator: str = ""
    #: instance policy changes over the defaults (``--ipolicy-*``), checked as
    #: ``gnt-cluster modify`` checks them
    ipolicy: dict[str, Any] | None = None


def _check(params: InitParams) -> tuple[dict[str, dict[str, Any]], dict[str, Any],
                                        dict[str, Any], dict[str, Any]]:
    if not params.enabled_hypervisors:
        raise errors.OpPrereqError("At least one hypervisor must be enabled",
                                   errors.ECODE_INVAL)
    for hv in params.enabled_hypervisors:
        if hv not in C.HYPER_TYPES:
            raise errors.OpPrereqError(f"Unknown hypervisor '{hv}'; allowed: "
                                       f"{', '.join(C.HYPER_TYPES)}", errors.ECODE_INVAL)
    hvparams = {}
    for hv, p in params.hvparams.items():
        if hv not in params.enabled_hypervisors:
            raise errors.OpPrereqError(f"Hypervisor parameters given for '{hv}', which is "
                                       "not enabled", errors.ECODE_INVAL)
        hvparams[hv] = hypervisor.check_parameters(hv, p)
    bep = {**C.BEC_DEFAULTS, **check_params("backend", C.BES_PARAMETER_TYPES,
                                             upgrade_beparams(params.beparams))}
    nicp = {**C.NICC_DEFAULTS, **check_params("NIC", C.NICS_PARAMETER_TYPES,
                                               params.nicparams)}
    if nicp["mode"] not in C.NIC_VALID_MODES:
        raise errors.OpPrereqError(f"Invalid NIC mode '{nicp['mode']}'; allowed: "
                                   f"{', '.join(C.NIC_VALID_MODES)}", errors.ECODE_INVAL)
    ndp = {**C.NDC_DEFAULTS, **check_params("node", C.NDS_PARAMETER_TYPES, params.ndparams)}
    templates = params.enabled_disk_templates or [C.DT_FILE, C.DT_DISKLESS]
    bad = [t for t in templates if t not in C.DISK_TEMPLATES]
    if bad:
        raise errors.OpPrereqError(f"Invalid disk template(s) {', '.join(bad)}; allowed: "
                                   f"{', '.join(C.DISK_TEMPLATES)}", errors.ECODE_INVAL)
    if not _MAC_PREFIX_RE.match(params.mac_prefix.lower()):
        raise errors.OpPrereqError(f"Invalid MAC prefix '{params.mac_prefix}'; expected three"
                                   " hex octets like aa:00:00", errors.ECODE_INVAL)
    for d in (params.file_storage_dir, params.shared_file_storage_dir):
        if d is not None and not d.startswith("/"):
            raise errors.OpPrereqError(f"The file storage directory '{d}' must be an "
                                       "absolute path", errors.ECODE_INVAL)
    return hvparams, bep, nicp, ndp


def init_cluster(params: InitParams) -> ConfigData:
    """Create a new cluster with this node as master and start its daemons.

    Raises :class:`errors.OpPrereqError` for bad parameters or an existing
    cluster, :class:`errors.ResolverError` when names do not resolve.
    """
    p = paths.get()
    if p.cluster_conf_file.exists():
        raise errors.OpPrereqError("Cluster is already initialised (config.data exists)",
                                   errors.ECODE_STATE)
    hvparams, bep, nicp, ndp = _check(params)
    ipolicy = copy.deepcopy(C.IPOLICY_DEFAULTS)
    if params.ipolicy:
        from gnt.cmdlib.ipolicy import update_cluster_ipolicy

        ipolicy = update_cluster_ipolicy(ipolicy, params.ipolicy)
    me = netutils.my_host()
    cluster_host = netutils.resolve(params.cluster_name)
    file_dir = params.file_storage_dir or "/srv/ganeti/file-storage"
    shared_dir = params.shared_file_storage_dir or "/srv/ganeti/shared-file-storage"

    for d in (p.data_dir, p.run_dir, p.log_dir, p.socket_dir, p.queue_dir, p.os_log_dir,
              p.hooks_dir):
        d.mkdir(parents=True, exist_ok=True)
    created_crypto: list[Any] = []
    try:
        created_crypto = generate_cluster_crypto(common_name=cluster_host.name)
        allow_file_storage_paths([file_dir, shared_dir])
        p.under_root(file_dir).mkdir(parents=True, exist_ok=True)

        group = NodeGroup(name="default")
        node = Node(name=me.name, primary_ip=me.ip, secondary_ip=params.secondary_ip or me.ip,
                    master_candidate=True, group=group.uuid)
        templates = params.enabled_disk_templates or [C.DT_FILE, C.DT_DISKLESS]
        diskparams = {dt: {**C.DISK_DT_DEFAULTS.get(dt, {}), **v}
                      for dt, v in C.DISK_DT_DEFAULTS.items()}
        for dt, v in params.diskparams.items():
            diskparams[dt] = {**diskparams.get(dt, {}),
                              **check_params(f"{dt} disk", C.DISK_DT_TYPES.get(dt, {}), v)}
        cluster = Cluster(
            cluster_name=cluster_host.name, master_node=node.uuid, master_ip=cluster_host.ip,
            master_netdev=params.master_netdev, master_netmask=params.master_netmask or 32,
            mac_prefix=params.mac_prefix.lower(), volume_group_name=params.vg_name,
            file_storage_dir=file_dir, shared_file_storage_dir=shared_dir,
            enabled_hypervisors=list(params.enabled_hypervisors), hvparams=hvparams,
            beparams={"default": bep}, nicparams={"default": nicp}, ndparams=ndp,
            diskparams=diskparams, enabled_disk_templates=list(templates),
            candidate_pool_size=params.candidate_pool_size,
            modify_etc_hosts=params.modify_etc_hosts,
            modify_ssh_setup=params.modify_ssh_setup,
            maintain_node_health=params.maintain_node_health,
            default_iallocator=params.default_iallocator, ipolicy=ipolicy)
        data = ConfigData(cluster=cluster, nodes={node.uuid: node},
                          nodegroups={group.uuid: group})
        write_config_file(data)
        for key, value in compute_values(data).items():
            atomic_write(p.ssconf_file(key), value + "\n")
        daemon_util.start(daemon_util.NODED)
        daemon_util.start_master()
    except BaseException:
        log.debug("Cluster init failed, cleaning up", exc_info=True)
        for daemon in (daemon_util.RAPI, daemon_util.MASTERD, daemon_util.NODED):
            try:
                daemon_util.stop(daemon, timeout=10)
            except errors.GntError:
                pass
        p.cluster_conf_file.unlink(missing_ok=True)
        for f in p.data_dir.glob("ssconf_*"):
            f.unlink(missing_ok=True)
        for f in created_crypto:
            f.unlink(missing_ok=True)
        raise
    return data


def finalize_destroy(keep_job_history: bool = False) -> None:
    """Stop the daemons and remove this node's cluster state (after OpClusterDestroy).

    With ``keep_job_history`` the job queue is moved aside instead of removed.
    """
    p = paths.get()
    daemon_util.stop_all()
    for f in [p.cluster_conf_file, p.noded_cert_file, p.noded_client_cert_file,
              p.rapi_cert_file, p.confd_hmac_key, p.cluster_domain_secret_file,
              *p.data_dir.glob("ssconf_*")]:
        f.unlink(missing_ok=True)
    if p.queue_dir.exists():
        if keep_job_history:
            shutil.move(str(p.queue_dir), str(p.data_dir / f"queue-{int(time.time())}"))
        else:
            shutil.rmtree(p.queue_dir)
