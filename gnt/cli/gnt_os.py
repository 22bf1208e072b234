"""``gnt-os``: list and diagnose OS definitions."""

from __future__ import annotations

import argparse

from gnt.cli import options as O
from gnt.cli.base import ARGS_NONE, Command, get_client, run
from gnt.cli.output import to_stdout


def list_os(opts: argparse.Namespace, args: list[str]) -> int:
    """Valid, non-hidden, non-blacklisted OSes with their variants (Ganeti's output)."""
    resp = get_client().query("os", ["name", "valid", "variants", "hidden", "blacklisted"],
                              None)
    names = []
    for row in resp["data"]:
        name, valid, variants, hidden, blacklisted = (v for _, v in row)
        if not valid or (hidden or blacklisted) and not opts.verbose:
            continue
        if variants:
            names.extend(f"{name}+{v}" for v in variants)
        else:
            names.append(name)
    if not opts.no_headers:
        to_stdout("Name")
    for n in sorted(names):
        to_stdout("%s", n)
    return 0


def diagnose(opts: argparse.Namespace, args: list[str]) -> int:
    """Per-node status of every OS; exit code 1 if any OS is invalid somewhere."""
    resp = get_client().query("os", ["name", "valid", "variants", "node_status", "hidden",
                                     "blacklisted"], None)
    has_bad = False
    for row in resp["data"]:
        name, valid, variants, node_status, hidden, blacklisted = (v for _, v in row)
        status = "valid" if valid else "invalid"
        if not valid:
            has_bad = True
        extra = "".join([" [hidden]" if hidden else "", " [blacklisted]" if blacklisted else ""])
        to_stdout("OS: %s [global status: %s]%s", name, status, extra)
        if variants:
            to_stdout("  Variants: [%s]", ", ".join(variants))
        for node in sorted(node_status):
            entries = node_status[node]
            if not entries:
                to_stdout("  Node: %s, status: ERROR (not found)", node)
                continue
            path, ok, msg = entries[0][0], entries[0][1], entries[0][2]
            nstatus = f"valid (path: {path})" if ok else f"ERROR ({msg})"
            to_stdout("  Node: %s, status: %s", node, nstatus)
            for other in entries[1:]:
                to_stdout("    [shadowed file: %s]", other[0])
        to_stdout("")
    return 1 if has_bad else 0


COMMANDS = {
    "list": Command(list_os, ARGS_NONE, [O.NOHDR_OPT, O.VERBOSE_OPT], "",
                    "Lists all valid operating systems on the cluster"),
    "diagnose": Command(diagnose, ARGS_NONE, [], "",
                        "Diagnose all operating systems"),
}


def main(argv: list[str] | None = None) -> int:
    return run("gnt-os", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
