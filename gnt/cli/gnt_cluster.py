"""``gnt-cluster``: create, inspect, change, verify and destroy the cluster."""

from __future__ import annotations

import argparse
import time
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cli import cluster_ipolicy
from gnt.cli import options as O
from gnt.cli.base import ARGS_NONE, ARGS_ONE, Command, get_client, run
from gnt.cli.jobs import poll_job, submit_opcode
from gnt.cli.lazy import CommandTable, lazy_module, lazy_tag_commands
from gnt.cli.output import format_generic_info, to_stdout

# imported on first use: a subcommand loads only the modules it needs
ops = lazy_module("gnt.opcodes.cluster")
bootstrap = lazy_module("gnt.bootstrap")
ssconf = lazy_module("gnt.config.ssconf")
cluster_crypto = lazy_module("gnt.cli.cluster_crypto")
cluster_master = lazy_module("gnt.cli.cluster_master")

ENABLED_HV_OPT = O.Option("--enabled-hypervisors", dest="enabled_hypervisors", default=None,
                          type=O.TYPE_LIST, metavar="<hvlist>",
                          help="Comma-separated list of hypervisors")
ENABLED_DT_OPT = O.Option("--enabled-disk-templates", dest="enabled_disk_templates",
                          default=None, type=O.TYPE_LIST, metavar="<templates>",
                          help="Comma-separated list of disk templates")
FILE_DIR_OPT = O.Option("--file-storage-dir", dest="file_storage_dir", default=None,
                        metavar="<dir>", help="Specify the default directory (cluster-wide)"
                        " for storing the file-based disks")
SHARED_FILE_DIR_OPT = O.Option("--shared-file-storage-dir", dest="shared_file_storage_dir",
                               default=None, metavar="<dir>",
                               help="Specify the default directory (cluster-wide) for "
                               "storing the shared file-based disks")
MAC_PREFIX_OPT = O.Option("-m", "--mac-prefix", dest="mac_prefix", default=None,
                          metavar="<macprefix>", help="Specify the mac prefix for the"
                          " instance IP addresses, in the format XX:XX:XX")
MASTER_NETDEV_OPT = O.Option("--master-netdev", dest="master_netdev", default=None,
                             metavar="<netdev>", help="Specify the node interface (cluster-"
                             "wide) on which the master IP address will be added")
MASTER_NETMASK_OPT = O.Option("--master-netmask", dest="master_netmask", default=None,
                              type=int, metavar="<netmask>",
                              help="Specify the netmask of the master IP")
VG_NAME_OPT = O.Option("--vg-name", dest="vg_name", default=None, metavar="VG",
                       help="Specifies the volume group name")
NO_ETC_HOSTS_OPT = O.Option("--no-etc-hosts", dest="modify_etc_hosts", default=True,
                            action="store_false", help="Don't modify /etc/hosts")
NO_SSH_INIT_OPT = O.Option("--no-ssh-init", dest="modify_ssh_setup", default=True,
                           action="store_false",
                           help="Don't initialize SSH keys (gnt does not need SSH)")
SECONDARY_IP_OPT = O.Option("-s", "--secondary-ip", dest="secondary_ip", default=None,
                            metavar="ADDRESS", help="Specify the secondary ip for this node")
CP_SIZE_OPT = O.Option("-C", "--candidate-pool-size", dest="candidate_pool_size",
                       default=None, type=int, help="Set the candidate pool size")
MAX_RUNNING_OPT = O.Option("--max-running-jobs", dest="max_running_jobs", default=None,
                           type=int, help="The maximum number of jobs running at once")
MAX_TRACKED_OPT = O.Option("--max-tracked-jobs", dest="max_tracked_jobs", default=None,
                           type=int, help="The maximum number of jobs tracked at once")
DEFAULT_IALLOC_OPT = O.Option("-I", "--default-iallocator", dest="default_iallocator",
                              default=None, metavar="<NAME>",
                              help="Set the default instance allocator plugin")
MAINTAIN_HEALTH_OPT = O.Option("--maintain-node-health", dest="maintain_node_health",
                               default=None, type=O.TYPE_BOOL, metavar="yes|no",
                               help="Configure the cluster to automatically maintain node"
                               " health, by shutting down unknown instances")
ERROR_CODES_OPT = O.Option("--error-codes", dest="error_codes", default=False,
                           action="store_true", help="Enable parseable error messages")
IGNORE_ERRORS_OPT = O.Option("-I", "--ignore-errors", dest="ignore_errors", default=[],
                             action="append", help="Ignore errors of this type")
SIM_ERRORS_OPT = O.Option("--debug-simulate-errors", dest="simulate_errors", default=False,
                          action="store_true", help="Debugging option that makes the "
                          "operation treat most runtime checks as failed")
NODEGROUP_OPT = O.Option("-g", "--node-group", dest="nodegroup", default=None,
                         help="Node group (name or uuid)")
KEEP_DISKS_OPT = O.Option("--keep-instance-disks", dest="keep_instance_disks", default=False,
                          action="store_true", help="Stop the instances but leave their disks"
                          " (files, volumes) in place")
KEEP_QUEUE_OPT = O.Option("--keep-job-history", dest="keep_job_history", default=False,
                          action="store_true", help="Keep the job queue files (moved aside)")


def _hvparams(opts: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for hv, params in opts.hvparams or []:
        out.setdefault(hv, {}).update(params or {})
    return out


def _diskparams(opts: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for dt, params in opts.diskparams or []:
        out.setdefault(dt, {}).update(params or {})
    return out


def init_cluster(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-cluster init``: create the cluster with this node as master."""
    params = bootstrap.InitParams(
        cluster_name=args[0],
        enabled_hypervisors=opts.enabled_hypervisors or [C.HT_KVM],
        hvparams=_hvparams(opts), beparams=opts.beparams, nicparams=opts.nicparams,
        ndparams=opts.ndparams or {}, diskparams=_diskparams(opts),
        enabled_disk_templates=opts.enabled_disk_templates,
        file_storage_dir=opts.file_storage_dir,
        shared_file_storage_dir=opts.shared_file_storage_dir,
        mac_prefix=opts.mac_prefix or C.DEFAULT_MAC_PREFIX,
        master_netdev=opts.master_netdev or C.DEFAULT_MASTER_NETDEV,
        master_netmask=opts.master_netmask, vg_name=opts.vg_name,
        candidate_pool_size=opts.candidate_pool_size or C.DEFAULT_CANDIDATE_POOL_SIZE,
        secondary_ip=opts.secondary_ip, modify_etc_hosts=opts.modify_etc_hosts,
        modify_ssh_setup=opts.modify_ssh_setup,
        maintain_node_health=bool(opts.maintain_node_health),
        default_iallocator=opts.default_iallocator or "",
        ipolicy=cluster_ipolicy.cluster_ipolicy_from_opts(opts) or None)
    bootstrap.init_cluster(params)
    submit_opcode(get_client(), ops.OpClusterPostInit(), opts)
    return 0


def destroy_cluster(opts: argparse.Namespace, args: list[str]) -> int:
    if not opts.yes_do_it:
        to_stdout("Destroying a cluster is irreversible. If you really want to destroy"
                  " this cluster, supply the --yes-do-it option.")
        return 1
    submit_opcode(get_client(), ops.OpClusterDestroy(
        keep_instance_disks=opts.keep_instance_disks), opts)
    bootstrap.finalize_destroy(keep_job_history=opts.keep_job_history)
    return 0


def get_master(opts: argparse.Namespace, args: list[str]) -> int:
    master = ssconf.master_node()
    if master is None:
        raise errors.OpPrereqError("Cannot determine the master: this node is not part of a"
                                   " cluster", errors.ECODE_ENVIRON)
    to_stdout("%s", master)
    return 0


def show_version(opts: argparse.Namespace, args: list[str]) -> int:
    info = get_client().query_cluster_info()
    to_stdout("Software version: %s", info["software_version"])
    to_stdout("Internode protocol: %s", info["protocol_version"])
    to_stdout("Configuration format: %s", info["config_version"])
    to_stdout("OS api version: %s", info["os_api_version"])
    to_stdout("Export interface: %s", info["export_version"])
    to_stdout("VCS version: %s", info["vcs_version"])
    return 0


def _ts(value: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _params(d: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, d[k]) for k in sorted(d)]


def show_info(opts: argparse.Namespace, args: list[str]) -> int:
    info = get_client().query_cluster_info()
    ip = info["ipolicy"]
    data: list[Any] = [
        ("Cluster name", info["name"]),
        ("Cluster UUID", info["uuid"]),
        ("Creation time", _ts(info["ctime"])),
        ("Modification time", _ts(info["mtime"])),
        ("Master node", info["master"]),
        ("Architecture (this node)", f"{info['architecture'][0]} ({info['architecture'][1]})"),
        ("Tags", ", ".join(info["tags"]) or "(none)"),
        ("Default hypervisor", info["default_hypervisor"]),
        ("Enabled hypervisors", ", ".join(info["enabled_hypervisors"])),
        ("Hypervisor parameters", [(hv, _params(p)) for hv, p in
                                   sorted(info["hvparams"].items())]),
        ("OS-specific hypervisor parameters", [(os_, hvs) for os_, hvs in
                                               sorted(info["os_hvp"].items())]),
        ("OS parameters", [(os_, p) for os_, p in sorted(info["osparams"].items())]),
        ("Hidden OSes", ", ".join(info["hidden_os"])),
        ("Blacklisted OSes", ", ".join(info["blacklisted_os"])),
        ("Cluster parameters", [
            ("candidate pool size", info["candidate_pool_size"]),
            ("maximal number of jobs running simultaneously", info["max_running_jobs"]),
            ("maximal number of jobs simultaneously tracked by the scheduler",
             info["max_tracked_jobs"]),
            ("master netdev", info["master_netdev"]),
            ("master netmask", info["master_netmask"]),
            ("use external master IP address setup script",
             info["use_external_mip_script"]),
            ("lvm volume group", info["volume_group_name"]),
            ("file storage path", info["file_storage_dir"]),
            ("shared file storage path", info["shared_file_storage_dir"]),
            ("maintenance of node health", info["maintain_node_health"]),
            ("uid pool", ", ".join(str(u) for u in info["uid_pool"])),
            ("default instance allocator", info["default_iallocator"]),
            ("primary ip version", info["primary_ip_version"]),
            ("preallocation wipe disks", info["prealloc_wipe_disks"]),
            ("MAC prefix", info["mac_prefix"]),
            ("enabled disk templates", ", ".join(info["enabled_disk_templates"])),
        ]),
        ("Default node parameters", _params(info["ndparams"])),
        ("Default instance parameters", [(k, _params(v)) for k, v in
                                         sorted(info["beparams"].items())]),
        ("Default nic parameters", [(k, _params(v)) for k, v in
                                    sorted(info["nicparams"].items())]),
        ("Default disk parameters", [(k, _params(v)) for k, v in
                                     sorted(info["diskparams"].items())]),
        cluster_ipolicy.policy_section(ip),
    ]
    to_stdout(format_generic_info(data))
    return 0


def modify_cluster(opts: argparse.Namespace, args: list[str]) -> int:
    hvparams = _hvparams(opts)
    changes: dict[str, Any] = dict(
        enabled_hypervisors=opts.enabled_hypervisors, hvparams=hvparams or None,
        beparams=opts.beparams or None, nicparams=opts.nicparams or None,
        ndparams=opts.ndparams, diskparams=_diskparams(opts) or None,
        enabled_disk_templates=opts.enabled_disk_templates,
        candidate_pool_size=opts.candidate_pool_size, max_running_jobs=opts.max_running_jobs,
        max_tracked_jobs=opts.max_tracked_jobs, mac_prefix=opts.mac_prefix,
        master_netdev=opts.master_netdev, file_storage_dir=opts.file_storage_dir,
        shared_file_storage_dir=opts.shared_file_storage_dir,
        default_iallocator=opts.default_iallocator, vg_name=opts.vg_name,
        maintain_node_health=opts.maintain_node_health,
        ipolicy=cluster_ipolicy.cluster_ipolicy_from_opts(opts) or None)
    if all(v is None for v in changes.values()):
        to_stdout("Please give at least one of the parameters.")
        return 1
    submit_opcode(get_client(), ops.OpClusterSetParams(
        **{k: v for k, v in changes.items() if v is not None}), opts)
    return 0


def verify_cluster(opts: argparse.Namespace, args: list[str]) -> int:
    """Submit OpClusterVerify, then follow the jobs it created; non-zero on errors."""
    client = get_client()
    # the opcode as its dict: the master validates it, this command need not
    # load the opcode models (pydantic) to send it
    result = submit_opcode(client, {
        "OP_ID": "OP_CLUSTER_VERIFY", "verbose": opts.verbose,
        "error_codes": opts.error_codes, "debug_simulate_errors": opts.simulate_errors,
        "ignore_errors": list(opts.ignore_errors or []), "group_name": opts.nodegroup}, opts)
    bad = False
    for ok, job_id in result["jobs"]:
        if not ok:
            to_stdout("Job submission failed: %s", job_id)
            bad = True
            continue
        try:
            res = poll_job(client, int(job_id))
        except errors.GntError as err:
            to_stdout("Job %s failed: %s", job_id, err)
            bad = True
            continue
        if not all(res):
            bad = True
    return 1 if bad else 0


def redist_conf(opts: argparse.Namespace, args: list[str]) -> int:
    submit_opcode(get_client(), ops.OpClusterRedistConf(), opts)
    return 0


COMMANDS = CommandTable({
    "init": Command(init_cluster, ARGS_ONE, [
        O.BACKEND_OPT, CP_SIZE_OPT, ENABLED_DT_OPT, ENABLED_HV_OPT, O.HVLIST_OPT,
        O.NIC_PARAMS_OPT, O.DISK_PARAMS_OPT, O.NODE_PARAMS_OPT, MAC_PREFIX_OPT,
        MASTER_NETDEV_OPT, MASTER_NETMASK_OPT, SECONDARY_IP_OPT, VG_NAME_OPT,
        NO_ETC_HOSTS_OPT, NO_SSH_INIT_OPT, FILE_DIR_OPT, SHARED_FILE_DIR_OPT,
        DEFAULT_IALLOC_OPT, MAINTAIN_HEALTH_OPT, *cluster_ipolicy.CLUSTER_POLICY_OPTS],
        "[opts...] <cluster_name>",
        "Initialises a new cluster configuration"),
    "destroy": Command(destroy_cluster, ARGS_NONE, [O.YES_DOIT_OPT, KEEP_DISKS_OPT, KEEP_QUEUE_OPT], "",
                       "Destroy cluster"),
    "getmaster": Command(get_master, ARGS_NONE, [], "", "Display the master node"),
    "version": Command(show_version, ARGS_NONE, [], "", "Show the cluster software version"),
    "info": Command(show_info, ARGS_NONE, [O.Option("--roman", dest="roman", default=False,
                                                    action="store_true",
                                                    help="Use roman numbers")],
                    "[--roman]", "Show cluster configuration", aliases=("show",)),
    "modify": Command(modify_cluster, ARGS_NONE, [
        O.BACKEND_OPT, CP_SIZE_OPT, ENABLED_DT_OPT, ENABLED_HV_OPT, O.HVLIST_OPT,
        O.NIC_PARAMS_OPT, O.DISK_PARAMS_OPT, O.NODE_PARAMS_OPT, MAC_PREFIX_OPT,
        MASTER_NETDEV_OPT, VG_NAME_OPT, FILE_DIR_OPT, SHARED_FILE_DIR_OPT, MAX_RUNNING_OPT,
        MAX_TRACKED_OPT, DEFAULT_IALLOC_OPT, MAINTAIN_HEALTH_OPT, O.FORCE_OPT,
        *cluster_ipolicy.CLUSTER_POLICY_OPTS, *O.JOB_OPTS], "[opts...]",
        "Alters the parameters of the cluster"),
    "verify": Command(verify_cluster, ARGS_NONE, [
        O.VERBOSE_OPT, ERROR_CODES_OPT, IGNORE_ERRORS_OPT, SIM_ERRORS_OPT, NODEGROUP_OPT,
        O.DRY_RUN_OPT, O.PRIORITY_OPT], "", "Forces a verification of the cluster"),
    "redist-conf": Command(redist_conf, ARGS_NONE, [*O.JOB_OPTS], "",
                           "Forces a push of the configuration file and ssconf files to the"
                           " nodes in the cluster"),
})
COMMANDS.update(cluster_master.COMMANDS)
COMMANDS.update(cluster_crypto.COMMANDS)
COMMANDS.update(lazy_tag_commands(C.TAG_CLUSTER))


def main(argv: list[str] | None = None) -> int:
    return run("gnt-cluster", COMMANDS, argv, aliases={"masterfailover": "master-failover"})


if __name__ == "__main__":
    raise SystemExit(main())
