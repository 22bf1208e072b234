"""Running OS scripts on this node: ``create``, ``rename``, ``export``, ``import``, ``verify``.

Every script runs with a cleared environment (see
:mod:`gnt.osdef.environment`), its OS directory as working directory and in
its own process group.  Standard streams:

* ``create``/``rename``: stdin ``/dev/null``, stdout and stderr to the log;
* ``export``: stdin ``/dev/null``, stdout to the caller's file descriptor
  (the disk dump), stderr to the log; ``EXP_SIZE_FD`` names an extra
  descriptor where the script may write the expected size in bytes;
* ``import``: stdin from the caller's file descriptor (the dump), stdout
  and stderr to the log;
* ``verify``: output captured and quoted in the error when it fails.

Each run of ``create``/``rename``/``export``/``import`` gets its own log
file in Ganeti's naming, ``<os_log_dir>/<kind>-<os>-<instance>[-<component>]-
<YYYY-mm-dd_HH_MM_SS>.log``, where ``kind`` is ``add`` (create), ``rename``,
``export`` or ``import``; the instance part of a rename is ``<old>-<new>``
and the component of export/import is ``disk<N>``.  When that name is
already taken (two runs in the same second) a ``-2``, ``-3``, ... suffix is
put before ``.log``, so runs never share a file.

A failing script raises :class:`gnt.errors.OpExecError` with the exit
status, the last lines of its log and the log path; a script running past
its timeout is terminated (TERM to its process group, then KILL after 5 s)
and fails the same way.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gnt import constants as C
from gnt import errors, paths
from gnt.hypervisor.base import InstanceSpec
from gnt.osdef import definition
from gnt.osdef.environment import InstanceContext, core_env, instance_env
from gnt.utils.process import run_in_group

log = logging.getLogger(__name__)

SearchPath = Iterable[str | os.PathLike[str]] | None

# Default timeouts in seconds (None: no limit).  Ganeti gives OS installs a
# day (its RPC timeout for instance_os_add); renames and checks are short;
# a disk transfer may take as long as an install.
CREATE_TIMEOUT: float | None = 24 * 3600.0
RENAME_TIMEOUT: float | None = 3600.0
TRANSFER_TIMEOUT: float | None = 24 * 3600.0
VERIFY_TIMEOUT: float | None = 300.0

TAIL_LINES = 20  # lines of output quoted in an error
KILL_GRACE = 5.0  # seconds between TERM and KILL on timeout
MAX_LOG_SUFFIX = 1000  # runs of one kind/OS/instance within one second


def log_file_name(kind: str, os_name: str, instance: str, component: str | None = None
                  ) -> Path:
    """Ganeti's OS log path for a run starting now (``/`` in a part becomes ``_``).

    ``<os_log_dir>/<kind>-<os>-<instance>[-<component>]-<YYYY-mm-dd_HH_MM_SS>.log``.
    """
    stamp = time.strftime("%Y-%m-%d_%H_%M_%S")
    parts = [kind, os_name, instance] + ([component] if component else []) + [stamp]
    return paths.get().os_log_dir / ("-".join(p.replace("/", "_") for p in parts) + ".log")


def create_log_file(kind: str, os_name: str, instance: str, component: str | None = None
                    ) -> tuple[Path, int]:
    """Create a new, empty log file for one run; returns ``(path, fd)`` (fd open for writing).

    The name is :func:`log_file_name`'s, with ``-2``, ``-3``, ... before
    ``.log`` when taken.  Raises OpExecError when the log directory cannot
    be written.
    """
    base = log_file_name(kind, os_name, instance, component)
    try:
        base.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        for n in range(1, MAX_LOG_SUFFIX + 1):
            path = base if n == 1 else base.with_name(f"{base.stem}-{n}.log")
            try:
                return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except FileExistsError:
                continue
    except OSError as err:
        raise errors.OpExecError(f"Cannot create the OS log file {base}: {err.strerror}",
                                 errors.ECODE_ENVIRON) from err
    raise errors.OpExecError(f"Cannot create the OS log file {base}: {MAX_LOG_SUFFIX} runs "
                             "within one second", errors.ECODE_ENVIRON)


def describe_status(code: int) -> str:
    """A wait status as words: ``exited with exit code N`` / ``killed by signal X``."""
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with exit code {code}"


def run_process(argv: Sequence[str], env: Mapping[str, str], cwd: str, out_fd: int,
                timeout: float | None, *, stdin_fd: int | None = None,
                err_fd: int | None = None, pass_fds: Sequence[int] = ()) -> tuple[int, bool]:
    """:func:`gnt.utils.process.run_in_group` with this module's :data:`KILL_GRACE`."""
    return run_in_group(argv, env, cwd, out_fd, timeout, KILL_GRACE, stdin_fd=stdin_fd,
                        err_fd=err_fd, pass_fds=pass_fds)


def _tail(logfile: Path, lines: int = TAIL_LINES) -> str:
    try:
        data = logfile.read_bytes()
    except OSError as err:
        return f"(cannot read {logfile}: {err.strerror})"
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class _Streams:
    """Where a script's standard streams go (None: the log file / ``/dev/null``)."""

    stdin_fd: int | None = None
    stdout_fd: int | None = None
    pass_fds: tuple[int, ...] = ()


def run_logged(what: str, script: str, env: Mapping[str, str], cwd: str, logfile: Path,
               log_fd: int, timeout: float | None, streams: _Streams = _Streams()) -> None:
    """Run ``script`` with exactly ``env``, its output to the log open as ``log_fd``.

    ``what`` names the script in messages (e.g. ``OS create script``);
    ``streams`` redirects stdin/stdout for export and import (stderr always
    goes to the log).  Closes ``log_fd``.  Raises OpExecError (exit status,
    last log lines, log path) when it cannot start, fails, or runs longer
    than ``timeout`` seconds.
    """
    try:
        try:
            if streams.stdout_fd is None:
                code, timed_out = run_process([script], env, cwd, log_fd, timeout,
                                              stdin_fd=streams.stdin_fd,
                                              pass_fds=streams.pass_fds)
            else:
                code, timed_out = run_process([script], env, cwd, streams.stdout_fd, timeout,
                                              stdin_fd=streams.stdin_fd, err_fd=log_fd,
                                              pass_fds=streams.pass_fds)
        except OSError as err:
            raise errors.OpExecError(f"{what} '{script}' could not be started: {err.strerror}"
                                     f"\nlog file: {logfile}", errors.ECODE_ENVIRON) from err
    finally:
        os.close(log_fd)
    if timed_out:
        reason = f"timed out after {timeout:g} seconds and was killed"
    elif code != 0:
        reason = describe_status(code)
    else:
        return
    log.error("%s %s failed: %s (log %s)", what, script, reason, logfile)
    raise errors.OpExecError(
        f"{what} failed ({reason}), last lines in the log file:\n"
        f"{_tail(logfile)}\nlog file: {logfile}", errors.ECODE_ENVIRON)


def _prepare(os_name: str, spec: InstanceSpec, ctx: InstanceContext | None, script_name: str,
             debug: int, force_variant: bool, search_path: SearchPath
             ) -> tuple[definition.OSDefinition, str, dict[str, str]]:
    """The OS, the path of ``script_name`` and the instance environment (validated)."""
    osd = definition.get(os_name, search_path)
    script = osd.script(script_name)
    env = instance_env(osd, os_name, spec, ctx, debug=debug, force_variant=force_variant)
    return osd, script, env


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
    OpPrereqError when the OS is missing or invalid or the variant unknown
    (unless ``force_variant``), OpExecError when the OS has no ``create``
    script or it fails or times out.
    """
    osd, script, env = _prepare(os_name, spec, ctx, definition.SCRIPT_CREATE, debug,
                                force_variant, search_path)
    if reinstall:
        env["INSTANCE_REINSTALL"] = "1"
    logfile, fd = create_log_file("add", os_name, spec.name)
    run_logged("OS create script", script, env, osd.path, logfile, fd, timeout)
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
    osd, script, env = _prepare(os_name, spec, ctx, definition.SCRIPT_RENAME, debug,
                                force_variant, search_path)
    env["OLD_INSTANCE_NAME"] = old_name
    logfile, fd = create_log_file("rename", os_name, f"{old_name}-{spec.name}")
    run_logged("OS rename script", script, env, osd.path, logfile, fd, timeout)
    return logfile


def _disk_vars(prefix: str, spec: InstanceSpec, disk_index: int) -> dict[str, str]:
    """``<prefix>_INDEX``, ``_DISK_PATH``, ``_DEVICE`` (old alias) and ``_DISK_URI``."""
    if not 0 <= disk_index < len(spec.disks):
        raise errors.OpPrereqError(
            f"Instance {spec.name} has no disk {disk_index} (it has {len(spec.disks)} "
            f"disk(s): 0 to {len(spec.disks) - 1})", errors.ECODE_INVAL)
    disk = spec.disks[disk_index]
    out = {f"{prefix}_INDEX": str(disk_index)}
    if disk.path:
        out[f"{prefix}_DISK_PATH"] = out[f"{prefix}_DEVICE"] = disk.path
    if disk.uri:
        out[f"{prefix}_DISK_URI"] = disk.uri
    return out


@dataclass(frozen=True)
class ExportResult:
    """What an export run gave: its log and the size it announced.

    ``expected_size`` is the number of bytes the script wrote to
    ``EXP_SIZE_FD`` (None when it wrote nothing or no number).
    """

    log: Path
    expected_size: int | None


def _parse_size(raw: bytes) -> int | None:
    text = raw.decode("ascii", errors="replace").strip()
    first = text.splitlines()[0].strip() if text else ""
    return int(first) if first.isdigit() else None


def run_export(os_name: str, spec: InstanceSpec, disk_index: int, out_fd: int,
               ctx: InstanceContext | None = None, *,
               debug: int = 0,
               force_variant: bool = False,
               timeout: float | None = TRANSFER_TIMEOUT,
               search_path: SearchPath = None) -> ExportResult:
    """Dump disk ``disk_index`` of the instance through the OS ``export`` script.

    The script's stdout (the dump) goes to ``out_fd`` (a file or pipe the
    caller owns); its stderr to ``export-<os>-<instance>-disk<N>-<ts>.log``.
    It gets the instance environment plus ``EXPORT_INDEX``,
    ``EXPORT_DISK_PATH``/``EXPORT_DEVICE`` (when the disk has a local path),
    ``EXPORT_DISK_URI`` (when it has a URI) and ``EXP_SIZE_FD``.  Raises
    OpPrereqError for a missing disk or OS, OpExecError as :func:`run_create`.
    """
    osd, script, env = _prepare(os_name, spec, ctx, definition.SCRIPT_EXPORT, debug,
                                force_variant, search_path)
    env.update(_disk_vars("EXPORT", spec, disk_index))
    logfile, fd = create_log_file("export", os_name, spec.name, f"disk{disk_index}")
    with tempfile.TemporaryFile() as size_file:
        size_fd = size_file.fileno()
        env["EXP_SIZE_FD"] = str(size_fd)
        run_logged("OS export script", script, env, osd.path, logfile, fd, timeout,
                   _Streams(stdout_fd=out_fd, pass_fds=(size_fd,)))
        size_file.seek(0)
        expected = _parse_size(size_file.read(4096))
    return ExportResult(log=logfile, expected_size=expected)


def run_import(os_name: str, spec: InstanceSpec, disk_index: int, in_fd: int,
               ctx: InstanceContext | None = None, *,
               debug: int = 0,
               force_variant: bool = False,
               timeout: float | None = TRANSFER_TIMEOUT,
               search_path: SearchPath = None) -> Path:
    """Restore disk ``disk_index`` of the instance through the OS ``import`` script.

    The script reads the dump (as ``export`` wrote it) from ``in_fd``; its
    output goes to ``import-<os>-<instance>-disk<N>-<ts>.log``, which is
    returned.  It gets the instance environment plus ``IMPORT_INDEX``,
    ``IMPORT_DISK_PATH``/``IMPORT_DEVICE`` and ``IMPORT_DISK_URI``.  Raises
    as :func:`run_export`.
    """
    osd, script, env = _prepare(os_name, spec, ctx, definition.SCRIPT_IMPORT, debug,
                                force_variant, search_path)
    env.update(_disk_vars("IMPORT", spec, disk_index))
    logfile, fd = create_log_file("import", os_name, spec.name, f"disk{disk_index}")
    run_logged("OS import script", script, env, osd.path, logfile, fd, timeout,
               _Streams(stdin_fd=in_fd))
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
