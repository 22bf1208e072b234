"""Node and node group objects."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gnt import constants as C
from gnt.objects.base import TimestampedObject


class Node(TimestampedObject):
    """A node of the cluster.  ``group`` is the node group's UUID."""

    name: str
    primary_ip: str
    secondary_ip: str
    master_candidate: bool = True
    offline: bool = False
    drained: bool = False
    group: str
    master_capable: bool = True
    vm_capable: bool = True
    ndparams: dict[str, Any] = Field(default_factory=dict)
    powered: bool = True

    def role(self, master_uuid: str) -> str:
        """One-letter role, as ``gnt-node list -o role``: M, C, R, D or O."""
        if self.uuid == master_uuid:
            return C.NR_MASTER
        if self.master_candidate:
            return C.NR_MCANDIDATE
        if self.drained:
            return C.NR_DRAINED
        if self.offline:
            return C.NR_OFFLINE
        return C.NR_REGULAR
