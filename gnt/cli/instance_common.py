"""Options and helpers every ``gnt-instance`` command module shares.

:mod:`gnt.cli.gnt_instance` (add, startup, ...) and
:mod:`gnt.cli.instance_modify` (modify, reinstall, ...) both use them: the
file-storage options, ``--force-variant``, the mass-operation selectors
(``--node``/``--primary``/``--secondary``/``--all``/``--tags``/``--instance``,
``--force-multiple``) and :func:`expand_names`, which resolves them.
"""

from __future__ import annotations

import argparse
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O

FILESTORE_DIR_OPT = O.Option("--file-storage-dir", dest="file_storage_dir", default=None,
                             metavar="<DIR>", help="Relative path under default cluster-wide"
                             " file storage dir to store file-based disks")
FILESTORE_DRIVER_OPT = O.Option("--file-driver", dest="file_driver", default=None,
                                choices=list(C.FILE_DRIVERS),
                                help="Driver to use for image files")
FORCE_VARIANT_OPT = O.Option("--force-variant", dest="force_variant", default=False,
                             action="store_true", help="Force an unknown variant")
FORCE_MULTIPLE_OPT = O.Option("--force-multiple", dest="force_multiple", default=False,
                              action="store_true", help="Do not ask for confirmation when"
                              " more than one instance is affected")


def _selector(flag: str, mode: str, help_: str) -> O.Option:
    return O.Option(flag, dest="multi_mode", action="store_const", const=mode,
                    default="instance", help=help_)


#: the mass-operation selectors; :func:`expand_names` reads ``opts.multi_mode``
SELECTOR_OPTS = [
    _selector("--node", "node", "Filter by nodes (primary and secondary)"),
    _selector("--primary", "primary", "Filter by nodes (primary only)"),
    _selector("--secondary", "secondary", "Filter by nodes (secondary only)"),
    _selector("--all", "all", "Select all instances"),
    _selector("--tags", "tags", "Filter by instance tags"),
    _selector("--instance", "instance", "Filter by instance name [default]"),
]


def expand_names(client: Any, opts: argparse.Namespace, args: list[str]) -> list[str]:
    """Instance names from the mass selectors (Ganeti's ``_ExpandMultiNames``).

    ``args`` are instance names (the default), node names (``--node``,
    ``--primary``, ``--secondary``; short names match) or tags (``--tags``);
    ``--all`` takes none.  Raises OpPrereqError (``wrong_input``) for missing
    or unexpected arguments.
    """
    mode = getattr(opts, "multi_mode", "instance")
    if mode == "instance":
        if not args:
            raise errors.OpPrereqError("No instance names given", errors.ECODE_INVAL)
        return list(args)
    resp = client.query("instance", ["name", "pnode", "snodes", "tags"], None)
    rows = [[v for _, v in row] for row in resp["data"]]
    if mode == "all":
        if args:
            raise errors.OpPrereqError("No arguments expected with --all", errors.ECODE_INVAL)
        return [r[0] for r in rows]
    if not args:
        raise errors.OpPrereqError(f"No {mode} names given", errors.ECODE_INVAL)
    wanted = set(args)
    if mode in ("node", "primary", "secondary"):
        short = {a.split(".")[0] for a in wanted}

        def on(n: str) -> bool:
            return n in wanted or n.split(".")[0] in short
        out = []
        for name, pnode, snodes, _tags in rows:
            if (mode in ("node", "primary") and on(pnode)) or (
                    mode in ("node", "secondary") and any(on(s) for s in snodes or [])):
                out.append(name)
        return out
    if mode == "tags":
        return [r[0] for r in rows if wanted & set(r[3] or [])]
    raise errors.ProgrammerError(f"Unknown selection mode {mode}")


__all__ = ["FILESTORE_DIR_OPT", "FILESTORE_DRIVER_OPT", "FORCE_MULTIPLE_OPT",
           "FORCE_VARIANT_OPT", "SELECTOR_OPTS", "expand_names"]
