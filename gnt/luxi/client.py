"""The LUXI client: one persistent connection to the master daemon.

Every call sends ``{"method", "args", "version"}`` and waits for the answer;
a failed call raises the error the master encoded (same class and ecode as
raised in the master), :class:`gnt.luxi.protocol.RequestError` for an
unencoded refusal.  The connection is kept open between calls; if it turns
out broken it is re-established once: always when the request could not be
sent (the master never saw it), and for read-only calls also when the answer
was lost.  A client may be shared between threads (calls are serialised).
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self, cast

from gnt import errors, paths
from gnt.luxi import protocol as P
from gnt.luxi.sockaddr import unix_address

OpLike = Any  # a dict with OP_ID (Ganeti's JSON form) or an object with to_dict()

_RECV_SIZE = 1 << 20  # large answers (2,000-instance queries) in few reads
_BROKEN_ERRNOS = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ECONNABORTED,
                            errno.ESHUTDOWN})


def _op_to_dict(op: OpLike) -> dict[str, Any]:
    if isinstance(op, dict):
        return op
    to_dict = getattr(op, "to_dict", None)
    if callable(to_dict):
        return cast(dict[str, Any], to_dict())
    raise errors.ProgrammerError(f"Not an opcode: {op!r}")


def _job_id(method: str, value: Any) -> int:
    if isinstance(value, bool):
        value = None  # booleans are not job ids
    try:
        return int(value)
    except (TypeError, ValueError):
        raise P.RequestError(f"Invalid job id passed to {method}: expected an integer, "
                             f"got {value!r}", errors.ECODE_INVAL) from None


class Client:
    """LUXI client for the socket at ``socket_path`` (default: this root's
    ``paths.get().luxi_socket``).

    ``connect_timeout`` and ``rw_timeout`` are in seconds; ``rw_timeout`` is
    the longest wait for one answer (calls may pass their own).  With
    ``connect=True`` (default) the constructor connects at once and raises
    :class:`gnt.errors.NoMasterError` when no master daemon listens.
    """

    def __init__(self, socket_path: str | os.PathLike[str] | None = None, *,
                 connect_timeout: float = P.DEF_CTMO, rw_timeout: float = P.DEF_RWTO,
                 max_message_size: int = P.MAX_MESSAGE_SIZE, connect: bool = True) -> None:
        self.socket_path = Path(socket_path) if socket_path is not None \
            else paths.get().luxi_socket
        self.connect_timeout = connect_timeout
        self.rw_timeout = rw_timeout
        self.max_message_size = max_message_size
        self._sock: socket.socket | None = None
        self._reader = P.MessageReader(max_message_size)
        self._lock = threading.RLock()
        if connect:
            with self._lock:
                self._connect()

    # --- connection ---
    def _no_master(self) -> errors.NoMasterError:
        return errors.NoMasterError(
            "Cannot communicate with the master daemon (socket "
            f"{self.socket_path}).\nIs this the master node? Is gnt-masterd running?")

    def _connect(self) -> None:
        deadline = time.monotonic() + self.connect_timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                with unix_address(self.socket_path) as addr:
                    sock.connect(addr)
            except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
                sock.close()
                raise self._no_master() from None
            except PermissionError:
                sock.close()
                raise P.LuxiPermissionError(
                    f"Permission denied connecting to the master daemon socket "
                    f"{self.socket_path}; retry as a user allowed to use it",
                    errors.ECODE_ENVIRON) from None
            except (BlockingIOError, InterruptedError):
                # listen backlog full: try again until the connect timeout
                sock.close()
                if time.monotonic() >= deadline:
                    raise P.LuxiTimeoutError(
                        f"Connecting to {self.socket_path} timed out") from None
                time.sleep(0.05)
                continue
            except TimeoutError:
                sock.close()
                raise P.LuxiTimeoutError(f"Connecting to {self.socket_path} timed out") from None
            except OSError as err:
                sock.close()
                raise errors.LuxiError(
                    f"Cannot connect to the master daemon socket {self.socket_path}: {err}"
                ) from None
            break
        self._sock = sock
        self._reader = P.MessageReader(self.max_message_size)

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        """Close the connection (a later call reconnects)."""
        with self._lock:
            self._close_socket()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def _recv_message(self, timeout: float) -> bytes:
        assert self._sock is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise P.LuxiTimeoutError(
                    f"No answer from the master daemon within {timeout:g}s")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(_RECV_SIZE)
            except TimeoutError:
                raise P.LuxiTimeoutError(
                    f"No answer from the master daemon within {timeout:g}s") from None
            if not chunk:
                raise P.ConnectionClosedError(
                    "The master daemon closed the connection while answering")
            bodies = self._reader.feed(chunk)
            if bodies:
                if len(bodies) > 1 or self._reader.pending:
                    raise P.ProtocolError("Unexpected extra data from the master daemon")
                return bodies[0]

    # --- calls ---
    def call(self, method: str, args: Sequence[Any] = (), *,
             timeout: float | None = None) -> Any:
        """Call ``method`` with positional ``args``; return its result.

        Raises the decoded master-side error on failure,
        :class:`gnt.errors.NoMasterError` if the master cannot be reached,
        :class:`gnt.luxi.protocol.LuxiTimeoutError` when no answer comes in
        ``timeout`` (default ``rw_timeout``) seconds — the operation may
        still be carried out —, :class:`gnt.luxi.protocol.ProtocolError` on
        a garbled conversation.
        """
        request = P.format_request(method, list(args))
        wait = self.rw_timeout if timeout is None else timeout
        with self._lock:
            for attempt in (0, 1):
                if self._sock is None:
                    self._connect()
                assert self._sock is not None
                try:
                    self._sock.settimeout(self.rw_timeout)
                    self._sock.sendall(request)
                except TimeoutError:
                    self._close_socket()
                    raise P.LuxiTimeoutError("Sending to the master daemon timed out") from None
                except OSError as err:
                    self._close_socket()
                    if attempt == 0 and err.errno in _BROKEN_ERRNOS:
                        continue  # never delivered: safe to resend on a new connection
                    raise P.ConnectionClosedError(
                        f"Lost the connection to the master daemon: {err}") from None
                try:
                    body = self._recv_message(wait)
                except (P.ConnectionClosedError, ConnectionError) as err:
                    self._close_socket()
                    if attempt == 0 and method in P.REQ_IDEMPOTENT:
                        continue
                    if isinstance(err, P.ConnectionClosedError):
                        raise
                    raise P.ConnectionClosedError(
                        f"Lost the connection to the master daemon: {err}") from None
                except BaseException:
                    # timeout, protocol error, interrupt: the stream state is unknown
                    self._close_socket()
                    raise
                break
        success, result, version = P.parse_response(body)
        if version is not None and version != P.LUXI_VERSION:
            raise errors.LuxiError(
                f"LUXI version mismatch, client {P.LUXI_VERSION}, response {version}")
        if success:
            return result
        raise P.error_from_result(result)

    # --- jobs ---
    def submit_job(self, ops: Iterable[OpLike]) -> int:
        """Submit one job made of ``ops``; return its job id.

        Raises :class:`gnt.errors.JobQueueDrainError` if the queue is drained.
        """
        result = self.call(P.REQ_SUBMIT_JOB, [[_op_to_dict(op) for op in ops]])
        return _job_id(P.REQ_SUBMIT_JOB, result)

    def submit_job_to_drained_queue(self, ops: Iterable[OpLike]) -> int:
        """Like :meth:`submit_job`, accepted even when the queue is drained."""
        result = self.call(P.REQ_SUBMIT_JOB_TO_DRAINED_QUEUE,
                           [[_op_to_dict(op) for op in ops]])
        return _job_id(P.REQ_SUBMIT_JOB_TO_DRAINED_QUEUE, result)

    def submit_many_jobs(self, jobs: Iterable[Iterable[OpLike]]) -> list[tuple[bool, Any]]:
        """Submit several jobs; per job ``(True, job_id)`` or ``(False, message)``."""
        result = self.call(P.REQ_SUBMIT_MANY_JOBS,
                           [[[_op_to_dict(op) for op in ops] for ops in jobs]])
        out: list[tuple[bool, Any]] = []
        for item in result:
            ok, value = item
            out.append((True, _job_id(P.REQ_SUBMIT_MANY_JOBS, value)) if ok
                       else (False, value))
        return out

    def pickup_job(self, job_id: int) -> Any:
        return self.call(P.REQ_PICKUP_JOB, [_job_id(P.REQ_PICKUP_JOB, job_id)])

    def wait_for_job_change_once(self, job_id: int, fields: Sequence[str],
                                 prev_job_info: list[Any] | None,
                                 prev_log_serial: int | None,
                                 timeout: float = P.WFJC_TIMEOUT) -> Any:
        """Wait up to ``timeout`` seconds (capped at ``WFJC_TIMEOUT``) for a change.

        Returns :data:`~gnt.luxi.protocol.JOB_NOTCHANGED` (``"nochange"``)
        on timeout, ``None`` if the job is unknown, else
        ``[job_info, log_entries]``: ``job_info`` the values of ``fields``,
        ``log_entries`` the new entries ``[serial, [sec, usec], type, message]``
        with serial above ``prev_log_serial``.
        """
        if timeout < 0:
            raise errors.ProgrammerError("WaitForJobChange timeout cannot be negative")
        wait = min(P.WFJC_TIMEOUT, timeout)
        return self.call(P.REQ_WAIT_FOR_JOB_CHANGE,
                         [_job_id(P.REQ_WAIT_FOR_JOB_CHANGE, job_id), list(fields),
                          prev_job_info, prev_log_serial, wait],
                         timeout=max(self.rw_timeout, wait + P.DEF_CTMO))

    def cancel_job(self, job_id: int, kill: bool = False) -> tuple[bool, str]:
        """Cancel a job; returns ``(success, message)``."""
        ok, msg = self.call(P.REQ_CANCEL_JOB, [_job_id(P.REQ_CANCEL_JOB, job_id), kill])
        return bool(ok), str(msg)

    def archive_job(self, job_id: int) -> bool:
        """Archive a finished job; False if it was not archived."""
        return bool(self.call(P.REQ_ARCHIVE_JOB, [_job_id(P.REQ_ARCHIVE_JOB, job_id)]))

    def auto_archive_jobs(self, age: int, timeout: float | None = None) -> tuple[int, int]:
        """Archive finished jobs older than ``age`` seconds (-1: all).

        The master works at most ``timeout`` seconds (default ``WFJC_TIMEOUT``);
        returns ``(archived_count, jobs_left_unchecked)``.
        """
        tmout = P.WFJC_TIMEOUT if timeout is None else timeout
        archived, left = self.call(P.REQ_AUTO_ARCHIVE_JOBS, [age, tmout],
                                   timeout=max(self.rw_timeout, tmout + P.DEF_CTMO))
        return int(archived), int(left)

    def change_job_priority(self, job_id: int, priority: int) -> tuple[bool, str]:
        """Change a job's priority; returns ``(success, message)``."""
        ok, msg = self.call(P.REQ_CHANGE_JOB_PRIORITY,
                            [_job_id(P.REQ_CHANGE_JOB_PRIORITY, job_id), priority])
        return bool(ok), str(msg)

    def query_jobs(self, job_ids: Sequence[int] | None,
                   fields: Sequence[str]) -> list[list[Any] | None]:
        """Per job id the values of ``fields`` (``None`` for unknown jobs);
        ``job_ids`` ``None`` or empty means all jobs."""
        ids = None if job_ids is None else [_job_id(P.REQ_QUERY_JOBS, j) for j in job_ids]
        return cast(list[list[Any] | None], self.call(P.REQ_QUERY_JOBS, [ids, list(fields)]))

    # --- queries ---
    def query(self, what: str, fields: Sequence[str],
              qfilter: Any = None) -> P.QueryResponse:
        """Query resource ``what`` (``instance``, ``node``, ``job``, ...).

        Returns ``{"fields": [{"name", "title", "kind", "doc"}...],
        "data": [[[status, value], ...], ...]}``.
        """
        return cast(P.QueryResponse,
                    self.call(P.REQ_QUERY, [what, list(fields), qfilter]))

    def query_fields(self, what: str,
                     fields: Sequence[str] | None = None) -> P.QueryFieldsResponse:
        """Definitions of ``fields`` (all fields when ``None``) of ``what``."""
        return cast(P.QueryFieldsResponse,
                    self.call(P.REQ_QUERY_FIELDS,
                              [what, None if fields is None else list(fields)]))

    def query_cluster_info(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.call(P.REQ_QUERY_CLUSTER_INFO, []))

    def query_config_values(self, names: Sequence[str]) -> list[Any]:
        """Values of cluster config keys (``cluster_name``, ``master_node``, ...)."""
        return cast(list[Any], self.call(P.REQ_QUERY_CONFIG_VALUES, [list(names)]))

    def query_tags(self, kind: str, name: str) -> list[str]:
        """Tags of an object; ``kind`` is cluster/node/instance/nodegroup/network."""
        return cast(list[str], self.call(P.REQ_QUERY_TAGS, [kind, name]))

    # --- queue and watcher flags ---
    def set_drain_flag(self, drain_flag: bool) -> None:
        """Drain (True) or undrain (False) the job queue."""
        self.call(P.REQ_SET_DRAIN_FLAG, [bool(drain_flag)])

    def set_watcher_pause(self, until: float | None) -> Any:
        """Pause the watcher until the given epoch time (``None``: resume)."""
        return self.call(P.REQ_SET_WATCHER_PAUSE, [until])
