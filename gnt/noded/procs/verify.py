"""``node_verify``: what ``gnt-cluster verify`` asks of a node, in one call.

Ganeti's verify sends one ``node_verify`` RPC per node with the list of
checks to make; so does gnt: the protocol version, the running instances,
the state of the replicas (config serial, ssconf digests) and the volumes
below file storage directories come back together, so a verify costs one
round of RPCs to the nodes, not one per check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from gnt import constants, errors
from gnt.config import ssconf
from gnt.config.ssconf import digest as ssconf_digest
from gnt.hooks.runner import has_runnable_scripts, hooks_dir
from gnt.noded.procs.instance import all_instances_info
from gnt.noded.procs.replica import local_config_serial
from gnt.noded.procs.storage import node_volumes
from gnt.noded.registry import procedure

log = logging.getLogger(__name__)

def _replica_state() -> dict[str, Any]:
    digests = {k: ssconf_digest(v) for k, v in ssconf.read_all().items()}
    return {"config_serial": local_config_serial(), "ssconf_digests": digests}


def _answer(fn: Callable[[], Any]) -> list[Any]:
    """``[True, fn()]``, or ``[False, message]`` when it raised."""
    try:
        return [True, fn()]
    except errors.GntError as err:
        return [False, str(err)]
    except Exception as err:  # one failed check must not hide the others
        log.exception("node_verify check failed")
        return [False, f"{type(err).__name__}: {err}"]


@procedure("node_verify")
def node_verify(checks: dict[str, Any]) -> dict[str, Any]:
    """Run the ``checks`` asked for; each answer is ``[True, value]`` or
    ``[False, error message]``:

    * ``"version"`` (any value): the protocol version;
    * ``"instances": [hypervisor, ...]``: as ``all_instances_info``;
    * ``"replica"`` (any value): ``{"config_serial": int or None,
      "ssconf_digests": {key: digest}}`` (see :func:`gnt.config.ssconf.digest`);
    * ``"volumes": [directory, ...]``: ``{directory: answer}``, each
      answer as ``node_volumes`` for that directory alone;
    * ``"hooks": [hpath, phase]``: whether ``<hpath>-<phase>.d`` holds a
      script to run (the master then sends that phase only where it does).

    Raises :class:`errors.ParameterError` when ``checks`` is not a dict.
    """
    if not isinstance(checks, dict):
        raise errors.ParameterError(f"checks must be a dict, not {type(checks).__name__}",
                                    errors.ECODE_INVAL)
    out: dict[str, Any] = {}
    if "version" in checks:
        out["version"] = [True, constants.PROTOCOL_VERSION]
    if "instances" in checks:
        hvs = list(checks["instances"] or [])
        out["instances"] = _answer(lambda: all_instances_info(hvs))
    if "replica" in checks:
        out["replica"] = _answer(_replica_state)
    if "volumes" in checks:
        out["volumes"] = {d: _answer(partial(node_volumes, [d]))
                          for d in checks["volumes"] or []}
    if "hooks" in checks:
        hpath, phase = checks["hooks"]
        out["hooks"] = _answer(lambda: has_runnable_scripts(hooks_dir(hpath, phase)))
    return out
