"""``gnt-instance migrate`` and ``failover``."""

from __future__ import annotations

import argparse

from gnt.cli import mobility_opts as M
from gnt.cli import options as O
from gnt.cli.base import ARGS_ONE_INSTANCE, Command, get_client
from gnt.cli.confirm import ask_user
from gnt.cli.jobs import submit_opcode
from gnt.opcodes.mobility import OpInstanceFailover, OpInstanceMigrate

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
    submit_opcode(get_client(), OpInstanceMigrate(
        instance_name=name, mode=mode, cleanup=opts.cleanup, target_node=opts.dst_node,
        iallocator=opts.iallocator, allow_failover=opts.allow_failover,
        allow_runtime_changes=opts.allow_runtime_changes,
        ignore_ipolicy=opts.ignore_ipolicy, ignore_hvversions=opts.ignore_hvversions), opts)
    return 0


def failover_instance(opts: argparse.Namespace, args: list[str]) -> int:
    name = args[0]
    if not opts.force and not ask_user(
            f"Instance {name} will be shut down and started on another node. Continue?"):
        return 2
    submit_opcode(get_client(), OpInstanceFailover(
        instance_name=name, ignore_consistency=opts.ignore_consistency,
        shutdown_timeout=opts.shutdown_timeout, target_node=opts.dst_node,
        iallocator=opts.iallocator, ignore_ipolicy=opts.ignore_ipolicy,
        cleanup=opts.cleanup), opts)
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
}
