"""Streaming endpoints of the node daemon, next to the JSON procedures.

The procedure protocol (:mod:`gnt.noded.server`) sends a whole JSON body
and gets a whole JSON reply: right for commands, wrong for gigabytes of
disk data.  A stream endpoint is an ASGI (Starlette) handler on its own
path below ``/stream/`` that reads the request body as it arrives (with
TCP back-pressure: uvicorn stops reading the socket while the handler is
behind).  It is served on the same HTTPS port with the same mutual TLS
as the procedures (the cluster certificate), so only cluster members can
call it; the join mode does not serve streams.

Register one from a procedure module (imported at daemon start)::

    from gnt.noded.streams import stream_route

    @stream_route("/stream/disk-import/{transfer_id}")
    async def disk_import(request: Request) -> Response: ...

Replies should use the procedures' body shape (``[true, result]`` /
``[false, error]``, see :func:`gnt.noded.server.encode_reply`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gnt import errors

PREFIX = "/stream/"

Handler = Callable[[Request], Awaitable[Response]]
_ROUTES: dict[str, Route] = {}


def stream_route(path: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[Handler],
                                                                           Handler]:
    """Register ``handler`` for ``path`` (must start with ``/stream/``).

    Raises :class:`errors.ProgrammerError` for another prefix or a path
    registered twice by different handlers.
    """
    if not path.startswith(PREFIX):
        raise errors.ProgrammerError(f"Stream paths start with {PREFIX}: {path!r}")

    def deco(handler: Handler) -> Handler:
        old = _ROUTES.get(path)
        if old is not None and getattr(old.endpoint, "__qualname__", None) != \
                handler.__qualname__:
            raise errors.ProgrammerError(f"Stream path {path} is registered twice")
        _ROUTES[path] = Route(path, handler, methods=list(methods))
        return handler
    return deco


def routes() -> list[Route]:
    """Every registered stream route."""
    return list(_ROUTES.values())


__all__ = ["PREFIX", "routes", "stream_route"]
