"""QMP sessions (gnt.hypervisor.kvm.qmp) against a QMP peer on a real unix
socket that speaks the protocol (greeting, ``qmp_capabilities``, commands)
and can drop fresh connections the way a busy QEMU did on a migration's
destination: a dropped negotiation is retried, a missing socket is not."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt import errors
from gnt.hypervisor.kvm import qmp

pytestmark = pytest.mark.unit

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0},
                                "package": ""}, "capabilities": []}}


class Peer:
    """Serves QMP on ``path``; the first ``drop`` connections are closed at once."""

    def __init__(self, path: Path, drop: int) -> None:
        self.drop = drop
        self.accepted = 0
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                if self.accepted <= self.drop:
                    continue  # dropped before the greeting
                self._talk(conn)

    @staticmethod
    def _talk(conn: socket.socket) -> None:
        conn.sendall(json.dumps(GREETING).encode() + b"\r\n")
        decoder, buf = json.JSONDecoder(), ""
        while data := conn.recv(4096):  # a JSON stream, not lines (as QEMU reads it)
            buf += data.decode()
            while buf.strip():
                try:
                    req, end = decoder.raw_decode(buf.lstrip())
                except json.JSONDecodeError:
                    break  # incomplete: read more
                buf = buf.lstrip()[end:]
                ret = ({"status": "running", "running": True}
                       if req["execute"] == "query-status" else {})
                conn.sendall(json.dumps({"return": ret, "id": req.get("id")}).encode()
                             + b"\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "qmp.sock"


def test_dropped_negotiation_is_retried(sock_path: Path) -> None:
    peer = Peer(sock_path, drop=2)
    try:
        assert qmp.execute(str(sock_path), "query-status")["status"] == "running"
        assert peer.accepted == 3
    finally:
        peer.close()


def test_gives_up_after_the_attempts(sock_path: Path) -> None:
    peer = Peer(sock_path, drop=100)
    try:
        with pytest.raises(errors.HypervisorError, match="Cannot talk to QEMU over QMP"):
            qmp.execute(str(sock_path), "query-status", timeout=2)
        assert peer.accepted == qmp.SESSION_ATTEMPTS
    finally:
        peer.close()


def test_missing_socket_is_not_retried(sock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qmp, "SESSION_RETRY_PAUSE", 60.0)  # a retry would hang the test
    with pytest.raises(errors.HypervisorError, match="No such file"):
        qmp.execute(str(sock_path), "query-status", timeout=2)
