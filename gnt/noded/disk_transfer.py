"""Node-to-node disk copies (``gnt-instance move``): streamed, checksummed.

The disk's bytes go straight from the source node daemon to the target
node daemon over HTTPS with mutual TLS (the cluster certificate on both
ends, as for every node daemon call), like Ganeti's import/export daemons;
the master only starts the two ends and polls them:

1. source: :func:`prepare_export` — offers the assembled device as
   transfer ``transfer_id`` at ``GET /stream/disk-export/<transfer_id>``
   (a stream endpoint, :mod:`gnt.noded.streams`): the response body is the
   device read in :data:`CHUNK` pieces, SHA-256 computed while reading;
2. target: :func:`start_import` — a thread fetches that stream (the target
   pulls: its HTTP client reads the body in big pieces in a plain thread,
   much cheaper than an ASGI server receiving an upload), computes SHA-256
   of what it writes, skips writing all-zero chunks into a regular file
   (emptied and re-sized first: it stays sparse), fsyncs at the end;
3. master: :func:`status` on both ends until both are ``done`` (or one
   ``failed``); it compares the two digests and :func:`cleanup` forgets
   the sessions (aborting a running one).

Nothing is ever held in memory beyond a couple of chunks.  Sessions live
in the node daemon's memory: a restarted daemon has none (its partial
target disk is removed by the master's rollback).

Environment of the node daemon (operators and tests):

``GNT_DISK_TRANSFER_MAX_MIBPS``
    cap the rate a source sends at (MiB/s; unset or 0: no cap).
``GNT_TEST_CORRUPT_TRANSFER``
    test only: a disk name; the source flips one byte of that disk's second
    chunk *after* hashing it (what a bad link or buggy layer would do), so
    tests can prove that a corrupted copy is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gnt import errors, paths
from gnt.crypto.tls import TrustStore, client_context
from gnt.noded.server import encode_reply
from gnt.noded.streams import stream_route

log = logging.getLogger(__name__)

MIB = 1024 * 1024
#: bytes read, hashed, sent and written at a time
CHUNK = 4 * MIB
_ZERO = bytes(CHUNK)
#: a session nobody touched for this long (s) is dropped
SESSION_TTL = 3600.0
#: an import the source never connected to fails after this long (s)
CONNECT_TIMEOUT = 600.0
#: seconds without a byte moving before the sender gives up on the target
IO_TIMEOUT = 60.0

RUNNING, DONE, FAILED = "running", "done", "failed"
STREAM_PATH = "/stream/disk-export/{transfer_id}"


@dataclass
class Session:
    """One end of a transfer: bytes moved so far, the digest when done."""

    transfer_id: str
    role: str                     # "import" (target) or "export" (source)
    path: str
    total: int                    # bytes
    done: int = 0
    state: str = RUNNING
    error: str | None = None
    sha256: str | None = None
    zero_skipped: int = 0         # bytes not written because all-zero (sparse)
    started: float = field(default_factory=time.monotonic)
    touched: float = field(default_factory=time.monotonic)
    connected: bool = False
    corrupt: bool = False         # test hook, see GNT_TEST_CORRUPT_TRANSFER
    abort: threading.Event = field(default_factory=threading.Event)

    def fail(self, msg: str) -> None:
        if self.state == RUNNING:
            self.state, self.error = FAILED, msg
            log.warning("Disk transfer %s (%s) failed: %s", self.transfer_id, self.role, msg)

    def public(self) -> dict[str, Any]:
        """The status as :func:`status` returns it."""
        if (self.role == "export" and self.state == RUNNING and not self.connected
                and time.monotonic() - self.started > CONNECT_TIMEOUT):
            self.fail(f"the target did not connect within {CONNECT_TIMEOUT:.0f}s")
        return {"transfer_id": self.transfer_id, "role": self.role, "state": self.state,
                "bytes": self.done, "total": self.total, "sha256": self.sha256,
                "error": self.error, "zero_skipped": self.zero_skipped,
                "seconds": round(time.monotonic() - self.started, 3)}


_SESSIONS: dict[str, Session] = {}
_LOCK = threading.Lock()


def _expire() -> None:
    now = time.monotonic()
    with _LOCK:
        for tid in [t for t, s in _SESSIONS.items() if now - s.touched > SESSION_TTL]:
            _SESSIONS.pop(tid).abort.set()


def _add(sess: Session) -> Session:
    _expire()
    with _LOCK:
        if sess.transfer_id in _SESSIONS:
            raise errors.OpExecError(f"Disk transfer {sess.transfer_id} already exists on "
                                     f"this node", errors.ECODE_EXISTS)
        _SESSIONS[sess.transfer_id] = sess
    return sess


def _get(transfer_id: str) -> Session:
    with _LOCK:
        sess = _SESSIONS.get(transfer_id)
    if sess is None:
        raise errors.OpExecError(f"No disk transfer {transfer_id} on this node",
                                 errors.ECODE_NOENT)
    sess.touched = time.monotonic()
    return sess


def _device_size(path: str) -> int:
    """Size in bytes of a regular file or block device."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


# --- source side ---
def prepare_export(transfer_id: str, path: str, size_mib: int,
                   disk_name: str | None = None) -> dict[str, Any]:
    """Offer ``size_mib`` MiB of ``path`` (an assembled device) as transfer
    ``transfer_id``, for the target to fetch at :data:`STREAM_PATH`."""
    total = size_mib * MIB
    try:
        if _device_size(path) < total:
            raise errors.OpExecError(f"Device {path} is smaller than {size_mib} MiB")
    except OSError as err:
        raise errors.OpExecError(f"Cannot open {path}: {err.strerror}") from err
    sess = _add(Session(transfer_id, "export", path, total))
    sess.corrupt = _corrupt_target(disk_name)
    return sess.public()


def _corrupt_target(name: str | None) -> bool:
    want = os.environ.get("GNT_TEST_CORRUPT_TRANSFER")
    return bool(want) and want == name


def _rate_cap() -> float:
    try:
        return float(os.environ.get("GNT_DISK_TRANSFER_MAX_MIBPS", "0") or 0) * MIB
    except ValueError:
        return 0.0


def _chunks(sess: Session) -> Iterator[bytes]:
    """Read the device, hash what is read, yield what is sent."""
    h = hashlib.sha256()
    cap = _rate_cap()
    complete = False
    try:
        with open(sess.path, "rb", buffering=0) as f:
            index = 0
            while sess.done < sess.total:
                if sess.abort.is_set():
                    raise errors.OpExecError("transfer aborted")
                data = f.read(min(CHUNK, sess.total - sess.done))
                if not data:
                    raise errors.OpExecError(f"{sess.path} ended after {sess.done} of "
                                             f"{sess.total} bytes")
                h.update(data)
                if sess.corrupt and index == 1:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                sess.done += len(data)
                sess.touched = time.monotonic()
                if sess.done >= sess.total:
                    sess.sha256 = h.hexdigest()
                    sess.state = DONE
                    complete = True
                yield data
                index += 1
                if cap:
                    ahead = sess.done / cap - (time.monotonic() - sess.started)
                    if ahead > 0:
                        sess.abort.wait(ahead)
    except errors.GntError as err:
        sess.fail(str(err))
        raise
    except OSError as err:
        sess.fail(f"cannot read {sess.path}: {err.strerror}")
        raise
    finally:
        if not complete:
            sess.fail(f"the target stopped reading after {sess.done} of {sess.total} "
                      f"bytes")


@stream_route(STREAM_PATH, methods=("GET",))
async def export_stream(request: Request) -> Response:
    """The source's end: the device's bytes as the response body."""
    tid = request.path_params["transfer_id"]
    try:
        sess = _get(tid)
        if sess.role != "export" or sess.connected or sess.state != RUNNING:
            raise errors.OpExecError(f"Disk transfer {tid} is not waiting for a reader")
        sess.connected = True
        sess.started = time.monotonic()
    except errors.GntError as err:
        return Response(encode_reply(False, err.encode()), status_code=409,
                        media_type="application/json")
    return StreamingResponse(_chunks(sess), media_type="application/octet-stream",
                             headers={"Content-Length": str(sess.total)})


# --- target side ---
class _Writer:
    """Writes chunks at increasing offsets, hashing them, skipping zeros in files."""

    def __init__(self, sess: Session) -> None:
        self.sess = sess
        self.hash = hashlib.sha256()
        self.fd = os.open(sess.path, os.O_WRONLY)
        self.sparse = stat.S_ISREG(os.fstat(self.fd).st_mode)
        self.offset = 0

    def write(self, data: bytes) -> None:
        sess = self.sess
        if sess.abort.is_set():
            raise errors.OpExecError("transfer aborted")
        if self.offset + len(data) > sess.total:
            raise errors.OpExecError(f"the source sent more than the {sess.total} bytes "
                                     f"announced")
        self.hash.update(data)
        if self.sparse and data == _ZERO[:len(data)]:
            sess.zero_skipped += len(data)
        else:
            view = memoryview(data)
            pos = 0
            while pos < len(view):
                pos += os.pwrite(self.fd, view[pos:], self.offset + pos)
        self.offset += len(data)
        sess.done = self.offset
        sess.touched = time.monotonic()

    def finish(self) -> str:
        if self.offset != self.sess.total:
            raise errors.OpExecError(f"the stream ended after {self.offset} of "
                                     f"{self.sess.total} bytes")
        os.fsync(self.fd)
        return self.hash.hexdigest()

    def close(self) -> None:
        os.close(self.fd)


def _url(address: str, port: int, transfer_id: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}{STREAM_PATH.format(transfer_id=transfer_id)}"


def _fetch(sess: Session, url: str) -> None:
    """Pull the stream from the source into the device (the import thread)."""
    try:
        writer = _Writer(sess)
        try:
            cert = paths.get().noded_cert_file
            ctx = client_context(cert, TrustStore.cluster(cert))
            with httpx.Client(verify=ctx, trust_env=False,
                              timeout=httpx.Timeout(IO_TIMEOUT)) as client, \
                    client.stream("GET", url) as resp:
                sess.connected = True
                if resp.headers.get("content-type", "").startswith("application/json"):
                    resp.read()
                    _ok, payload = resp.json()
                    raise errors.decode(payload)
                if resp.status_code != 200:
                    raise errors.OpExecError(f"the source answered HTTP {resp.status_code}")
                for data in resp.iter_raw(CHUNK):
                    writer.write(data)
            sess.sha256 = writer.finish()
        finally:
            writer.close()
        if sess.state == RUNNING:
            sess.state = DONE
    except errors.GntError as err:
        sess.fail(f"{err}")
    except httpx.HTTPError as err:
        sess.fail(f"receiving from the source failed after {sess.done} of {sess.total} "
                  f"bytes: {type(err).__name__}: {err}")
    except OSError as err:
        sess.fail(f"cannot write {sess.path}: {err.strerror}")
    except Exception as err:  # the thread must always end in a state
        log.exception("Disk transfer %s crashed", sess.transfer_id)
        sess.fail(f"internal error: {type(err).__name__}: {err}")


def start_import(transfer_id: str, path: str, size_mib: int, address: str,
                 port: int) -> dict[str, Any]:
    """Start fetching ``size_mib`` MiB from the node daemon at ``address``:``port``
    (which :func:`prepare_export`-ed ``transfer_id``) into ``path``; returns at
    once, see :func:`status`.

    A regular file is truncated to 0 and back to the size first: its old
    content goes and it stays sparse where the source has zeros.  Raises
    OpExecError when the device is smaller than the data.
    """
    total = size_mib * MIB
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            os.truncate(path, 0)
            os.truncate(path, total)
        elif _device_size(path) < total:
            raise errors.OpExecError(f"Device {path} is smaller than {size_mib} MiB")
    except OSError as err:
        raise errors.OpExecError(f"Cannot prepare {path} for the copy: {err.strerror}"
                                 ) from err
    sess = _add(Session(transfer_id, "import", path, total))
    threading.Thread(target=_fetch, args=(sess, _url(address, port, transfer_id)),
                     name=f"disk-import-{transfer_id[:8]}", daemon=True).start()
    return sess.public()


# --- both sides ---
def status(transfer_id: str) -> dict[str, Any]:
    """``{"state": running|done|failed, "bytes", "total", "sha256", "error", ...}``;
    raises OpExecError (``unknown_entity``) for an unknown transfer."""
    return _get(transfer_id).public()


def cleanup(transfer_id: str) -> None:
    """Abort the transfer if it runs and forget it (unknown ids are fine)."""
    with _LOCK:
        sess = _SESSIONS.pop(transfer_id, None)
    if sess is not None:
        sess.abort.set()
        sess.fail("aborted")


__all__ = ["CHUNK", "cleanup", "prepare_export", "start_import", "status"]
