"""The cluster's crypto material and where it lives.

Created at ``gnt-cluster init``, copied to nodes when they join, renewed by
``gnt-cluster renew-crypto``.  Files and formats are Ganeti's:

- ``server.pem``: the cluster certificate and key (noded's server and
  client certificate, and the CA every node trusts), mode 0440;
- ``rapi.pem``: the RAPI server certificate and key, mode 0440;
- ``hmac.key``: the confd HMAC key, 40 hex digits (20 random bytes) and a
  newline, mode 0400;
- ``cluster-domain-secret``: same format as ``hmac.key``, used to sign
  inter-cluster move material.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from gnt import errors, paths
from gnt.crypto.x509 import (
    DEFAULT_CN,
    DEFAULT_KEY_TYPE,
    DEFAULT_VALIDITY_DAYS,
    CertBundle,
    KeyType,
    generate_cert_file,
    parse_bundle,
    write_bundle,
)
from gnt.utils.io import atomic_write

log = logging.getLogger(__name__)

SECRET_BYTES = 20  # Ganeti's GenerateSecret default (the length of a SHA-1)
SECRET_FILE_MODE = 0o400


def generate_secret(nbytes: int = SECRET_BYTES) -> str:
    """A random secret of ``nbytes`` bytes as lower-case hex (2 * nbytes digits)."""
    return secrets.token_hex(nbytes)


def write_secret_file(path: str | os.PathLike[str], secret: str | None = None) -> str:
    """Write ``secret`` (a new one if None) plus a newline to ``path``, mode 0400.

    Returns the secret written.  Raises :class:`errors.ParameterError` if
    a given secret is empty or spans several lines.
    """
    if secret is None:
        secret = generate_secret()
    secret = secret.strip()
    if not secret or "\n" in secret:
        raise errors.ParameterError("A secret must be one non-empty line", errors.ECODE_INVAL)
    atomic_write(path, secret + "\n", mode=SECRET_FILE_MODE)
    return secret


def read_secret_file(path: str | os.PathLike[str]) -> str:
    """The secret stored in ``path`` (surrounding whitespace removed).

    Raises :class:`errors.ConfigurationError` if it is missing or empty.
    """
    try:
        value = Path(path).read_text().strip()
    except OSError as err:
        raise errors.ConfigurationError(f"Cannot read secret file {path}: {err}",
                                        errors.ECODE_ENVIRON) from err
    if not value:
        raise errors.ConfigurationError(f"Secret file {path} is empty", errors.ECODE_ENVIRON)
    return value


def read_hmac_key() -> str:
    """This node's confd HMAC key."""
    return read_secret_file(paths.get().confd_hmac_key)


@dataclass(frozen=True)
class CryptoRenewal:
    """Which pieces :func:`generate_cluster_crypto` must replace.

    Missing files are always created.  ``rapi_cert_pem`` installs a given
    RAPI key + certificate (PEM) instead of generating one;
    ``cluster_domain_secret`` installs a given secret.
    """

    cluster_cert: bool = False
    rapi_cert: bool = False
    confd_hmac_key: bool = False
    cluster_domain_secret: bool = False
    rapi_cert_pem: bytes | None = None
    cluster_domain_secret_value: str | None = None


def generate_cluster_crypto(renew: CryptoRenewal | None = None, common_name: str = DEFAULT_CN,
                            key_type: KeyType = DEFAULT_KEY_TYPE,
                            validity_days: int = DEFAULT_VALIDITY_DAYS,
                            p: paths.Paths | None = None) -> list[Path]:
    """Create missing cluster crypto files and renew those asked for.

    ``p`` selects the root (default: :func:`paths.get`).  Returns the
    files written.  Raises :class:`errors.ConfigurationError` if a given
    RAPI PEM lacks a matching key and certificate.
    """
    renew = renew or CryptoRenewal()
    p = p or paths.get()
    written: list[Path] = []

    def _cert(path: Path, force: bool, what: str) -> None:
        if force or not path.exists():
            log.info("Generating new %s at %s", what, path)
            generate_cert_file(path, common_name, key_type, validity_days)
            written.append(path)

    _cert(p.noded_cert_file, renew.cluster_cert, "cluster certificate")

    if renew.rapi_cert_pem is not None:
        bundle: CertBundle = parse_bundle(renew.rapi_cert_pem, "the given RAPI certificate")
        log.info("Installing the given RAPI certificate at %s", p.rapi_cert_file)
        write_bundle(p.rapi_cert_file, bundle)
        written.append(p.rapi_cert_file)
    else:
        _cert(p.rapi_cert_file, renew.rapi_cert, "RAPI certificate")

    if renew.confd_hmac_key or not p.confd_hmac_key.exists():
        log.info("Writing new confd HMAC key to %s", p.confd_hmac_key)
        write_secret_file(p.confd_hmac_key)
        written.append(p.confd_hmac_key)

    cds = p.cluster_domain_secret_file
    if renew.cluster_domain_secret_value is not None:
        write_secret_file(cds, renew.cluster_domain_secret_value)
        written.append(cds)
    elif renew.cluster_domain_secret or not cds.exists():
        log.info("Writing new cluster domain secret to %s", cds)
        write_secret_file(cds)
        written.append(cds)
    return written
