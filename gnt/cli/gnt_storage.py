"""``gnt-storage``: ExtStorage providers (Ganeti's commands and output formats).

* ``diagnose``: per provider, its status on every node (valid ones first)
  and per node group;
* ``info [PROVIDER...]``: the node groups where each provider is valid and
  its parameters (``NAME: Not Found`` for unknown names).

Both submit ``OP_EXT_STORAGE_DIAGNOSE`` and exit 0 (as Ganeti), 1 when no
provider was found at all.
"""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import options as O
from gnt.cli.base import ARGS_ANY, ARGS_NONE, Command, get_client, run
from gnt.cli.gnt_os import nice_key
from gnt.cli.jobs import submit_opcode
from gnt.cli.output import to_stderr, to_stdout
from gnt.opcodes.extstorage import OpExtStorageDiagnose


def _diagnose(opts: argparse.Namespace, fields: list[str]) -> list[list[Any]]:
    result = submit_opcode(get_client(), OpExtStorageDiagnose(output_fields=fields, names=[]),
                           opts)
    return list(result or [])


def _status(status: bool, message: str) -> str:
    return "valid" if status else f"invalid - {message}"


def node_line(entries: list[list[Any]]) -> tuple[bool, str]:
    """``(valid, text)`` of one node's status (first entry: the one in use)."""
    if not entries:
        return False, "ExtStorage provider not found"
    path, status, message, params = entries[0][:4]
    text = f"{_status(bool(status), message)} (path: {path})"
    if params:
        text += f" [parameters: {', '.join(p[0] for p in params)}]"
    else:
        text += " [no parameters]"
    return bool(status), text


def diagnose(opts: argparse.Namespace, args: list[str]) -> int:
    """Status of every provider on every node and node group."""
    result = _diagnose(opts, ["name", "node_status", "nodegroup_status"])
    if not result:
        to_stderr("Can't get the list of ExtStorage providers")
        return 1
    for name, node_data, group_data in result:
        good: dict[str, str] = {}
        bad: dict[str, str] = {}
        for node, entries in node_data.items():
            ok, text = node_line(entries)
            (good if ok else bad)[node] = text
        to_stdout("Provider: %s", name)
        to_stdout("---")
        for msgs in (good, bad):
            for node in sorted(msgs, key=nice_key):
                to_stdout("  Node: %s, status: %s", node, msgs[node])
        to_stdout("  --")
        for want in (True, False):
            for group in sorted((g for g, s in group_data.items() if bool(s) == want),
                                key=nice_key):
                to_stdout("  For nodegroup: %s --> %s", group, "valid" if want else "invalid")
        to_stdout("")
    return 0


def info(opts: argparse.Namespace, args: list[str]) -> int:
    """Where each provider is valid, and its parameters."""
    result = _diagnose(opts, ["name", "nodegroup_status", "parameters"])
    if not result:
        to_stderr("Can't get the ExtStorage providers list")
        return 1
    wanted = list(args)
    for name, group_data, parameters in result:
        if args:
            if name not in wanted:
                continue
            wanted.remove(name)
        to_stdout("%s:", name)
        valid = sorted((g for g, s in group_data.items() if s), key=nice_key)
        if valid:
            to_stdout("  - Valid for nodegroups:")
            for group in valid:
                to_stdout("      %s", group)
            to_stdout("  - Supported parameters:")
            for pname, pdesc in parameters:
                to_stdout("      %s: %s", pname, pdesc)
        else:
            to_stdout("  - Invalid for all nodegroups")
        to_stdout("")
    for name in wanted:
        to_stdout("%s: Not Found", name)
        to_stdout("")
    return 0


COMMANDS = {
    "diagnose": Command(diagnose, ARGS_NONE, [O.PRIORITY_OPT], "",
                        "Diagnose all ExtStorage providers"),
    "info": Command(info, ARGS_ANY, [O.PRIORITY_OPT], "[<provider>...]",
                    "Show info about ExtStorage providers"),
}


def main(argv: list[str] | None = None) -> int:
    return run("gnt-storage", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
