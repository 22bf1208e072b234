"""X.509 certificates: generate self-signed ones, load them, digest them.

gnt keeps Ganeti's file shape: one PEM file holding the private key
followed by the certificate (``server.pem``, ``rapi.pem``).  Ganeti's
defaults are kept too: common name ``ganeti.example.com``, five years of
validity, an RSA 2048-bit key; EC P-256 keys are available as an option.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gnt import errors
from gnt.utils.io import atomic_write

KeyType = Literal["rsa2048", "ec-p256"]
KEY_RSA2048: KeyType = "rsa2048"
KEY_EC_P256: KeyType = "ec-p256"
KEY_TYPES: tuple[KeyType, ...] = (KEY_RSA2048, KEY_EC_P256)
DEFAULT_KEY_TYPE: KeyType = KEY_RSA2048

DEFAULT_CN = "ganeti.example.com"  # Ganeti's X509_CERT_CN
DEFAULT_VALIDITY_DAYS = 5 * 365  # Ganeti's X509_CERT_DEFAULT_VALIDITY
# Certificates start being valid a little in the past so that nodes whose
# clocks lag behind the generating node's accept them at once.
_BACKDATE = datetime.timedelta(days=1)

CERT_FILE_MODE = 0o440  # server.pem / rapi.pem, as Ganeti

DigestAlgorithm = Literal["sha1", "sha256"]
_DIGESTS: dict[str, hashes.HashAlgorithm] = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CertBundle:
    """A private key and its certificate, both PEM-encoded (bytes)."""

    key_pem: bytes
    cert_pem: bytes

    def pem(self) -> bytes:
        """The file content: key then certificate, Ganeti's ``server.pem`` shape."""
        return self.key_pem + self.cert_pem

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def private_key(self) -> PrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
        return key


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == KEY_RSA2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == KEY_EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    raise errors.ParameterError(
        f"Unknown certificate key type {key_type!r}; allowed: {', '.join(KEY_TYPES)}",
        errors.ECODE_INVAL)


def generate_self_signed(common_name: str = DEFAULT_CN, key_type: KeyType = DEFAULT_KEY_TYPE,
                         validity_days: int = DEFAULT_VALIDITY_DAYS) -> CertBundle:
    """Create a new key and a self-signed certificate for it.

    The certificate is its own CA (basicConstraints CA:TRUE), usable by
    TLS servers and clients, with ``common_name`` as subject CN and DNS
    subject alternative name, valid for ``validity_days`` days.  Raises
    :class:`errors.ParameterError` for an unknown ``key_type`` or a
    non-positive validity.
    """
    if validity_days <= 0:
        raise errors.ParameterError(
            f"Certificate validity must be a positive number of days, not {validity_days}",
            errors.ECODE_INVAL)
    if not common_name:
        raise errors.ParameterError("Certificate common name must not be empty",
                                    errors.ECODE_INVAL)
    key = _new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=key_type == KEY_RSA2048, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return CertBundle(key_pem, cert.public_bytes(serialization.Encoding.PEM))


def write_bundle(path: str | os.PathLike[str], bundle: CertBundle,
                 mode: int = CERT_FILE_MODE) -> None:
    """Write ``bundle`` (key + certificate) to ``path`` atomically with ``mode``."""
    atomic_write(path, bundle.pem(), mode=mode)


def generate_cert_file(path: str | os.PathLike[str], common_name: str = DEFAULT_CN,
                       key_type: KeyType = DEFAULT_KEY_TYPE,
                       validity_days: int = DEFAULT_VALIDITY_DAYS,
                       mode: int = CERT_FILE_MODE) -> CertBundle:
    """Generate a self-signed key + certificate and write it to ``path``; returns it."""
    bundle = generate_self_signed(common_name, key_type, validity_days)
    write_bundle(path, bundle, mode)
    return bundle


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as err:
        raise errors.ConfigurationError(f"{what} file {path} does not exist",
                                        errors.ECODE_ENVIRON) from err
    except OSError as err:
        raise errors.ConfigurationError(f"Cannot read {what} file {path}: {err}",
                                        errors.ECODE_ENVIRON) from err


def parse_bundle(data: bytes, source: str = "PEM data") -> CertBundle:
    """Split PEM ``data`` holding a private key and a certificate into a bundle.

    Raises :class:`errors.ConfigurationError` if either part is missing or
    unparsable, or if the key does not belong to the certificate.
    """
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise errors.ConfigurationError(f"No usable private key in {source}: {err}",
                                        errors.ECODE_ENVIRON) from err
    cert = parse_certificate(data, source)
    if key.public_key().public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo):
        raise errors.ConfigurationError(
            f"The private key in {source} does not match its certificate", errors.ECODE_ENVIRON)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return CertBundle(key_pem, cert.public_bytes(serialization.Encoding.PEM))


def load_bundle(path: str | os.PathLike[str]) -> CertBundle:
    """Read a key + certificate PEM file such as ``server.pem``.

    Raises :class:`errors.ConfigurationError` if the file is missing,
    unreadable, or lacks a matching key and certificate.
    """
    return parse_bundle(_read(path, "Certificate"), str(path))


def parse_certificate(data: bytes, source: str = "PEM data") -> x509.Certificate:
    """The first certificate in PEM ``data`` (key blocks are skipped).

    Raises :class:`errors.ConfigurationError` if there is none.
    """
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as err:
        raise errors.ConfigurationError(f"No usable certificate in {source}: {err}",
                                        errors.ECODE_ENVIRON) from err
    return certs[0]


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    """The certificate in a PEM file (which may also hold the key)."""
    return parse_certificate(_read(path, "Certificate"), str(path))


def cert_digest(cert: x509.Certificate, algorithm: DigestAlgorithm = "sha1") -> str:
    """Fingerprint of ``cert`` as upper-case hex pairs joined by colons.

    This is OpenSSL's ``-fingerprint`` notation, the one Ganeti stores in
    ``ssconf_master_candidates_certs`` (with SHA-1).  ``algorithm`` is
    ``"sha1"`` or ``"sha256"``; anything else raises ParameterError.
    """
    try:
        algo = _DIGESTS[algorithm]
    except KeyError:
        raise errors.ParameterError(
            f"Unknown digest algorithm {algorithm!r}; allowed: {', '.join(_DIGESTS)}",
            errors.ECODE_INVAL) from None
    return cert.fingerprint(algo).hex(":").upper()


def file_digest(path: str | os.PathLike[str], algorithm: DigestAlgorithm = "sha1") -> str:
    """:func:`cert_digest` of the certificate stored in ``path``."""
    return cert_digest(load_certificate(path), algorithm)


def expiry(cert: x509.Certificate) -> datetime.datetime:
    """When ``cert`` stops being valid (UTC, timezone-aware)."""
    return cert.not_valid_after_utc
