"""Proofs of knowledge of a node join token, bound to one TLS certificate.

The SSH-less node join (``gnt-noded --join-token``) runs over TLS where
neither side can check the other's certificate yet.  Both sides prove they
know the one-time token without sending it, and bind the proof to the
certificate the joining node's server presented, so a man in the middle
(who must present its own certificate) can neither learn the token nor
relay the exchange::

    hello:  master -> node   nonce (random)
            node -> master   HMAC-SHA256(token, "hello" | nonce | sha256(node cert))
    join:   master -> node   HMAC-SHA256(token, "join" | nonce | sha256(node cert)), payload

A token is 32 random bytes in URL-safe base64 (43 characters).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
NONCE_BYTES = 16
LABEL_HELLO = "hello"
LABEL_JOIN = "join"


def new_token() -> str:
    """A fresh join token (URL-safe base64, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_nonce() -> str:
    """A fresh nonce (hex, 32 digits)."""
    return secrets.token_hex(NONCE_BYTES)


def cert_fingerprint(cert_der: bytes) -> str:
    """SHA-256 of a DER certificate, hex."""
    return hashlib.sha256(cert_der).hexdigest()


def proof(token: str, label: str, nonce: str, fingerprint: str) -> str:
    """The HMAC a side sends to show it knows ``token`` (hex)."""
    msg = "\0".join((label, nonce, fingerprint)).encode()
    return hmac.new(token.encode(), msg, hashlib.sha256).hexdigest()


def check(token: str, label: str, nonce: str, fingerprint: str, given: object) -> bool:
    """Whether ``given`` is the right proof (constant-time comparison)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(proof(token, label, nonce, fingerprint), given)
