"""The RAPI HTTPS server: uvicorn serving :func:`gnt.rapi.app.create_app`.

TLS with the RAPI certificate (``rapi.pem``: key and certificate, no
client certificates), reloaded without a restart: every new connection
checks whether the file changed (``gnt-cluster renew-crypto
--new-rapi-certificate`` replaces it) and :meth:`RapiServer.reload_certificate`
forces it (SIGHUP).  A client must send each complete request head
within ``request_timeout`` seconds of starting it (or of the previous
answer on a kept-alive connection), else it gets 408 and the connection
is closed; the body has the same limit (enforced by the application).
Handlers run in a pool of ``max_clients`` worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gnt import constants, paths
from gnt.crypto.tls import ReloadableServerContext
from gnt.httpserver import HttpsServer, uvicorn_config
from gnt.rapi.app import RapiConfig, create_app
from gnt.rapi.constants import KEEPALIVE_TIMEOUT
from gnt.rapi.httperror import HttpError
from gnt.rapi.luxi import LuxiAccess
from gnt.rapi.users import UsersFile

log = logging.getLogger(__name__)

GRACEFUL_TIMEOUT = 5  # seconds running requests get at shutdown


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


class RapiServer(HttpsServer):
    """The RAPI server on ``address``:``port`` (0 picks a free port).

    ``cert_file`` defaults to this root's ``rapi.pem``, ``users`` to the
    root's users file, ``luxi_socket`` to the root's master socket.
    """

    LABEL = "RAPI server"
    READY_MSG = "RAPI listening on https://%s:%d/"
    THREAD_PREFIX = "rapi"
    BACKLOG = 1024

    def __init__(self, address: str, port: int = constants.DEFAULT_RAPI_PORT, *,
                 cert_file: str | os.PathLike[str] | None = None,
                 users: UsersFile | None = None,
                 luxi_socket: str | os.PathLike[str] | None = None,
                 config: RapiConfig | None = None) -> None:
        super().__init__(address, port)
        self.cert_file = Path(cert_file) if cert_file else paths.get().rapi_cert_file
        self.users = users if users is not None else UsersFile()
        self.config = config or RapiConfig()
        self.luxi = LuxiAccess(luxi_socket)
        self._executor: ThreadPoolExecutor | None = None
        self.tls: ReloadableServerContext[None] | None = None

    def _tls_context(self) -> ssl.SSLContext:
        self.tls = ReloadableServerContext(self.cert_file, lambda: None, watch=True,
                                           what="RAPI certificate")
        return self.tls.context

    def reload_certificate(self) -> None:
        """Load ``rapi.pem`` again for new connections.

        Raises :class:`errors.ConfigurationError` if it cannot be used (the
        previous certificate stays in use).
        """
        if self.tls is not None:
            self.tls.reload()

    def _uvicorn_config(self, ctx: ssl.SSLContext) -> uvicorn.Config:
        self._executor = ThreadPoolExecutor(self.config.max_clients,
                                            thread_name_prefix="rapi")
        app = create_app(self.users, self.luxi, self._executor, self.config)
        return uvicorn_config(app, ctx, _protocol_class(self.config.request_timeout),
                              KEEPALIVE_TIMEOUT, GRACEFUL_TIMEOUT, date_header=True,
                              h11_max_incomplete_event_size=16 * 1024)

    def _cleanup(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.luxi.close()
