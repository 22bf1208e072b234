"""gnt errors -> HTTP statuses (the one mapping) and Ganeti's error body."""

from __future__ import annotations

import json

import pytest

from gnt import errors
from gnt.luxi import protocol as P
from gnt.rapi.httperror import HttpError, encode_json, error_body, from_gnt_error

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("err,status", [
    (errors.OpPrereqError("x", errors.ECODE_NOENT), 404),
    (errors.OpPrereqError("x", errors.ECODE_INVAL), 400),
    (errors.ParameterError("x"), 400),
    (errors.ResolverError("x"), 400),
    (errors.OpPrereqError("x", errors.ECODE_EXISTS), 409),
    (errors.OpPrereqError("x", errors.ECODE_NOTUNIQUE), 409),
    (errors.OpExecError("x", errors.ECODE_STATE), 409),
    (errors.OpPrereqError("x", errors.ECODE_NORES), 503),
    (errors.LockError("x"), 503),
    (errors.JobQueueDrainError("x"), 503),
    (errors.HypervisorError("x"), 502),
    (errors.NoMasterError("x"), 502),
    (P.ProtocolError("x"), 502),
    (P.LuxiTimeoutError("x"), 504),
    (P.LuxiPermissionError("x"), 500),
    (errors.ProgrammerError("x"), 500),
    (errors.GntError("x", "no_such_code"), 500),
])
def test_status_mapping(err: errors.GntError, status: int) -> None:
    assert from_gnt_error(err).status == status


def test_error_body_is_ganetis() -> None:
    assert error_body(404) == {"code": 404, "message": "Not Found",
                               "explain": "Nothing matches the given URI"}
    body = HttpError(400, "name 'a<b>'").body()
    assert body.endswith(b"\n")
    assert json.loads(body) == {"code": 400, "message": "name &#x27;a&lt;b&gt;&#x27;",
                                "explain": "Bad request syntax or unsupported method"}
    assert HttpError(401).message == "Unauthorized"


def test_replies_end_in_a_newline() -> None:
    assert encode_json(1234) == b"1234\n"
    assert encode_json(None) == b"null\n"
    assert encode_json({"a": [1, "b"]}) == b'{"a": [1, "b"]}\n'
