"""The node RPC client: call procedures on node daemons, one or many at a time.

One :class:`RpcClient` per process (:func:`get_client`) is shared by all
threads.  It keeps a pool of TLS connections per node (keep-alive), so a
call costs one HTTP round trip once the connection is up.  Both sides
authenticate with the cluster certificate (``server.pem``): it is the
client certificate presented, and the only certificate a node daemon's
certificate may chain to.  Host names are not checked.

Timeouts are in seconds; Ganeti's classes are provided (``TMO_*``).
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

from gnt import constants, errors, paths
from gnt.crypto.tls import TrustStore, client_context
from gnt.rpc.result import RpcResult
from gnt.rpc.transport import ConnectionPool, TransportError

# Ganeti's RPC timeout classes (seconds)
TMO_URGENT = 60
TMO_FAST = 5 * 60
TMO_NORMAL = 15 * 60
TMO_SLOW = 3600
TMO_4HRS = 4 * 3600
TMO_1DAY = 86400
DEFAULT_TIMEOUT = TMO_URGENT

# Idle connections are dropped after this many seconds, before the node
# daemon closes them (gnt.noded.server.KEEPALIVE_TIMEOUT).
KEEPALIVE_EXPIRY = 60.0
MAX_PARALLEL = 64  # calls call_many runs at once
MAX_KEEPALIVE_PER_NODE = 32  # idle connections kept per node (concurrent jobs)

def _decode_reply(node: str, procedure: str, status: int, content: bytes) -> RpcResult:
    try:
        payload = json.loads(content)
    except ValueError:
        return RpcResult(node, procedure, fail_msg=(
            f"Invalid reply from the node daemon (HTTP {status}): "
            f"{content[:200].decode(errors='replace')!r}"))
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], bool)):
        return RpcResult(node, procedure, fail_msg=(
            f"Malformed reply from the node daemon (HTTP {status}): "
            f"{str(payload)[:200]}"))
    ok, value = payload
    if ok:
        return RpcResult(node, procedure, data=value)
    err = errors.decode(value)
    return RpcResult(node, procedure, fail_msg=err.message, remote_error=err)


class RpcClient:
    """Calls node daemon procedures over mutually authenticated HTTPS.

    ``cert_file`` is the key + certificate presented (default: this
    root's ``server.pem``); ``trust`` decides which node certificates are
    accepted (default: the certificate in ``cert_file``); ``port`` is the
    node daemons' default port.  Certificates are loaded at the first call
    and again after :meth:`reload_certificates`.  Thread-safe.
    """

    def __init__(self, cert_file: str | os.PathLike[str] | None = None,
                 trust: TrustStore | None = None,
                 port: int = constants.DEFAULT_NODED_PORT,
                 max_parallel: int = MAX_PARALLEL) -> None:
        self._cert_file = Path(cert_file) if cert_file else None
        self._trust = trust
        self.port = port
        self._max_parallel = max_parallel
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        self._connections = ConnectionPool(self._ssl_context, KEEPALIVE_EXPIRY,
                                           MAX_KEEPALIVE_PER_NODE)
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    @property
    def cert_file(self) -> Path:
        return self._cert_file or paths.get().noded_cert_file

    def _ssl_context(self) -> ssl.SSLContext:
        """Load the certificates (once); raises ConfigurationError."""
        with self._lock:
            if self._ssl is None:
                trust = self._trust or TrustStore.cluster(self.cert_file)
                self._ssl = client_context(self.cert_file, trust)
            return self._ssl

    def call(self, node_address: str, procedure: str, args: list[Any] | None = None,
             timeout: float = DEFAULT_TIMEOUT, port: int | None = None,
             node_name: str | None = None, offline: bool = False) -> RpcResult:
        """Call ``procedure(*args)`` on the node daemon at ``node_address``.

        ``timeout`` (seconds) bounds connecting and waiting for the reply;
        ``port`` overrides the client's default; ``node_name`` is what the
        result's ``node`` says (default: the address).  With ``offline``
        the node is not contacted and the result says so.  Never raises for
        node or network failures (see :class:`RpcResult`); raises
        :class:`errors.ProgrammerError` if ``args`` is not a JSON-able list.
        """
        node = node_name or node_address
        if offline:
            return RpcResult.for_offline(node, procedure)
        args = [] if args is None else args
        if not isinstance(args, (list, tuple)):
            raise errors.ProgrammerError(
                f"RPC arguments must be a list, not {type(args).__name__}")
        try:
            body = json.dumps(list(args), separators=(",", ":"))
        except (TypeError, ValueError) as err:
            raise errors.ProgrammerError(
                f"Arguments of RPC '{procedure}' are not JSON-able: {err}") from err
        port = port or self.port
        where = f"{node_address}:{port}"
        if self._closed:
            raise errors.ProgrammerError("RpcClient used after close()")
        try:
            status, content = self._connections.post(node_address, port, f"/{procedure}",
                                                     body.encode(), timeout)
        except errors.ConfigurationError as err:
            return RpcResult(node, procedure, fail_msg=f"Cannot set up TLS: {err}")
        except TransportError as err:
            if err.timed_out:
                what = "connecting to" if err.connecting else "waiting for a reply from"
                return RpcResult(node, procedure,
                                 fail_msg=f"Timeout after {timeout:g}s {what} {where}")
            if err.connecting:
                return RpcResult(node, procedure, fail_msg=f"Cannot connect to {where}: {err}")
            return RpcResult(node, procedure, fail_msg=f"Error talking to {where}: {err}")
        return _decode_reply(node, procedure, status, content)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._max_parallel,
                                                    thread_name_prefix="rpc-call")
            return self._executor

    def call_many(self, nodes: Mapping[str, str], procedure: str,
                  args: list[Any] | None = None, timeout: float = DEFAULT_TIMEOUT,
                  per_node_args: Mapping[str, list[Any]] | None = None,
                  offline: Collection[str] = (), port: int | None = None
                  ) -> dict[str, RpcResult]:
        """Call ``procedure`` on several nodes in parallel.

        ``nodes`` maps node names to addresses.  Every node gets ``args``,
        or its own entry of ``per_node_args`` (one of the two, not both).
        Nodes in ``offline`` are not contacted: their result has
        ``offline=True`` and ``fail_msg="Node is marked offline"``.
        Returns a result per node name, in the order of ``nodes``.
        """
        if args is not None and per_node_args is not None:
            raise errors.ProgrammerError("Give either args or per_node_args, not both")
        if per_node_args is not None:
            missing = [n for n in nodes if n not in per_node_args and n not in offline]
            if missing:
                raise errors.ProgrammerError(
                    f"per_node_args lacks arguments for node(s) {', '.join(missing)}")
        results: dict[str, RpcResult] = {}
        todo: list[tuple[str, str, list[Any]]] = []
        for name, address in nodes.items():
            if name in offline:
                results[name] = RpcResult.for_offline(name, procedure)
                continue
            node_args = per_node_args[name] if per_node_args is not None else (args or [])
            todo.append((name, address, node_args))
        if len(todo) == 1:
            name, address, node_args = todo[0]
            results[name] = self.call(address, procedure, node_args, timeout, port, name)
        elif todo:
            pool = self._pool()
            futures = {name: pool.submit(self.call, address, procedure, node_args, timeout,
                                         port, name)
                       for name, address, node_args in todo}
            for name, fut in futures.items():
                results[name] = fut.result()
        return {name: results[name] for name in nodes}

    def reload_certificates(self) -> None:
        """Drop pooled connections and load the certificate files again."""
        with self._lock:
            self._ssl = None
        self._connections.reset()

    def close(self) -> None:
        """Close every connection; the client cannot be used afterwards."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        self._connections.close()
        if executor is not None:
            executor.shutdown(wait=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: RpcClient | None = None
_shared_pid = 0
_shared_lock = threading.Lock()


def get_client() -> RpcClient:
    """The process-wide client (a new one after a fork)."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid():
            _shared = RpcClient()
            _shared_pid = os.getpid()
        return _shared
