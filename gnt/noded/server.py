"""The node daemon's HTTPS server: Ganeti's noded protocol over mutual TLS.

Protocol: ``POST /<procedure>`` with a JSON list of arguments as the body
(an empty body means no arguments).  The reply body is always JSON
``[true, result]`` or ``[false, error]``, where ``error`` is
:meth:`gnt.errors.GntError.encode` (``[class_name, [message, ecode]]``):

==========================================  ======  ===========================
case                                        status  error class
==========================================  ======  ===========================
success                                     200     -
the procedure raised a GntError             200     the error's own class
arguments do not fit the procedure          200     ParameterError
any other exception in the procedure        500     OpExecError (logged)
unknown procedure or path                   404     RPCError
body is not a JSON list                     400     RPCError
method other than POST                      405     RPCError
==========================================  ======  ===========================

Clients must present a certificate the server's :class:`TrustStore`
accepts; others fail the TLS handshake (or are dropped right after it when
the store has a ``peer_check``).  Procedures run in a thread pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gnt import constants, errors, paths
from gnt.crypto.tls import ReloadableServerContext, TrustStore
from gnt.httpserver import HttpsServer, uvicorn_config
from gnt.noded import registry, streams

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 32  # procedures running at the same time
# Idle client connections are kept this long (seconds); clients expire
# theirs sooner (gnt.rpc.client.KEEPALIVE_EXPIRY) so they never reuse a
# connection the server is closing.
KEEPALIVE_TIMEOUT = 120
GRACEFUL_TIMEOUT = 10  # seconds running requests get at shutdown

_JSON = "application/json"


def encode_reply(ok: bool, payload: Any) -> bytes:
    """The wire form of a reply: ``[ok, payload]`` as compact JSON."""
    return json.dumps([ok, payload], separators=(",", ":")).encode()


def _error_reply(status: int, err: errors.GntError) -> Response:
    return Response(encode_reply(False, err.encode()), status_code=status, media_type=_JSON)


def invoke(proc: registry.Procedure, args: list[Any]) -> tuple[int, bytes]:
    """Run ``proc`` with ``args``; returns (HTTP status, reply body).

    Never raises: every failure becomes an error reply.
    """
    start = time.monotonic()
    try:
        result = proc(args)
        body = encode_reply(True, result)
    except errors.GntError as err:
        log.info("Procedure %s failed: %s: %s", proc.name, type(err).__name__, err)
        return 200, encode_reply(False, err.encode())
    except Exception as err:
        log.exception("Procedure %s raised an unexpected error", proc.name)
        internal = errors.OpExecError(
            f"Internal error in node daemon procedure '{proc.name}': "
            f"{type(err).__name__}: {err}", errors.ECODE_FAULT)
        return 500, encode_reply(False, internal.encode())
    log.debug("Procedure %s done in %.1f ms", proc.name, (time.monotonic() - start) * 1000)
    return 200, body


Lookup = Callable[[str], "registry.Procedure | None"]


async def _dispatch(executor: Executor, lookup: Lookup, name: str,
                    body: bytes) -> tuple[int, bytes]:
    """A procedure call's (HTTP status, reply body)."""
    proc = lookup(name)
    if proc is None:
        return 404, encode_reply(False, errors.RPCError(
            f"Unknown procedure '{name}'", errors.ECODE_NOENT).encode())
    try:
        args = json.loads(body) if body.strip() else []
    except ValueError as err:
        return 400, encode_reply(False, errors.RPCError(
            f"Request body of '{name}' is not valid JSON: {err}", errors.ECODE_INVAL).encode())
    if not isinstance(args, list):
        return 400, encode_reply(False, errors.RPCError(
            f"Arguments of '{name}' must be a JSON list, not {type(args).__name__}",
            errors.ECODE_INVAL).encode())
    return await asyncio.get_running_loop().run_in_executor(executor, invoke, proc, args)


def _method_not_allowed(method: str) -> errors.RPCError:
    return errors.RPCError(f"Method {method} not allowed; procedures are called with POST",
                           errors.ECODE_INVAL)


async def _send_reply(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", _JSON.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(executor: Executor, lookup: Lookup = registry.lookup) -> ASGIApp:
    """The ASGI application dispatching calls to the procedures ``lookup``
    finds (default: every registered one) in ``executor``.

    Requests for ``/<procedure>`` are answered directly, without Starlette's
    middleware and routing (a third of the node daemon's CPU for a small
    call); Starlette serves the stream endpoints and answers every other
    path with an error reply.
    """

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            err = errors.RPCError(f"No procedure at path '{request.url.path}'",
                                  errors.ECODE_NOENT)
        elif status == 405:
            err = _method_not_allowed(request.method)
        else:
            err = errors.RPCError(f"HTTP error {status} for {request.method} "
                                  f"{request.url.path}", errors.ECODE_INVAL)
        return _error_reply(status, err)

    # stream endpoints (gnt.noded.streams) only with the full procedure set,
    # not in the join mode
    extra = streams.routes() if lookup is registry.lookup else []
    fallback = Starlette(routes=extra, exception_handlers={HTTPException: http_error})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"][1:] if scope["type"] == "http" else ""
        if not name or "/" in name:
            await fallback(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send_reply(send, 405, encode_reply(
                False, _method_not_allowed(scope["method"]).encode()))
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await _send_reply(send, *await _dispatch(executor, lookup, name, b"".join(chunks)))

    return app


def _protocol_class(accepts: Callable[[bytes | None], bool]) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP/1.1 protocol on httptools (C; about a third less CPU
    per call than h11), dropping peers ``accepts`` refuses."""

    class PeerCheckingProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if not accepts(der):
                log.warning("Refusing client %s: its certificate is not accepted",
                            transport.get_extra_info("peername"))
                transport.abort()

    return PeerCheckingProtocol


class NodeServer(HttpsServer):
    """The noded HTTPS server on one address.

    ``cert_file`` (default: this root's ``server.pem``) is the key +
    certificate the server presents; ``trust`` (default: the certificate in
    ``cert_file``) decides which clients are accepted.  ``port`` 0 picks a
    free port (see :attr:`port`).  ``ssl_context`` plus ``accept_peer``
    replace both for special servers (the join mode, see
    :mod:`gnt.noded.join`), ``lookup`` the set of procedures served.
    """

    LABEL = "Node server"
    READY_MSG = "Listening on https://%s:%d/"
    THREAD_PREFIX = "noded"
    BACKLOG = 2048
    NODELAY = True

    def __init__(self, address: str, port: int = constants.DEFAULT_NODED_PORT,
                 cert_file: str | os.PathLike[str] | None = None,
                 trust: TrustStore | None = None, workers: int = DEFAULT_WORKERS,
                 ssl_context: ssl.SSLContext | None = None,
                 accept_peer: Callable[[bytes | None], bool] | None = None,
                 lookup: Lookup = registry.lookup) -> None:
        super().__init__(address, port)
        self.cert_file = Path(cert_file) if cert_file else paths.get().noded_cert_file
        self._trust = trust
        self._workers = workers
        self._ssl_context = ssl_context
        self._accept_peer = accept_peer
        self._lookup = lookup
        #: the reloadable TLS material of a normal-mode server (see prepare)
        self.tls: ReloadableServerContext | None = None
        self._accepts: Callable[[bytes | None], bool] = lambda _der: True
        self._executor: ThreadPoolExecutor | None = None

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is not None:
            if self._accept_peer is not None:
                self._accepts = self._accept_peer
            return self._ssl_context
        fixed = self._trust
        reloadable = ReloadableServerContext(
            self.cert_file, lambda: fixed or TrustStore.cluster(self.cert_file))
        self.tls = reloadable
        self._accepts = lambda der: reloadable.trust_store.accepts(der)
        return reloadable.context

    def _uvicorn_config(self, ctx: ssl.SSLContext) -> uvicorn.Config:
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="noded-rpc")
        return uvicorn_config(create_app(self._executor, self._lookup), ctx,
                              _protocol_class(self._accepts), KEEPALIVE_TIMEOUT,
                              GRACEFUL_TIMEOUT)

    def _cleanup(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
