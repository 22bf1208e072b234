"""Everything an LU needs from the master daemon, in one small object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnt.config import ConfigWriter
    from gnt.locking import LockManager
    from gnt.masterd.noderpc import NodeRpc


@dataclass
class MasterContext:
    """The master's shared state: config writer, node RPC, lock manager, job queue."""

    cfg: ConfigWriter
    rpc: NodeRpc
    glm: LockManager
    queue: Any = None  # gnt.jqueue.JobQueue, set once created
    extra: dict[str, Any] = field(default_factory=dict)
