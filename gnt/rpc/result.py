"""The result of one node RPC call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gnt import errors

OFFLINE_MSG = "Node is marked offline"


@dataclass
class RpcResult:
    """What one call to one node gave.

    ``data`` is the procedure's result on success.  ``fail_msg`` is None
    on success, otherwise a readable message: the remote error's message
    (then ``remote_error`` holds the decoded :class:`errors.GntError`,
    with its class and error code) or a transport failure (connection,
    TLS, timeout, malformed reply).  ``offline`` is True when the node was
    not contacted because it is marked offline.
    """

    node: str
    call: str
    data: Any = None
    fail_msg: str | None = None
    offline: bool = False
    remote_error: errors.GntError | None = None

    @property
    def failed(self) -> bool:
        return self.fail_msg is not None

    @classmethod
    def for_offline(cls, node: str, call: str) -> RpcResult:
        return cls(node, call, fail_msg=OFFLINE_MSG, offline=True)

    def raise_on_fail(self, prefix: str | None = None) -> None:
        """Raise if the call failed; the message names the node and the call.

        A remote error is raised again with its own class and error code
        (e.g. an ``OpPrereqError`` stays one); transport failures and
        offline nodes raise :class:`errors.RPCError`.  ``prefix`` is put
        in front of the message.
        """
        if self.fail_msg is None:
            return
        msg = f"Call '{self.call}' to node '{self.node}' failed: {self.fail_msg}"
        if prefix:
            msg = f"{prefix}: {msg}"
        if self.remote_error is not None:
            raise type(self.remote_error)(msg, self.remote_error.ecode) from self.remote_error
        raise errors.RPCError(msg, errors.ECODE_ENVIRON)
