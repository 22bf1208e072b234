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
import contextlib
import json
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from gnt import constants, errors, paths
from gnt.crypto.tls import ReloadableServerContext, TrustStore
from gnt.noded import registry

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


def create_app(executor: Executor, lookup: Lookup = registry.lookup) -> Starlette:
    """The ASGI application dispatching calls to the procedures ``lookup``
    finds (default: every registered one) in ``executor``."""

    async def call(request: Request) -> Response:
        name = request.path_params["procedure"]
        proc = lookup(name)
        if proc is None:
            return _error_reply(404, errors.RPCError(
                f"Unknown procedure '{name}'", errors.ECODE_NOENT))
        body = await request.body()
        try:
            args = json.loads(body) if body.strip() else []
        except ValueError as err:
            return _error_reply(400, errors.RPCError(
                f"Request body of '{name}' is not valid JSON: {err}", errors.ECODE_INVAL))
        if not isinstance(args, list):
            return _error_reply(400, errors.RPCError(
                f"Arguments of '{name}' must be a JSON list, not {type(args).__name__}",
                errors.ECODE_INVAL))
        loop = asyncio.get_running_loop()
        status, reply = await loop.run_in_executor(executor, invoke, proc, args)
        return Response(reply, status_code=status, media_type=_JSON)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            err = errors.RPCError(f"No procedure at path '{request.url.path}'",
                                  errors.ECODE_NOENT)
        elif status == 405:
            err = errors.RPCError(f"Method {request.method} not allowed; procedures are "
                                  "called with POST", errors.ECODE_INVAL)
        else:
            err = errors.RPCError(f"HTTP error {status} for {request.method} "
                                  f"{request.url.path}", errors.ECODE_INVAL)
        return _error_reply(status, err)

    return Starlette(
        routes=[Route("/{procedure}", call, methods=["POST"])],
        exception_handlers={HTTPException: http_error},
    )


def _protocol_class(accepts: Callable[[bytes | None], bool]) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol, dropping peers ``accepts`` refuses."""

    class PeerCheckingProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if not accepts(der):
                log.warning("Refusing client %s: its certificate is not accepted",
                            transport.get_extra_info("peername"))
                transport.abort()

    return PeerCheckingProtocol


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, telling us when it listens and leaving signals to us."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # gnt.daemon.signals handles them and calls NodeServer.stop()


class NodeServer:
    """The noded HTTPS server on one address.

    ``cert_file`` (default: this root's ``server.pem``) is the key +
    certificate the server presents; ``trust`` (default: the certificate in
    ``cert_file``) decides which clients are accepted.  ``port`` 0 picks a
    free port (see :attr:`port`).  ``ssl_context`` plus ``accept_peer``
    replace both for special servers (the join mode, see
    :mod:`gnt.noded.join`), ``lookup`` the set of procedures served.
    """

    def __init__(self, address: str, port: int = constants.DEFAULT_NODED_PORT,
                 cert_file: str | os.PathLike[str] | None = None,
                 trust: TrustStore | None = None, workers: int = DEFAULT_WORKERS,
                 ssl_context: ssl.SSLContext | None = None,
                 accept_peer: Callable[[bytes | None], bool] | None = None,
                 lookup: Lookup = registry.lookup) -> None:
        self.address = address
        self._port = port
        self.cert_file = Path(cert_file) if cert_file else paths.get().noded_cert_file
        self._trust = trust
        self._workers = workers
        self._ssl_context = ssl_context
        self._accept_peer = accept_peer
        self._lookup = lookup
        #: the reloadable TLS material of a normal-mode server (see prepare)
        self.tls: ReloadableServerContext | None = None
        self._sock: socket.socket | None = None
        self._server: _Uvicorn | None = None
        self._stop_requested = False
        self._on_ready: Callable[[], None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def port(self) -> int:
        """The TCP port (the bound one once :meth:`prepare` ran)."""
        return self._port

    def prepare(self) -> None:
        """Load the certificates and bind the listening socket.

        Raises :class:`errors.ConfigurationError` if the certificate files
        cannot be used, :class:`errors.GntError` (``environment_error``) if
        the address cannot be bound (e.g. the port is busy).
        """
        if self._server is not None:
            return
        if self._ssl_context is not None:
            ctx = self._ssl_context
            accepts = self._accept_peer or (lambda _der: True)
        else:
            fixed = self._trust
            reloadable = ReloadableServerContext(
                self.cert_file, lambda: fixed or TrustStore.cluster(self.cert_file))
            self.tls = reloadable
            ctx = reloadable.context
            accepts = lambda der: reloadable.trust_store.accepts(der)  # noqa: E731
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted
        # sockets whose proto says TCP, and without it every reply waits ~40 ms
        # (Nagle + delayed ACK) because TLS writes headers and body separately.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.address, self._port))
            sock.listen(2048)
        except OSError as err:
            sock.close()
            raise errors.GntError(
                f"Cannot listen on {self.address}:{self._port}: {err.strerror or err}",
                errors.ECODE_ENVIRON) from err
        sock.set_inheritable(False)
        self._sock = sock
        self._port = int(sock.getsockname()[1])
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="noded-rpc")
        config = uvicorn.Config(
            create_app(self._executor, self._lookup),
            ssl_context_factory=lambda _config, _default: ctx,
            http=_protocol_class(accepts),
            loop="asyncio",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEPALIVE_TIMEOUT,
            timeout_graceful_shutdown=GRACEFUL_TIMEOUT,
        )
        self._server = _Uvicorn(config, self._notify_ready)
        if self._stop_requested:
            self._server.should_exit = True

    def _notify_ready(self) -> None:
        log.info("Listening on https://%s:%d/", self.address, self.port)
        if self._on_ready is not None:
            self._on_ready()

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until :meth:`stop`; ``on_ready`` is called once listening.

        Blocks the calling thread.  Raises what :meth:`prepare` raises.
        """
        self.prepare()
        assert self._server is not None and self._sock is not None
        assert self._executor is not None
        self._on_ready = on_ready
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()
            self._executor.shutdown(wait=False, cancel_futures=True)
            log.info("Server on %s:%d stopped", self.address, self.port)

    def stop(self) -> None:
        """Ask the server to finish (safe from signal handlers and other threads)."""
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True

    def start_in_thread(self, timeout: float = 10.0) -> threading.Thread:
        """Serve in a background thread; returns once listening.

        For embedding and tests.  Raises what :meth:`prepare` raises, or
        :class:`errors.TimeoutError_` if the server is not up in time.
        """
        self.prepare()
        ready = threading.Event()
        thread = threading.Thread(target=self.serve, args=(ready.set,),
                                  name=f"noded-{self.address}:{self.port}", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise errors.TimeoutError_(f"Node server on {self.address}:{self.port} did not "
                                       f"start within {timeout}s")
        return thread
