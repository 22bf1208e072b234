"""The RAPI server picks up a replaced ``rapi.pem`` without a restart.

A real :class:`gnt.rapi.server.RapiServer` on a loopback port (in a thread),
real TLS handshakes: each new connection sees the certificate the file holds
at that moment; a broken file keeps the previous certificate.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gnt import errors
from gnt.crypto.x509 import generate_self_signed
from gnt.rapi.server import RapiServer
from gnt.rapi.users import UsersFile
from gnt.utils.io import atomic_write

pytestmark = pytest.mark.unit


def _served(port: int) -> str:
    """SHA-256 of the certificate a new connection to 127.0.0.1:``port`` gets."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def _fingerprint(pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RapiServer, Path]]:
    cert = tmp_path / "rapi.pem"
    cert.write_bytes(generate_self_signed("one.example.test").pem())
    srv = RapiServer("127.0.0.1", 0, cert_file=cert, users=UsersFile(tmp_path / "users"),
                     luxi_socket=tmp_path / "no-master")
    thread = srv.start_in_thread()
    try:
        yield srv, cert
    finally:
        srv.stop()
        thread.join(10)


def test_replaced_file_is_served_to_new_connections(
        server: tuple[RapiServer, Path]) -> None:
    srv, cert = server
    first = _served(srv.port)
    assert first == _fingerprint(cert.read_bytes())
    second_pem = generate_self_signed("two.example.test").pem()
    atomic_write(cert, second_pem)  # as renew-crypto's node daemon writes it
    assert _served(srv.port) == _fingerprint(second_pem) != first


def test_broken_file_keeps_the_previous_certificate(
        server: tuple[RapiServer, Path]) -> None:
    srv, cert = server
    before = _served(srv.port)
    cert.write_text("not a certificate\n")
    assert _served(srv.port) == before
    with pytest.raises(errors.ConfigurationError, match="Cannot load key and certificate"):
        srv.reload_certificate()  # what SIGHUP does: the error is reported
    assert _served(srv.port) == before
    good = generate_self_signed("three.example.test").pem()
    cert.write_bytes(good)
    assert _served(srv.port) == _fingerprint(good)
