"""Node RPC: calling procedures on node daemons (see :mod:`gnt.noded` for the server).

``get_client().call(address, "version", [], timeout)`` returns an
:class:`RpcResult`; ``call_many`` does the same on many nodes in parallel.
"""

from gnt.rpc.client import (
    DEFAULT_TIMEOUT,
    TMO_1DAY,
    TMO_4HRS,
    TMO_FAST,
    TMO_NORMAL,
    TMO_SLOW,
    TMO_URGENT,
    RpcClient,
    get_client,
)
from gnt.rpc.result import OFFLINE_MSG, RpcResult

__all__ = [
    "DEFAULT_TIMEOUT",
    "OFFLINE_MSG",
    "TMO_1DAY",
    "TMO_4HRS",
    "TMO_FAST",
    "TMO_NORMAL",
    "TMO_SLOW",
    "TMO_URGENT",
    "RpcClient",
    "RpcResult",
    "get_client",
]
