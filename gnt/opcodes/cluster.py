"""Cluster opcodes."""

from __future__ import annotations

from typing import Any

from gnt.opcodes.base import OpCode


class OpClusterPostInit(OpCode):
    """Run after ``gnt-cluster init``: post-init checks and hooks."""

    OP_ID = "OP_CLUSTER_POST_INIT"


class OpClusterDestroy(OpCode):
    """Destroy the cluster: stop every instance and remove its disks (or, with
    ``keep_instance_disks``, leave the disks in place) before the state goes."""

    OP_ID = "OP_CLUSTER_DESTROY"
    keep_instance_disks: bool = False


class OpClusterQuery(OpCode):
    """Cluster information (``gnt-cluster info``)."""

    OP_ID = "OP_CLUSTER_QUERY"


class OpClusterVerifyConfig(OpCode):
    """Verify the configuration's internal consistency."""

    OP_ID = "OP_CLUSTER_VERIFY_CONFIG"
    verbose: bool = False
    error_codes: bool = False
    debug_simulate_errors: bool = False
    ignore_errors: list[str] = []


class OpClusterVerifyGroup(OpCode):
    """Verify the nodes and instances of one node group."""

    OP_ID = "OP_CLUSTER_VERIFY_GROUP"
    OP_DSC_FIELD = "group_name"
    group_name: str
    verbose: bool = False
    error_codes: bool = False
    debug_simulate_errors: bool = False
    ignore_errors: list[str] = []
    skip_checks: list[str] = []


class OpClusterVerify(OpCode):
    """Submit the verification jobs (config, then one per group)."""

    OP_ID = "OP_CLUSTER_VERIFY"
    group_name: str | None = None
    verbose: bool = False
    error_codes: bool = False
    debug_simulate_errors: bool = False
    ignore_errors: list[str] = []
    skip_checks: list[str] = []


class OpClusterSetParams(OpCode):
    """Change cluster parameters (``gnt-cluster modify``).

    ``hvparams``: hypervisor -> params; ``beparams``/``nicparams``/``ndparams``:
    params; ``diskparams``: template -> params; ``osparams``: OS -> params;
    ``os_hvp``: OS -> hypervisor -> params.  A value of ``"default"`` removes an
    override where Ganeti allows it.
    """

    OP_ID = "OP_CLUSTER_SET_PARAMS"
    vg_name: str | None = None
    enabled_hypervisors: list[str] | None = None
    hvparams: dict[str, dict[str, Any]] | None = None
    beparams: dict[str, Any] | None = None
    os_hvp: dict[str, dict[str, dict[str, Any] | None]] | None = None
    osparams: dict[str, dict[str, Any]] | None = None
    nicparams: dict[str, Any] | None = None
    ndparams: dict[str, Any] | None = None
    diskparams: dict[str, dict[str, Any]] | None = None
    ipolicy: dict[str, Any] | None = None
    candidate_pool_size: int | None = None
    max_running_jobs: int | None = None
    max_tracked_jobs: int | None = None
    mac_prefix: str | None = None
    master_netdev: str | None = None
    file_storage_dir: str | None = None
    shared_file_storage_dir: str | None = None
    enabled_disk_templates: list[str] | None = None
    default_iallocator: str | None = None
    hidden_os: list[list[str]] | None = None
    blacklisted_os: list[list[str]] | None = None
    maintain_node_health: bool | None = None
    prealloc_wipe_disks: bool | None = None
    modify_etc_hosts: bool | None = None
    force: bool = False


class OpClusterRedistConf(OpCode):
    """Push the config and ssconf to every node again."""

    OP_ID = "OP_CLUSTER_REDIST_CONF"


class OpClusterRenewCrypto(OpCode):
    """Renew the cluster's crypto material on every node.

    Ganeti's parameters are ``node_certificates`` and ``ssh_keys``; gnt
    adds the pieces Ganeti's CLI renews by copying files over SSH:
    ``new_cluster_certificate``, ``new_rapi_certificate`` or
    ``rapi_certificate`` (a PEM key + certificate), ``new_confd_hmac_key``,
    ``new_cluster_domain_secret`` or ``cluster_domain_secret``.  gnt's node
    daemons authenticate with the cluster certificate, so
    ``node_certificates`` renews it too.
    """

    OP_ID = "OP_CLUSTER_RENEW_CRYPTO"
    node_certificates: bool = False
    ssh_keys: bool = False
    ssh_key_type: str | None = None
    ssh_key_bits: int | None = None
    verbose: bool = False
    debug: bool = False
    new_cluster_certificate: bool = False
    new_rapi_certificate: bool = False
    rapi_certificate: str | None = None
    new_confd_hmac_key: bool = False
    new_cluster_domain_secret: bool = False
    cluster_domain_secret: str | None = None
