"""What gnt's HTTPS daemons share: one uvicorn server on one bound socket.

:class:`HttpsServer` is the life cycle of the node daemon's server
(:class:`gnt.noded.server.NodeServer`) and of the RAPI server
(:class:`gnt.rapi.server.RapiServer`): load the TLS material, bind the
address (``port`` 0 picks a free one), serve until :meth:`HttpsServer.stop`
(signals are left to :mod:`gnt.daemon.signals`), or serve in a thread for
tests.  Subclasses say how to build the TLS context and the uvicorn config.

The TLS handshake is run by :class:`TlsAcceptor` (``loop.start_tls``) rather
than by asyncio's server, so that a refused handshake (no client
certificate, a certificate of another cluster, not TLS at all) is logged
with the peer's address and OpenSSL's reason; asyncio only logs those in
debug mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Generator
from typing import Any, ClassVar

import uvicorn

from gnt import errors

log = logging.getLogger(__name__)


TICK = 1.0  # seconds between two looks at the exit flag when nobody wakes the server


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, telling us when it listens and leaving signals to us."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()

    async def main_loop(self) -> None:
        """Serve until :meth:`wake` finds ``should_exit`` set.

        uvicorn's own loop wakes ten times a second to look at the flag: 2 ms
        of CPU a second per idle daemon, 74 ms a second for the 40 node
        daemons of a test cluster on one machine.  This one wakes when told
        and once a second (uvicorn's per-second work: the Date header).
        """
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK)
            self._wake.clear()

    def wake(self) -> None:
        """Make :meth:`main_loop` look at ``should_exit`` now (any thread, or a
        signal handler)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # gnt.daemon.signals handles them and calls HttpsServer.stop()


HANDSHAKE_TIMEOUT = 30.0  # seconds a client gets to finish the TLS handshake


def describe_tls_error(err: BaseException) -> str:
    """A short reason for a failed handshake, e.g. ``"certificate verify failed:
    self-signed certificate"`` or ``"peer did not return a certificate"``."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {err.verify_message}"
    if isinstance(err, ssl.SSLError) and err.reason:
        return err.reason.lower().replace("_", " ")
    if isinstance(err, TimeoutError):
        return f"no handshake within {HANDSHAKE_TIMEOUT:g}s"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class TlsAcceptor(asyncio.Protocol):
    """The protocol of a freshly accepted TCP connection: runs the server
    side of the TLS handshake with ``ctx`` and hands the TLS transport to
    ``inner`` (the HTTP protocol, built by ``inner_factory``); a failed
    handshake is logged (``label``, peer address, reason) and the connection
    closed.  Peers that close before sending anything are logged at debug
    level only (port probes).
    """

    def __init__(self, inner_factory: Callable[[], asyncio.Protocol], ctx: ssl.SSLContext,
                 label: str) -> None:
        self._inner_factory = inner_factory
        self._ctx = ctx
        self._label = label
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # start_tls takes over reading
        self._task = asyncio.get_running_loop().create_task(self._handshake(transport))

    async def _handshake(self, transport: asyncio.Transport) -> None:
        peer = _peer(transport)
        inner = _HandOver(self._inner_factory())
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport, inner, self._ctx, server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except OSError as err:  # ssl.SSLError, TimeoutError and resets are OSErrors
            transport.close()
            if isinstance(err, ConnectionError) and not isinstance(err, ssl.SSLError):
                log.debug("%s: %s closed the connection during the TLS handshake",
                          self._label, peer)
                return
            log.warning("%s: rejected TLS handshake from %s: %s", self._label, peer,
                        describe_tls_error(err))
            return
        if tls is None:  # the peer went away before the handshake ended
            log.debug("%s: %s closed the connection during the TLS handshake",
                      self._label, peer)
            transport.close()
            return
        inner.start(tls)

    def data_received(self, data: bytes) -> None:  # not reached: reading is paused
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


class _HandOver(asyncio.Protocol):
    """Between ``start_tls`` and :meth:`start`: asyncio may already deliver
    decrypted data (the client's first request) before ``start_tls`` returns
    the transport; keep those events and replay them to ``inner`` once it
    has its ``connection_made``, then forward everything."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self.inner = inner
        self._backlog: list[Callable[[], object]] | None = []

    def start(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)
        backlog, self._backlog = self._backlog or [], None
        for event in backlog:
            event()

    def _event(self, fn: Callable[..., object], *args: Any) -> None:
        if self._backlog is None:
            fn(*args)
        else:
            self._backlog.append(lambda: fn(*args))

    def data_received(self, data: bytes) -> None:
        if self._backlog is None:  # the hot path
            self.inner.data_received(data)
        else:
            self._event(self.inner.data_received, data)

    def eof_received(self) -> bool | None:
        if self._backlog is None:
            return self.inner.eof_received()
        self._event(self.inner.eof_received)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._event(self.inner.connection_lost, exc)

    def pause_writing(self) -> None:
        self._event(self.inner.pause_writing)

    def resume_writing(self) -> None:
        self._event(self.inner.resume_writing)


class TlsProtocolFactory:
    """A uvicorn ``http`` protocol factory: :class:`TlsAcceptor` in front of
    ``http`` (uvicorn calls it with the keyword arguments of ``http``)."""

    def __init__(self, http: type, ctx: ssl.SSLContext, label: str) -> None:
        self.http, self.ctx, self.label = http, ctx, label

    def __call__(self, **kwargs: Any) -> asyncio.Protocol:
        return TlsAcceptor(lambda: self.http(**kwargs), self.ctx, self.label)


def uvicorn_config(app: Any, ctx: ssl.SSLContext, http: type, keepalive: int,
                   graceful: int, label: str = "HTTPS server", **extra: Any) -> uvicorn.Config:
    """uvicorn's config as gnt's daemons use it: TLS with context ``ctx`` run by
    :class:`TlsAcceptor` (``label`` names the server in its log lines), our
    own logging, no lifespan, no server header; ``keepalive``/``graceful`` in
    seconds."""
    return uvicorn.Config(app, http=TlsProtocolFactory(http, ctx, label),  # type: ignore[arg-type]
                          loop="asyncio", lifespan="off", log_config=None, access_log=False,
                          server_header=False, timeout_keep_alive=keepalive,
                          timeout_graceful_shutdown=graceful, **extra)


class HttpsServer:
    """One HTTPS server on ``address``:``port``.

    Subclasses set :attr:`LABEL` (for messages), :attr:`READY_MSG` (logged
    with address and port once listening), :attr:`THREAD_PREFIX`,
    :attr:`BACKLOG`, :attr:`NODELAY` (TCP_NODELAY on the listening socket)
    and implement :meth:`_tls_context` (called before binding) and
    :meth:`_uvicorn_config` (after), optionally :meth:`_cleanup`.
    """

    LABEL: ClassVar[str] = "HTTPS server"
    READY_MSG: ClassVar[str] = "Listening on https://%s:%d/"
    THREAD_PREFIX: ClassVar[str] = "https"
    BACKLOG: ClassVar[int] = 1024
    NODELAY: ClassVar[bool] = False

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self._port = port
        self._sock: socket.socket | None = None
        self._server: _Uvicorn | None = None
        self._stop_requested = False
        self._on_ready: Callable[[], None] | None = None

    @property
    def port(self) -> int:
        """The TCP port (the bound one once :meth:`prepare` ran)."""
        return self._port

    # --- for subclasses ---
    def _tls_context(self) -> ssl.SSLContext:
        raise NotImplementedError

    def _uvicorn_config(self, ctx: ssl.SSLContext) -> uvicorn.Config:
        raise NotImplementedError

    def _cleanup(self) -> None:
        """Called once serving has ended."""

    # --- life cycle ---
    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted
        # sockets whose proto says TCP, and without it every reply waits ~40 ms
        # (Nagle + delayed ACK) because TLS writes headers and body separately.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.NODELAY:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.address, self._port))
            sock.listen(self.BACKLOG)
        except OSError as err:
            sock.close()
            raise errors.GntError(
                f"Cannot listen on {self.address}:{self._port}: {err.strerror or err}",
                errors.ECODE_ENVIRON) from err
        sock.set_inheritable(False)
        return sock

    def prepare(self) -> None:
        """Load the TLS material and bind the listening socket.

        Raises :class:`errors.ConfigurationError` if the certificate files
        cannot be used, :class:`errors.GntError` (``environment_error``) if
        the address cannot be bound (e.g. the port is busy).
        """
        if self._server is not None:
            return
        ctx = self._tls_context()
        self._sock = self._bind()
        self._port = int(self._sock.getsockname()[1])
        config = self._uvicorn_config(ctx)
        if isinstance(config.http, TlsProtocolFactory):
            config.http.label = self.LABEL  # name this server in rejected-handshake lines
        self._server = _Uvicorn(config, self._notify_ready)
        if self._stop_requested:
            self._server.should_exit = True

    def _notify_ready(self) -> None:
        log.info(self.READY_MSG, self.address, self.port)
        if self._on_ready is not None:
            self._on_ready()

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until :meth:`stop`; ``on_ready`` is called once listening.

        Blocks the calling thread.  Raises what :meth:`prepare` raises.
        """
        self.prepare()
        assert self._server is not None and self._sock is not None
        self._on_ready = on_ready
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()
            self._cleanup()
            log.info("%s on %s:%d stopped", self.LABEL, self.address, self.port)

    def stop(self) -> None:
        """Ask the server to finish (safe from signal handlers and other threads)."""
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True
            self._server.wake()

    def start_in_thread(self, timeout: float = 10.0) -> threading.Thread:
        """Serve in a background thread; returns once listening.

        For embedding and tests.  Raises what :meth:`prepare` raises, or
        :class:`errors.TimeoutError_` if the server is not up in time.
        """
        self.prepare()
        ready = threading.Event()
        thread = threading.Thread(target=self.serve, args=(ready.set,),
                                  name=f"{self.THREAD_PREFIX}-{self.address}:{self.port}",
                                  daemon=True)
        thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise errors.TimeoutError_(f"{self.LABEL} on {self.address}:{self.port} did not "
                                       f"start within {timeout}s")
        return thread
