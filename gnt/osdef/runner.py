"""Running OS scripts on this node: ``create``, ``rename`` and ``verify``.

Every script runs with a cleared environment (see
:mod:`gnt.osdef.environment`), its OS directory as working directory, stdin
from ``/dev/null`` and in its own process group.  The output of ``create``
and ``rename`` goes to Ganeti's log file
``<os_log_dir>/<kind>-<os>-<instance>-<YYYY-mm-dd_HH_MM_SS>.log`` (``kind``
is ``add`` for create and ``rename`` for rename, whose instance part is
``<old>-<new>``; as in Ganeti, runs within the same second append to one
file).  A failing script raises :class:`gnt.errors.OpExecError` with the
exit status, the last lines of its output and the log path; a script
running past its timeout is terminated (TERM, then KILL after 5 s) and
fails the same way.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gnt import constants as C
from gnt import errors, paths
from gnt.hypervisor.base import InstanceSpec
from gnt.osdef import definition
from gnt.osdef.environment import InstanceContext, core_env, instance_env

log = logging.getLogger(__name__)

SearchPath = Iterable[str | os.PathLike[str]] | None

# Default timeouts in seconds (None: no limit).  Ganeti gives OS installs a
# day (its RPC timeout for instance_os_add); renames and checks are short.
CREATE_TIMEOUT: float | None = 24 * 3600.0
RENAME_TIMEOUT: float | None = 3600.0
VERIFY_TIMEOUT: float | None = 300.0

TAIL_LINES = 20  # lines of output quoted in an error
KILL_GRACE = 5.0  # seconds between TERM and KILL on timeout


def log_file_name(kind: str, os_name: str, instance: str) -> Path:
    """Ganeti's OS log path for one run (``/`` in a part becomes ``_``)."""
    stamp = time.strftime("%Y-%m-%d_%H_%M_%S")
    kind, os_name, instance = (s.replace("/", "_") for s in (kind, os_name, instance))
    return paths.get().os_log_dir / f"{kind}-{os_name}-{instance}-{stamp}.log"


def describe_status(code: int) -> str:
    """A wait status as words: ``exited with exit code N`` / ``killed by signal X``."""
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with exit code {code}"


def run_process(argv: Sequence[str], env: Mapping[str, str], cwd: str, out_fd: int,
                timeout: float | None) -> tuple[int, bool]:
    """Run ``argv`` with exactly ``env``, stdout and stderr to ``out_fd``.

    Returns ``(returncode, timed_out)``; on timeout the whole process group
    gets TERM, then KILL after :data:`KILL_GRACE` seconds.  Raises OSError
    when the program cannot be started.
    """
    proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=out_fd, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    try:
        return proc.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        pass
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=grace), True
        except subprocess.TimeoutExpired:
            continue
    return proc.wait(), True  # pragma: no cover - KILL cannot be ignored


def _tail(logfile: Path, offset: int, lines: int = TAIL_LINES) -> str:
    try:
        with open(logfile, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError as err:
        return f"(cannot read {logfile}: {err.strerror})"
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    return "\n".join(text.splitlines()[-lines:])


def run_logged(what: str, script: str, env: Mapping[str, str], cwd: str, logfile: Path,
               timeout: float | None) -> None:
    """Run ``script`` with exactly ``env``, appending its output to ``logfile``.

    ``what`` names the script in messages (e.g. ``OS create script``).
    Raises OpExecError (exit status, last output lines, log path) when it
    cannot start, fails, or runs longer than ``timeout`` seconds.
    """
    logfile.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    fd = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        offset = os.lseek(fd, 0, os.SEEK_END)
        try:
            code, timed_out = run_process([script], env, cwd, fd, timeout)
        except OSError as err:
            raise errors.OpExecError(f"{what} '{script}' could not be started: {err.strerror}",
                                     errors.ECODE_ENVIRON) from err
    finally:
        os.close(fd)
    if timed_out:
        reason = f"timed out after {timeout:g} seconds and was killed"
    elif code != 0:
        reason = describe_status(code)
    else:
        return
    log.error("%s %s failed: %s (log %s)", what, script, reason, logfile)
    raise errors.OpExecError(
        f"{what} failed ({reason}), last lines in the log file:\n"
        f"{_tail(logfile, offset)}\nlog file: {logfile}", errors.ECODE_ENVIRON)


def run_create(os_name: str, spec: InstanceSpec, ctx: InstanceContext | None = None, *,
               reinstall: bool = False,
               debug: int = 0,
               force_variant: bool = False,
               timeout: float | None = CREATE_TIMEOUT,
               search_path: SearchPath = None) -> Path:
    """Install ``os_name`` (``name[+variant]``) onto the instance's assembled disks.

    Runs the OS ``create`` script with the instance environment built from
    ``spec`` and ``ctx`` (``INSTANCE_REINSTALL=1`` when ``reinstall``).
    Returns the log file (``add-<os>-<instance>-<timestamp>.log``).  Raises
    OpPrereqError when the OS is missing or invalid or the variant unknown,
    OpExecError when the OS has no ``create`` script or it fails or times out.
    """
    osd = definition.get(os_name, search_path)
    script = osd.script(definition.SCRIPT_CREATE)
    env = instance_env(osd, os_name, spec, ctx, debug=debug, force_variant=force_variant)
    if reinstall:
        env["INSTANCE_REINSTALL"] = "1"
    logfile = log_file_name("add", os_name, spec.name)
    run_logged("OS create script", script, env, osd.path, logfile, timeout)
    return logfile


def run_rename(os_name: str, spec: InstanceSpec, old_name: str,
               ctx: InstanceContext | None = None, *,
               debug: int = 0,
               force_variant: bool = False,
               timeout: float | None = RENAME_TIMEOUT,
               search_path: SearchPath = None) -> Path:
    """Run the OS ``rename`` script after the instance was renamed to ``spec.name``.

    ``OLD_INSTANCE_NAME`` holds ``old_name``.  Returns the log file
    (``rename-<os>-<old>-<new>-<timestamp>.log``); raises as :func:`run_create`.
    """
    osd = definition.get(os_name, search_path)
    script = osd.script(definition.SCRIPT_RENAME)
    env = instance_env(osd, os_name, spec, ctx, debug=debug, force_variant=force_variant)
    env["OLD_INSTANCE_NAME"] = old_name
    logfile = log_file_name("rename", os_name, f"{old_name}-{spec.name}")
    run_logged("OS rename script", script, env, osd.path, logfile, timeout)
    return logfile


def run_verify_parameters(os_name: str, osparams: Mapping[str, Any], *,
                          required: bool = True,
                          force_variant: bool = False,
                          timeout: float | None = VERIFY_TIMEOUT,
                          search_path: SearchPath = None) -> bool:
    """Validate an OS name and parameters on this node, as Ganeti's ``ValidateOS``.

    Checks the variant (unless ``force_variant``) and, for API 20 OSes, that
    every parameter name is declared in ``parameters.list``, then runs
    ``verify parameters`` with the core environment (``OSP_*`` included).
    Returns False when the OS is absent or invalid here and not
    ``required``, True otherwise.  Raises OpPrereqError for a missing or
    invalid OS (when ``required``), an unknown variant or parameter, or when
    ``verify`` exits non-zero or times out (its output is in the message).
    """
    osd = definition.find(os_name, search_path)
    if not osd.valid:
        if not required:
            return False
        osd.require_valid()
    env = core_env(osd, os_name, osparams, force_variant=force_variant)
    if osd.api_version < C.OS_API_V20:
        return True
    definition.check_osparams(osd, osparams)
    script = osd.script(definition.SCRIPT_VERIFY)
    with tempfile.TemporaryFile() as out:
        try:
            code, timed_out = run_process([script, definition.VERIFY_PARAMETERS], env,
                                          osd.path, out.fileno(), timeout)
        except OSError as err:
            raise errors.OpPrereqError(f"OS '{osd.name}' verify script could not be "
                                       f"started: {err.strerror}",
                                       errors.ECODE_ENVIRON) from err
        out.seek(0)
        output = out.read().decode("utf-8", errors="replace").strip()
    if timed_out:
        raise errors.OpPrereqError(
            f"OS '{osd.name}' verify script timed out after {timeout:g} seconds, "
            f"output: {output}", errors.ECODE_ENVIRON)
    if code != 0:
        raise errors.OpPrereqError(
            f"OS '{osd.name}' rejected the parameters ({describe_status(code)}), "
            f"output: {output}", errors.ECODE_INVAL)
    return True
