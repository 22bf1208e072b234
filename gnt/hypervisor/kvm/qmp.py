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
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
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


@contextlib.asynccontextmanager
async def _connected(path: str, timeout: float) -> AsyncIterator[QMPClient]:
    client = QMPClient("gnt")
    await asyncio.wait_for(client.connect(path), timeout)
    try:
        yield client
    finally:
        # QEMU may close the socket itself (``quit``): that is not a failure
        with contextlib.suppress(QMPError, OSError, EOFError):
            await client.disconnect()


async def _session(path: str, commands: Sequence[Command], timeout: float) -> list[Any]:
    async with _connected(path, timeout) as client:
        return [await asyncio.wait_for(client.execute(cmd, args), timeout)
                for cmd, args in commands]


async def _poll_session(path: str, cmd: str, args: dict[str, Any] | None,
                        until: Callable[[Any], bool], interval: float, wait: float,
                        timeout: float) -> Any:
    async with _connected(path, timeout) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            res = await asyncio.wait_for(client.execute(cmd, args), timeout)
            if until(res) or loop.time() + interval > deadline:
                return res
            await asyncio.sleep(interval)


def _run_session(path: str, names: str, coro: Coroutine[Any, Any, T]) -> T:
    """Run a session coroutine; QMP failures become HypervisorError naming the
    socket and the commands (``names``)."""
    try:
        return run(coro)
    except ExecuteError as err:
        raise errors.HypervisorError(f"QMP command failed ({names}) on {path}: {err}") from err
    except (TimeoutError, QMPError, OSError, EOFError) as err:
        why = str(err) or type(err).__name__
        raise errors.HypervisorError(
            f"Cannot talk to QEMU over QMP ({names}) at {path}: {why}") from err


def execute_many(path: str, commands: Sequence[Command],
                 timeout: float = DEFAULT_TIMEOUT) -> list[Any]:
    """Run ``commands`` (name, arguments) in one QMP session; their return values.

    Raises :class:`errors.HypervisorError` naming the socket and the command
    when the monitor cannot be reached, times out or answers with an error.
    """
    names = ", ".join(c for c, _ in commands)
    return _run_session(path, names, _session(path, commands, timeout))


def poll(path: str, cmd: str, args: dict[str, Any] | None, until: Callable[[Any], bool],
         interval: float, wait: float, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Run ``cmd`` every ``interval`` s in one QMP session until ``until`` holds
    for its return value or ``wait`` s have passed; the last return value.

    One session instead of one per look: QEMU serves one QMP client at a
    time, and a session costs more than the command.  Raises like
    :func:`execute_many`.
    """
    return _run_session(path, cmd, _poll_session(path, cmd, args, until, interval, wait,
                                                 timeout))


def execute(path: str, cmd: str, args: dict[str, Any] | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Run one QMP command; its return value.  Raises like :func:`execute_many`."""
    return execute_many(path, [(cmd, args)], timeout)[0]
