"""The ``list-tags``/``add-tags``/``remove-tags`` (and ``search-tags``) subcommands,
shared by ``gnt-cluster``, ``gnt-node``, ``gnt-instance``, ``gnt-group`` and
``gnt-network`` (Ganeti's ``ListTags``/``AddTags``/``RemoveTags``).

A tool adds them with ``**tag_commands(kind)`` in its command table.  For
every kind but ``cluster`` the first argument names the object.  ``--from
FILE`` adds one tag per line of FILE (``-`` is stdin).  ``list-tags`` asks
the master directly (LUXI ``QueryTags``); changes are jobs (``OP_TAGS_SET``,
``OP_TAGS_DEL``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import Arg, Command, get_client
from gnt.cli.jobs import submit_opcode
from gnt.cli.output import to_stdout
from gnt.opcodes.tags import OpTagsDel, OpTagsSearch, OpTagsSet

TAG_OPTS = [O.TAG_SRC_OPT, O.PRIORITY_OPT, *O.SUBMIT_OPTS]

#: what the object argument is called in usage lines, per kind
_ARG_NAMES = {C.TAG_NODE: "node", C.TAG_INSTANCE: "instance", C.TAG_NODEGROUP: "group",
              C.TAG_NETWORK: "network"}


def _split_object(kind: str, args: list[str]) -> tuple[str | None, list[str]]:
    """``(object name, remaining args)``; the cluster has no object name."""
    if kind == C.TAG_CLUSTER:
        return None, list(args)
    if not args:
        raise errors.OpPrereqError("no arguments passed to the command", errors.ECODE_INVAL)
    return args[0], list(args[1:])


def read_tags_file(fname: str | None) -> list[str]:
    """Tags from ``--from`` (one per line, stripped, blank lines skipped; ``-`` is
    stdin); raises OpPrereqError when the file cannot be read."""
    if fname is None:
        return []
    try:
        if fname == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(fname, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
    except OSError as err:
        raise errors.OpPrereqError(f"Cannot read tags from '{fname}': {err.strerror}",
                                   errors.ECODE_ENVIRON) from None
    return [line.strip() for line in lines if line.strip()]


def list_tags(kind: str, opts: argparse.Namespace, args: list[str]) -> int:
    name, _ = _split_object(kind, args)
    for tag in sorted(get_client().query_tags(kind, name or "")):
        to_stdout(tag)
    return 0


def add_tags(kind: str, opts: argparse.Namespace, args: list[str]) -> int:
    name, tags = _split_object(kind, args)
    tags += read_tags_file(opts.tags_source)
    if not tags:
        raise errors.OpPrereqError("No tags to be added", errors.ECODE_INVAL)
    submit_opcode(get_client(), OpTagsSet(kind=kind, name=name, tags=tags),  # type: ignore[arg-type]
                  opts)
    return 0


def remove_tags(kind: str, opts: argparse.Namespace, args: list[str]) -> int:
    name, tags = _split_object(kind, args)
    tags += read_tags_file(opts.tags_source)
    if not tags:
        raise errors.OpPrereqError("No tags to be removed", errors.ECODE_INVAL)
    submit_opcode(get_client(), OpTagsDel(kind=kind, name=name, tags=tags),  # type: ignore[arg-type]
                  opts)
    return 0


def search_tags(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-cluster search-tags PATTERN``: ``<path> <tag>`` lines; exit 1 if none."""
    result = submit_opcode(get_client(), OpTagsSearch(pattern=args[0]), opts)
    if not result:
        return 1
    for path, tag in sorted(result):
        to_stdout("%s %s", path, tag)
    return 0


def _bind(fn: Callable[[str, argparse.Namespace, list[str]], int], kind: str
          ) -> Callable[[argparse.Namespace, list[str]], int]:
    def run(opts: argparse.Namespace, args: list[str]) -> int:
        return fn(kind, opts, args)
    run.__name__ = fn.__name__
    return run


def tag_commands(kind: str) -> dict[str, Command]:
    """The tag subcommands of the tool managing ``kind`` objects (a ``TAG_*``
    constant); the cluster's also has ``search-tags``."""
    if kind not in C.VALID_TAG_TYPES:
        raise errors.ProgrammerError(f"Unknown tag kind {kind!r}")
    if kind == C.TAG_CLUSTER:
        one: list[Arg] = []
        obj = ""
        tags_args = [Arg("tag")]
    else:
        noun = _ARG_NAMES[kind]
        one = [Arg(noun, 1, 1)]
        obj = f"<{noun}> "
        tags_args = [Arg(noun, 1, 1), Arg("tag")]
    where = "the cluster" if kind == C.TAG_CLUSTER else f"the given {_ARG_NAMES[kind]}"
    cmds = {
        "list-tags": Command(_bind(list_tags, kind), one, [], obj.strip(),
                             f"List the tags of {where}"),
        "add-tags": Command(_bind(add_tags, kind), tags_args, TAG_OPTS, f"{obj}tag...",
                            f"Add tags to {where}"),
        "remove-tags": Command(_bind(remove_tags, kind), tags_args, TAG_OPTS,
                               f"{obj}tag...", f"Remove tags from {where}"),
    }
    if kind == C.TAG_CLUSTER:
        cmds["search-tags"] = Command(search_tags, [Arg("pattern", 1, 1)],
                                      [O.PRIORITY_OPT], "<pattern>",
                                      "Searches the tags on all objects on the cluster for a"
                                      " given pattern (regex)")
    return cmds
