"""Certificates, secrets and TLS contexts (gnt.crypto)."""

from __future__ import annotations

import datetime
import hashlib
import re
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gnt import errors, paths
from gnt.crypto import (
    DEFAULT_CN,
    KEY_EC_P256,
    CryptoRenewal,
    TrustStore,
    cert_digest,
    client_context,
    file_digest,
    generate_cert_file,
    generate_cluster_crypto,
    generate_self_signed,
    load_bundle,
    load_certificate,
    parse_bundle,
    read_secret_file,
    server_context,
    write_bundle,
    write_secret_file,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def rsa_bundle():  # type: ignore[no-untyped-def]
    return generate_self_signed()


@pytest.fixture(scope="module")
def ec_bundle():  # type: ignore[no-untyped-def]
    return generate_self_signed("cluster.gnt.test", key_type=KEY_EC_P256, validity_days=30)


# --- generation --------------------------------------------------------------

def test_default_certificate_is_ganetis_shape(rsa_bundle) -> None:  # type: ignore[no-untyped-def]
    cert = rsa_bundle.certificate
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == DEFAULT_CN == "ganeti.example.com"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)  # self-signed, signature valid
    key = rsa_bundle.private_key
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert abs(lifetime - datetime.timedelta(days=5 * 365)) < datetime.timedelta(minutes=5)
    assert cert.not_valid_before_utc < datetime.datetime.now(datetime.UTC)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.value.ca and bc.critical
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                        x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH}


def test_ec_certificate_with_cluster_name(ec_bundle) -> None:  # type: ignore[no-untyped-def]
    cert = ec_bundle.certificate
    assert isinstance(ec_bundle.private_key, ec.EllipticCurvePrivateKey)
    assert cert.subject.rfc4514_string() == "CN=cluster.gnt.test"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cluster.gnt.test"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=31)


def test_each_certificate_is_new() -> None:
    a, b = generate_self_signed(key_type=KEY_EC_P256), generate_self_signed(key_type=KEY_EC_P256)
    assert a.key_pem != b.key_pem
    assert a.certificate.serial_number != b.certificate.serial_number


@pytest.mark.parametrize("kwargs, match", [
    ({"key_type": "dsa1024"}, "Unknown certificate key type 'dsa1024'"),
    ({"validity_days": 0}, "positive number of days"),
    ({"common_name": ""}, "common name"),
])
def test_bad_generation_parameters(kwargs, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ParameterError, match=match) as exc:
        generate_self_signed(**kwargs)
    assert exc.value.ecode == errors.ECODE_INVAL


# --- files ---------------------------------------------------------------------

def test_write_and_load_bundle(tmp_path: Path, rsa_bundle) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sub" / "server.pem"
    write_bundle(path, rsa_bundle)
    text = path.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----")
    assert text.index("BEGIN CERTIFICATE") > text.index("END PRIVATE KEY")
    assert path.stat().st_mode & 0o777 == 0o440
    assert load_bundle(path) == rsa_bundle
    assert load_certificate(path) == rsa_bundle.certificate
    assert [p.name for p in path.parent.iterdir()] == ["server.pem"]  # no temp files left


def test_generate_cert_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "rapi.pem"
    bundle = generate_cert_file(path, "rapi.gnt.test", key_type=KEY_EC_P256, mode=0o400)
    assert path.stat().st_mode & 0o777 == 0o400
    assert load_bundle(path) == bundle


def test_load_errors(tmp_path: Path, rsa_bundle, ec_bundle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ConfigurationError, match="does not exist") as exc:
        load_bundle(tmp_path / "missing.pem")
    assert exc.value.ecode == errors.ECODE_ENVIRON
    only_cert = tmp_path / "cert.pem"
    only_cert.write_bytes(rsa_bundle.cert_pem)
    with pytest.raises(errors.ConfigurationError, match="No usable private key"):
        load_bundle(only_cert)
    assert load_certificate(only_cert) == rsa_bundle.certificate
    with pytest.raises(errors.ConfigurationError, match="does not match"):
        parse_bundle(ec_bundle.key_pem + rsa_bundle.cert_pem)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    with pytest.raises(errors.ConfigurationError, match="No usable certificate"):
        load_certificate(garbage)


# --- digests --------------------------------------------------------------------

def test_digests(tmp_path: Path, rsa_bundle) -> None:  # type: ignore[no-untyped-def]
    cert = rsa_bundle.certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    sha1 = cert_digest(cert)
    assert re.fullmatch(r"([0-9A-F]{2}:){19}[0-9A-F]{2}", sha1)
    assert sha1.replace(":", "").lower() == hashlib.sha1(der).hexdigest()
    sha256 = cert_digest(cert, "sha256")
    assert sha256.replace(":", "").lower() == hashlib.sha256(der).hexdigest()
    path = tmp_path / "server.pem"
    write_bundle(path, rsa_bundle)
    assert file_digest(path) == sha1 and file_digest(path, "sha256") == sha256
    with pytest.raises(errors.ParameterError, match="md5"):
        cert_digest(cert, "md5")  # type: ignore[arg-type]


# --- cluster secrets --------------------------------------------------------------

def test_generate_cluster_crypto(tmp_path: Path) -> None:
    p = paths.Paths(tmp_path)
    written = generate_cluster_crypto(key_type=KEY_EC_P256, p=p)
    files = [p.noded_cert_file, p.rapi_cert_file, p.confd_hmac_key,
             p.cluster_domain_secret_file]
    assert written == files
    assert p.noded_cert_file.stat().st_mode & 0o777 == 0o440
    assert p.rapi_cert_file.stat().st_mode & 0o777 == 0o440
    for secret_file in files[2:]:
        text = secret_file.read_text()
        assert re.fullmatch(r"[0-9a-f]{40}\n", text), text  # Ganeti: 20 random bytes, hex
        assert secret_file.stat().st_mode & 0o777 == 0o400
    assert p.confd_hmac_key.read_text() != p.cluster_domain_secret_file.read_text()
    assert load_bundle(p.noded_cert_file) != load_bundle(p.rapi_cert_file)

    before = {f: f.read_bytes() for f in files}
    assert generate_cluster_crypto(key_type=KEY_EC_P256, p=p) == []  # all present
    assert {f: f.read_bytes() for f in files} == before

    written = generate_cluster_crypto(CryptoRenewal(rapi_cert=True, confd_hmac_key=True),
                                      key_type=KEY_EC_P256, p=p)
    assert written == [p.rapi_cert_file, p.confd_hmac_key]
    assert p.rapi_cert_file.read_bytes() != before[p.rapi_cert_file]
    assert p.noded_cert_file.read_bytes() == before[p.noded_cert_file]


def test_install_given_rapi_cert_and_domain_secret(tmp_path: Path, ec_bundle) -> None:  # type: ignore[no-untyped-def]
    p = paths.Paths(tmp_path)
    generate_cluster_crypto(CryptoRenewal(rapi_cert_pem=ec_bundle.pem(),
                                          cluster_domain_secret_value="abc123"),
                            key_type=KEY_EC_P256, p=p)
    assert load_bundle(p.rapi_cert_file) == ec_bundle
    assert read_secret_file(p.cluster_domain_secret_file) == "abc123"
    with pytest.raises(errors.ConfigurationError):
        generate_cluster_crypto(CryptoRenewal(rapi_cert_pem=ec_bundle.cert_pem), p=p)


def test_secret_files(tmp_path: Path) -> None:
    path = tmp_path / "hmac.key"
    secret = write_secret_file(path)
    assert read_secret_file(path) == secret and len(secret) == 40
    with pytest.raises(errors.ParameterError):
        write_secret_file(path, "two\nlines")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(errors.ConfigurationError, match="empty"):
        read_secret_file(tmp_path / "empty")
    with pytest.raises(errors.ConfigurationError):
        read_secret_file(tmp_path / "missing")


# --- TLS ----------------------------------------------------------------------------

def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> bytes:
    """Run a TLS handshake plus one message in memory; returns what the server read.

    Raises ssl.SSLError when either side refuses the other.
    """
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_side=False)
    srv_done = cli_done = False
    received = b""
    for _ in range(50):
        if not cli_done:
            try:
                cli.do_handshake()
                cli_done = True
                cli.write(b"ping")
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        if not srv_done:
            try:
                srv.do_handshake()
                srv_done = True
            except ssl.SSLWantReadError:
                pass
        if srv_done:
            try:
                received += srv.read(100)
            except ssl.SSLWantReadError:
                pass
        c_in.write(s_out.read())
        if cli_done:
            try:
                cli.read(100)  # surfaces the server's alert, if any
            except ssl.SSLWantReadError:
                pass
        if received:
            return received
    raise AssertionError("handshake did not complete")


def test_mutual_tls_with_the_cluster_certificate(tmp_path: Path, rsa_bundle, ec_bundle) -> None:  # type: ignore[no-untyped-def]
    cluster = tmp_path / "server.pem"
    write_bundle(cluster, rsa_bundle)
    foreign = tmp_path / "foreign.pem"
    write_bundle(foreign, ec_bundle)
    trust = TrustStore.cluster(cluster)
    assert b"PRIVATE KEY" not in trust.anchors_pem  # keys never end up in the trust store
    srv = server_context(cluster, trust)
    assert _handshake(srv, client_context(cluster, trust)) == b"ping"

    # a client presenting another certificate is refused by the server
    with pytest.raises(ssl.SSLError):
        _handshake(srv, client_context(foreign, trust))
    # a client with no certificate at all
    no_cert = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    no_cert.check_hostname = False
    trust.load_into(no_cert)
    with pytest.raises(ssl.SSLError):
        _handshake(srv, no_cert)
    # a client refuses a server whose certificate it does not trust
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _handshake(server_context(foreign, TrustStore.cluster(cluster)),
                   client_context(cluster, trust))
    # several anchors: the foreign certificate becomes acceptable
    both = TrustStore.from_files(cluster, foreign)
    assert _handshake(server_context(cluster, both), client_context(foreign, trust)) == b"ping"


def test_trust_store_peer_check(tmp_path: Path, rsa_bundle, ec_bundle) -> None:  # type: ignore[no-untyped-def]
    der_rsa = rsa_bundle.certificate.public_bytes(serialization.Encoding.DER)
    der_ec = ec_bundle.certificate.public_bytes(serialization.Encoding.DER)
    allowed = {cert_digest(rsa_bundle.certificate)}
    trust = TrustStore(rsa_bundle.cert_pem, peer_check=lambda c: cert_digest(c) in allowed)
    assert trust.accepts(der_rsa) and not trust.accepts(der_ec) and not trust.accepts(None)
    assert TrustStore(rsa_bundle.cert_pem).accepts(der_ec)  # no extra check: chain decides


def test_tls_setup_errors(tmp_path: Path, rsa_bundle) -> None:  # type: ignore[no-untyped-def]
    cert_only = tmp_path / "cert.pem"
    cert_only.write_bytes(rsa_bundle.cert_pem)
    trust = TrustStore.from_files(cert_only)
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        server_context(tmp_path / "missing.pem", trust)
    with pytest.raises(errors.ConfigurationError, match="Cannot load key and certificate"):
        client_context(cert_only, trust)
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        TrustStore.from_files(tmp_path / "missing.pem")
    (tmp_path / "garbage").write_text("x")
    with pytest.raises(errors.ConfigurationError, match="No usable certificate"):
        TrustStore.from_files(tmp_path / "garbage")
