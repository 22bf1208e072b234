"""The cluster object."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field

from gnt import constants as C
from gnt.objects.base import TimestampedObject


def _default_beparams() -> dict[str, dict[str, Any]]:
    return {"default": dict(C.BEC_DEFAULTS)}


def _default_nicparams() -> dict[str, dict[str, Any]]:
    return {"default": dict(C.NICC_DEFAULTS)}


class Cluster(TimestampedObject):
    """Cluster-wide settings and the default of every parameter family.

    ``hvparams`` maps hypervisor -> params; ``beparams``/``nicparams`` map
    ``"default"`` -> params (Ganeti's shape); ``osparams`` maps OS name ->
    params; ``os_hvp`` maps OS name -> hypervisor -> params; ``diskparams``
    maps disk template -> params.
    """

    cluster_name: str
    master_node: str
    master_ip: str
    master_netdev: str = C.DEFAULT_MASTER_NETDEV
    master_netmask: int = 32
    mac_prefix: str = C.DEFAULT_MAC_PREFIX
    volume_group_name: str | None = None
    file_storage_dir: str = "/srv/ganeti/file-storage"
    shared_file_storage_dir: str = "/srv/ganeti/shared-file-storage"
    enabled_hypervisors: list[str] = Field(default_factory=lambda: [C.HT_KVM])
    hvparams: dict[str, dict[str, Any]] = Field(default_factory=dict)
    os_hvp: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    beparams: dict[str, dict[str, Any]] = Field(default_factory=_default_beparams)
    nicparams: dict[str, dict[str, Any]] = Field(default_factory=_default_nicparams)
    ndparams: dict[str, Any] = Field(default_factory=lambda: dict(C.NDC_DEFAULTS))
    diskparams: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: copy.deepcopy(C.DISK_DT_DEFAULTS))
    osparams: dict[str, dict[str, Any]] = Field(default_factory=dict)
    osparams_private_cluster: dict[str, dict[str, Any]] = Field(default_factory=dict)
    ipolicy: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(C.IPOLICY_DEFAULTS))
    enabled_disk_templates: list[str] = Field(
        default_factory=lambda: [C.DT_FILE, C.DT_DISKLESS])
    candidate_pool_size: int = C.DEFAULT_CANDIDATE_POOL_SIZE
    tcpudp_port_pool: list[int] = Field(default_factory=list)
    hidden_os: list[str] = Field(default_factory=list)
    blacklisted_os: list[str] = Field(default_factory=list)
    default_iallocator: str = ""
    default_iallocator_params: dict[str, Any] = Field(default_factory=dict)
    max_running_jobs: int = C.DEFAULT_MAX_RUNNING_JOBS
    max_tracked_jobs: int = C.DEFAULT_MAX_TRACKED_JOBS
    maintain_node_health: bool = False
    modify_etc_hosts: bool = True
    modify_ssh_setup: bool = True
    prealloc_wipe_disks: bool = False
    primary_ip_family: int = 2
    uid_pool: list[Any] = Field(default_factory=list)
    enabled_user_shutdown: bool = False
    # volatile state of the console/VNC port pool is in instances' network_port

    @property
    def default_hypervisor(self) -> str:
        """The first enabled hypervisor, as Ganeti."""
        return self.enabled_hypervisors[0]
