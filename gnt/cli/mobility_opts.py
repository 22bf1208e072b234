"""Options shared by the commands that move instances (gnt-instance, gnt-node)."""

from __future__ import annotations

import argparse

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O

NONLIVE_OPT = O.Option("--non-live", dest="live", default=True, action="store_false",
                       help="Do a non-live migration (pause the instance, copy its memory,"
                       " resume it on the target)")
MIGRATION_MODE_OPT = O.Option("--migration-mode", dest="migration_mode", default=None,
                              choices=list(C.HT_MIGRATION_MODES),
                              help="Override the hypervisor's migration_mode")
NORUNTIME_CHGS_OPT = O.Option("--no-runtime-changes", dest="allow_runtime_changes",
                              default=True, action="store_false",
                              help="Don't allow runtime changes (e.g. memory) of the"
                              " instance to make the migration possible")
DST_NODE_OPT = O.Option("-n", "--target-node", dest="dst_node", default=None,
                        metavar="<node>", help="Target node (shared storage only)")
IGNORE_CONSIST_OPT = O.Option("--ignore-consistency", dest="ignore_consistency",
                              default=False, action="store_true",
                              help="Go ahead even if the source node does not answer"
                              " (it must be really down: the instance would run twice)")


def migration_mode(opts: argparse.Namespace) -> str | None:
    """The ``mode`` opcode value from ``--non-live``/``--migration-mode``."""
    if not opts.live and opts.migration_mode is not None:
        raise errors.OpPrereqError("Only one of the --non-live and --migration-mode "
                                   "options can be passed", errors.ECODE_INVAL)
    if not opts.live:
        return C.HT_MIGRATION_NONLIVE
    return opts.migration_mode
MOVE_TARGET_NODE_OPT = O.Option("-n", "--target-node", "--node", dest="dst_node",
                                default=None, metavar="<node>",
                                help="Node to copy the instance's disks to (required)")
COMPRESS_OPT = O.Option("--compress", dest="compress", default="none",
                        metavar="<mode>", help="Transport compression (gnt: 'none' only)")
TO_GROUP_OPT = O.Option("--to", dest="to", default=None, action="append",
                        metavar="<group>", help="Group(s) to move the instance to "
                        "(repeat the option for several; default: any other group)")
