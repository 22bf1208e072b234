"""What gnt's HTTPS daemons share: one uvicorn server on one bound socket.

:class:`HttpsServer` is the life cycle of the node daemon's server
(:class:`gnt.noded.server.NodeServer`) and of the RAPI server
(:class:`gnt.rapi.server.RapiServer`): load the TLS material, bind the
address (``port`` 0 picks a free one), serve until :meth:`HttpsServer.stop`
(signals are left to :mod:`gnt.daemon.signals`), or serve in a thread for
tests.  Subclasses say how to build the TLS context and the uvicorn config.
"""

from __future__ import annotations

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
        yield  # gnt.daemon.signals handles them and calls HttpsServer.stop()


def uvicorn_config(app: Any, ctx: ssl.SSLContext, http: type, keepalive: int,
                   graceful: int, **extra: Any) -> uvicorn.Config:
    """uvicorn's config as gnt's daemons use it: TLS context ``ctx``, our own
    logging, no lifespan, no server header; ``keepalive``/``graceful`` in seconds."""
    return uvicorn.Config(app, ssl_context_factory=lambda _config, _default: ctx, http=http,
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
        self._server = _Uvicorn(self._uvicorn_config(ctx), self._notify_ready)
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
