"""A node daemon refuses, and logs, TLS clients without the cluster certificate.

Real ``gnt-noded`` processes; real TLS clients (the ``ssl`` module and gnt's
own RPC client) presenting no certificate, another cluster's certificate,
or speaking plain HTTP.  Every refusal must appear in ``node-daemon.log``
with the peer's address and the reason; authenticated calls keep working.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from gnt.crypto import generate_self_signed, write_bundle
from gnt.crypto.x509 import CertBundle
from gnt.rpc import RpcClient
from tests.integration.conftest import Noded, wait_until

pytestmark = pytest.mark.integration


def _client_ctx(cert_file: Path | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert_file is not None:
        ctx.load_cert_chain(str(cert_file))
    return ctx


def _addr(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def _tls_request(ip: str, port: int, ctx: ssl.SSLContext) -> tuple[str, bytes | str]:
    """Connect, send a version call; returns (local "address:port", reply or the error)."""
    with socket.create_connection((ip, port), timeout=10) as raw:
        local_port = _addr(raw)
        try:
            with ctx.wrap_socket(raw) as tls:
                tls.sendall(b"POST /version HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                return local_port, tls.recv(4096)
        except (ssl.SSLError, OSError) as err:
            return local_port, f"{type(err).__name__}: {err}"


def _rejections(noded: Noded) -> list[str]:
    return [ln for ln in noded.log_file.read_text().splitlines()
            if "rejected TLS handshake" in ln]


def _wait_line(noded: Noded, peer: str) -> str:
    def find() -> str | None:
        return next((ln for ln in _rejections(noded) if f"from {peer}:" in ln), None)
    line = wait_until(find, timeout=10)
    assert line
    return str(line)


def test_refused_handshakes_are_logged(noded: Noded, tmp_path: Path,
                                       cluster_cert: CertBundle) -> None:
    ip, port = noded.node.ip, noded.port
    assert _rejections(noded) == []

    # 1. no client certificate at all
    lport, reply = _tls_request(ip, port, _client_ctx(None))
    assert not (isinstance(reply, bytes) and reply.startswith(b"HTTP/1.1 200"))
    line = _wait_line(noded, lport)
    assert "WARNING" in line and "Node server" in line
    assert "peer did not return a certificate" in line

    # 2. the certificate of another cluster (same subject name as ours, other key):
    #    what a request replayed from another cluster's master presents
    foreign = generate_self_signed(cluster_cert.certificate.subject.rfc4514_string()
                                   .removeprefix("CN="))
    foreign_file = tmp_path / "foreign.pem"
    write_bundle(foreign_file, foreign)
    lport, reply = _tls_request(ip, port, _client_ctx(foreign_file))
    assert not (isinstance(reply, bytes) and reply.startswith(b"HTTP/1.1 200"))
    line = _wait_line(noded, lport)
    assert "certificate verify failed" in line

    # ... also through gnt's own RPC client: the call fails, the daemon logs it
    before = len(_rejections(noded))
    client = RpcClient(cert_file=foreign_file)
    try:
        res = client.call(ip, "version", [], timeout=10, port=port)
    finally:
        client.close()
    assert res.fail_msg
    wait_until(lambda: len(_rejections(noded)) > before, timeout=10)

    # 3. not TLS at all
    with socket.create_connection((ip, port), timeout=10) as raw:
        lport = _addr(raw)
        raw.sendall(b"POST /version HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        raw.settimeout(10)
        try:
            raw.recv(100)
        except OSError:
            pass
    line = _wait_line(noded, lport)
    assert "http request" in line or "wrong version number" in line

    # the cluster's own certificate still works and is not logged as refused
    count = len(_rejections(noded))
    lport, reply = _tls_request(ip, port, _client_ctx(noded.node.cert_file))
    assert isinstance(reply, bytes) and reply.startswith(b"HTTP/1.1 200"), reply
    client = RpcClient(cert_file=noded.node.cert_file)
    try:
        assert client.call(ip, "version", [], timeout=10, port=port).fail_msg is None
    finally:
        client.close()
    assert len(_rejections(noded)) == count
    assert not any(f"from {lport}:" in ln for ln in _rejections(noded))


def test_port_probe_is_not_a_warning(noded: Noded) -> None:
    """A TCP connect-and-close (monitoring, port checks) is not logged as a refusal."""
    ip, port = noded.node.ip, noded.port
    for _ in range(3):
        with socket.create_connection((ip, port), timeout=5):
            pass
    client = RpcClient(cert_file=noded.node.cert_file)
    try:
        assert client.call(ip, "version", [], timeout=10, port=port).fail_msg is None
    finally:
        client.close()
    assert _rejections(noded) == []
