"""Node procedure running hook scripts (see :mod:`gnt.hooks.runner`)."""

from __future__ import annotations

from typing import Any

from gnt import errors
from gnt.hooks.runner import run_hooks
from gnt.noded.registry import procedure


@procedure("hooks_runner")
def hooks_runner(hpath: str, phase: str, env: dict[str, Any]) -> list[list[Any]]:
    """Run the scripts of ``<hooks dir>/<hpath>-<phase>.d`` in order.

    ``env`` holds the ``GANETI_*`` variables; the node adds ``PATH`` and its
    own ``GANETI_DATA_DIR``.  Returns ``[[script, status, output], ...]`` with
    script ``<hpath>-<phase>.d/<name>`` and status ``HKR_SUCCESS``/``HKR_FAIL``/
    ``HKR_SKIP``; [] if the directory does not exist.  Raises ParameterError for
    a bad hpath, phase or environment.
    """
    if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
        raise errors.ParameterError("The hooks environment must be a dict with string keys",
                                    errors.ECODE_INVAL)
    return [list(r) for r in run_hooks(hpath, phase, {k: str(v) for k, v in env.items()})]
