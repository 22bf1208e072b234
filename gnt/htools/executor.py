"""Executing hbal's job sets (``-X``): one job per move, job sets in sequence.

:class:`JobExecutor` is the interface (submit a job of opcodes, wait for
jobs); :class:`LuxiExecutor` implements it over LUXI with
:class:`gnt.luxi.client.Client`.  :func:`build_jobsets` turns the
placements into opcode lists (see :func:`gnt.htools.commands.move_opcodes`)
so the opcodes can be checked without a cluster.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from gnt.htools.commands import MoveJob, move_opcodes

FINAL_OK = "success"
FINAL_STATES = {"success", "error", "canceled"}


class JobExecutor(Protocol):
    def submit(self, ops: list[dict[str, Any]]) -> int: ...

    def submit_many(self, jobs: list[list[dict[str, Any]]]) -> list[int]: ...

    def wait(self, job_ids: list[int]) -> dict[int, str]: ...


def build_jobsets(cdata, jobsets: list[list[MoveJob]], reason: str | None = None,
                  priority: int | None = None) -> list[list[list[dict[str, Any]]]]:
    """Opcodes for every job of every job set (names from the model)."""
    out = []
    for js in jobsets:
        jobs = []
        for job in js:
            inst = cdata.instances[job.inst]
            plc = job.placement
            from gnt.htools.types import MoveKind
            kind = plc.move.kind
            if kind in (MoveKind.FAILOVER_TO_ANY, MoveKind.REPLACE_PRIMARY,
                        MoveKind.REPLACE_AND_FAILOVER):
                target = cdata.nodes[plc.new_pri].name
            elif kind == MoveKind.FAILOVER:
                target = None
            else:
                target = cdata.nodes[plc.new_sec].name
            ops = move_opcodes(kind, inst.name, target)
            for op in ops:
                op["comment"] = "rebalancing via hbal (gnt)"
                op["reason"] = [["hbal", reason or "hbal called", int(time.time() * 1e9)]]
                if priority is not None:
                    op["priority"] = priority
            jobs.append(ops)
        out.append(jobs)
    return out


class LuxiExecutor:
    """Submits jobs to the master over LUXI and polls their status."""

    def __init__(self, socket_path: str | None) -> None:
        from gnt.luxi.client import Client
        self.client = Client(socket_path or None)

    def submit(self, ops: list[dict[str, Any]]) -> int:
        return int(self.client.submit_job(ops))

    def submit_many(self, jobs: list[list[dict[str, Any]]]) -> list[int]:
        """Submit all jobs of a job set in one call (they then run in parallel)."""
        from gnt.htools.errors import HtoolsError
        ids = []
        for ok, val in self.client.submit_many_jobs(jobs):
            if not ok:
                raise HtoolsError(f"Job submission failed: {val}")
            ids.append(int(val))
        return ids

    def wait(self, job_ids: list[int]) -> dict[int, str]:
        status: dict[int, str] = {}
        while True:
            rows = self.client.query_jobs(job_ids, ["id", "status"])
            status = {int(r[0]): str(r[1]) for r in rows if r is not None}
            if all(s in FINAL_STATES for s in status.values()):
                return status
            time.sleep(0.5)


def execute(executor: JobExecutor, jobsets: list[list[list[dict[str, Any]]]]) -> bool:
    """Run job sets in order, the jobs of a set all at once (they touch disjoint
    nodes, so the master runs them in parallel); stop at the first set with a
    failed job."""
    for n, js in enumerate(jobsets, 1):
        ids = executor.submit_many(js)
        print(f"Got job IDs {', '.join(str(i) for i in ids)}")
        result = executor.wait(ids)
        bad = [j for j, s in result.items() if s != FINAL_OK]
        if bad:
            sys.stderr.write(f"Jobset {n}: job(s) {', '.join(map(str, bad))} failed\n")
            return False
    return True


def execute_jobsets(opts, loaded, jobsets: list[list[MoveJob]]) -> int:
    """hbal ``-X``: only with the LUXI backend, as in Ganeti."""
    from gnt.htools.errors import HtoolsError
    if opts.luxi is None:
        raise HtoolsError("Execution of commands possible only on LUXI")
    prio = opts.extra.get("priority")
    ops = build_jobsets(loaded.cdata, jobsets, opts.extra.get("reason"),
                        None if prio is None else int(prio))
    return 0 if execute(LuxiExecutor(opts.luxi), ops) else 1
