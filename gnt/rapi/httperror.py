"""HTTP errors of the RAPI server and their JSON bodies.

Every error reply has Ganeti's body: ``{"code": <status>, "message":
<text>, "explain": <status description>}`` plus a newline.  As in Ganeti,
the message is HTML-escaped (web front-ends display it) and ``explain`` is
the standard description of the status.

:func:`from_gnt_error` is the one place where gnt errors (their Ganeti
error codes) become HTTP statuses:

==================================================  ======
error                                               status
==================================================  ======
``unknown_entity``                                   404
``wrong_input``, ``resolver_error``                  400
``already_exists``, ``resource_not_unique``,         409
``wrong_state``
``insufficient_resources``,                          503
``temp_insufficient_resources``, drained job queue
master daemon unreachable or garbled answer          502
no answer from the master daemon in time             504
``environment_error``                                502
``internal_error`` and anything else                 500
==================================================  ======
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from http import HTTPStatus

from gnt import errors
from gnt.luxi import protocol as P

_STATUS_BY_ECODE = {
    errors.ECODE_NOENT: 404,
    errors.ECODE_INVAL: 400,
    errors.ECODE_RESOLVER: 400,
    errors.ECODE_EXISTS: 409,
    errors.ECODE_NOTUNIQUE: 409,
    errors.ECODE_STATE: 409,
    errors.ECODE_NORES: 503,
    errors.ECODE_TEMP_NORES: 503,
    errors.ECODE_ENVIRON: 502,
    errors.ECODE_FAULT: 500,
}


class HttpError(Exception):
    """An HTTP error reply: ``status``, optional ``message`` (default: the
    status phrase) and extra response ``headers``."""

    def __init__(self, status: int, message: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message or _phrase(status))
        self.status = status
        self.message = message or _phrase(status)
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        """The JSON body (newline-terminated)."""
        return encode_json(error_body(self.status, self.message))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status: int, message: str | None = None) -> dict[str, object]:
    """Ganeti's error body for ``status`` (``message`` defaults to the phrase)."""
    try:
        explain = HTTPStatus(status).description
    except ValueError:
        explain = "Unknown"
    return {"code": status, "message": html.escape(message or _phrase(status)),
            "explain": explain}


def encode_json(value: object) -> bytes:
    """Ganeti's JSON encoding of a reply: one document and a newline."""
    return (json.dumps(value) + "\n").encode("utf-8")


def bad_request(message: str) -> HttpError:
    return HttpError(400, message)


def not_found(message: str | None = None) -> HttpError:
    return HttpError(404, message)


def forbidden(message: str | None = None) -> HttpError:
    return HttpError(403, message)


def not_implemented(message: str) -> HttpError:
    """501: the resource exists in Ganeti's API but gnt cannot serve it yet."""
    return HttpError(501, message)


def from_gnt_error(err: errors.GntError) -> HttpError:
    """The HTTP error for a gnt error raised while serving a request."""
    if isinstance(err, P.LuxiTimeoutError):
        return HttpError(504, f"Timeout while talking to the master daemon: {err}")
    if isinstance(err, P.LuxiPermissionError):
        return HttpError(500, "Internal error: no permission to connect to the master daemon")
    if isinstance(err, errors.NoMasterError):
        return HttpError(502, f"Can't connect to master daemon: {err}")
    if isinstance(err, errors.LuxiError):
        return HttpError(502, f"Error talking to the master daemon: {err}")
    if isinstance(err, errors.JobQueueDrainError):
        return HttpError(503, "Job queue is drained, cannot submit")
    return HttpError(_STATUS_BY_ECODE.get(err.ecode, 500), str(err))
