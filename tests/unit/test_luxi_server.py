"""A real LuxiServer on a temporary unix socket, talked to by a real Client."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt import errors
from gnt.luxi import Client, LuxiServer, make_dispatcher
from gnt.luxi import protocol as P

pytestmark = pytest.mark.unit


class Backend:
    """Handler methods with observable behaviour."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []

    def methods(self) -> dict[str, Any]:
        return {
            "Echo": self.echo,
            "Fail": self.fail,
            "Crash": self.crash,
            "Block": self.block,
            "Sleep": self.sleep,
            "Unserialisable": lambda: {1, 2},
            P.REQ_QUERY_CONFIG_VALUES: lambda names: [f"value-of-{n}" for n in names],
            P.REQ_SUBMIT_JOB: self.submit,
        }

    def echo(self, value: Any) -> Any:
        self.calls.append("Echo")
        return value

    def fail(self, cls: str, msg: str, ecode: str) -> None:
        raise getattr(errors, cls)(msg, ecode)

    def crash(self) -> None:
        raise KeyError("bug in handler")

    def block(self) -> str:
        assert self.release.wait(10)
        return "released"

    def sleep(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    def submit(self, ops: list[dict[str, Any]]) -> int:
        self.calls.append("SubmitJob")
        return 41 + len(ops)


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "socket" / "ganeti-query"


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
def server(sock_path: Path, backend: Backend) -> Iterator[LuxiServer]:
    srv = LuxiServer(sock_path, make_dispatcher(backend.methods()))
    srv.start()
    yield srv
    backend.release.set()
    srv.shutdown()


def test_roundtrip_many_requests_one_connection(server: LuxiServer, sock_path: Path) -> None:
    with Client(sock_path) as client:
        for i in range(50):
            assert client.call("Echo", [{"i": i, "text": "é\n\x03"}]) == {"i": i,
                                                                          "text": "é\n\x03"}
        assert server.connection_count == 1
        assert client.query_config_values(["cluster_name", "master_node"]) == [
            "value-of-cluster_name", "value-of-master_node"]


def test_typed_wrapper_submit_job(server: LuxiServer, sock_path: Path,
                                  backend: Backend) -> None:
    class Op:
        def to_dict(self) -> dict[str, Any]:
            return {"OP_ID": "OP_TEST_DELAY", "duration": 0}

    with Client(sock_path) as client:
        job_id = client.submit_job([{"OP_ID": "OP_CLUSTER_QUERY"}, Op()])
    assert job_id == 43 and isinstance(job_id, int)
    assert backend.calls == ["SubmitJob"]


@pytest.mark.parametrize("cls,ecode", [("OpPrereqError", errors.ECODE_NOENT),
                                       ("OpExecError", errors.ECODE_FAULT),
                                       ("JobQueueDrainError", errors.ECODE_STATE),
                                       ("ParameterError", errors.ECODE_INVAL)])
def test_error_class_and_ecode_preserved(server: LuxiServer, sock_path: Path, cls: str,
                                         ecode: str) -> None:
    with Client(sock_path) as client:
        with pytest.raises(getattr(errors, cls)) as info:
            client.call("Fail", [cls, f"{cls} happened", ecode])
        assert type(info.value) is getattr(errors, cls)
        assert info.value.ecode == ecode
        assert str(info.value) == f"{cls} happened"
        # the connection is still usable after an error answer
        assert client.call("Echo", [1]) == 1


def test_handler_crash_is_internal_error_and_server_survives(
        server: LuxiServer, sock_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Client(sock_path) as client:
        with pytest.raises(errors.ProgrammerError, match="KeyError") as info:
            client.call("Crash")
        assert info.value.ecode == errors.ECODE_FAULT
        with pytest.raises(errors.ProgrammerError, match="Cannot encode|TypeError"):
            client.call("Unserialisable")
        assert client.call("Echo", ["still alive"]) == "still alive"
    assert "bug in handler" in caplog.text


def test_unknown_method_and_bad_arguments(server: LuxiServer, sock_path: Path) -> None:
    with Client(sock_path) as client:
        with pytest.raises(P.RequestError, match="Unknown LUXI method 'Nope'"):
            client.call("Nope")
        with pytest.raises(P.RequestError, match="Invalid arguments for Echo"):
            client.call("Echo", [1, 2, 3])


def test_long_poll_does_not_block_other_connections(server: LuxiServer, sock_path: Path,
                                                    backend: Backend) -> None:
    result: dict[str, Any] = {}

    def blocked() -> None:
        with Client(sock_path) as c:
            result["block"] = c.call("Block")

    t = threading.Thread(target=blocked)
    t.start()
    try:
        deadline = time.monotonic() + 5
        while server.connection_count < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        start = time.monotonic()
        with Client(sock_path) as other:
            for _ in range(20):
                assert other.call("Echo", ["x"]) == "x"
        assert time.monotonic() - start < 2
        assert "block" not in result
    finally:
        backend.release.set()
        t.join(5)
    assert result["block"] == "released"


def test_concurrent_clients(server: LuxiServer, sock_path: Path) -> None:
    errors_seen: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with Client(sock_path) as c:
                for i in range(30):
                    assert c.call("Echo", [[n, i]]) == [n, i]
        except BaseException as err:  # noqa: BLE001 - reported below
            errors_seen.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors_seen == []


def test_shared_client_between_threads(server: LuxiServer, sock_path: Path) -> None:
    client = Client(sock_path)
    out: list[Any] = []

    def worker(n: int) -> None:
        for i in range(20):
            out.append(client.call("Echo", [[n, i]]) == [n, i])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    client.close()
    assert out == [True] * 80


def test_no_master_error_when_no_socket(tmp_path: Path) -> None:
    with pytest.raises(errors.NoMasterError) as info:
        Client(tmp_path / "missing" / "ganeti-query")
    assert "Cannot communicate with the master daemon" in str(info.value)
    assert "gnt-masterd" in str(info.value)


def test_no_master_error_when_socket_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "stale"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # file stays, nobody listens
    with pytest.raises(errors.NoMasterError):
        Client(path)


def test_default_socket_path_comes_from_gnt_root(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    client = Client(connect=False)
    assert client.socket_path == tmp_path / "var/run/ganeti/socket/ganeti-query"
    with pytest.raises(errors.NoMasterError):
        client.call("Echo", [1])


def test_socket_mode_and_cleanup(sock_path: Path, backend: Backend) -> None:
    for mode in (0o660, 0o600):
        srv = LuxiServer(sock_path, make_dispatcher(backend.methods()), mode=mode)
        srv.start()
        st = os.stat(sock_path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == mode
        assert not [p for p in sock_path.parent.iterdir() if p.name != sock_path.name]
        srv.shutdown()
        assert not sock_path.exists()


def test_stale_socket_replaced_live_one_refused(sock_path: Path, backend: Backend) -> None:
    sock_path.parent.mkdir(parents=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock_path))
    s.close()
    with LuxiServer(sock_path, make_dispatcher(backend.methods())):
        with Client(sock_path) as c:
            assert c.call("Echo", [5]) == 5
        second = LuxiServer(sock_path, make_dispatcher(backend.methods()))
        with pytest.raises(errors.LuxiError, match="already listening"):
            second.start()
        # the refused server did not disturb the running one
        with Client(sock_path) as c:
            assert c.call("Echo", [6]) == 6


def test_refuses_non_socket_path(tmp_path: Path, backend: Backend) -> None:
    path = tmp_path / "file"
    path.write_text("precious")
    with pytest.raises(errors.LuxiError, match="not a socket"):
        LuxiServer(path, make_dispatcher(backend.methods())).start()
    assert path.read_text() == "precious"


def test_shutdown_closes_client_connections(sock_path: Path, backend: Backend) -> None:
    srv = LuxiServer(sock_path, make_dispatcher(backend.methods()))
    srv.start()
    client = Client(sock_path)
    assert client.call("Echo", [1]) == 1
    srv.shutdown()
    assert srv.connection_count == 0
    with pytest.raises(errors.NoMasterError):
        client.call("Echo", [2])
    srv.shutdown()  # idempotent


def test_client_reconnects_after_master_restart(sock_path: Path, backend: Backend) -> None:
    srv = LuxiServer(sock_path, make_dispatcher(backend.methods()))
    srv.start()
    client = Client(sock_path)
    assert client.call("Echo", ["before"]) == "before"
    srv.shutdown()
    srv2 = LuxiServer(sock_path, make_dispatcher(backend.methods()))
    srv2.start()
    try:
        # the old connection is dead; the request was never delivered, so even
        # a non-idempotent call is resent on a new connection
        assert client.submit_job([{"OP_ID": "OP_TEST_DELAY"}]) == 42
        assert client.call("Echo", ["after"]) == "after"
        assert backend.calls.count("SubmitJob") == 1
    finally:
        client.close()
        srv2.shutdown()


def test_read_timeout_then_client_recovers(server: LuxiServer, sock_path: Path) -> None:
    client = Client(sock_path, rw_timeout=0.3)
    with pytest.raises(P.LuxiTimeoutError):
        client.call("Sleep", [1.0])
    assert not client.connected  # a late answer must not be read as the next one
    assert client.call("Echo", ["next"]) == "next"
    assert client.call("Sleep", [1.0], timeout=5) == 1.0
    client.close()


def _raw(sock_path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock_path))
    return s


def _recv_one(s: socket.socket) -> Any:
    reader = P.MessageReader()
    while True:
        chunk = s.recv(4096)
        assert chunk, "connection closed without answer"
        bodies = reader.feed(chunk)
        if bodies:
            return P.parse_response(bodies[0])


def test_raw_protocol_bad_json_gets_error_and_connection_stays(server: LuxiServer,
                                                               sock_path: Path) -> None:
    s = _raw(sock_path)
    s.sendall(b"{not json\x03")
    ok, result, _ = _recv_one(s)
    assert ok is False and result[0] == "ProtocolError"
    # two requests in one write are answered in order
    s.sendall(P.format_request("Echo", [1]) + P.format_request("Echo", [2]))
    reader = P.MessageReader()
    bodies: list[bytes] = []
    while len(bodies) < 2:
        bodies += reader.feed(s.recv(4096))
    assert [P.parse_response(b)[1] for b in bodies] == [1, 2]
    s.close()


def test_raw_protocol_oversized_message_closes_connection(sock_path: Path,
                                                          backend: Backend) -> None:
    with LuxiServer(sock_path, make_dispatcher(backend.methods()), max_message_size=1000):
        s = _raw(sock_path)
        s.sendall(b"[" + b"1," * 1000)
        ok, result, _ = _recv_one(s)
        assert ok is False and "limit of 1000 bytes" in result[1][0]
        assert s.recv(10) == b""  # closed by the server
        s.close()
        with Client(sock_path) as c:  # the server still serves others
            assert c.call("Echo", ["ok"]) == "ok"


def test_version_mismatch_detected_by_client(tmp_path: Path) -> None:
    path = tmp_path / "fake"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        reader = P.MessageReader()
        while not reader.feed(conn.recv(4096)):
            pass
        conn.sendall(P.format_response(True, "hi", version=P.LUXI_VERSION + 1))
        conn.recv(10)
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        with Client(path) as c, pytest.raises(errors.LuxiError, match="version mismatch"):
            c.call("Echo", [1])
    finally:
        t.join(5)
        listener.close()


def test_long_socket_path(tmp_path: Path, backend: Backend) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "socket" / "ganeti-query"
    assert len(str(deep)) > 108
    with LuxiServer(deep, make_dispatcher(backend.methods())):
        assert stat.S_ISSOCK(os.stat(deep).st_mode)
        with Client(deep) as c:
            assert c.call("Echo", ["deep"]) == "deep"
    assert not deep.exists()


def test_job_id_validation(server: LuxiServer, sock_path: Path) -> None:
    with Client(sock_path) as c:
        with pytest.raises(P.RequestError, match="Invalid job id"):
            c.archive_job("abc")  # type: ignore[arg-type]
        with pytest.raises(P.RequestError, match="Invalid job id"):
            c.cancel_job(True)  # type: ignore[arg-type]
