"""``gnt-node migrate``, ``failover`` and ``evacuate``: one job per instance.

``migrate`` and ``evacuate`` submit one opcode whose LU returns the jobs;
``failover`` submits ``OP_INSTANCE_FAILOVER`` per primary instance itself,
as Ganeti's client does (there is no node failover opcode).
"""

from __future__ import annotations

import argparse
from typing import Any, cast

from gnt import errors
from gnt.cli import mobility_opts as M
from gnt.cli import options as O
from gnt.cli.base import ARGS_ONE_NODE, Command, get_client
from gnt.cli.confirm import ask_user
from gnt.cli.jobs import JobExecutor, submit_opcode
from gnt.cli.output import to_stderr, to_stdout
from gnt.opcodes.mobility import (
    EvacMode,
    MigrationMode,
    OpInstanceFailover,
    OpNodeEvacuate,
    OpNodeMigrate,
)

PRIMARY_ONLY_OPT = O.Option("-p", "--primary-only", dest="primary_only", default=False,
                            action="store_true", help="Evacuate primary instances only")
SECONDARY_ONLY_OPT = O.Option("-s", "--secondary-only", dest="secondary_only",
                              default=False, action="store_true",
                              help="Evacuate secondary instances only")
NEW_SECONDARY_OPT = O.Option("-n", "--new-secondary", dest="dst_node", default=None,
                             metavar="<node>", help="Node to move the instances to")


def _primaries(client: Any, node: str, secondaries: bool = False,
               primaries: bool = True) -> tuple[str, list[str]]:
    """The node's full name (``node`` may be the short one) and its primary
    instances (and/or, as asked, its secondary ones)."""
    resp = client.query("node", ["name", "pinst_list", "sinst_list"], None)
    rows = [[v for _, v in row] for row in resp["data"]]
    match = [r for r in rows if r[0] == node] or [
        r for r in rows if r[0].split(".")[0] == node or r[0].startswith(node + ".")]
    if len(match) != 1:
        raise errors.OpPrereqError(f"Node '{node}' not known", errors.ECODE_NOENT)
    insts = set(match[0][1] or []) if primaries else set()
    if secondaries:
        insts.update(match[0][2] or [])
    return match[0][0], sorted(insts)


def _wait_jobs(client: Any, opts: argparse.Namespace, result: Any, done: str,
               what: str) -> int:
    """Follow the jobs an LU submitted (``{"jobs": [[ok, id], ...]}``)."""
    jex = JobExecutor(client, opts)
    for ok, job_id in result.get("jobs", []):
        jex.add_job_id("", ok, job_id)
    results = jex.get_results()
    bad = sum(1 for ok, _ in results if not ok)
    if bad:
        to_stdout("There were %s errors during the %s.", bad, what)
        return 1
    to_stdout("%s", done)
    return 0


def migrate_node(opts: argparse.Namespace, args: list[str]) -> int:
    client = get_client()
    node, insts = _primaries(client, args[0])
    if not insts:
        to_stdout("No primary instances on node %s, exiting.", node)
        return 0
    if not opts.force and not ask_user(f"Migrate instance(s) {', '.join(insts)}?"):
        return 2
    result = submit_opcode(client, OpNodeMigrate(
        node_name=node, mode=cast(MigrationMode | None, M.migration_mode(opts)),
        target_node=opts.dst_node,
        iallocator=opts.iallocator, allow_runtime_changes=opts.allow_runtime_changes,
        ignore_ipolicy=opts.ignore_ipolicy), opts)
    return _wait_jobs(client, opts, result, "All instances migrated successfully.",
                      "node migration")


def failover_node(opts: argparse.Namespace, args: list[str]) -> int:
    client = get_client()
    node, insts = _primaries(client, args[0])
    if not insts:
        to_stdout("No primary instances on node %s, exiting.", node)
        return 0
    quoted = ",".join(f"'{n}'" for n in insts)
    if not opts.force and not ask_user(f"Fail over instance(s) {quoted}?"):
        return 2
    jex = JobExecutor(client, opts)
    for name in insts:
        jex.queue_job(name, OpInstanceFailover(
            instance_name=name, ignore_consistency=opts.ignore_consistency,
            target_node=opts.dst_node, iallocator=opts.iallocator))
    results = jex.get_results()
    bad = sum(1 for ok, _ in results if not ok)
    if bad:
        to_stdout("There were errors during the failover:\n%d error(s) out of %d "
                  "instance(s).", bad, len(results))
        return 1
    to_stdout("All %d instance(s) failed over successfully.", len(results))
    return 0


def evacuate_node(opts: argparse.Namespace, args: list[str]) -> int:
    """Ganeti's rules: ``-I`` (or the cluster default iallocator) decides where
    the instances go; ``-n`` only replaces secondaries (``-s``); ``-s`` has
    nothing to do for shared storage (no instance has a secondary)."""
    if opts.dst_node and opts.iallocator:
        to_stderr("Give either the iallocator or the new secondary, not both")
        return 1
    if opts.primary_only and opts.secondary_only:
        raise errors.OpPrereqError("Only one of the --primary-only and --secondary-only "
                                   "options can be passed", errors.ECODE_INVAL)
    mode: EvacMode = ("primary-only" if opts.primary_only else
                      "secondary-only" if opts.secondary_only else "all")
    client = get_client()
    node, insts = _primaries(client, args[0], secondaries=mode != "primary-only",
                             primaries=mode != "secondary-only")
    if not insts:
        to_stdout("No instances to evacuate on node(s) %s, exiting.", node)
        return 0
    if not opts.force and not ask_user(
            f"Relocate instance(s) {', '.join(insts)} from node {node}?"):
        return 2
    result = submit_opcode(client, OpNodeEvacuate(
        node_name=node, mode=mode, remote_node=opts.dst_node, iallocator=opts.iallocator,
        early_release=opts.early_release), opts)
    return _wait_jobs(client, opts, result, "All instances evacuated successfully.",
                      "evacuation")


COMMANDS = {
    "migrate": Command(migrate_node, ARGS_ONE_NODE, [
        O.FORCE_OPT, M.NONLIVE_OPT, M.MIGRATION_MODE_OPT, M.DST_NODE_OPT, O.IALLOCATOR_OPT,
        M.NORUNTIME_CHGS_OPT, O.IGNORE_IPOLICY_OPT, *O.JOB_OPTS],
        "[-f] <node>", "Migrate all the primary instances on a node away from it"),
    "failover": Command(failover_node, ARGS_ONE_NODE, [
        O.FORCE_OPT, M.IGNORE_CONSIST_OPT, M.DST_NODE_OPT, O.IALLOCATOR_OPT,
        *O.JOB_OPTS],
        "[-f] <node>", "Stops the primary instances on a node and starts them on "
        "another node (shared storage) or their secondary node"),
    "evacuate": Command(evacuate_node, ARGS_ONE_NODE, [
        O.FORCE_OPT, O.IALLOCATOR_OPT, NEW_SECONDARY_OPT, O.EARLY_RELEASE_OPT,
        PRIMARY_ONLY_OPT, SECONDARY_ONLY_OPT, *O.JOB_OPTS],
        "[-f] {-I <iallocator> | -n <dst>} [-p | -s] [options...] <node>",
        "Relocate the primary and/or secondary instances from a node"),
}
