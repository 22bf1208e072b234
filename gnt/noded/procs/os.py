"""Node procedures for OS definitions: diagnose, validate, and the instance OS scripts.

Signatures (arguments in call order; ``spec`` is an :class:`InstanceSpec`
dump, ``bdevs`` a list of :class:`BlockDevSpec` dumps, one per disk in
order; ``ctx`` an optional :class:`gnt.osdef.InstanceContext` dump with the
node names, timestamps and NIC networks the master knows):

* ``os_diagnose() -> list[dict]``: every OS directory here (name, path,
  status, message, variants, parameters, api_versions, trusted);
* ``os_validate(os_name, osparams, force_variant=False, required=True) -> bool``;
* ``instance_os_add(spec, bdevs, reinstall, debug, primary_node, ctx=None) -> str``:
  runs ``create``; returns the log path;
* ``instance_os_rename(spec, bdevs, old_name, debug, ctx=None) -> str``: runs
  ``rename`` (``spec.name`` is the new name); returns the log path;
* ``instance_os_export(spec, bdevs, disk_index, dest, debug, ctx=None) -> dict``:
  runs ``export`` for one disk, writing the dump to ``dest``; returns
  ``{"log": path, "size": bytes written, "expected_size": int | None}``;
* ``instance_os_import(spec, bdevs, disk_index, src, debug, ctx=None) -> str``:
  runs ``import`` for one disk, reading the dump from ``src``; returns the
  log path.

``dest``/``src`` are cluster paths (mapped under this node's root) that
must lie below Ganeti's export directory ``/srv/ganeti/export``.  The dump
is written to a temporary file beside ``dest`` and renamed into place only
when the script succeeded.  Disks are assembled before the script runs.
As in Ganeti, the node does not re-check the OS variant (the master did,
honouring ``--force-variant``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from gnt import errors, osdef, paths
from gnt.hypervisor.base import InstanceSpec
from gnt.noded.procs.instance import assemble_disks
from gnt.noded.registry import procedure
from gnt.storage.base import BlockDevSpec

EXPORT_DIR = "/srv/ganeti/export"  # Ganeti's export directory (a cluster path)


@procedure("os_diagnose")
def os_diagnose() -> list[dict[str, Any]]:
    """Every OS directory on this node: name, path, status, message, variants, ..."""
    out = []
    for osd in osdef.diagnose():
        out.append({"name": osd.name, "path": osd.path, "status": osd.valid,
                    "message": osd.diagnose, "variants": osd.variants,
                    "parameters": [list(p) for p in osd.parameters],
                    "api_versions": osd.api_versions, "trusted": osd.trusted})
    return out


@procedure("os_validate")
def os_validate(os_name: str, osparams: dict[str, Any], force_variant: bool = False,
                required: bool = True) -> bool:
    """Check the OS exists here, its variant and parameters (``verify parameters``).

    Returns False when the OS is not here and not ``required``.
    """
    return osdef.run_verify_parameters(os_name, osparams, required=bool(required),
                                       force_variant=bool(force_variant))


def _prepare(spec: dict[str, Any], bdevs: list[dict[str, Any]],
             ctx: dict[str, Any] | None) -> tuple[InstanceSpec, osdef.InstanceContext]:
    """Assemble the disks; the spec with their local paths and the full context."""
    specs = [BlockDevSpec.model_validate(b) for b in bdevs]
    s = assemble_disks(InstanceSpec.model_validate(spec), bdevs)
    context = osdef.InstanceContext.model_validate(ctx or {})
    return s, osdef.with_file_drivers(context, specs)


@procedure("instance_os_add")
def instance_os_add(spec: dict[str, Any], bdevs: list[dict[str, Any]], reinstall: bool,
                    debug: int, primary_node: str, ctx: dict[str, Any] | None = None) -> str:
    """Run the OS create script on the assembled disks; returns the log file path."""
    s, context = _prepare(spec, bdevs, ctx)
    if not context.primary_node:
        context = context.model_copy(update={"primary_node": primary_node})
    logfile = osdef.run_create(s.os, s, context, reinstall=bool(reinstall), debug=int(debug),
                               force_variant=True)
    return str(logfile)


@procedure("instance_os_rename")
def instance_os_rename(spec: dict[str, Any], bdevs: list[dict[str, Any]], old_name: str,
                       debug: int, ctx: dict[str, Any] | None = None) -> str:
    """Run the OS rename script (``spec.name`` is the new name); returns the log path."""
    s, context = _prepare(spec, bdevs, ctx)
    logfile = osdef.run_rename(s.os, s, old_name, context, debug=int(debug),
                               force_variant=True)
    return str(logfile)


def _dump_path(cluster_path: str) -> Path:
    """The local path of a dump file; it must lie below the export directory."""
    norm = os.path.normpath(cluster_path)
    if not os.path.isabs(cluster_path) or not norm.startswith(EXPORT_DIR + "/"):
        raise errors.OpPrereqError(
            f"Invalid dump path '{cluster_path}': it must be an absolute path below "
            f"{EXPORT_DIR}", errors.ECODE_INVAL)
    return paths.get().under_root(norm)


@procedure("instance_os_export")
def instance_os_export(spec: dict[str, Any], bdevs: list[dict[str, Any]], disk_index: int,
                       dest: str, debug: int, ctx: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """Dump one disk through the OS export script into ``dest`` (atomically).

    Returns ``{"log": path, "size": bytes written, "expected_size": int | None}``.
    """
    target = _dump_path(dest)
    s, context = _prepare(spec, bdevs, ctx)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        try:
            result = osdef.run_export(s.os, s, int(disk_index), fd, context,
                                      debug=int(debug), force_variant=True)
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return {"log": str(result.log), "size": size, "expected_size": result.expected_size}


@procedure("instance_os_import")
def instance_os_import(spec: dict[str, Any], bdevs: list[dict[str, Any]], disk_index: int,
                       src: str, debug: int, ctx: dict[str, Any] | None = None) -> str:
    """Restore one disk through the OS import script from ``src``; returns the log path."""
    source = _dump_path(src)
    s, context = _prepare(spec, bdevs, ctx)
    try:
        fd = os.open(source, os.O_RDONLY)
    except OSError as err:
        raise errors.OpExecError(f"Cannot read the dump {src}: {err.strerror}",
                                 errors.ECODE_ENVIRON) from err
    try:
        logfile = osdef.run_import(s.os, s, int(disk_index), fd, context, debug=int(debug),
                                   force_variant=True)
    finally:
        os.close(fd)
    return str(logfile)
