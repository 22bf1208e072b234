"""The lock manager of the master daemon.

Levels (:class:`Level`, acquired in increasing order), modes, ``ALL_SET`` and
:class:`LockManager`; see :mod:`gnt.locking.manager` for the semantics and
the deadlock-freedom argument.
"""

from gnt.locking.levels import (
    ALL_SET,
    BGL,
    LEVEL_CLUSTER,
    LEVEL_INSTANCE,
    LEVEL_NAMES,
    LEVEL_NETWORK,
    LEVEL_NODE,
    LEVEL_NODE_RES,
    LEVEL_NODEGROUP,
    LOCKSET_NAME,
    AllSet,
    Level,
    Mode,
)
from gnt.locking.manager import CANCEL_POLL_INTERVAL, LockInfo, LockManager

__all__ = [
    "ALL_SET",
    "BGL",
    "CANCEL_POLL_INTERVAL",
    "LEVEL_CLUSTER",
    "LEVEL_INSTANCE",
    "LEVEL_NAMES",
    "LEVEL_NETWORK",
    "LEVEL_NODE",
    "LEVEL_NODEGROUP",
    "LEVEL_NODE_RES",
    "LOCKSET_NAME",
    "AllSet",
    "Level",
    "LockInfo",
    "LockManager",
    "Mode",
]
