"""``gnt-debug``: debugging commands (``delay`` for job queue tests)."""

from __future__ import annotations

import argparse

from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import Command, args_fixed, get_client, run
from gnt.cli.jobs import submit_opcode
from gnt.opcodes.test import OpTestDelay

ON_MASTER_OPT = O.Option("--no-master", dest="on_master", default=True, action="store_false",
                         help="Do not sleep in the master code")
ON_NODES_OPT = O.Option("-n", dest="on_nodes", default=[], action="append",
                        help="Select nodes to sleep on")
REPEAT_OPT = O.Option("-r", "--repeat", dest="repeat", default=0, type=int,
                      help="Number of times to repeat the sleep")
INTERRUPTIBLE_OPT = O.Option("-i", "--interruptible", dest="interruptible", default=False,
                             action="store_true", help="Allows the opcode to be interrupted")
NO_LOCKS_OPT = O.Option("--no-locks", dest="no_locks", default=False, action="store_true",
                        help="Don't take locks while sleeping")


def delay(opts: argparse.Namespace, args: list[str]) -> int:
    """Sleep for a while (OP_TEST_DELAY), on the master and/or nodes."""
    try:
        duration = float(args[0])
    except ValueError:
        raise errors.OpPrereqError(f"Invalid duration '{args[0]}': expected seconds",
                                   errors.ECODE_INVAL) from None
    op = OpTestDelay(duration=duration, on_master=opts.on_master, on_nodes=opts.on_nodes,
                     repeat=opts.repeat, interruptible=opts.interruptible,
                     no_locks=opts.no_locks)
    submit_opcode(get_client(), op, opts)
    return 0


COMMANDS = {
    "delay": Command(delay, args_fixed(1, "duration"), [
        ON_MASTER_OPT, ON_NODES_OPT, REPEAT_OPT, INTERRUPTIBLE_OPT, NO_LOCKS_OPT,
        *O.JOB_OPTS], "[opts...] <duration>", "Executes a TestDelay OpCode"),
}


def main(argv: list[str] | None = None) -> int:
    return run("gnt-debug", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
