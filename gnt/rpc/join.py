"""The master's side of the node join (see :mod:`gnt.noded.join`).

:class:`JoinSession` talks to a node daemon in join mode: it checks that the
daemon holds the token (its proof is bound to the certificate this very
connection sees), then sends the cluster's files with its own proof.

:func:`ssh_start_join_mode` is how the daemon gets into join mode when the
administrator did not start it: ``ssh root@NODE gnt-noded --join-token-file -``
with the token on standard input.  The SSH client's material is gnt's own,
not the invoking user's ``~/.ssh`` (see :class:`SshSetup`):

- identity: ``<data_dir>/ssh/id_ed25519`` (created on first use, without a
  passphrase; its ``.pub`` must be in root's ``authorized_keys`` on the node);
- known hosts: ``<data_dir>/known_hosts`` (Ganeti's file): a node's host key
  is recorded at its first join and must match afterwards
  (``--no-ssh-key-check`` accepts a changed key).
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from gnt import constants, errors, paths
from gnt.crypto import joinproof

log = logging.getLogger(__name__)

TIMEOUT = 30.0
SSH_TIMEOUT = 60.0  # seconds for the whole ssh command (connect + daemon start-up)
SSH_CONNECT_TIMEOUT = 10
#: what the SSH session runs on the node (found on root's PATH there)
REMOTE_JOIN_ARGV = ("gnt-noded", "--join-token-file", "-")


@dataclass(frozen=True)
class SshSetup:
    """The SSH client material gnt uses (all under this root's data dir).

    ``identity``: private key file (``.pub`` beside it); ``known_hosts``:
    the host keys of the nodes gnt has reached.
    """

    identity: Path
    known_hosts: Path

    @classmethod
    def default(cls, p: paths.Paths | None = None) -> SshSetup:
        p = p or paths.get()
        return cls(identity=p.data_dir / "ssh" / "id_ed25519",
                   known_hosts=p.data_dir / "known_hosts")

    @property
    def public_key_file(self) -> Path:
        return self.identity.with_name(self.identity.name + ".pub")

    def ensure_identity(self) -> None:
        """Create the key pair (ed25519, no passphrase) if it does not exist.

        Raises :class:`errors.OpExecError` if ``ssh-keygen`` fails.
        """
        if self.identity.exists():
            return
        self.identity.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.identity.with_name(self.identity.name + ".new")
        for f in (tmp, tmp.with_name(tmp.name + ".pub")):
            f.unlink(missing_ok=True)
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            f"gnt@{socket.gethostname()}", "-f", str(tmp)],
                           check=True, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as err:
            raise errors.OpExecError(f"Cannot create the SSH key {self.identity}: {err}",
                                     errors.ECODE_ENVIRON) from None
        # public key first: a present private key means a complete pair
        tmp.with_name(tmp.name + ".pub").rename(self.public_key_file)
        tmp.rename(self.identity)
        log.info("Created the SSH key %s", self.identity)

    def argv(self, user: str, address: str, port: int, remote: list[str] | tuple[str, ...],
             check_host_key: bool = True) -> list[str]:
        """The ``ssh`` command line running ``remote`` as ``user`` on ``address``."""
        return ["ssh", "-T", "-p", str(port), "-i", str(self.identity),
                "-oIdentitiesOnly=yes", "-oIdentityAgent=none", "-oBatchMode=yes",
                "-oPasswordAuthentication=no",
                f"-oUserKnownHostsFile={self.known_hosts}", "-oGlobalKnownHostsFile=/dev/null",
                "-oHashKnownHosts=no",
                "-oStrictHostKeyChecking=" + ("accept-new" if check_host_key else "no"),
                f"-oConnectTimeout={SSH_CONNECT_TIMEOUT}", "-oLogLevel=ERROR",
                f"{user}@{address}", "--", *remote]


def ssh_start_join_mode(node_name: str, address: str, token: str, port: int = 22,
                        check_host_key: bool = True, setup: SshSetup | None = None) -> None:
    """Start ``gnt-noded`` in join mode on the node over SSH as root, the
    token on its standard input (never on a command line).

    Raises :class:`errors.OpPrereqError` (``environment_error``) if SSH or
    the remote daemon start fails; the message says how to fix it.
    """
    setup = setup or SshSetup.default()
    setup.ensure_identity()
    setup.known_hosts.parent.mkdir(parents=True, exist_ok=True)
    argv = setup.argv("root", address, port, REMOTE_JOIN_ARGV, check_host_key)
    log.info("Starting the join mode on %s: %s", node_name, " ".join(argv))
    try:
        res = subprocess.run(argv, input=token + "\n", capture_output=True, text=True,
                             check=False, timeout=SSH_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise errors.OpPrereqError(f"Cannot run ssh to {node_name}: {err}",
                                   errors.ECODE_ENVIRON) from None
    if res.returncode == 0:
        return
    detail = res.stderr.strip() or f"exit code {res.returncode}"
    if res.returncode == 255:  # ssh itself failed: connection, host key or authentication
        raise errors.OpPrereqError(
            f"Node {node_name} ({address}, port {port}) is not reachable over SSH as root:"
            f" {detail}. Either authorize gnt's key {setup.public_key_file} in root's"
            " authorized_keys there, or start 'gnt-noded --join-token-file FILE' on it and"
            " run 'gnt-node add --join-token TOKEN'", errors.ECODE_ENVIRON)
    raise errors.OpPrereqError(
        f"Starting '{' '.join(REMOTE_JOIN_ARGV)}' on {node_name} over SSH failed: {detail}",
        errors.ECODE_ENVIRON)


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

    def __enter__(self) -> Self:
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
