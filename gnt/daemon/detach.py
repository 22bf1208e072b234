"""Detaching a daemon from its caller, and telling the caller when it is ready.

``gnt-noded && curl ...`` must work: the command returns only once the
daemon serves, or fails with the daemon's start-up error.  The original
process forks, the child starts a new session and forks again (so the
daemon can never reacquire a terminal), and the grandchild becomes the
daemon.  A pipe links the daemon back to the original process, which
waits on it for one message: ``OK`` or ``ERR <message>``.
"""

from __future__ import annotations

import os
import select
import sys
import time

READY_TIMEOUT = 60.0  # seconds the caller waits for the daemon to be ready

_OK = b"OK\n"
_ERR = b"ERR "


class Readiness:
    """The daemon's side of the start-up report; each report is sent once.

    Without a pipe (foreground mode) :meth:`ready` does nothing and
    :meth:`fail` prints ``<program>: <message>`` to stderr.
    """

    def __init__(self, fd: int | None = None, program: str = "") -> None:
        self._fd = fd
        self.program = program
        self.reported = False

    def _send(self, data: bytes) -> None:
        if self.reported:
            return
        self.reported = True
        if self._fd is None:
            return
        try:
            os.write(self._fd, data)
        except OSError:
            pass  # the caller went away; nothing to tell
        finally:
            os.close(self._fd)
            self._fd = None

    def ready(self) -> None:
        """Report that the daemon serves; the caller exits 0."""
        self._send(_OK)

    def fail(self, message: str) -> None:
        """Report a start-up failure; the caller prints ``message`` and exits 1."""
        if self._fd is None and not self.reported:
            prefix = f"{self.program}: " if self.program else ""
            print(f"{prefix}{message}", file=sys.stderr, flush=True)
        self._send(_ERR + message.encode("utf-8", "replace") + b"\n")


def _redirect_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _wait_for_report(fd: int, child: int, program: str, timeout: float) -> int:
    """In the original process: the exit code to return to the caller."""
    os.waitpid(child, 0)  # the intermediate child exits at once
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"{program}: the daemon did not report readiness within {timeout:.0f}s",
                  file=sys.stderr)
            return 1
        rlist, _, _ = select.select([fd], [], [], left)
        if not rlist:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    if data == _OK:
        return 0
    if data.startswith(_ERR):
        msg = data[len(_ERR):].decode("utf-8", "replace").rstrip("\n")
        print(f"{program}: {msg}", file=sys.stderr)
    else:
        print(f"{program}: the daemon exited during start-up", file=sys.stderr)
    return 1


def daemonize(program: str, ready_timeout: float = READY_TIMEOUT, umask: int = 0o077
              ) -> Readiness:
    """Detach from the caller; returns (in the daemon) its :class:`Readiness`.

    The calling process never returns from here: it waits for the
    daemon's report and exits 0 (ready) or 1 (error, printed to stderr
    prefixed with ``program``).  The daemon runs in a new session, with
    cwd ``/``, the given umask and stdin/stdout/stderr on /dev/null.
    Must be called before any thread is started.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(wfd)
        sys.stdout.flush()
        code = _wait_for_report(rfd, pid, program, ready_timeout)
        sys.stderr.flush()
        os._exit(code)
    # intermediate child
    os.close(rfd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    # the daemon
    os.chdir("/")
    os.umask(umask)
    _redirect_stdio()
    return Readiness(wfd, program)
