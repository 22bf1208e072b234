"""LUXI wire format: message framing, request/response shapes, method names.

A LUXI message is one JSON document followed by the byte ``\\x03`` (ETX),
over a unix stream socket, as in Ganeti.  JSON always escapes control
characters inside strings and UTF-8 never produces a 0x03 byte inside a
multi-byte sequence, so ETX can only appear as the terminator.

Request:  ``{"method": <name>, "args": <json list>, "version": <int>}``
Response: ``{"success": <bool>, "result": <json>, "version": <int>}``; on
failure ``result`` is the encoded error ``[class_name, [message, ecode]]``
(:meth:`gnt.errors.GntError.encode`), rebuilt with :func:`gnt.errors.decode`.
"""

from __future__ import annotations

import gc
import json
from typing import Any, TypedDict

from gnt import constants as C
from gnt import errors

#: Bodies above this size (bytes) are decoded with the garbage collector paused.
_GC_PAUSE_SIZE = 256 * 1024

#: End-of-message byte.
EOM = b"\x03"

#: Protocol version sent with every request and response (Ganeti: the config
#: version).
LUXI_VERSION = C.CONFIG_VERSION

#: Default refusal size for one message (bytes); a peer that sends more data
#: than this without a terminator is cut off.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024

# timeouts (seconds), Ganeti's values
DEF_CTMO = 10  # connect
DEF_RWTO = 60  # one read or write
#: Longest WaitForJobChange poll the client asks for (below DEF_RWTO).
WFJC_TIMEOUT = (DEF_RWTO - 1) // 2
#: WaitForJobChange answer when nothing changed before the timeout.
JOB_NOTCHANGED = "nochange"

KEY_METHOD = "method"
KEY_ARGS = "args"
KEY_VERSION = "version"
KEY_SUCCESS = "success"
KEY_RESULT = "result"

# --- method names (Ganeti's) ---
REQ_SUBMIT_JOB = "SubmitJob"
REQ_SUBMIT_JOB_TO_DRAINED_QUEUE = "SubmitJobToDrainedQueue"
REQ_SUBMIT_MANY_JOBS = "SubmitManyJobs"
REQ_PICKUP_JOB = "PickupJob"
REQ_WAIT_FOR_JOB_CHANGE = "WaitForJobChange"
REQ_CANCEL_JOB = "CancelJob"
REQ_ARCHIVE_JOB = "ArchiveJob"
REQ_AUTO_ARCHIVE_JOBS = "AutoArchiveJobs"
REQ_CHANGE_JOB_PRIORITY = "ChangeJobPriority"
REQ_QUERY = "Query"
REQ_QUERY_FIELDS = "QueryFields"
REQ_QUERY_JOBS = "QueryJobs"
REQ_QUERY_CLUSTER_INFO = "QueryClusterInfo"
REQ_QUERY_CONFIG_VALUES = "QueryConfigValues"
REQ_QUERY_TAGS = "QueryTags"
REQ_SET_DRAIN_FLAG = "SetDrainFlag"
REQ_SET_WATCHER_PAUSE = "SetWatcherPause"

REQ_ALL = frozenset({
    REQ_SUBMIT_JOB, REQ_SUBMIT_JOB_TO_DRAINED_QUEUE, REQ_SUBMIT_MANY_JOBS, REQ_PICKUP_JOB,
    REQ_WAIT_FOR_JOB_CHANGE, REQ_CANCEL_JOB, REQ_ARCHIVE_JOB, REQ_AUTO_ARCHIVE_JOBS,
    REQ_CHANGE_JOB_PRIORITY, REQ_QUERY, REQ_QUERY_FIELDS, REQ_QUERY_JOBS,
    REQ_QUERY_CLUSTER_INFO, REQ_QUERY_CONFIG_VALUES, REQ_QUERY_TAGS, REQ_SET_DRAIN_FLAG,
    REQ_SET_WATCHER_PAUSE,
})

#: Calls that only read state: safe to resend after a connection broke
#: once the request had been sent.
REQ_IDEMPOTENT = frozenset({
    REQ_WAIT_FOR_JOB_CHANGE, REQ_QUERY, REQ_QUERY_FIELDS, REQ_QUERY_JOBS,
    REQ_QUERY_CLUSTER_INFO, REQ_QUERY_CONFIG_VALUES, REQ_QUERY_TAGS, REQ_SET_DRAIN_FLAG,
})

# --- query resources, field kinds and result statuses (Ganeti's values) ---
QR_CLUSTER = "cluster"
QR_INSTANCE = "instance"
QR_NODE = "node"
QR_LOCK = "lock"
QR_GROUP = "group"
QR_OS = "os"
QR_JOB = "job"
QR_EXPORT = "export"
QR_NETWORK = "network"
QR_EXTSTORAGE = "extstorage"
QR_FILTER = "filter"

#: Field kinds and value statuses of Query answers (defined in gnt.constants).
from gnt.constants import (  # noqa: F401 - re-exported
    QFT_ALL,
    QFT_BOOL,
    QFT_NUMBER,
    QFT_NUMBER_FLOAT,
    QFT_OTHER,
    QFT_TEXT,
    QFT_TIMESTAMP,
    QFT_UNIT,
    QFT_UNKNOWN,
    RS_ALL,
    RS_NODATA,
    RS_NORMAL,
    RS_OFFLINE,
    RS_UNAVAIL,
    RS_UNKNOWN,
)

#: status -> (verbose text, terse text), as ``gnt-* list`` prints them.
RSS_DESCRIPTION = {
    RS_UNKNOWN: ("(unknown)", "??"),
    RS_NODATA: ("(nodata)", "?"),
    RS_OFFLINE: ("(offline)", "*"),
    RS_UNAVAIL: ("(unavail)", "-"),
}


class QueryFieldDefinition(TypedDict):
    """One field of a Query answer (Ganeti's ``QueryFieldDefinition``)."""

    name: str
    title: str
    kind: str  # one of QFT_ALL
    doc: str


class QueryResponse(TypedDict):
    """Answer to ``Query``: ``data`` rows hold one ``[status, value]`` per field."""

    fields: list[QueryFieldDefinition]
    data: list[list[list[Any]]]


class QueryFieldsResponse(TypedDict):
    """Answer to ``QueryFields``."""

    fields: list[QueryFieldDefinition]


# --- protocol errors ---
class ProtocolError(errors.LuxiError):
    """The LUXI conversation itself failed (bad framing, bad JSON, bad shape)."""


class ConnectionClosedError(ProtocolError):
    """The peer closed the connection before a full message arrived."""


class RequestError(ProtocolError):
    """The master refused a request without an encoded error class."""


class LuxiTimeoutError(ProtocolError):
    """A LUXI call did not complete in time (the job may still run)."""

    default_ecode = errors.ECODE_TEMP_NORES


class LuxiPermissionError(ProtocolError):
    """The LUXI socket exists but this user may not connect to it."""


# --- framing ---
def encode_message(obj: Any) -> bytes:
    """Serialise ``obj`` as one framed message (JSON + ETX).

    Raises :class:`ProtocolError` if ``obj`` is not JSON-serialisable.
    """
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"Cannot encode LUXI message: {err}") from None
    data = text.encode("utf-8")
    if EOM in data:  # cannot happen with json.dumps, kept as a guard
        raise ProtocolError("Message terminator found in payload")
    return data + EOM


def decode_message(data: bytes) -> Any:
    """Parse one message body (without its terminator).

    Raises :class:`ProtocolError` on invalid UTF-8 or JSON.
    """
    # a large answer (a 2,000-instance query) is hundreds of thousands of small
    # lists: keep the cyclic garbage collector from running over them meanwhile
    pause_gc = len(data) > _GC_PAUSE_SIZE and gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"Invalid LUXI message (not JSON): {err}") from None
    finally:
        if pause_gc:
            gc.enable()


class MessageReader:
    """Reassembles framed messages from arbitrary chunks of a byte stream.

    ``feed(chunk)`` returns the complete message bodies (bytes, terminator
    stripped) found so far; a partial message stays buffered until its
    terminator arrives.  If more than ``max_size`` bytes accumulate without a
    terminator :class:`ProtocolError` is raised (the stream is then unusable).
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes buffered of an incomplete message."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        if EOM not in chunk:
            self._check_size()
            return []
        parts = bytes(self._buffer).split(EOM)
        self._buffer = bytearray(parts.pop())
        self._check_size()
        for part in parts:
            if len(part) > self.max_size:
                raise ProtocolError(
                    f"LUXI message of {len(part)} bytes exceeds the limit of "
                    f"{self.max_size} bytes")
        return parts

    def _check_size(self) -> None:
        if len(self._buffer) > self.max_size:
            size = len(self._buffer)
            self._buffer = bytearray()
            raise ProtocolError(
                f"LUXI message larger than the limit of {self.max_size} bytes "
                f"({size} bytes without terminator)")


# --- request / response shapes ---
def format_request(method: str, args: Any, version: int | None = LUXI_VERSION) -> bytes:
    """Frame a request; ``args`` is the positional argument list."""
    req: dict[str, Any] = {KEY_METHOD: method, KEY_ARGS: args}
    if version is not None:
        req[KEY_VERSION] = version
    return encode_message(req)


def parse_request(body: bytes) -> tuple[str, Any, int | None]:
    """Parse a request body into ``(method, args, version)``.

    Raises :class:`ProtocolError` if it is not a dict with a string
    ``method`` and an ``args`` member.
    """
    req = decode_message(body)
    if not isinstance(req, dict):
        raise ProtocolError("Invalid LUXI request (not a JSON object)")
    method = req.get(KEY_METHOD)
    args = req.get(KEY_ARGS)
    version = req.get(KEY_VERSION)
    if not isinstance(method, str) or KEY_ARGS not in req:
        raise ProtocolError("Invalid LUXI request (no method or arguments)")
    return method, args, version if isinstance(version, int) else None


def format_response(success: bool, result: Any, version: int | None = LUXI_VERSION) -> bytes:
    """Frame a response."""
    resp: dict[str, Any] = {KEY_SUCCESS: success, KEY_RESULT: result}
    if version is not None:
        resp[KEY_VERSION] = version
    return encode_message(resp)


def parse_response(body: bytes) -> tuple[bool, Any, int | None]:
    """Parse a response body into ``(success, result, version)``."""
    resp = decode_message(body)
    if not (isinstance(resp, dict) and KEY_SUCCESS in resp and KEY_RESULT in resp):
        raise ProtocolError(f"Invalid response from the master daemon: {resp!r:.200}")
    version = resp.get(KEY_VERSION)
    return bool(resp[KEY_SUCCESS]), resp[KEY_RESULT], version if isinstance(version, int) \
        else None


def error_from_result(result: Any) -> errors.GntError:
    """The exception for a failed call's ``result`` (encoded error or text).

    An encoded error ``[class_name, [message, ecode]]`` becomes that class
    (unknown classes: :class:`gnt.errors.GntError`); anything else becomes
    :class:`RequestError`.
    """
    if (isinstance(result, (list, tuple)) and len(result) == 2
            and isinstance(result[0], str)):
        return errors.decode(result)
    return RequestError(str(result))
