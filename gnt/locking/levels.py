"""Lock levels, lock modes and the ``ALL_SET`` marker.

The levels are acquired in the order of :class:`Level` (lowest value first);
iterating ``Level`` yields them in that order.  Their names (``cluster``,
``nodegroup``, ``instance``, ``node``, ``node-res``, ``network``) are
Ganeti's, as shown by ``gnt-debug locks`` (``instance/inst1.example.com``,
``node/[lockset]``, ``cluster/BGL``).
"""

from __future__ import annotations

import enum
from typing import Final


class Level(enum.IntEnum):
    """A lock level; an owner acquires levels in increasing order.

    Node groups come before instances, so an LU locks a group and then the
    instances it finds in it.  (Ganeti orders instance before nodegroup and
    locks instances optimistically first; any fixed order is deadlock-free,
    this is gnt's.)
    """

    CLUSTER = 0
    NODEGROUP = 1
    INSTANCE = 2
    NODE = 3
    NODE_RES = 4
    NETWORK = 5

    @property
    def lock_name(self) -> str:
        """Ganeti's name of the level (``"node-res"`` for NODE_RES)."""
        return LEVEL_NAMES[self]


LEVEL_CLUSTER: Final = Level.CLUSTER
LEVEL_NODEGROUP: Final = Level.NODEGROUP
LEVEL_INSTANCE: Final = Level.INSTANCE
LEVEL_NODE: Final = Level.NODE
LEVEL_NODE_RES: Final = Level.NODE_RES
LEVEL_NETWORK: Final = Level.NETWORK

LEVEL_NAMES: Final[dict[Level, str]] = {
    Level.CLUSTER: "cluster",
    Level.NODEGROUP: "nodegroup",
    Level.INSTANCE: "instance",
    Level.NODE: "node",
    Level.NODE_RES: "node-res",
    Level.NETWORK: "network",
}

#: The one lock of :data:`LEVEL_CLUSTER`, the "Big Ganeti Lock".
BGL: Final = "BGL"

#: How ``gnt-debug locks`` names the lock standing for a whole level.
LOCKSET_NAME: Final = "[lockset]"


class Mode(str, enum.Enum):
    """How a lock is held; the values are Ganeti's texts."""

    SHARED = "shared"
    EXCLUSIVE = "exclusive"


class AllSet(enum.Enum):
    """Type of :data:`ALL_SET` (a singleton, so type checkers can see it)."""

    ALL_SET = "ALL_SET"

    def __repr__(self) -> str:
        return "ALL_SET"


#: "Every lock at this level, including ones added later" (Ganeti's
#: ``locking.ALL_SET``).  Pass it instead of a list of names.
ALL_SET: Final = AllSet.ALL_SET
