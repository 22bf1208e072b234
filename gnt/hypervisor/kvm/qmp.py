"""Synchronous QMP calls over a unix socket, built on the ``qemu.qmp`` library.

QEMU's QMP socket serves one client at a time, so every call here opens a
connection, runs its commands and closes it again; nothing is held between
calls.  The async client runs on a private event loop (in a helper thread
when the caller's thread already runs a loop, e.g. inside the node daemon).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from qemu.qmp import ExecuteError, QMPClient, QMPError

from gnt import errors

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0  # seconds, per connect and per command

Command = tuple[str, dict[str, Any] | None]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run the QMP coroutine ``coro`` to completion from synchronous code (on a
    private loop, in a helper thread when this thread already runs a loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _session(path: str, commands: Sequence[Command], timeout: float) -> list[Any]:
    client = QMPClient("gnt")
    await asyncio.wait_for(client.connect(path), timeout)
    try:
        out = []
        for cmd, args in commands:
            out.append(await asyncio.wait_for(client.execute(cmd, args), timeout))
        return out
    finally:
        # QEMU may close the socket itself (``quit``): that is not a failure
        with contextlib.suppress(QMPError, OSError, EOFError):
            await client.disconnect()


def execute_many(path: str, commands: Sequence[Command],
                 timeout: float = DEFAULT_TIMEOUT) -> list[Any]:
    """Run ``commands`` (name, arguments) in one QMP session; their return values.

    Raises :class:`errors.HypervisorError` naming the socket and the command
    when the monitor cannot be reached, times out or answers with an error.
    """
    names = ", ".join(c for c, _ in commands)
    try:
        return run(_session(path, commands, timeout))
    except ExecuteError as err:
        raise errors.HypervisorError(f"QMP command failed ({names}) on {path}: {err}") from err
    except (TimeoutError, QMPError, OSError, EOFError) as err:
        why = str(err) or type(err).__name__
        raise errors.HypervisorError(
            f"Cannot talk to QEMU over QMP ({names}) at {path}: {why}") from err


def execute(path: str, cmd: str, args: dict[str, Any] | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Run one QMP command; its return value.  Raises like :func:`execute_many`."""
    return execute_many(path, [(cmd, args)], timeout)[0]
