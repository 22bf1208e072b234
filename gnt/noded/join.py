"""The node daemon's join mode: how a node joins a cluster without SSH.

A host provisioned by configuration management starts
``gnt-noded --join-token-file FILE`` (or ``--join-token TOKEN``).  Having
no cluster certificate yet, the daemon serves TLS with a throw-away
certificate, accepts clients without certificates, and offers exactly two
procedures:

``join_hello(nonce)``
    returns ``{"proof", "node_name", "protocol_version", "release"}``; the
    proof shows the master that this daemon holds the token and binds it to
    the certificate the master sees (:mod:`gnt.crypto.joinproof`).
``join(nonce, auth, payload)``
    ``auth`` shows the daemon that the caller holds the token (for a nonce
    of an earlier hello); ``payload`` carries the cluster's files (see
    :func:`apply_payload`).  The files are written atomically, the cluster
    certificate last, and the daemon then switches to its normal mode.

The token is single-use: after a successful join, or after
:data:`MAX_FAILURES` bad proofs, join mode ends.
"""

from __future__ import annotations

import inspect
import logging
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from gnt import constants, errors, netutils, paths
from gnt.crypto import joinproof
from gnt.crypto.tls import server_context
from gnt.crypto.x509 import KEY_EC_P256, generate_self_signed
from gnt.noded import registry
from gnt.noded.procs.basic import check_file_writes, upload_allowlist, write_ssconf_files
from gnt.storage.file import allow_file_storage_paths
from gnt.utils.io import atomic_write

log = logging.getLogger(__name__)

MAX_FAILURES = 5
MAX_NONCES = 64


def read_token(spec: str) -> str:
    """The token from ``spec``: a file name, or ``-`` for the first line of stdin.

    Raises :class:`errors.ParameterError` for an unreadable or empty token.
    """
    try:
        text = sys.stdin.readline() if spec == "-" else Path(spec).read_text()
    except OSError as err:
        raise errors.ParameterError(f"Cannot read the join token from {spec}: {err}",
                                    errors.ECODE_INVAL) from err
    token = text.strip()
    if len(token) < 16:
        raise errors.ParameterError("The join token must have at least 16 characters",
                                    errors.ECODE_INVAL)
    return token


def check_not_member(p: paths.Paths | None = None) -> None:
    """Refuse join mode on a node that already belongs to a cluster."""
    p = p or paths.get()
    for f in (p.noded_cert_file, p.cluster_conf_file):
        if f.exists():
            raise errors.OpPrereqError(
                f"This node already belongs to a cluster ({f} exists); remove it from that"
                " cluster first", errors.ECODE_STATE)


def cluster_files(p: paths.Paths | None = None) -> set[Path]:
    """The files a join may write: the cluster certificate plus the uploadable files."""
    p = p or paths.get()
    return {p.noded_cert_file, *upload_allowlist(p)}


def apply_payload(payload: dict[str, Any]) -> None:
    """Install the cluster's files on this node.

    ``payload``: ``{"node_name": str, "files": {cluster path: [base64
    content, mode]}, "ssconf": {key: value}, "file_storage_dirs": [dir, ...]}``
    (the cluster's file storage directories, added to this node's
    ``file-storage-paths`` allowlist); the files must include the
    cluster certificate (``server.pem``) and be in :func:`cluster_files`.
    Everything is checked before anything is written; the certificate is
    written last, so an interrupted join can simply be repeated.  Raises
    :class:`errors.OpPrereqError` for a payload meant for another node or
    naming a file outside the list.
    """
    if not isinstance(payload, dict):
        raise errors.ParameterError("The join payload must be a dict", errors.ECODE_INVAL)
    me = netutils.my_hostname()
    if payload.get("node_name") != me:
        raise errors.OpPrereqError(
            f"This node is {me}, the join is for {payload.get('node_name')!r}",
            errors.ECODE_INVAL)
    p = paths.get()
    files = check_file_writes(payload.get("files"), cluster_files(p),
                              "may not be written by a join")
    if p.noded_cert_file not in {f[0] for f in files}:
        raise errors.OpPrereqError("The join payload lacks the cluster certificate",
                                   errors.ECODE_INVAL)
    ssconf = payload.get("ssconf") or {}
    files.sort(key=lambda f: f[0] == p.noded_cert_file)  # the certificate last
    for state_dir in (p.data_dir, p.run_dir, p.log_dir, p.queue_dir):
        state_dir.mkdir(parents=True, exist_ok=True)
    write_ssconf_files(ssconf)
    storage_dirs = [d for d in payload.get("file_storage_dirs") or [] if isinstance(d, str)]
    if storage_dirs:
        allow_file_storage_paths(storage_dirs)
        for d in storage_dirs:
            p.under_root(d).mkdir(parents=True, exist_ok=True)
    for target, data, mode in files:
        atomic_write(target, data, mode=mode)
    log.info("Joined the cluster as %s (%d files written)", me, len(files))


class JoinMode:
    """State of one join-mode daemon: the token, its certificate, the nonces."""

    def __init__(self, token: str) -> None:
        self._token = token
        bundle = generate_self_signed(netutils.my_hostname(), KEY_EC_P256, 2)
        der = bundle.certificate.public_bytes(serialization.Encoding.DER)
        self.fingerprint = joinproof.cert_fingerprint(der)
        self._pem = bundle.pem()
        self._nonces: list[str] = []
        self._failures = 0
        self._lock = threading.Lock()
        self.joined = threading.Event()
        self.gave_up = threading.Event()
        self._procs = {
            "join_hello": registry.Procedure("join_hello", self.hello,
                                             inspect.signature(self.hello)),
            "join": registry.Procedure("join", self.join, inspect.signature(self.join)),
        }

    def lookup(self, name: str) -> registry.Procedure | None:
        """The join-mode procedures (and nothing else)."""
        return self._procs.get(name)

    def ssl_context(self) -> ssl.SSLContext:
        """A server context with the throw-away certificate, no client certificates."""
        p = paths.get()
        p.run_dir.mkdir(parents=True, exist_ok=True)
        pem = p.run_dir / "noded-join.pem"
        atomic_write(pem, self._pem, mode=0o600)
        try:
            return server_context(pem, None)
        finally:
            pem.unlink()

    def hello(self, nonce: str) -> dict[str, Any]:
        """Prove knowledge of the token for ``nonce``; see the module doc."""
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
            raise errors.ParameterError("Bad nonce", errors.ECODE_INVAL)
        with self._lock:
            self._nonces = [*self._nonces[-(MAX_NONCES - 1):], nonce]
        return {
            "proof": joinproof.proof(self._token, joinproof.LABEL_HELLO, nonce,
                                     self.fingerprint),
            "node_name": netutils.my_hostname(),
            "protocol_version": constants.PROTOCOL_VERSION,
            "release": constants.RELEASE_VERSION,
        }

    def join(self, nonce: str, auth: str, payload: dict[str, Any]) -> bool:
        """Install the cluster files if ``auth`` is right; see the module doc."""
        with self._lock:
            if self.joined.is_set() or self.gave_up.is_set():
                raise errors.OpPrereqError("This node has already been joined",
                                           errors.ECODE_STATE)
            if nonce not in self._nonces or not joinproof.check(
                    self._token, joinproof.LABEL_JOIN, nonce, self.fingerprint, auth):
                self._failures += 1
                log.warning("Refused a join with a wrong token proof (%d of %d)",
                            self._failures, MAX_FAILURES)
                if self._failures >= MAX_FAILURES:
                    log.error("Too many wrong join attempts; leaving join mode")
                    self.gave_up.set()
                raise errors.OpPrereqError("Wrong join token", errors.ECODE_INVAL)
            self._nonces.remove(nonce)
            apply_payload(payload)
            self.joined.set()
        return True

