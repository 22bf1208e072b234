"""Certificates, keys, secrets and TLS set-up of a gnt cluster.

- :mod:`gnt.crypto.x509`: generate, load and fingerprint certificates;
- :mod:`gnt.crypto.cluster`: the cluster's crypto files (``server.pem``,
  ``rapi.pem``, ``hmac.key``, ``cluster-domain-secret``);
- :mod:`gnt.crypto.tls`: TLS contexts for noded's mutual authentication.
"""

from gnt.crypto.cluster import (
    CryptoRenewal,
    generate_cluster_crypto,
    generate_secret,
    read_hmac_key,
    read_secret_file,
    write_secret_file,
)
from gnt.crypto.tls import TrustStore, client_context, server_context
from gnt.crypto.x509 import (
    DEFAULT_CN,
    DEFAULT_KEY_TYPE,
    DEFAULT_VALIDITY_DAYS,
    KEY_EC_P256,
    KEY_RSA2048,
    KEY_TYPES,
    CertBundle,
    cert_digest,
    file_digest,
    generate_cert_file,
    generate_self_signed,
    load_bundle,
    load_certificate,
    parse_bundle,
    parse_certificate,
    write_bundle,
)

__all__ = [
    "DEFAULT_CN",
    "DEFAULT_KEY_TYPE",
    "DEFAULT_VALIDITY_DAYS",
    "KEY_EC_P256",
    "KEY_RSA2048",
    "KEY_TYPES",
    "CertBundle",
    "CryptoRenewal",
    "TrustStore",
    "cert_digest",
    "client_context",
    "file_digest",
    "generate_cert_file",
    "generate_cluster_crypto",
    "generate_secret",
    "generate_self_signed",
    "load_bundle",
    "load_certificate",
    "parse_bundle",
    "parse_certificate",
    "read_hmac_key",
    "read_secret_file",
    "server_context",
    "write_bundle",
    "write_secret_file",
]
