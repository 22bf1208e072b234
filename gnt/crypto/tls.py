"""TLS contexts for the node daemon's mutual authentication.

Both sides of a node RPC present a certificate and check the other's:

- what a node presents is a key + certificate PEM file (today the shared
  cluster certificate ``server.pem``; later a per-node ``client.pem``);
- what a node accepts is a :class:`TrustStore`: the peer's certificate
  must chain to one of the trust anchors (checked by OpenSSL during the
  handshake) and then pass an optional ``peer_check`` (checked by the
  server once the handshake is done, e.g. "its digest is one of the
  master candidates' certificates").

Host names are not checked: nodes are identified by the cluster's
certificates, not by DNS.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gnt import errors, paths

log = logging.getLogger(__name__)

PeerCheck = Callable[[x509.Certificate], bool]


@dataclass(frozen=True)
class TrustStore:
    """The certificates a peer may chain to, plus an optional extra check.

    ``anchors_pem`` holds one or more PEM certificates (no keys).
    ``peer_check`` receives the peer's verified certificate and returns
    whether to accept it.
    """

    anchors_pem: bytes
    peer_check: PeerCheck | None = None

    @classmethod
    def from_files(cls, *files: str | os.PathLike[str],
                   peer_check: PeerCheck | None = None) -> TrustStore:
        """Trust the certificates found in ``files`` (keys in them are ignored).

        Raises :class:`errors.ConfigurationError` if a file is missing or
        holds no certificate.
        """
        if not files:
            raise errors.ProgrammerError("A trust store needs at least one certificate file")
        pems: list[bytes] = []
        for f in files:
            try:
                data = Path(f).read_bytes()
            except FileNotFoundError as err:
                raise errors.ConfigurationError(
                    f"Certificate file {f} does not exist", errors.ECODE_ENVIRON) from err
            except OSError as err:
                raise errors.ConfigurationError(
                    f"Cannot read trusted certificate file {f}: {err}",
                    errors.ECODE_ENVIRON) from err
            try:
                certs = x509.load_pem_x509_certificates(data)
            except ValueError as err:
                raise errors.ConfigurationError(
                    f"No usable certificate in {f}: {err}", errors.ECODE_ENVIRON) from err
            pems.extend(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        return cls(b"".join(pems), peer_check)

    @classmethod
    def cluster(cls, cert_file: str | os.PathLike[str] | None = None) -> TrustStore:
        """Trust the cluster certificate (default: this root's ``server.pem``),
        plus the next one while a renewal rolls it out."""
        p = paths.get()
        cert = Path(cert_file) if cert_file else p.noded_cert_file
        rollover = cert.parent / p.cluster_cert_rollover_file.name
        return cls.from_files(cert, *([rollover] if rollover.exists() else []))

    def load_into(self, ctx: ssl.SSLContext) -> None:
        """Make ``ctx`` require a peer certificate chaining to the anchors."""
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=self.anchors_pem.decode("ascii"))

    def accepts(self, peer_der: bytes | None) -> bool:
        """Whether a peer whose certificate (DER) passed the chain check is accepted."""
        if peer_der is None:
            return False
        if self.peer_check is None:
            return True
        return self.peer_check(x509.load_der_x509_certificate(peer_der))


def _load_chain(ctx: ssl.SSLContext, cert_file: str | os.PathLike[str],
                what: str = "Certificate file") -> None:
    try:
        ctx.load_cert_chain(os.fspath(cert_file))
    except FileNotFoundError as err:
        raise errors.ConfigurationError(
            f"{what} {cert_file} does not exist", errors.ECODE_ENVIRON) from err
    except (OSError, ssl.SSLError) as err:
        raise errors.ConfigurationError(
            f"Cannot load key and certificate from {cert_file}: {err}",
            errors.ECODE_ENVIRON) from err


def server_context(cert_file: str | os.PathLike[str], trust: TrustStore | None,
                   what: str = "Certificate file") -> ssl.SSLContext:
    """A TLS server context presenting ``cert_file`` (key + cert PEM) and
    requiring a client certificate trusted by ``trust`` (with None, clients
    present none: RAPI, the node daemon's join mode).

    ``what`` names the file in errors.  Raises
    :class:`errors.ConfigurationError` if the file cannot be used.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(ctx, cert_file, what)
    if trust is not None:
        trust.load_into(ctx)
    return ctx


def client_context(cert_file: str | os.PathLike[str], trust: TrustStore) -> ssl.SSLContext:
    """A TLS client context presenting ``cert_file`` and accepting servers
    whose certificate chains to ``trust``'s anchors (no host name check).

    ``trust.peer_check`` is not applied here: callers that need it check
    the server certificate themselves.  Raises
    :class:`errors.ConfigurationError` if the file cannot be used.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    _load_chain(ctx, cert_file)
    trust.load_into(ctx)
    return ctx


#: what a reloadable server trusts: a trust store, or None (clients present no certificate)
_Trust = TypeVar("_Trust", bound=TrustStore | None)


class ReloadableServerContext(Generic[_Trust]):
    """A server TLS context whose certificate and trust can be replaced while
    the server runs (``gnt-cluster renew-crypto`` without downtime).

    :attr:`context` is what the server listens with; at each handshake its
    ``sni_callback`` (called by OpenSSL with or without SNI) switches the
    connection to the current context, which :meth:`reload` rebuilds from
    the files.  ``trust`` may return None (no client certificates: RAPI).
    With ``watch``, each handshake first checks whether ``cert_file`` changed
    (inode, size, mtime: one ``stat``) and reloads it if so; a file that
    cannot be loaded is logged and the previous material kept.  ``what``
    names the file in errors.  Raises
    :class:`errors.ConfigurationError` like :func:`server_context`.
    """

    def __init__(self, cert_file: str | os.PathLike[str],
                 trust: Callable[[], _Trust], watch: bool = False,
                 what: str = "Certificate file") -> None:
        self._cert_file = cert_file
        self._what = what
        self._trust = trust
        self._watch = watch
        self._stamp = _file_stamp(cert_file)
        self.trust_store = trust()
        self.current = server_context(cert_file, self.trust_store, what)
        self.context = server_context(cert_file, self.trust_store, what)
        self.context.sni_callback = self._switch

    def _switch(self, ssl_object: ssl.SSLObject, _name: str | None,
                _ctx: ssl.SSLContext) -> None:
        if self._watch and _file_stamp(self._cert_file) != self._stamp:
            try:
                self.reload()
            except errors.GntError as err:
                log.error("Keeping the previous TLS certificate: %s", err)
        ssl_object.context = self.current

    def reload(self) -> None:
        """Load the certificate and trust files again (new connections use them)."""
        stamp = _file_stamp(self._cert_file)
        trust = self._trust()
        try:
            self.current = server_context(self._cert_file, trust, self._what)
        finally:
            self._stamp = stamp  # a broken file is reported once, not at every handshake
        self.trust_store = trust
        log.info("Loaded the TLS certificate %s", self._cert_file)


def _file_stamp(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """What changes when ``path`` is replaced or rewritten (None if missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns
