"""Opcodes that move instances between nodes (Ganeti's OP_IDs and parameters).

``mode`` is ``live``/``non-live`` or None (the hypervisor's
``migration_mode``); ``live`` is Ganeti's older boolean, refused together
with ``mode``.  Timeouts in seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gnt import constants as C
from gnt.opcodes.base import OpCode

MigrationMode = Literal["live", "non-live"]
EvacMode = Literal["primary-only", "secondary-only", "all"]


class _InstanceOp(OpCode):
    OP_DSC_FIELD = "instance_name"
    instance_name: str = Field(min_length=1)
    instance_uuid: str | None = None


class OpInstanceMigrate(_InstanceOp):
    """Live-migrate an instance to another node (its secondary, or for shared
    storage ``target_node``/``iallocator``); ``cleanup`` recovers after a failed one."""

    OP_ID = "OP_INSTANCE_MIGRATE"
    mode: MigrationMode | None = None
    live: bool | None = None
    cleanup: bool = False
    target_node: str | None = None
    target_node_uuid: str | None = None
    iallocator: str | None = None
    allow_failover: bool = False
    allow_runtime_changes: bool = True
    ignore_ipolicy: bool = False
    ignore_hvversions: bool = False


class OpInstanceFailover(_InstanceOp):
    """Stop an instance and start it on another node (works when the primary is dead)."""

    OP_ID = "OP_INSTANCE_FAILOVER"
    shutdown_timeout: int = Field(default=C.DEFAULT_SHUTDOWN_TIMEOUT, ge=0)
    ignore_consistency: bool = False
    target_node: str | None = None
    target_node_uuid: str | None = None
    iallocator: str | None = None
    ignore_ipolicy: bool = False
    cleanup: bool = False


class OpInstanceMove(_InstanceOp):
    """Copy a stopped (or stopped for the move) instance's disks to ``target_node``."""

    OP_ID = "OP_INSTANCE_MOVE"
    shutdown_timeout: int = Field(default=C.DEFAULT_SHUTDOWN_TIMEOUT, ge=0)
    ignore_ipolicy: bool = False
    target_node: str = Field(min_length=1)
    target_node_uuid: str | None = None
    ignore_consistency: bool = False
    compress: str = "none"


class OpInstanceChangeGroup(_InstanceOp):
    """Move an instance to another node group (``target_groups``: names, or all others)."""

    OP_ID = "OP_INSTANCE_CHANGE_GROUP"
    early_release: bool = False
    iallocator: str | None = None
    target_groups: list[str] | None = None


class _NodeOp(OpCode):
    OP_DSC_FIELD = "node_name"
    node_name: str = Field(min_length=1)
    node_uuid: str | None = None


class OpNodeMigrate(_NodeOp):
    """Migrate every primary instance of a node away: one job per instance."""

    OP_ID = "OP_NODE_MIGRATE"
    mode: MigrationMode | None = None
    live: bool | None = None
    target_node: str | None = None
    target_node_uuid: str | None = None
    allow_runtime_changes: bool = True
    ignore_ipolicy: bool = False
    iallocator: str | None = None


class OpNodeEvacuate(_NodeOp):
    """Move instances off a node (``mode``: which of its instances): one job per instance."""

    OP_ID = "OP_NODE_EVACUATE"
    early_release: bool = False
    remote_node: str | None = None
    remote_node_uuid: str | None = None
    iallocator: str | None = None
    mode: EvacMode = "all"
    ignore_soft_errors: bool = False
