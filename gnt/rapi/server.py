"""The RAPI HTTPS server: uvicorn serving :func:`gnt.rapi.app.create_app`.

TLS with the RAPI certificate (``rapi.pem``: key and certificate, no
client certificates).  A client must send each complete request head
within ``request_timeout`` seconds of starting it (or of the previous
answer on a kept-alive connection), else it gets 408 and the connection
is closed; the body has the same limit (enforced by the application).
Handlers run in a pool of ``max_clients`` worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gnt import constants, errors, paths
from gnt.rapi.app import RapiConfig, create_app
from gnt.rapi.constants import KEEPALIVE_TIMEOUT
from gnt.rapi.httperror import HttpError
from gnt.rapi.luxi import LuxiAccess
from gnt.rapi.users import UsersFile

log = logging.getLogger(__name__)

GRACEFUL_TIMEOUT = 5  # seconds running requests get at shutdown


def tls_context(cert_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A server TLS context presenting ``cert_file`` (key + certificate PEM).

    Raises :class:`errors.ConfigurationError` if it cannot be loaded.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(os.fspath(cert_file))
    except FileNotFoundError as err:
        raise errors.ConfigurationError(
            f"RAPI certificate {cert_file} does not exist", errors.ECODE_ENVIRON) from err
    except (OSError, ssl.SSLError) as err:
        raise errors.ConfigurationError(
            f"Cannot load the RAPI key and certificate from {cert_file}: {err}",
            errors.ECODE_ENVIRON) from err
    return ctx


def _protocol_class(head_timeout: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head."""

    class TimedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # a whole request head arrived: the application takes over

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # the application is working on a request
            if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                # nothing of a new request arrived: an idle connection
                self.transport.close()
                return
            body = HttpError(408, "Timeout while reading the request").body()
            head = (f"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            self.transport.write(head.encode("ascii") + body)
            log.info("Closing connection from %s: request not received in time",
                     self.client[0] if self.client else "-")
            self.transport.close()

    return TimedH11Protocol


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
        yield  # the daemon handles signals and calls RapiServer.stop()


class RapiServer:
    """The RAPI server on ``address``:``port`` (0 picks a free port).

    ``cert_file`` defaults to this root's ``rapi.pem``, ``users`` to the
    root's users file, ``luxi_socket`` to the root's master socket.
    """

    def __init__(self, address: str, port: int = constants.DEFAULT_RAPI_PORT, *,
                 cert_file: str | os.PathLike[str] | None = None,
                 users: UsersFile | None = None,
                 luxi_socket: str | os.PathLike[str] | None = None,
                 config: RapiConfig | None = None) -> None:
        self.address = address
        self._port = port
        self.cert_file = Path(cert_file) if cert_file else paths.get().rapi_cert_file
        self.users = users if users is not None else UsersFile()
        self.config = config or RapiConfig()
        self.luxi = LuxiAccess(luxi_socket)
        self._sock: socket.socket | None = None
        self._server: _Uvicorn | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stop_requested = False
        self._on_ready: Callable[[], None] | None = None

    @property
    def port(self) -> int:
        """The TCP port (the bound one once :meth:`prepare` ran)."""
        return self._port

    def prepare(self) -> None:
        """Load the certificate and bind the socket.

        Raises :class:`errors.ConfigurationError` for an unusable
        certificate, :class:`errors.GntError` (``environment_error``) if
        the address cannot be bound.
        """
        if self._server is not None:
            return
        ctx = tls_context(self.cert_file)
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, self._port))
            sock.listen(1024)
        except OSError as err:
            sock.close()
            raise errors.GntError(
                f"Cannot listen on {self.address}:{self._port}: {err.strerror or err}",
                errors.ECODE_ENVIRON) from err
        sock.set_inheritable(False)
        self._sock = sock
        self._port = int(sock.getsockname()[1])
        self._executor = ThreadPoolExecutor(self.config.max_clients,
                                            thread_name_prefix="rapi")
        app = create_app(self.users, self.luxi, self._executor, self.config)
        uv_config = uvicorn.Config(
            app,
            ssl_context_factory=lambda _config, _default: ctx,
            http=_protocol_class(self.config.request_timeout),
            loop="asyncio",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=True,
            timeout_keep_alive=KEEPALIVE_TIMEOUT,
            timeout_graceful_shutdown=GRACEFUL_TIMEOUT,
            h11_max_incomplete_event_size=16 * 1024,
        )
        self._server = _Uvicorn(uv_config, self._notify_ready)
        if self._stop_requested:
            self._server.should_exit = True

    def _notify_ready(self) -> None:
        log.info("RAPI listening on https://%s:%d/", self.address, self.port)
        if self._on_ready is not None:
            self._on_ready()

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until :meth:`stop` (blocks); ``on_ready`` once listening."""
        self.prepare()
        assert self._server is not None and self._sock is not None
        assert self._executor is not None
        self._on_ready = on_ready
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._sock.close()
            self._executor.shutdown(wait=False, cancel_futures=True)
            self.luxi.close()
            log.info("RAPI server on %s:%d stopped", self.address, self.port)

    def stop(self) -> None:
        """Ask the server to finish (safe from signal handlers and threads)."""
        self._stop_requested = True
        if self._server is not None:
            self._server.should_exit = True

    def start_in_thread(self, timeout: float = 10.0) -> threading.Thread:
        """Serve in a background thread; returns once listening (tests)."""
        self.prepare()
        ready = threading.Event()
        thread = threading.Thread(target=self.serve, args=(ready.set,),
                                  name=f"rapi-{self.address}:{self.port}", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise errors.TimeoutError_(f"RAPI server on {self.address}:{self.port} did not "
                                       f"start within {timeout}s")
        return thread
