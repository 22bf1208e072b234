"""Running a plug-in program (OS script, ExtStorage script, hook) with a deadline.

The program runs in its own session (process group), so a timeout can stop
everything it started: the group gets SIGTERM, then SIGKILL after a grace
period.  Used by :mod:`gnt.osdef.runner`, :mod:`gnt.extstorage.runner` and
:mod:`gnt.hooks.runner`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence


def kill_group(proc: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM ``proc``'s process group, SIGKILL it after ``grace`` s; its exit status."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()  # pragma: no cover - KILL cannot be ignored


def run_in_group(argv: Sequence[str], env: Mapping[str, str], cwd: str, out_fd: int,
                 timeout: float | None, kill_grace: float, *, stdin_fd: int | None = None,
                 err_fd: int | None = None,
                 pass_fds: Sequence[int] = ()) -> tuple[int, bool]:
    """Run ``argv`` with exactly ``env`` in its own process group.

    stdout goes to ``out_fd``, stderr to ``err_fd`` (default: with stdout),
    stdin comes from ``stdin_fd`` (default ``/dev/null``); ``pass_fds`` stay
    open in the child under the same numbers.  Returns ``(returncode,
    timed_out)``; after ``timeout`` s the group is stopped (:func:`kill_group`).
    Raises OSError when the program cannot be started.
    """
    proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd,
                            stdin=subprocess.DEVNULL if stdin_fd is None else stdin_fd,
                            stdout=out_fd,
                            stderr=subprocess.STDOUT if err_fd is None else err_fd,
                            start_new_session=True, close_fds=True, pass_fds=tuple(pass_fds))
    try:
        return proc.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        return kill_group(proc, kill_grace), True
