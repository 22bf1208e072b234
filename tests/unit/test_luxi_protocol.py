"""LUXI framing and message shapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnt import errors
from gnt.luxi import protocol as P

pytestmark = pytest.mark.unit


def test_encode_is_json_plus_etx() -> None:
    data = P.encode_message({"a": [1, "é\x03x"]})
    assert data.endswith(b"\x03")
    assert data.count(b"\x03") == 1  # the ETX inside the string is escaped by JSON
    assert json.loads(data[:-1].decode()) == {"a": [1, "é\x03x"]}


def test_encode_rejects_unserialisable() -> None:
    with pytest.raises(P.ProtocolError, match="Cannot encode"):
        P.encode_message({"a": object()})
    with pytest.raises(P.ProtocolError):
        P.encode_message(float("nan"))


def test_reader_split_message_across_reads() -> None:
    msg = P.encode_message({"method": "Query", "args": ["instance", ["name"], None]})
    reader = P.MessageReader()
    out: list[bytes] = []
    for i in range(len(msg)):
        out += reader.feed(msg[i:i + 1])
        if i < len(msg) - 1:
            assert out == []
    assert len(out) == 1
    assert P.decode_message(out[0])["method"] == "Query"
    assert reader.pending == 0


def test_reader_several_messages_in_one_read() -> None:
    msgs = [P.encode_message(i) for i in range(5)]
    reader = P.MessageReader()
    chunk = b"".join(msgs) + P.encode_message("tail")[:3]
    bodies = reader.feed(chunk)
    assert [P.decode_message(b) for b in bodies] == [0, 1, 2, 3, 4]
    assert reader.pending == 3
    assert [P.decode_message(b) for b in reader.feed(P.encode_message("tail")[3:])] == ["tail"]


def test_reader_oversized_without_terminator() -> None:
    reader = P.MessageReader(max_size=100)
    reader.feed(b"x" * 100)
    with pytest.raises(P.ProtocolError, match="limit of 100 bytes"):
        reader.feed(b"y")


def test_reader_oversized_complete_message() -> None:
    reader = P.MessageReader(max_size=10)
    with pytest.raises(P.ProtocolError, match="exceeds the limit"):
        reader.feed(b'"' + b"z" * 20 + b'"\x03')


@given(st.lists(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20), max_size=5), st.integers(min_value=1, max_value=17))
def test_reader_roundtrip_any_chunking(values: list[object], step: int) -> None:
    stream = b"".join(P.encode_message(v) for v in values)
    reader = P.MessageReader()
    bodies: list[bytes] = []
    for i in range(0, len(stream), step):
        bodies += reader.feed(stream[i:i + step])
    assert [P.decode_message(b) for b in bodies] == values
    assert reader.pending == 0


def test_request_roundtrip() -> None:
    body = P.format_request(P.REQ_SUBMIT_JOB, [[{"OP_ID": "OP_TEST_DELAY"}]])[:-1]
    method, args, version = P.parse_request(body)
    assert (method, args, version) == ("SubmitJob", [[{"OP_ID": "OP_TEST_DELAY"}]],
                                       P.LUXI_VERSION)
    assert json.loads(body)["version"] == P.LUXI_VERSION


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"args": []}', b'{"method": "X"}',
                                  b'{"method": 3, "args": []}', b"not json", b"\xff\xfe"])
def test_parse_request_rejects_bad_shapes(body: bytes) -> None:
    with pytest.raises(P.ProtocolError):
        P.parse_request(body)


def test_response_roundtrip_and_bad_shape() -> None:
    ok, result, version = P.parse_response(P.format_response(True, {"x": 1})[:-1])
    assert ok is True and result == {"x": 1} and version == P.LUXI_VERSION
    with pytest.raises(P.ProtocolError, match="Invalid response"):
        P.parse_response(b'{"success": true}')


def test_error_from_result_preserves_class_and_ecode() -> None:
    err = P.error_from_result(errors.JobLost("job 4 gone").encode())
    assert type(err) is errors.JobLost and err.ecode == errors.ECODE_NOENT
    err = P.error_from_result(["OpPrereqError", ["bad name", "wrong_input"]])
    assert type(err) is errors.OpPrereqError and str(err) == "bad name"
    # protocol errors defined in gnt.luxi are known too
    err = P.error_from_result(P.RequestError("nope", errors.ECODE_INVAL).encode())
    assert type(err) is P.RequestError and err.ecode == errors.ECODE_INVAL
    err = P.error_from_result(["SomeFutureError", ["boom", "internal_error"]])
    assert type(err) is errors.GntError and str(err) == "boom"
    err = P.error_from_result("plain text refusal")
    assert type(err) is P.RequestError and str(err) == "plain text refusal"
