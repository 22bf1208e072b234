"""``gnt-cluster`` commands about the master role and the job queue:
master-failover, master-ping, queue drain/undrain/info."""

from __future__ import annotations

import argparse

from gnt import errors, masterfailover
from gnt.cli import options as O
from gnt.cli.base import ARGS_NONE, Arg, Command, get_client
from gnt.cli.output import to_stderr, to_stdout

NO_VOTING_OPT = O.Option("--no-voting", dest="no_voting", default=False, action="store_true",
                         help="Skip node agreement check (dangerous)")


def master_failover(opts: argparse.Namespace, args: list[str]) -> int:
    if opts.no_voting and not opts.yes_do_it:
        to_stderr("This will perform the failover even if most other nodes are down, or if"
                  " this node is outdated. This is dangerous as it can lead to a non-consistent"
                  " cluster. Check the gnt-cluster(8) man page before proceeding. Add"
                  " --yes-do-it to go on.")
        return 1
    masterfailover.master_failover(no_voting=opts.no_voting,
                                   feedback=lambda msg: to_stderr("%s", msg))
    return 0


def master_ping(opts: argparse.Namespace, args: list[str]) -> int:
    """Exit 0 if the master daemon answers a basic query, 1 otherwise."""
    try:
        with get_client() as client:
            client.query_cluster_info()
    except errors.GntError:
        return 1
    return 0


def queue_ops(opts: argparse.Namespace, args: list[str]) -> int:
    command = args[0]
    with get_client() as client:
        if command == "drain":
            client.set_drain_flag(True)
        elif command == "undrain":
            client.set_drain_flag(False)
        elif command == "info":
            (drained,) = client.query_config_values(["drain_flag"])
            to_stdout("The drain flag is %s", "set" if drained else "unset")
        else:
            raise errors.OpPrereqError(f"Command queue {command} not supported; use drain,"
                                       " undrain or info", errors.ECODE_INVAL)
    return 0


COMMANDS = {
    "master-failover": Command(master_failover, ARGS_NONE, [NO_VOTING_OPT, O.YES_DOIT_OPT],
                               "", "Makes the current node the master"),
    "master-ping": Command(master_ping, ARGS_NONE, [], "",
                           "Checks if the master is alive"),
    "queue": Command(queue_ops, [Arg("command", 1, 1)], [], "drain|undrain|info",
                     "Change queue properties"),
}
