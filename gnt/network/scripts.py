"""Bringing a NIC's host side up or down: a site script if there is one, else the built-in.

For ``ACTION`` in ``up``/``down`` and the NIC's ``MODE`` the first of these
that exists and is executable runs, with the NIC environment
(:mod:`gnt.network.env`) added to the node daemon's:

1. ``<conf_dir>/network/<MODE>/<ACTION>`` (Ganeti 3.2's per-mode overrides);
2. the hypervisor's whole-replacement script, for KVM
   ``<conf_dir>/kvm-ifup-custom`` / ``kvm-ifdown-custom`` (Ganeti <= 3.1);
3. the built-in (:mod:`gnt.network.modes`).

A failing ``up`` raises HypervisorError with the script's output; ``down``
is best effort (a failure is logged): as in Ganeti it must not be relied on
(a node may die before running it) and should only undo node-local state.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from gnt import errors, paths
from gnt.network import modes
from gnt.network.env import ACTION_DOWN, ACTION_UP, ACTIONS

log = logging.getLogger(__name__)

SCRIPT_TIMEOUT = 300.0  # s a site NIC script may run
BUILTIN = "built-in"


def site_script(mode: str, action: str, legacy: Path | None = None) -> Path | None:
    """The site script that replaces the built-in ``action`` of ``mode``, or None."""
    if action not in ACTIONS:
        raise errors.ProgrammerError(f"unknown NIC action {action!r}")
    candidates = [paths.get().network_scripts_dir / mode / action]
    if legacy is not None:
        candidates.append(legacy)
    for script in candidates:
        if script.is_file() and os.access(script, os.X_OK):
            return script
    return None


def _run_script(script: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    try:
        return subprocess.run([str(script), env["INTERFACE"]], env=full, cwd="/",
                              capture_output=True, text=True, check=False,
                              timeout=SCRIPT_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        return subprocess.CompletedProcess(err.cmd, -1, "", f"timed out after {err.timeout}s")
    except OSError as err:
        return subprocess.CompletedProcess([str(script)], 126, "", str(err))


def _output(res: subprocess.CompletedProcess[str]) -> str:
    return " | ".join(line for line in (res.stdout + res.stderr).strip().splitlines()
                      if line.strip()) or "no output"


def nic_up(env: Mapping[str, str], legacy: Path | None = None) -> str:
    """Configure the host side of one NIC; returns what ran (a script path or ``built-in``).

    ``env`` is :func:`gnt.network.env.nic_env`'s (``ACTION`` is set to ``up``);
    ``legacy``: the hypervisor's whole-replacement script.  Raises
    HypervisorError naming the interface and the script's output.
    """
    env = {**env, "ACTION": ACTION_UP}
    script = site_script(env["MODE"], ACTION_UP, legacy)
    if script is None:
        try:
            modes.up(env)
        except errors.HypervisorError as err:
            raise errors.HypervisorError(
                f"Failed to configure interface {env['INTERFACE']}: {err}",
                err.ecode) from err
        return BUILTIN
    res = _run_script(script, env)
    if res.returncode != 0:
        raise errors.HypervisorError(
            f"Failed to configure interface {env['INTERFACE']}: {script} exited with status "
            f"{res.returncode}; network configuration script output: {_output(res)}",
            errors.ECODE_ENVIRON)
    return str(script)


def nic_down(env: Mapping[str, str], legacy: Path | None = None) -> str:
    """Undo the host side of one NIC, best effort; returns what ran."""
    env = {**env, "ACTION": ACTION_DOWN}
    script = site_script(env["MODE"], ACTION_DOWN, legacy)
    if script is None:
        modes.down(env)
        return BUILTIN
    res = _run_script(script, env)
    if res.returncode != 0:
        log.warning("NIC down script %s for %s failed (status %d): %s", script,
                    env["INTERFACE"], res.returncode, _output(res))
    return str(script)
