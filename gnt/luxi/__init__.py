"""LUXI: the master daemon's unix-socket protocol (Ganeti's), server and client.

- :mod:`gnt.luxi.protocol`: framing, method names, request/response shapes,
  query field kinds and result statuses, protocol errors.
- :mod:`gnt.luxi.server`: :class:`LuxiServer` (threaded, one thread per
  connection) and :func:`make_dispatcher`.
- :mod:`gnt.luxi.client`: :class:`Client` with typed wrappers per call.

The names below load on first use, so a CLI process importing the client
does not import the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gnt.utils.lazy_exports import module_getattr

if TYPE_CHECKING:
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

_EXPORTS = {
    "Client": "gnt.luxi.client",
    "JOB_NOTCHANGED": "gnt.luxi.protocol", "ConnectionClosedError": "gnt.luxi.protocol",
    "LuxiPermissionError": "gnt.luxi.protocol", "LuxiTimeoutError": "gnt.luxi.protocol",
    "ProtocolError": "gnt.luxi.protocol", "RequestError": "gnt.luxi.protocol",
    "Handler": "gnt.luxi.server", "LuxiServer": "gnt.luxi.server",
    "make_dispatcher": "gnt.luxi.server",
}


__getattr__ = module_getattr("gnt.luxi", _EXPORTS, globals())


__all__ = [
    "JOB_NOTCHANGED", "Client", "ConnectionClosedError", "Handler", "LuxiPermissionError",
    "LuxiServer", "LuxiTimeoutError", "ProtocolError", "RequestError", "make_dispatcher",
]
