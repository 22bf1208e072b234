"""Test opcodes."""

from __future__ import annotations

from pydantic import Field

from gnt.opcodes.base import OpCode


class OpTestDelay(OpCode):
    """Sleep ``duration`` seconds on the master and/or nodes (job queue tests)."""

    OP_ID = "OP_TEST_DELAY"
    OP_DSC_FIELD = "duration"
    duration: float = Field(ge=0)
    on_master: bool = True
    on_nodes: list[str] = []
    on_node_uuids: list[str] | None = None
    repeat: int = Field(default=0, ge=0)
    interruptible: bool = False
    no_locks: bool = True
