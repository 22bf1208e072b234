"""Node group opcodes (Ganeti's OP_IDs and parameter names).

``ndparams`` are node parameters (``oob_program``, ``spindle_count``, ...);
``diskparams`` map a disk template to its parameters; ``ipolicy`` is an
instance policy (``minmax``, ``disk-templates``, ``vcpu-ratio``,
``spindle-ratio``).  In ``OpGroupSetParams`` a value of ``"default"`` (or
None) removes the group's own setting so the cluster's applies again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gnt.opcodes.base import OpCode

AllocPolicy = Literal["preferred", "last_resort", "unallocable"]


class _GroupOp(OpCode):
    OP_DSC_FIELD = "group_name"
    group_name: str = Field(min_length=1)


class OpGroupAdd(_GroupOp):
    """Add a node group to the cluster."""

    OP_ID = "OP_GROUP_ADD"
    alloc_policy: AllocPolicy | None = None
    ndparams: dict[str, Any] | None = None
    diskparams: dict[str, dict[str, Any]] | None = None
    ipolicy: dict[str, Any] | None = None
    hv_state: dict[str, Any] | None = None
    disk_state: dict[str, Any] | None = None


class OpGroupAssignNodes(_GroupOp):
    """Move ``nodes`` (names) into the group; ``force`` allows splitting instances
    across groups."""

    OP_ID = "OP_GROUP_ASSIGN_NODES"
    force: bool = False
    nodes: list[str] = Field(min_length=1)
    node_uuids: list[str] | None = None


class OpGroupSetParams(_GroupOp):
    """Change the allocation policy or parameters of a group."""

    OP_ID = "OP_GROUP_SET_PARAMS"
    alloc_policy: AllocPolicy | None = None
    ndparams: dict[str, Any] | None = None
    diskparams: dict[str, dict[str, Any]] | None = None
    ipolicy: dict[str, Any] | None = None
    hv_state: dict[str, Any] | None = None
    disk_state: dict[str, Any] | None = None


class OpGroupRemove(_GroupOp):
    """Remove an empty node group (not the last one)."""

    OP_ID = "OP_GROUP_REMOVE"


class OpGroupRename(_GroupOp):
    """Rename a node group."""

    OP_ID = "OP_GROUP_RENAME"
    new_name: str = Field(min_length=1)
