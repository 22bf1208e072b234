"""Starting, stopping and querying daemons by name (the core of gnt-daemon-util).

A daemon is known by its name (``ganeti-noded``, ...) and its pid file
``<run_dir>/<name>.pid`` under the node's root; see :mod:`gnt.daemon.pidfile`.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gnt import errors, paths
from gnt.daemon.detach import READY_TIMEOUT
from gnt.daemon.pidfile import holder_pid, is_locked

log = logging.getLogger(__name__)

KILL_WAIT = 5.0  # seconds to wait for a process to vanish after SIGKILL


def paths_for_env(env: Mapping[str, str] | None) -> paths.Paths:
    """The paths of the root selected by ``env`` (``GNT_ROOT``; default: this process's)."""
    if env is None:
        return paths.get()
    return paths.Paths(Path(env.get(paths.ENV_ROOT) or "/").resolve())


def daemon_pid(name: str, p: paths.Paths | None = None) -> int | None:
    """The pid of the running daemon ``name``, or None if it is not running."""
    return holder_pid((p or paths.get()).daemon_pid_file(name))


def is_running(name: str, p: paths.Paths | None = None) -> bool:
    """Whether daemon ``name`` runs (holds its pid file)."""
    return is_locked((p or paths.get()).daemon_pid_file(name))


def start_daemon(name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = READY_TIMEOUT + 5) -> bool:
    """Start daemon ``name`` by running ``argv`` unless it already runs.

    ``argv`` is the daemon's full command line; the command must detach
    and return once the daemon serves (as ``gnt-noded`` does).  ``env`` is
    the complete environment for it (default: this process's); its
    ``GNT_ROOT`` decides where the pid file is looked for.  Returns True if
    started, False if it was already running.  Raises
    :class:`errors.CommandError` with the daemon's error output if the
    command fails or does not return within ``timeout`` seconds.
    """
    p = paths_for_env(env)
    if is_running(name, p):
        log.debug("Daemon %s already runs (pid %s)", name, daemon_pid(name, p))
        return False
    try:
        res = subprocess.run(list(argv), env=dict(env) if env is not None else None,
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired as err:
        raise errors.CommandError(
            f"Starting {name} did not finish within {timeout:.0f}s", errors.ECODE_ENVIRON) from err
    except OSError as err:
        raise errors.CommandError(f"Cannot run {argv[0]!r} to start {name}: {err}",
                                  errors.ECODE_ENVIRON) from err
    if res.returncode != 0:
        out = (res.stderr or res.stdout).decode("utf-8", "replace").strip()
        raise errors.CommandError(
            f"Starting {name} failed (exit code {res.returncode}): {out or 'no output'}",
            errors.ECODE_ENVIRON)
    return True


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _wait_gone(path: Path, pid: int, deadline: float) -> bool:
    """Wait until the lock on ``path`` is free and ``pid`` has exited."""
    while True:
        if not is_locked(path) and not pid_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def stop_daemon(name: str, timeout: float = 30.0, p: paths.Paths | None = None) -> bool:
    """Stop daemon ``name``: SIGTERM, wait ``timeout`` seconds, then SIGKILL.

    Returns True if a daemon was running, False if not.  A pid file left
    behind by a killed daemon is removed.  Raises
    :class:`errors.TimeoutError_` if the process survives SIGKILL.
    """
    p = p or paths.get()
    path = p.daemon_pid_file(name)
    pid = holder_pid(path)
    if pid is None:
        if not is_locked(path) and path.exists():
            log.info("Removing stale pid file %s", path)
            path.unlink(missing_ok=True)
        return False
    log.info("Stopping %s (pid %d)", name, pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not _wait_gone(path, pid, time.monotonic() + timeout):
        log.warning("%s (pid %d) did not stop within %.0fs, killing it", name, pid, timeout)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not _wait_gone(path, pid, time.monotonic() + KILL_WAIT):
            raise errors.TimeoutError_(f"{name} (pid {pid}) survived SIGKILL")
    if path.exists() and not is_locked(path):
        path.unlink(missing_ok=True)
    return True
