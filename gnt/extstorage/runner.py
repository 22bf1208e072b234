"""Running one ExtStorage script for one volume.

Each script runs with exactly the environment of
:mod:`gnt.extstorage.environment`, the provider directory as working
directory, stdin from ``/dev/null``, no arguments (``verify`` gets the
checks to make) and in its own process group.  As in Ganeti, the output
of every action but ``attach`` goes to a log file
``<log_dir>/extstorage/<action>-<provider>-<volume>-<YYYY-mm-dd_HH_MM_SS>.log``;
``attach``'s stdout is its result, so it is captured instead (its stderr is
quoted when it fails).  A script that fails, or runs past its timeout
(then TERM, KILL after :data:`KILL_GRACE` seconds), raises
:class:`gnt.errors.BlockDeviceError` with the exit status, the last lines
of its output and the log file.  An absent optional script (``open``,
``close``, ``snapshot``) is skipped, as Ganeti does.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gnt import constants as C
from gnt import errors, paths
from gnt.extstorage.provider import Provider
from gnt.osdef.runner import describe_status
from gnt.utils.process import run_in_group

log = logging.getLogger(__name__)

# Seconds an action may run (None: no limit).  Ganeti sets none; gnt bounds
# them so a hung provider cannot block a job forever.
TIMEOUTS: dict[str, float | None] = {
    C.ES_ACTION_CREATE: 3600.0, C.ES_ACTION_REMOVE: 3600.0, C.ES_ACTION_GROW: 3600.0,
    C.ES_ACTION_SNAPSHOT: 24 * 3600.0,
    C.ES_ACTION_ATTACH: 300.0, C.ES_ACTION_DETACH: 300.0, C.ES_ACTION_OPEN: 300.0,
    C.ES_ACTION_CLOSE: 300.0, C.ES_ACTION_SETINFO: 300.0, C.ES_ACTION_VERIFY: 300.0,
}
KILL_GRACE = 5.0
TAIL_LINES = 20  # lines of output quoted in an error


def log_dir() -> Path:
    """Ganeti's ExtStorage log directory, ``/var/log/ganeti/extstorage`` under the root."""
    return paths.get().log_dir / "extstorage"


def log_file_name(action: str, provider: str, volume: str) -> Path:
    """The log file of one run (``/`` in a part becomes ``_``)."""
    stamp = time.strftime("%Y-%m-%d_%H_%M_%S")
    action, provider, volume = (s.replace("/", "_") for s in (action, provider, volume))
    return log_dir() / f"{action}-{provider}-{volume}-{stamp}.log"


def spawn(argv: Sequence[str], env: Mapping[str, str], cwd: str, stdout_fd: int,
          stderr_fd: int, timeout: float | None) -> tuple[int, bool]:
    """Run ``argv`` with exactly ``env``; returns ``(returncode, timed_out)``.

    On timeout the whole process group gets TERM, then KILL after
    :data:`KILL_GRACE` seconds (:func:`gnt.utils.process.run_in_group`).
    Raises OSError when it cannot start.
    """
    return run_in_group(argv, env, cwd, stdout_fd, timeout, KILL_GRACE, err_fd=stderr_fd)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text`` (``(no output)`` when empty)."""
    text = text.rstrip("\n")
    if not text.strip():
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def _read_from(fd: int, offset: int) -> str:
    os.lseek(fd, offset, os.SEEK_SET)
    chunks = []
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _failure(provider: Provider, action: str, volume: str, reason: str, output: str,
             logfile: Path | None) -> errors.BlockDeviceError:
    where = f"\nlog file: {logfile}" if logfile else ""
    log.error("ExtStorage %s script of provider %s failed for volume %s: %s%s",
              action, provider.name, volume, reason, f" (log {logfile})" if logfile else "")
    return errors.BlockDeviceError(
        f"ExtStorage provider '{provider.name}': {action} script failed for volume "
        f"'{volume}' ({reason}), last lines of output:\n{tail(output)}{where}",
        errors.ECODE_ENVIRON)


def run_action(provider: Provider, action: str, volume: str, env: Mapping[str, str],
               args: Sequence[str] = (), timeout: float | None = None) -> str | None:
    """Run the ``action`` script of ``provider`` for ``volume``.

    ``timeout`` defaults to :data:`TIMEOUTS`.  Returns the script's stdout
    for ``attach``, ``""`` for the other actions, None when an optional
    script is absent.  Raises BlockDeviceError when the provider is invalid,
    the script is missing, cannot start, fails or times out.
    """
    provider.require_valid()
    if action not in C.ES_SCRIPTS:
        raise errors.ProgrammerError(f"Unknown ExtStorage action '{action}'")
    script = provider.script(action)
    if script is None:
        if action in C.ES_SCRIPTS_OPTIONAL:
            log.info("Optional action '%s' is not supported by provider '%s', skipping",
                     action, provider.name)
            return None
        raise errors.BlockDeviceError(
            f"ExtStorage provider '{provider.name}' has no '{action}' script",
            errors.ECODE_ENVIRON)
    if timeout is None:
        timeout = TIMEOUTS.get(action)
    argv = [script, *args]
    if action == C.ES_ACTION_ATTACH:
        return _run_captured(provider, action, volume, argv, env, timeout)
    _run_logged(provider, action, volume, argv, env, timeout)
    return ""


def _reason(code: int, timed_out: bool, timeout: float | None) -> str | None:
    if timed_out:
        return f"timed out after {timeout:g} seconds and was killed"
    return describe_status(code) if code != 0 else None


def _run_logged(provider: Provider, action: str, volume: str, argv: list[str],
                env: Mapping[str, str], timeout: float | None) -> None:
    logfile = log_file_name(action, provider.name, volume)
    try:
        logfile.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(logfile, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
    except OSError as err:
        raise errors.BlockDeviceError(f"Cannot open the ExtStorage log file {logfile}: "
                                      f"{err.strerror}", errors.ECODE_ENVIRON) from err
    try:
        offset = os.lseek(fd, 0, os.SEEK_END)
        try:
            code, timed_out = spawn(argv, env, provider.path, fd, fd, timeout)
        except OSError as err:
            raise errors.BlockDeviceError(
                f"ExtStorage provider '{provider.name}': {action} script '{argv[0]}' could "
                f"not be started: {err.strerror}", errors.ECODE_ENVIRON) from err
        reason = _reason(code, timed_out, timeout)
        if reason is not None:
            raise _failure(provider, action, volume, reason, _read_from(fd, offset), logfile)
    finally:
        os.close(fd)


def _run_captured(provider: Provider, action: str, volume: str, argv: list[str],
                  env: Mapping[str, str], timeout: float | None) -> str:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err_f:
        try:
            code, timed_out = spawn(argv, env, provider.path, out.fileno(), err_f.fileno(),
                                    timeout)
        except OSError as err:
            raise errors.BlockDeviceError(
                f"ExtStorage provider '{provider.name}': {action} script '{argv[0]}' could "
                f"not be started: {err.strerror}", errors.ECODE_ENVIRON) from err
        stdout = _read_from(out.fileno(), 0)
        stderr = _read_from(err_f.fileno(), 0)
    reason = _reason(code, timed_out, timeout)
    if reason is not None:
        raise _failure(provider, action, volume, reason, stdout + stderr, None)
    if stderr.strip():
        log.info("ExtStorage %s script of provider %s for volume %s wrote on stderr: %s",
                 action, provider.name, volume, stderr.strip())
    return stdout
