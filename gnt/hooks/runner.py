"""Node side: run the scripts of one hooks directory (Ganeti's run-parts rules).

A hooks directory is ``<hooks base>/<hpath>-<phase>.d`` (base
``/etc/ganeti/hooks`` under ``GNT_ROOT``).  Its entries are taken in
Python string order; hidden entries (``.name``) are ignored; an entry runs
only if its name matches :data:`gnt.constants.EXT_PLUGIN_MASK`
(``^[a-zA-Z0-9_-]+$``, so ``check.sh`` is skipped) and it is an executable
file, otherwise it is reported as skipped.

Each script runs with no arguments, stdin from ``/dev/null``, stdout and
stderr together into a temporary file, working directory ``/``, in a new
session (no controlling tty) and with exactly the environment it is given.
A script that runs longer than the timeout is sent SIGTERM (its whole
process group), then SIGKILL after :data:`KILL_GRACE` seconds, and counts as
failed.  Scripts that exit but leave children holding the output open do not
block the runner.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gnt import constants as C
from gnt import errors, paths
from gnt.utils.process import run_in_group

log = logging.getLogger(__name__)

#: environment variable (of the node daemon) overriding the per-script timeout
ENV_TIMEOUT = "GNT_HOOKS_TIMEOUT"
#: seconds between SIGTERM and SIGKILL for a script past its timeout
KILL_GRACE = 2.0
#: at most this many bytes of a script's output are returned
MAX_OUTPUT = 64 * 1024

_NAME_RE = re.compile(C.EXT_PLUGIN_MASK)
_HPATH_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class ScriptResult:
    """One entry of a hooks directory.

    ``name``: the entry's file name; ``status``: ``HKR_SUCCESS``,
    ``HKR_FAIL`` or ``HKR_SKIP``; ``output``: stdout and stderr, stripped
    (empty for skipped entries).
    """

    name: str
    status: int
    output: str


def script_timeout() -> float:
    """Seconds one script may run: ``$GNT_HOOKS_TIMEOUT`` or ``HOOKS_SCRIPT_TIMEOUT``.

    A value that is not a positive number is logged and ignored (the hooks
    still run, with the default timeout, rather than not at all).
    """
    raw = os.environ.get(ENV_TIMEOUT)
    if not raw:
        return float(C.HOOKS_SCRIPT_TIMEOUT)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        log.warning("Ignoring %s=%r (not a positive number of seconds); using %ss",
                    ENV_TIMEOUT, raw, C.HOOKS_SCRIPT_TIMEOUT)
        return float(C.HOOKS_SCRIPT_TIMEOUT)
    return value


def hooks_dir(hpath: str, phase: str) -> Path:
    """``<hooks base>/<hpath>-<phase>.d`` under this node's root.

    Raises :class:`errors.ParameterError` for a phase other than pre/post or
    an ``hpath`` that is not a plain name (no ``/``, no leading dot).
    """
    if phase not in C.HOOKS_PHASES:
        raise errors.ParameterError(
            f"Unknown hooks phase '{phase}'; allowed: {', '.join(C.HOOKS_PHASES)}",
            errors.ECODE_INVAL)
    if not _HPATH_RE.match(hpath):
        raise errors.ParameterError(f"Invalid hooks path '{hpath}'", errors.ECODE_INVAL)
    return paths.get().hooks_dir / f"{hpath}-{phase}.d"


def is_runnable(path: Path) -> bool:
    """True if ``path`` has a valid script name and is an executable file."""
    return (_NAME_RE.match(path.name) is not None and path.is_file()
            and os.access(path, os.X_OK))


def _entries(directory: Path) -> list[str]:
    """Visible entry names, sorted; [] if the directory is missing or unreadable."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if not n.startswith("."))


def has_runnable_scripts(directory: str | os.PathLike[str]) -> bool:
    """True if running ``directory`` would execute at least one script (cheap:
    one ``listdir`` plus a ``stat`` per entry)."""
    d = Path(directory)
    return any(is_runnable(d / n) for n in _entries(d))


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_OUTPUT:
        raw = raw[:MAX_OUTPUT] + b"\n[... output truncated]"
    return raw.decode("utf-8", errors="replace").strip()


def run_script(path: Path, env: Mapping[str, str], timeout: float) -> tuple[bool, str]:
    """Run one script; returns ``(succeeded, output)``.

    Fails (never raises) for a non-zero exit, a signal, a timeout or a
    script that cannot be executed; the output then says why.
    """
    with tempfile.TemporaryFile() as out:
        try:
            code, timed_out = run_in_group([str(path)], env, "/", out.fileno(), timeout,
                                           KILL_GRACE)
        except OSError as err:
            why = os.strerror(err.errno) if err.errno else str(err)
            if err.errno == errno.ENOEXEC:
                why += " (missing #! line?)"
            return False, f"Hook script execution error: cannot run {path}: {why}"
        reason = f"timed out after {timeout:g} seconds and was killed" if timed_out else ""
        out.seek(0)
        output = _decode(out.read())
    if not reason:
        if code == 0:
            return True, output
        reason = (f"terminated by signal {-code}" if code is not None and code < 0
                  else f"exited with exit code {code}")
    note = f"(hook script {reason})"
    return False, f"{output}\n{note}" if output else note


def run_parts(directory: str | os.PathLike[str], env: Mapping[str, str],
              timeout: float | None = None) -> list[ScriptResult]:
    """Run every script of ``directory`` in order (see the module docstring).

    ``env`` is the scripts' complete environment; ``timeout`` (seconds per
    script) defaults to :func:`script_timeout`.  A missing directory gives [].
    """
    d = Path(directory)
    limit = script_timeout() if timeout is None else timeout
    results = []
    for name in _entries(d):
        path = d / name
        if not is_runnable(path):
            results.append(ScriptResult(name, C.HKR_SKIP, ""))
            continue
        ok, output = run_script(path, env, limit)
        results.append(ScriptResult(name, C.HKR_SUCCESS if ok else C.HKR_FAIL, output))
    return results


def script_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a hook script gets: ``env`` plus ``PATH`` and this node's
    ``GANETI_DATA_DIR`` (the node knows its own data directory best)."""
    out = {str(k): str(v) for k, v in env.items()}
    out["PATH"] = C.HOOKS_PATH
    out["GANETI_DATA_DIR"] = str(paths.get().data_dir)
    return out


def run_hooks(hpath: str, phase: str, env: Mapping[str, str],
              timeout: float | None = None) -> list[tuple[str, int, str]]:
    """Run ``<hpath>-<phase>.d``; Ganeti's hooks_runner result:
    ``[("<hpath>-<phase>.d/<name>", HKR_*, output), ...]``.

    Raises :class:`errors.ParameterError` for a bad ``hpath`` or ``phase``.
    """
    directory = hooks_dir(hpath, phase)
    subdir = directory.name
    return [(f"{subdir}/{r.name}", r.status, r.output)
            for r in run_parts(directory, script_env(env), timeout)]
