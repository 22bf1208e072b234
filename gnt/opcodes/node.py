"""Node opcodes (Ganeti's OP_IDs and parameter names; sizes in MiB).

Tri-state role flags (``master_candidate``, ``offline``, ``drained``,
``master_capable``, ``vm_capable``) are ``None`` for "leave unchanged".
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gnt.opcodes.base import OpCode


class _NodeOp(OpCode):
    OP_DSC_FIELD = "node_name"
    node_name: str = Field(min_length=1)
    node_uuid: str | None = None


class OpNodeAdd(OpCode):
    """Add a node to the cluster (or re-add it with ``readd``).

    ``primary_ip``/``secondary_ip`` default to the address the name
    resolves to.  ``group`` is a node group name or UUID (default: the
    default group).  ``join_token`` selects the path without SSH: the
    token printed by ``gnt-node join-token`` / given to the new node's
    ``gnt-noded --join-token``; without it the node is prepared over SSH.
    """

    OP_ID = "OP_NODE_ADD"
    OP_DSC_FIELD = "node_name"
    node_name: str = Field(min_length=1)
    primary_ip: str | None = None
    secondary_ip: str | None = None
    readd: bool = False
    group: str | None = None
    master_capable: bool | None = None
    vm_capable: bool | None = None
    ndparams: dict[str, Any] | None = None
    hv_state: dict[str, Any] | None = None
    disk_state: dict[str, Any] | None = None
    node_setup: bool = False
    join_token: str | None = None


class OpNodeRemove(_NodeOp):
    """Remove a node (not the master, not one with instances)."""

    OP_ID = "OP_NODE_REMOVE"


class OpNodeSetParams(_NodeOp):
    """Change a node's roles, flags, secondary IP or node parameters."""

    OP_ID = "OP_NODE_SET_PARAMS"
    force: bool = False
    master_candidate: bool | None = None
    offline: bool | None = None
    drained: bool | None = None
    auto_promote: bool = False
    master_capable: bool | None = None
    vm_capable: bool | None = None
    secondary_ip: str | None = None
    ndparams: dict[str, Any] | None = None
    hv_state: dict[str, Any] | None = None
    disk_state: dict[str, Any] | None = None
    powered: bool | None = None


class OpNodeQueryvols(OpCode):
    """Volumes on the nodes (``gnt-node volumes``)."""

    OP_ID = "OP_NODE_QUERYVOLS"
    output_fields: list[str]
    nodes: list[str] = Field(default_factory=list)


class OpNodeQueryStorage(OpCode):
    """Storage units on the nodes (``gnt-node list-storage``)."""

    OP_ID = "OP_NODE_QUERY_STORAGE"
    nodes: list[str] = Field(default_factory=list)
    storage_type: str | None = None
    name: str | None = None
    output_fields: list[str]
