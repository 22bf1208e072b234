"""The master's side of the SSH-less node join (see :mod:`gnt.noded.join`).

:func:`join_node` talks to a node daemon in join mode: it checks that the
daemon holds the token (its proof is bound to the certificate this very
connection sees), then sends the cluster's files with its own proof.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from gnt import constants, errors
from gnt.crypto import joinproof

TIMEOUT = 30.0


@dataclass(frozen=True)
class JoinHello:
    """What a join-mode node daemon says about itself."""

    node_name: str
    protocol_version: int
    release: str
    fingerprint: str


def _context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # authenticated by the token proof instead
    return ctx


def _peer_fingerprint(resp: httpx.Response) -> str:
    stream = resp.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    if not der:
        raise errors.OpExecError("The node daemon presented no certificate",
                                 errors.ECODE_ENVIRON)
    return joinproof.cert_fingerprint(der)


class JoinSession:
    """One TLS connection to a join-mode node daemon at ``address``:``port``."""

    def __init__(self, node_name: str, address: str,
                 port: int = constants.DEFAULT_NODED_PORT, timeout: float = TIMEOUT) -> None:
        self.node_name = node_name
        self._base = f"https://{address}:{port}"
        self._where = f"{address}:{port}"
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(
                verify=_context(), socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]),
            timeout=timeout, trust_env=False)
        self._fingerprint: str | None = None
        self._nonce: str | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> JoinSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, proc: str, args: list[Any]) -> Any:
        try:
            resp = self._client.post(f"{self._base}/{proc}", content=json.dumps(args))
        except httpx.ConnectError as err:
            text = str(err)
            if "SSL" in text or "certificate" in text or "handshake" in text.lower():
                raise errors.OpPrereqError(
                    f"The node daemon on {self.node_name} ({self._where}) is not in join mode:"
                    " it refused a connection without a cluster certificate (it probably"
                    f" belongs to a cluster already): {text}", errors.ECODE_STATE) from None
            raise errors.OpPrereqError(
                f"Cannot reach the node daemon on {self.node_name} ({self._where}): {text};"
                " start it there with 'gnt-noded --join-token-file FILE'",
                errors.ECODE_ENVIRON) from None
        except httpx.HTTPError as err:
            raise errors.OpPrereqError(
                f"Node daemon on {self.node_name} ({self._where}) failed: {err}",
                errors.ECODE_ENVIRON) from None
        fingerprint = _peer_fingerprint(resp)
        if self._fingerprint is not None and fingerprint != self._fingerprint:
            raise errors.OpExecError(f"The certificate of {self.node_name} changed during "
                                     "the join", errors.ECODE_ENVIRON)
        self._fingerprint = fingerprint
        try:
            ok, value = resp.json()
        except (ValueError, TypeError):
            raise errors.OpExecError(
                f"Invalid reply from {self.node_name}: HTTP {resp.status_code} "
                f"{resp.text[:200]!r}", errors.ECODE_ENVIRON) from None
        if resp.status_code == 404:
            raise errors.OpPrereqError(
                f"The node daemon on {self.node_name} ({self._where}) does not offer the"
                " join procedures (it is not in join mode)", errors.ECODE_STATE)
        if not ok:
            raise errors.decode(value)
        return value

    def hello(self, token: str) -> JoinHello:
        """Check the daemon holds ``token``; raises OpPrereqError if not."""
        self._nonce = joinproof.new_nonce()
        value = self._post("join_hello", [self._nonce])
        assert self._fingerprint is not None
        if not isinstance(value, dict) or not joinproof.check(
                token, joinproof.LABEL_HELLO, self._nonce, self._fingerprint,
                value.get("proof")):
            raise errors.OpPrereqError(
                f"The node daemon on {self.node_name} ({self._where}) does not hold this join"
                " token (wrong token, or another host answers at that address)",
                errors.ECODE_INVAL)
        return JoinHello(node_name=str(value.get("node_name")),
                         protocol_version=int(value.get("protocol_version", -1)),
                         release=str(value.get("release")), fingerprint=self._fingerprint)

    def join(self, token: str, payload: dict[str, Any]) -> None:
        """Send the cluster's files (after :meth:`hello`)."""
        if self._nonce is None or self._fingerprint is None:
            raise errors.ProgrammerError("JoinSession.join before hello")
        auth = joinproof.proof(token, joinproof.LABEL_JOIN, self._nonce, self._fingerprint)
        self._post("join", [self._nonce, auth, payload])
