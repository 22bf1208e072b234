"""The opcode processor: runs one opcode through its logical unit.

Implements the job queue's executor interface: ``execute(op, ctx)``, where
``ctx`` is the job's :class:`gnt.jqueue.OpContext` (feedback, cancel checks,
start notification, priority, lock owner).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.base import ALL_SET, Level, LogicalUnit, lu_for
from gnt.opcodes.base import OpCode

if TYPE_CHECKING:
    from gnt.masterd.context import MasterContext

log = logging.getLogger(__name__)

# how long one lock wait lasts before re-checking cancel/priority (seconds)
_LOCK_SLICE = 0.5


class Processor:
    """Runs opcodes through their LUs with locking (the job queue's executor)."""

    def __init__(self, ctx: MasterContext) -> None:
        self.ctx = ctx

    def execute(self, op: OpCode, jctx: Any) -> Any:
        lu_cls = lu_for(op.OP_ID)
        lu = lu_cls(self.ctx, op, jctx.owner, jctx.feedback)
        glm = self.ctx.glm
        failed = True
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
            if op.dry_run:
                failed = False
                return None
            result = lu.exec(lambda msg: jctx.feedback(C.ELOG_MESSAGE, msg))
            failed = False
            return result
        finally:
            if failed:
                for level, names in lu.add_locks.items():
                    if level in lu.acquired:
                        glm.remove(jctx.owner, level, names)
            glm.release_all(jctx.owner)
            self.ctx.cfg.reservations.release(jctx.owner)

    def _acquire(self, lu: LogicalUnit, level: Level, names: Any, shared: bool,
                 jctx: Any) -> None:
        if names is not ALL_SET:
            names = sorted(set(names))
            if not names:
                lu.acquired[level] = set()
                return
        start = time.monotonic()
        while True:
            jctx.check_cancel()
            try:
                got = self.ctx.glm.acquire(jctx.owner, level, names, shared=shared,
                                           timeout=_LOCK_SLICE, priority=jctx.priority,
                                           cancel_check=jctx.check_cancel)
            except errors.LockError:
                if time.monotonic() - start > 5 and int(time.monotonic() - start) % 30 == 0:
                    log.info("Job still waiting for %s locks %s", level.name, names)
                continue
            lu.acquired[level] = set(got)
            return
