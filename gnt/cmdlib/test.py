"""Test LUs (``gnt-debug delay``)."""

from __future__ import annotations

import time
from typing import Any

from gnt.cmdlib.base import FeedbackFn, Level, NoHooksLU
from gnt.cmdlib.common import expand_node
from gnt.opcodes.test import OpTestDelay


class LUTestDelay(NoHooksLU):
    """Sleep on the master and/or on nodes (through their node daemons)."""

    OP = OpTestDelay
    REQ_BGL = False

    def expand_names(self) -> None:
        op: OpTestDelay = self.op  # type: ignore[assignment]
        self.node_uuids = [expand_node(self.cfg, n).uuid for n in op.on_nodes]
        if op.on_node_uuids:
            self.node_uuids.extend(op.on_node_uuids)
        if self.node_uuids and not op.no_locks:
            self.needed_locks[Level.NODE] = self.node_uuids
        self.share_all()

    def _once(self) -> None:
        op: OpTestDelay = self.op  # type: ignore[assignment]
        if op.on_master:
            time.sleep(op.duration)
        if self.node_uuids:
            for res in self.ctx.rpc.test_delay(self.node_uuids, op.duration).values():
                res.raise_on_fail("Failure during rpc call")

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpTestDelay = self.op  # type: ignore[assignment]
        if op.repeat == 0:
            self._once()
        else:
            for i in range(op.repeat):
                self.log_info(f"Test delay iteration {i}/{op.repeat}")
                self._once()
        return None
