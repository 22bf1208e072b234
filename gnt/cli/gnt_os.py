"""``gnt-os``: list, diagnose, info and modify OS definitions (Ganeti's output formats).

* ``list [--no-headers]``: valid OSes that are neither hidden nor
  blacklisted, one ``name+variant`` per variant (``name`` without variants);
* ``diagnose``: per-OS and per-node status, exit code 1 when an OS is
  invalid or partially valid;
* ``info [OS...]``: validity, flags, API versions, variants and parameters;
* ``modify [-H hv:k=v] [-O k=v] [--hidden yes|no] [--blacklisted yes|no] OS``:
  per-OS hypervisor parameters, OS parameters and flags, through
  ``OP_CLUSTER_SET_PARAMS`` (the OS does not have to exist yet).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

from gnt import constants as C
from gnt.cli import options as O
from gnt.cli.base import ARGS_ANY, ARGS_NONE, ARGS_ONE_OS, Command, get_client, run
from gnt.cli.jobs import submit_opcode
from gnt.cli.output import comma_join, to_stderr, to_stdout
from gnt.opcodes.cluster import OpClusterSetParams

# the OSes gnt-os list shows (Ganeti's OpOsDiagnose legacy filter)
LIST_FILTER = ["&", ["?", "valid"], ["!", ["?", "hidden"]], ["!", ["?", "blacklisted"]]]

HIDDEN_OPT = O.Option("--hidden", dest="hidden", type=O.TYPE_BOOL, default=None,
                      metavar="yes|no", help="Sets the hidden flag on the OS")
BLACKLISTED_OPT = O.Option("--blacklisted", dest="blacklisted", type=O.TYPE_BOOL,
                           default=None, metavar="yes|no",
                           help="Sets the blacklisted flag on the OS")


def os_names(name: str, variants: Sequence[str] | None) -> list[str]:
    """``name+variant`` for each variant, or ``name`` (Ganeti's CalculateOSNames)."""
    return [f"{name}+{v}" for v in variants] if variants else [name]


def nice_key(text: str) -> list[Any]:
    """Sort key putting ``node2`` before ``node10`` (Ganeti's NiceSort)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p)
            for p in re.split(r"(\d+)", text) if p]


def _rows(fields: list[str], qfilter: Any = None) -> list[list[Any]]:
    resp = get_client().query("os", fields, qfilter)
    return [[v for _, v in row] for row in resp["data"]]


def list_os(opts: argparse.Namespace, args: list[str]) -> int:
    """Valid, non-hidden, non-blacklisted OS names with their variants."""
    names: list[str] = []
    for name, variants in _rows(["name", "variants"], LIST_FILTER):
        names.extend(os_names(name, sorted(variants or [])))
    if not opts.no_headers:
        to_stdout("Name")
    for n in names:
        to_stdout("%s", n)
    return 0


def _status(ok: bool, message: str) -> str:
    return "valid" if ok else f"invalid - {message}"


def _node_line(entry: Sequence[Any]) -> str:
    """One node's status of an OS: path, API versions, variants, parameters."""
    path, ok, message, variants, parameters, api = entry[:6]
    text = f"{_status(ok, message)} (path: {path})"
    if api:
        text += f" [API versions: {comma_join(api)}]"
    else:
        text += " [no API versions declared]"
    newest = max(api) if api else 0
    if newest >= 15:
        text += f" [variants: {comma_join(variants)}]" if variants else " [no variants]"
    if newest >= C.OS_API_V20:
        text += (f" [parameters: {comma_join(p[0] for p in parameters)}]" if parameters
                 else " [no parameters]")
    return text


def diagnose(opts: argparse.Namespace, args: list[str]) -> int:
    """Status of every OS on every node; exit code 1 if any OS is not valid everywhere."""
    rows = _rows(["name", "valid", "variants", "node_status", "hidden", "blacklisted"])
    if not rows:
        to_stderr("Can't get the OS list")
        return 1
    has_bad = False
    for name, _, variants, node_status, hidden, blacklisted in rows:
        good: dict[str, str] = {}
        bad: dict[str, str] = {}
        shadowed: dict[str, list[str]] = {}
        for node, entries in node_status.items():
            shadowed[node] = [f"    [hidden] path: {e[0]}, status: {_status(e[1], e[2])}"
                              for e in entries[1:]]
            if not entries:
                bad[node] = "OS not found"
            elif entries[0][1]:
                good[node] = _node_line(entries[0])
            else:
                bad[node] = _node_line(entries[0])
        if good and not bad:
            status = "valid"
        else:
            status = "invalid" if not good else "partial valid"
            has_bad = True
        line = f"OS: {name} [global status: {status}]"
        line += " [hidden]" if hidden else ""
        line += " [blacklisted]" if blacklisted else ""
        to_stdout("%s", line)
        if variants:
            to_stdout("  Variants: [%s]", comma_join(variants))
        for group in (good, bad):
            for node in sorted(group, key=nice_key):
                to_stdout("  Node: %s, status: %s", node, group[node])
                for msg in shadowed[node]:
                    to_stdout("%s", msg)
        to_stdout("")
    return int(has_bad)


def info(opts: argparse.Namespace, args: list[str]) -> int:
    """Validity, flags, API versions, variants and parameters of each (or the named) OS."""
    rows = _rows(["name", "valid", "variants", "parameters", "api_versions", "blacklisted",
                  "hidden"])
    if not rows:
        to_stderr("Can't get the OS list")
        return 1
    wanted = list(args)
    for name, valid, variants, parameters, api_versions, blacklisted, hidden in rows:
        if args:
            if name not in wanted:
                continue
            wanted.remove(name)
        to_stdout("%s:", name)
        to_stdout("  - valid: %s", valid)
        to_stdout("  - hidden: %s", hidden)
        to_stdout("  - blacklisted: %s", blacklisted)
        if valid:
            to_stdout("  - API versions:")
            for version in sorted(api_versions):
                to_stdout("    - %s", version)
            to_stdout("  - variants:")
            for vname in variants:
                to_stdout("    - %s", vname)
            to_stdout("  - parameters:")
            for pname, pdesc in parameters:
                to_stdout("    - %s: %s", pname, pdesc)
        to_stdout("")
    for name in wanted:  # asked for but unknown
        to_stdout("%s: ", name)
        to_stdout("")
    return 0


def _flag_mods(value: bool | None, os_name: str) -> list[list[str]] | None:
    if value is None:
        return None
    return [[C.DDM_ADD if value else C.DDM_REMOVE, os_name]]


def modify(opts: argparse.Namespace, args: list[str]) -> int:
    """Change the per-OS hypervisor parameters, OS parameters, hidden/blacklisted flags."""
    os_name = args[0]
    os_hvp = {os_name: dict(opts.hvparams)} if opts.hvparams else None
    osparams = {os_name: opts.osparams} if opts.osparams else None
    hidden = _flag_mods(opts.hidden, os_name)
    blacklisted = _flag_mods(opts.blacklisted, os_name)
    if not (os_hvp or osparams or hidden or blacklisted):
        to_stderr("At least one of OS parameters or hypervisor parameters must be passed")
        return 1
    op = OpClusterSetParams(os_hvp=os_hvp, osparams=osparams, hidden_os=hidden,
                            blacklisted_os=blacklisted)
    submit_opcode(get_client(), op, opts)
    return 0


COMMANDS = {
    "list": Command(list_os, ARGS_NONE, [O.NOHDR_OPT, O.PRIORITY_OPT], "",
                    "Lists all valid operating systems on the cluster"),
    "diagnose": Command(diagnose, ARGS_NONE, [O.PRIORITY_OPT], "",
                        "Diagnose all operating systems"),
    "info": Command(info, ARGS_ANY, [O.PRIORITY_OPT], "[<os>...]",
                    "Show detailed information about operating systems", aliases=("show",)),
    "modify": Command(modify, ARGS_ONE_OS,
                      [O.HVLIST_OPT, O.OSPARAMS_OPT, HIDDEN_OPT, BLACKLISTED_OPT, *O.JOB_OPTS],
                      "<os>", "Modify the OS parameters"),
}


def main(argv: list[str] | None = None) -> int:
    return run("gnt-os", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
