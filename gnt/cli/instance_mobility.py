"""``gnt-instance migrate``, ``failover``, ``move`` and ``change-group``."""

from __future__ import annotations

import argparse

from gnt import errors
from gnt.cli import mobility_opts as M
from gnt.cli import options as O
from gnt.cli.base import ARGS_ONE_INSTANCE, Command, get_client
from gnt.cli.confirm import ask_user
from gnt.cli.jobs import JobExecutor, submit_opcode
from gnt.cli.output import to_stdout

# The opcodes go as their JSON form ({"OP_ID": ..., fields}): the master
# validates them (gnt.opcodes.base.from_dict, errors naming the parameter), and
# these commands start faster without loading the opcode models (pydantic).

CLEANUP_OPT = O.Option("--cleanup", dest="cleanup", default=False, action="store_true",
                       help="Recover from a failed migration: find where the instance"
                       " really runs and clean up the other side")
ALLOW_FAILOVER_OPT = O.Option("--allow-failover", dest="allow_failover", default=False,
                              action="store_true", help="Fail over instead when the"
                              " instance cannot be migrated (e.g. it is not running)")
IGNORE_HVVERSIONS_OPT = O.Option("--ignore-hvversions", dest="ignore_hvversions",
                                 default=False, action="store_true",
                                 help="Migrate even between different hypervisor versions")


def migrate_instance(opts: argparse.Namespace, args: list[str]) -> int:
    name = args[0]
    mode = M.migration_mode(opts)
    if not opts.force:
        what = ("recovered from a failed migration" if opts.cleanup else "migrated")
        if not ask_user(f"Instance {name} will be {what}; a hypervisor problem during a "
                        f"migration can affect the instance. Continue?"):
            return 2
    submit_opcode(get_client(), {
        "OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": name, "mode": mode,
        "cleanup": opts.cleanup, "target_node": opts.dst_node, "iallocator": opts.iallocator,
        "allow_failover": opts.allow_failover,
        "allow_runtime_changes": opts.allow_runtime_changes,
        "ignore_ipolicy": opts.ignore_ipolicy, "ignore_hvversions": opts.ignore_hvversions},
        opts)
    return 0


def failover_instance(opts: argparse.Namespace, args: list[str]) -> int:
    name = args[0]
    if not opts.force and not ask_user(
            f"Instance {name} will be shut down and started on another node. Continue?"):
        return 2
    submit_opcode(get_client(), {
        "OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": name,
        "ignore_consistency": opts.ignore_consistency,
        "shutdown_timeout": opts.shutdown_timeout, "target_node": opts.dst_node,
        "iallocator": opts.iallocator, "ignore_ipolicy": opts.ignore_ipolicy,
        "cleanup": opts.cleanup}, opts)
    return 0


def move_instance(opts: argparse.Namespace, args: list[str]) -> int:
    name = args[0]
    if not opts.dst_node:
        raise errors.OpPrereqError("A target node is required (-n <node>)",
                                   errors.ECODE_INVAL)
    if not opts.force and not ask_user(
            f"Instance {name} will be moved. This requires a shutdown of the instance. "
            f"Continue?"):
        return 1
    submit_opcode(get_client(), {
        "OP_ID": "OP_INSTANCE_MOVE", "instance_name": name, "target_node": opts.dst_node,
        "compress": opts.compress, "shutdown_timeout": opts.shutdown_timeout,
        "ignore_consistency": opts.ignore_consistency,
        "ignore_ipolicy": opts.ignore_ipolicy}, opts)
    return 0


def change_group(opts: argparse.Namespace, args: list[str]) -> int:
    name = args[0]
    client = get_client()
    result = submit_opcode(client, {
        "OP_ID": "OP_INSTANCE_CHANGE_GROUP", "instance_name": name,
        "iallocator": opts.iallocator, "target_groups": opts.to,
        "early_release": opts.early_release}, opts)
    jex = JobExecutor(client, opts)
    for ok, job_id in (result or {}).get("jobs", []):
        jex.add_job_id(name, ok, job_id)
    bad = sum(1 for ok, _ in jex.get_results() if not ok)
    if bad:
        to_stdout("There were %s errors while changing group of instance '%s'.", bad, name)
        return 1
    to_stdout("Instance '%s' changed group successfully.", name)
    return 0


COMMANDS = {
    "migrate": Command(migrate_instance, ARGS_ONE_INSTANCE, [
        O.FORCE_OPT, M.NONLIVE_OPT, M.MIGRATION_MODE_OPT, CLEANUP_OPT, M.DST_NODE_OPT,
        O.IALLOCATOR_OPT, ALLOW_FAILOVER_OPT, O.IGNORE_IPOLICY_OPT, IGNORE_HVVERSIONS_OPT,
        M.NORUNTIME_CHGS_OPT, *O.JOB_OPTS],
        "[-f] <instance>", "Migrate instance to its secondary node (or, for shared "
        "storage, to the node given by -n or chosen by -I)"),
    "failover": Command(failover_instance, ARGS_ONE_INSTANCE, [
        O.FORCE_OPT, M.IGNORE_CONSIST_OPT, O.SHUTDOWN_TIMEOUT_OPT, M.DST_NODE_OPT,
        O.IALLOCATOR_OPT, CLEANUP_OPT, O.IGNORE_IPOLICY_OPT, *O.JOB_OPTS],
        "[-f] <instance>", "Stops the instance, changes its primary node and (if it was "
        "running) starts it on the new node"),
    "move": Command(move_instance, ARGS_ONE_INSTANCE, [
        O.FORCE_OPT, M.MOVE_TARGET_NODE_OPT, M.COMPRESS_OPT, O.SHUTDOWN_TIMEOUT_OPT,
        M.IGNORE_CONSIST_OPT, O.IGNORE_IPOLICY_OPT, *O.JOB_OPTS],
        "[-f] -n <node> <instance>", "Move instance to an arbitrary node (only for "
        "instances of type file and plain)"),
    "change-group": Command(change_group, ARGS_ONE_INSTANCE, [
        M.TO_GROUP_OPT, O.IALLOCATOR_OPT, O.EARLY_RELEASE_OPT, *O.JOB_OPTS],
        "[-I <iallocator>] [--to <group>] <instance>", "Change group of instance"),
}
