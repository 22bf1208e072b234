"""LUXI: the master daemon's unix-socket protocol (Ganeti's), server and client.

- :mod:`gnt.luxi.protocol`: framing, method names, request/response shapes,
  query field kinds and result statuses, protocol errors.
- :mod:`gnt.luxi.server`: :class:`LuxiServer` (threaded, one thread per
  connection) and :func:`make_dispatcher`.
- :mod:`gnt.luxi.client`: :class:`Client` with typed wrappers per call.
"""

from gnt.luxi.client import Client
from gnt.luxi.protocol import (
    JOB_NOTCHANGED,
    ConnectionClosedError,
    LuxiPermissionError,
    LuxiTimeoutError,
    ProtocolError,
    RequestError,
)
from gnt.luxi.server import Handler, LuxiServer, make_dispatcher

__all__ = [
    "JOB_NOTCHANGED", "Client", "ConnectionClosedError", "Handler", "LuxiPermissionError",
    "LuxiServer", "LuxiTimeoutError", "ProtocolError", "RequestError", "make_dispatcher",
]
