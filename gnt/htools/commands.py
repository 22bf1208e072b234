"""Turning placements into Ganeti commands, job sets and opcodes.

* :func:`describe_move`: the ``a=...`` move string and the
  ``gnt-instance`` commands of one move (Ganeti's ``computeMoves``).
* :func:`split_jobs`: group consecutive moves touching disjoint nodes
  into job sets (Ganeti's ``splitJobs``).
* :func:`format_commands` / :func:`shell_script`: ``-C`` output.
* :func:`move_opcodes`: the opcodes of one move (Ganeti's ``iMoveToJob``),
  as dicts ready for LUXI ``SubmitJob``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gnt.htools.types import MoveKind, Placement

SH_TEMPLATE = ("#!/bin/sh\n\n"
               "# Auto-generated script for executing cluster rebalancing\n\n"
               "# To stop, touch the file /tmp/stop-htools\n\n"
               "set -e\n\n"
               "check() {\n"
               "  if [ -f /tmp/stop-htools ]; then\n"
               "    echo 'Stop requested, exiting'\n"
               "    exit 0\n"
               "  fi\n"
               "}\n\n")


@dataclass
class MoveJob:
    """One move ready for output: involved nodes, instance, move, commands."""

    nodes: list[int]
    inst: int
    placement: Placement
    cmds: list[str]


def describe_move(kind: MoveKind, running: bool, inst_name: str, new_pri: str,
                  new_sec: str) -> tuple[str, list[str]]:
    """(``a=`` string, commands without the ``gnt-instance`` prefix)."""
    morf = "migrate" if running else "failover"
    mig = f"{morf} -f {inst_name}"
    mig_any = f"{morf} -f -n {new_pri} {inst_name}"

    def rep(node: str) -> str:
        return f"replace-disks -n {node} {inst_name}"

    if kind == MoveKind.FAILOVER:
        return "f", [mig]
    if kind == MoveKind.FAILOVER_TO_ANY:
        return f"fa:{new_pri}", [mig_any]
    if kind == MoveKind.FAILOVER_AND_REPLACE:
        return f"f r:{new_sec}", [mig, rep(new_sec)]
    if kind == MoveKind.REPLACE_SECONDARY:
        return f"r:{new_sec}", [rep(new_sec)]
    if kind == MoveKind.REPLACE_AND_FAILOVER:
        return f"r:{new_pri} f", [rep(new_pri), mig]
    return f"f r:{new_pri} f", [mig, rep(new_pri), mig]


def involved_nodes(plc: Placement) -> list[int]:
    old = [plc.extra.get("old_pri", -1), plc.extra.get("old_sec", -1)]
    out: list[int] = []
    for n in [plc.new_pri, plc.new_sec] + old:
        if isinstance(n, int) and n >= 0 and n not in out:
            out.append(n)
    return out


def split_jobs(jobs: list[MoveJob]) -> list[list[MoveJob]]:
    """Consecutive moves go into one job set while their nodes are disjoint.

    As in Ganeti, the grouping is built from the last move backwards.
    """
    sets: list[list[MoveJob]] = []
    busy: set[int] = set()
    for job in reversed(jobs):
        if sets and not busy.intersection(job.nodes):
            sets[0].insert(0, job)
            busy.update(job.nodes)
        else:
            sets.insert(0, [job])
            busy = set(job.nodes)
    return sets


def format_commands(jobsets: list[list[MoveJob]], with_check: bool) -> list[str]:
    """Lines of Ganeti's ``formatCmds`` (``check`` lines only in scripts)."""
    lines: list[str] = []
    for jsn, js in enumerate(jobsets, 1):
        for sn, job in enumerate(js, 1):
            if sn == 1:
                lines += ["", f"echo jobset {jsn}, {len(js)} jobs"]
            lines.append(f"  echo job {jsn}/{sn}")
            if with_check:
                lines.append("  check")
            lines += [f"  gnt-instance {c}" for c in job.cmds]
    return lines


def move_opcodes(kind: MoveKind, inst_name: str, target: str | None,
                 forthcoming: bool = False) -> list[dict]:
    """Opcodes of one move, as LUXI job dicts (Ganeti's ``iMoveToJob``).

    Forthcoming instances fail over (``OP_INSTANCE_FAILOVER``) instead of
    migrating, as in Ganeti.
    """
    def mig(node: str | None = None) -> dict:
        if forthcoming:
            return {"OP_ID": "OP_INSTANCE_FAILOVER", "instance_name": inst_name,
                    "shutdown_timeout": 120, "ignore_consistency": False,
                    "target_node": node, "ignore_ipolicy": False, "iallocator": None,
                    "cleanup": False}
        return {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": inst_name,
                "mode": None, "live": None, "target_node": node,
                "allow_runtime_changes": False, "ignore_ipolicy": False,
                "cleanup": False, "iallocator": None, "allow_failover": True,
                "ignore_hvversions": True}

    def rep(node: str | None) -> dict:
        return {"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": inst_name,
                "early_release": False, "ignore_ipolicy": False,
                "mode": "replace_new_secondary", "disks": [], "remote_node": node,
                "iallocator": None}

    if kind == MoveKind.FAILOVER:
        return [mig()]
    if kind == MoveKind.FAILOVER_TO_ANY:
        return [mig(target)]
    if kind == MoveKind.REPLACE_PRIMARY:
        return [mig(), rep(target), mig()]
    if kind == MoveKind.REPLACE_SECONDARY:
        return [rep(target)]
    if kind == MoveKind.REPLACE_AND_FAILOVER:
        return [rep(target), mig()]
    return [mig(), rep(target)]
