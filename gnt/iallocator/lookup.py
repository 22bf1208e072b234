"""Finding and running an iallocator program on a node.

An iallocator is named by a plain file name (``hail``, ``my-alloc``).  It
is looked up, in order, in the search path below the node's root
(``GNT_ROOT``):

1. ``/usr/local/lib/ganeti/iallocators/<name>``
2. ``/usr/lib/ganeti/iallocators/<name>`` (Ganeti's default location, so
   Ganeti's own ``hail`` or a site plug-in installed there is used);

and, when nothing is found there and the name is ``hail``, gnt's built-in
hail (``python -m gnt.htools hail``, the same program as the ``hail``
console script).  The program is run as ``<program> [--param=value ...]
<input-file>``; its standard output is the answer.

Public API::

    SEARCH_PATH, BUILTIN
    find_iallocator(name) -> list[str]       # the command (argv prefix)
    run_iallocator(name, data, params, timeout) -> str   # stdout; raises
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from gnt import errors, paths

#: Directories searched (cluster paths, taken below the node's root).
SEARCH_PATH = ("/usr/local/lib/ganeti/iallocators", "/usr/lib/ganeti/iallocators")
#: Built-in allocators: name -> command (argv prefix).
BUILTIN: dict[str, list[str]] = {"hail": [sys.executable, "-m", "gnt.htools", "hail"]}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def search_dirs() -> list[Path]:
    """The search path below the current root."""
    root = paths.get()
    return [root.under_root(d) for d in SEARCH_PATH]


def find_iallocator(name: str) -> list[str]:
    """The command running iallocator ``name``; raises OpPrereqError if unknown."""
    if not _NAME_RE.match(name or ""):
        raise errors.OpPrereqError(
            f"Invalid iallocator name '{name}': give the file name of a program in the "
            f"iallocator search path (letters, digits, '.', '_', '+', '-')",
            errors.ECODE_INVAL)
    for d in search_dirs():
        cand = d / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return [str(cand)]
    if name in BUILTIN:
        return list(BUILTIN[name])
    where = ", ".join(str(d) for d in search_dirs())
    raise errors.OpPrereqError(
        f"Can't find iallocator '{name}': no executable of that name in {where}"
        + (f"; built-in: {', '.join(sorted(BUILTIN))}" if BUILTIN else ""),
        errors.ECODE_NOENT)


def param_args(params: dict[str, Any]) -> list[str]:
    """``--key=value`` arguments of the cluster's iallocator parameters."""
    out = []
    for key, val in sorted(params.items()):
        if isinstance(val, bool):
            if val:
                out.append(f"--{key}")
        elif val is not None:
            out.append(f"--{key}={val}")
    return out


def run_iallocator(name: str, data: str, params: dict[str, Any], timeout: float) -> str:
    """Run iallocator ``name`` on the request ``data`` (JSON text); its stdout.

    Raises OpExecError (with the program's output) when it cannot be run,
    exits with a non-zero status or takes longer than ``timeout`` seconds.
    """
    cmd = find_iallocator(name)
    tmpdir = paths.get().run_dir
    tmpdir = tmpdir if tmpdir.is_dir() else Path(tempfile.gettempdir())
    fd, fname = tempfile.mkstemp(prefix="gnt-iallocator-", suffix=".json", dir=tmpdir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        argv = cmd + param_args(params) + [fname]
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                 check=False, env=os.environ.copy())
        except subprocess.TimeoutExpired:
            raise errors.OpExecError(
                f"Iallocator '{name}' did not answer within {timeout:g} seconds",
                errors.ECODE_FAULT) from None
        except OSError as err:
            raise errors.OpExecError(f"Can't run iallocator '{name}': {err}",
                                     errors.ECODE_ENVIRON) from None
        if res.returncode != 0:
            output = (res.stderr or res.stdout).strip()
            raise errors.OpExecError(
                f"Instance allocator call failed: iallocator '{name}' exited with status "
                f"{res.returncode}, output: {output}", errors.ECODE_FAULT)
        return res.stdout
    finally:
        try:
            os.unlink(fname)
        except OSError:
            pass
