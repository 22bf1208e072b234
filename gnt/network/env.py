"""The environment of NIC scripts, with Ganeti's variable names.

Always set: ``INSTANCE``, ``MAC``, ``MODE``, ``INTERFACE`` (the host
device), ``INTERFACE_INDEX``, ``INTERFACE_UUID``, ``TAGS`` (the instance's
tags, space separated), ``PATH`` (the caller's plus ``/sbin:/usr/sbin``).
Set when there is a value: ``IP``, ``INTERFACE_NAME``, ``LINK``; ``VLAN``
whenever the NIC's parameters carry the key (possibly empty); ``BRIDGE``
(= ``LINK``) in bridged mode; the ``NETWORK_*`` variables of the NIC's
network (:func:`network_env`); ``ACTION`` (``up``/``down``) and
``MIGRATION_PHASE`` (``pre``/``post``, only while an instance migrates in).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from gnt import constants as C
from gnt.hypervisor.base import NICSpec

ACTION_UP = "up"
ACTION_DOWN = "down"
ACTIONS = (ACTION_UP, ACTION_DOWN)
PHASE_PRE = "pre"
PHASE_POST = "post"

_SYSTEM_PATH = "/sbin:/usr/sbin"


def network_env(netinfo: Mapping[str, Any] | None) -> dict[str, str]:
    """The ``NETWORK_*`` variables of a network object (Ganeti's ``HooksDict``).

    ``NETWORK_NAME``, ``NETWORK_UUID``, ``NETWORK_TAGS`` always; ``NETWORK_SUBNET``,
    ``NETWORK_GATEWAY``, ``NETWORK_SUBNET6``, ``NETWORK_GATEWAY6``,
    ``NETWORK_MAC_PREFIX`` when the network has them.  Empty without a network.
    """
    if not netinfo:
        return {}
    env = {"NETWORK_NAME": str(netinfo.get("name") or ""),
           "NETWORK_UUID": str(netinfo.get("uuid") or ""),
           "NETWORK_TAGS": " ".join(str(t) for t in netinfo.get("tags") or [])}
    for key, var in (("network", "NETWORK_SUBNET"), ("gateway", "NETWORK_GATEWAY"),
                     ("network6", "NETWORK_SUBNET6"), ("gateway6", "NETWORK_GATEWAY6"),
                     ("mac_prefix", "NETWORK_MAC_PREFIX")):
        if netinfo.get(key):
            env[var] = str(netinfo[key])
    return env


def nic_env(instance: str, nic: NICSpec, interface: str, *, tags: Sequence[str] = (),
            action: str | None = None, migration_phase: str | None = None,
            path: str | None = None) -> dict[str, str]:
    """The variables a NIC script gets for ``nic`` of ``instance`` on ``interface``.

    Only the NIC variables (module docstring); callers add the process
    environment.  ``path`` defaults to this process's ``PATH``.
    """
    params = nic.nicparams
    mode = str(params.get(C.NIC_MODE) or C.NIC_MODE_BRIDGED)
    link = str(params.get(C.NIC_LINK) or "")
    base_path = path if path is not None else os.environ.get("PATH", "/usr/bin:/bin")
    env = {"PATH": f"{base_path}:{_SYSTEM_PATH}" if base_path else _SYSTEM_PATH,
           "INSTANCE": instance, "MAC": nic.mac, "MODE": mode, "INTERFACE": interface,
           "INTERFACE_INDEX": str(nic.index), "INTERFACE_UUID": nic.uuid,
           "TAGS": " ".join(tags)}
    if nic.ip:
        env["IP"] = nic.ip
    if nic.name:
        env["INTERFACE_NAME"] = nic.name
    if link:
        env["LINK"] = link
    if C.NIC_VLAN in params:
        env["VLAN"] = str(params[C.NIC_VLAN] or "")
    env.update(network_env(nic.netinfo))
    if mode == C.NIC_MODE_BRIDGED:
        env["BRIDGE"] = link
    if action:
        env["ACTION"] = action
    if migration_phase:
        env["MIGRATION_PHASE"] = migration_phase
    return env
