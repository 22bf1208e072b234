"""The opcode processor: runs one opcode through its logical unit.

Implements the job queue's executor interface: ``execute(op, ctx)``, where
``ctx`` is the job's :class:`gnt.jqueue.OpContext` (feedback, cancel checks,
start notification, priority, lock owner).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gnt import constants as C
from gnt.cmdlib.base import ALL_SET, Level, LogicalUnit, ResultWithJobs, lu_for
from gnt.hooks.master import HooksMaster
from gnt.locking import Mode
from gnt.opcodes.base import OpCode

if TYPE_CHECKING:
    from gnt.masterd.context import MasterContext

log = logging.getLogger(__name__)


class Processor:
    """Runs opcodes through their LUs with locking (the job queue's executor)."""

    def __init__(self, ctx: MasterContext) -> None:
        self.ctx = ctx

    def execute(self, op: OpCode, jctx: Any) -> Any:
        lu_cls = lu_for(op.OP_ID)
        lu = lu_cls(self.ctx, op, jctx.owner, jctx.feedback)
        glm = self.ctx.glm
        failed = True
        hooks: HooksMaster | None = None
        try:
            lu.check_arguments()
            lu.expand_names()
            self._acquire(lu, Level.CLUSTER, ["BGL"], shared=not lu_cls.REQ_BGL, jctx=jctx)
            for level in Level:
                if level == Level.CLUSTER:
                    continue
                lu.declare_locks(level)
                if level in lu.add_locks:
                    glm.add(level, lu.add_locks[level], jctx.owner, priority=jctx.priority,
                            cancel_check=jctx.check_cancel)
                    lu.acquired[level] = set(lu.add_locks[level])
                    continue
                if level not in lu.needed_locks:
                    continue
                names = lu.needed_locks[level]
                shared = lu.share_locks.get(level, False)
                self._acquire(lu, level, names, shared, jctx)
            jctx.notify_start()
            lu.check_prereq()
            hooks = lu.hooks_master = HooksMaster(lu, getattr(jctx, "job_id", None))
            hooks.run_pre()  # raises OpPrereqError if a pre hook fails
            if op.dry_run:
                failed = False
                return None
            try:
                result = lu.exec(lambda msg: jctx.feedback(C.ELOG_MESSAGE, msg))
            finally:
                hooks.run_config_update()
            if isinstance(result, ResultWithJobs):
                result = {"jobs": [list(r) for r in jctx.submit_jobs(result.jobs)],
                          **result.other}
            failed = False
            return hooks.run_post(result)  # never raises
        finally:
            try:
                if failed:
                    for level, names in lu.add_locks.items():
                        held = glm.owned(jctx.owner, level)
                        mine = [n for n in names if held.get(n) == Mode.EXCLUSIVE]
                        if mine:
                            glm.remove(jctx.owner, level, mine)
            finally:
                glm.release_all(jctx.owner)
                self.ctx.cfg.reservations.release(jctx.owner)
                if hooks is not None:
                    hooks.run_global_post(success=not failed)

    def _acquire(self, lu: LogicalUnit, level: Level, names: Any, shared: bool,
                 jctx: Any) -> None:
        """Wait (without a timeout: the queue stays fair) until the locks are granted;
        ``jctx.check_cancel`` is polled by the lock manager meanwhile."""
        if names is not ALL_SET:
            names = sorted(set(names))
            if not names:
                lu.acquired[level] = set()
                return
        got = self.ctx.glm.acquire(jctx.owner, level, names, shared=shared, timeout=None,
                                   priority=jctx.priority, cancel_check=jctx.check_cancel)
        lu.acquired[level] = set(got)
