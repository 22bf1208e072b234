"""The LUXI server: a threaded unix-socket server calling one handler.

One thread accepts connections; each connection gets its own thread and may
carry any number of requests, one after the other, and stays open until the
client closes it.  A handler that blocks (``WaitForJobChange`` long-polls)
only blocks its own connection.

``handler(method, args)`` returns the JSON-serialisable result or raises a
:class:`gnt.errors.GntError`, which is sent to the client encoded (class
name, message, ecode).  Any other exception is logged with its traceback and
answered as an internal error; it never stops the server.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import os
import selectors
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

from gnt import errors
from gnt.luxi import protocol as P
from gnt.luxi.sockaddr import same_file, unix_address

logger = logging.getLogger(__name__)

Handler = Callable[[str, Any], Any]

_RECV_SIZE = 65536
_tmp_counter = itertools.count()


class LuxiServer:
    """Serve LUXI on ``socket_path`` with ``handler``.

    ``mode`` is the socket file's permission (0660 lets the daemons group in,
    0600 only the owner).  An existing socket nobody listens on (stale, left
    by a crashed daemon) is replaced; if another server answers on it,
    :meth:`start` raises :class:`gnt.errors.LuxiError`.  Use as a context
    manager or call :meth:`start` / :meth:`shutdown`.
    """

    def __init__(self, socket_path: str | os.PathLike[str], handler: Handler, *,
                 mode: int = 0o660, max_message_size: int = P.MAX_MESSAGE_SIZE,
                 backlog: int = 128) -> None:
        self.socket_path = Path(socket_path)
        self.handler = handler
        self.mode = mode
        self.max_message_size = max_message_size
        self.backlog = backlog
        self._listener: socket.socket | None = None
        self._ino_dev: tuple[int, int] | None = None
        self._accept_thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._lock = threading.Lock()
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._stopping = threading.Event()
        self._stopped = threading.Event()

    # --- lifecycle ---
    def start(self) -> None:
        """Bind the socket and start accepting connections (returns at once).

        Raises :class:`gnt.errors.LuxiError` if the path is held by another
        live server or is not a socket, ``OSError`` on bind failures.
        """
        if self._listener is not None:
            raise errors.ProgrammerError("LuxiServer already started")
        self._check_existing()
        self._listener = self._bind()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"luxi-accept:{self.socket_path.name}", daemon=True)
        self._accept_thread.start()
        logger.info("LUXI server listening on %s", self.socket_path)

    def serve_forever(self) -> None:
        """Start (if needed) and block until :meth:`shutdown` is called."""
        if self._listener is None:
            self.start()
        self._stopped.wait()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection, remove the socket file.

        Connection threads still inside the handler are not waited for
        beyond ``timeout`` seconds (they are daemon threads; their answer is
        dropped).  Safe to call more than once.
        """
        if self._listener is None or self._stopping.is_set():
            self._stopped.wait(timeout)
            return
        self._stopping.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        with self._lock:
            conns = list(self._conns.items())
        for conn, _ in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in conns:
            thread.join(max(0.0, deadline - time.monotonic()))
        if same_file(self.socket_path, self._ino_dev):
            try:
                self.socket_path.unlink()
            except OSError as err:
                logger.warning("Cannot remove LUXI socket %s: %s", self.socket_path, err)
        self._listener.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stopped.set()
        logger.info("LUXI server on %s stopped", self.socket_path)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def connection_count(self) -> int:
        """Number of open client connections."""
        with self._lock:
            return len(self._conns)

    # --- socket setup ---
    def _check_existing(self) -> None:
        path = self.socket_path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise errors.LuxiError(
                f"Cannot create the LUXI socket: {path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            with unix_address(path) as addr:
                probe.connect(addr)
        except (ConnectionRefusedError, FileNotFoundError):
            logger.info("Replacing stale LUXI socket %s", path)
            return
        except OSError as err:
            logger.warning("Probing existing LUXI socket %s failed (%s); replacing it",
                           path, err)
            return
        finally:
            probe.close()
        raise errors.LuxiError(
            f"Another LUXI server is already listening on {path}", errors.ECODE_STATE)

    def _bind(self) -> socket.socket:
        """Bind on a temporary name, set the mode, then rename into place.

        The rename atomically replaces a stale socket, and the final path
        never exists with the wrong permissions.
        """
        path = self.socket_path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        tmp = path.parent / f".luxi{os.getpid()}.{next(_tmp_counter)}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with unix_address(tmp) as addr:
                sock.bind(addr)
            try:
                os.chmod(tmp, self.mode)
                sock.listen(self.backlog)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            st = os.lstat(path)
            self._ino_dev = (st.st_ino, st.st_dev)
        except BaseException:
            sock.close()
            raise
        return sock

    # --- serving ---
    def _accept_loop(self) -> None:
        assert self._listener is not None
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is not self._listener or self._stopping.is_set():
                        continue
                    try:
                        conn, _ = self._listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as err:
                        if self._stopping.is_set():
                            break
                        logger.error("LUXI accept failed: %s", err)
                        continue
                    self._start_connection(conn)
        finally:
            sel.close()

    def _start_connection(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        thread = threading.Thread(target=self._serve_connection, args=(conn,),
                                  name=f"luxi-conn:{conn.fileno()}", daemon=True)
        with self._lock:
            if self._stopping.is_set():
                conn.close()
                return
            self._conns[conn] = thread
        thread.start()

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = P.MessageReader(self.max_message_size)
        try:
            while not self._stopping.is_set():
                try:
                    chunk = conn.recv(_RECV_SIZE)
                except OSError:
                    break
                if not chunk:
                    break
                try:
                    bodies = reader.feed(chunk)
                except P.ProtocolError as err:
                    logger.warning("Closing LUXI connection: %s", err)
                    self._send(conn, P.format_response(False, err.encode()))
                    break
                for body in bodies:
                    if not self._send(conn, self._handle(body)):
                        return
        finally:
            with self._lock:
                self._conns.pop(conn, None)
            try:
                conn.close()
            except OSError:
                pass

    @staticmethod
    def _send(conn: socket.socket, data: bytes) -> bool:
        try:
            conn.sendall(data)
            return True
        except OSError as err:
            logger.debug("LUXI client went away before its answer: %s", err)
            return False

    def _handle(self, body: bytes) -> bytes:
        """Answer one request body (never raises)."""
        try:
            method, args, _ = P.parse_request(body)
        except P.ProtocolError as err:
            logger.warning("Bad LUXI request: %s", err)
            return P.format_response(False, err.encode())
        logger.debug("LUXI request %s", method)
        try:
            result = self.handler(method, args)
            try:
                return P.format_response(True, result)
            except P.ProtocolError as err:
                raise TypeError(f"result is not JSON-serialisable ({err})") from None
        except errors.GntError as err:
            logger.debug("LUXI %s failed: %s: %s", method, type(err).__name__, err)
            return P.format_response(False, err.encode())
        except Exception as err:  # the server must survive handler bugs
            logger.exception("Unexpected error while handling LUXI %s", method)
            internal = errors.ProgrammerError(
                f"Internal error in the master daemon while handling {method}: "
                f"{type(err).__name__}: {err}", errors.ECODE_FAULT)
            return P.format_response(False, internal.encode())


def make_dispatcher(methods: Mapping[str, Callable[..., Any]]) -> Handler:
    """A handler calling ``methods[method](*args)``.

    Unknown methods and argument lists that do not fit the function's
    signature are refused with :class:`gnt.luxi.protocol.RequestError`
    (ecode ``wrong_input``) before the function runs.
    """
    signatures = {name: inspect.signature(fn) for name, fn in methods.items()}

    def handler(method: str, args: Any) -> Any:
        fn = methods.get(method)
        if fn is None:
            raise P.RequestError(f"Unknown LUXI method '{method}'", errors.ECODE_INVAL)
        if not isinstance(args, list):
            raise P.RequestError(
                f"Invalid arguments for {method}: expected a list, got {type(args).__name__}",
                errors.ECODE_INVAL)
        try:
            signatures[method].bind(*args)
        except TypeError as err:
            raise P.RequestError(f"Invalid arguments for {method}: {err}",
                                 errors.ECODE_INVAL) from None
        return fn(*args)

    return handler
