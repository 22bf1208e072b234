"""The environment of OS scripts, as Ganeti's OS interface defines it.

The environment is built from scratch (nothing is inherited from the node
daemon) and every value is a string.  :func:`core_env` is what every script
gets (``verify`` only this); :func:`instance_env` adds the instance, its
disks and NICs for ``create``, ``import``, ``export`` and ``rename``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from gnt import constants as C
from gnt.hypervisor.base import InstanceSpec
from gnt.osdef.definition import OSDefinition, resolve_variant

# Ganeti's PATH for OS scripts and hooks.
SCRIPT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"

# Templates whose disks the node sees as block devices (Ganeti's DTS_BLOCK).
_BLOCK_TEMPLATES = (C.DT_PLAIN, C.DT_DRBD8, C.DT_BLOCK, C.DT_RBD, C.DT_EXT)

# hvparams Ganeti exports as the frontend types of disks and NICs.
_HV_DISK_TYPE = "disk_type"
_HV_NIC_TYPE = "nic_type"


def _s(value: Any) -> str:
    """A parameter value as an environment string (None -> "")."""
    return "" if value is None else str(value)


def osp_var(name: str) -> str:
    """Environment variable of OS parameter ``name``: ``OSP_`` + upper case, ``-`` -> ``_``."""
    return "OSP_" + name.upper().replace("-", "_")


def core_env(osd: OSDefinition, os_name: str, osparams: Mapping[str, Any],
             debug: int = 0, force_variant: bool = False) -> dict[str, str]:
    """Variables every OS script gets.

    ``os_name`` is the full name (``name+variant``); ``osparams`` the filled
    OS parameters with private ones already unwrapped.  Gives ``OS_API_VERSION``,
    ``OS_NAME`` (without variant), ``OS_VARIANT`` (empty below API 15 or for
    OSes without variants), ``DEBUG_LEVEL``, one ``OSP_<NAME>`` per parameter
    and ``PATH``.  Raises OpPrereqError for an unknown variant unless
    ``force_variant``.
    """
    env = {
        "OS_API_VERSION": str(osd.api_version),
        "OS_NAME": osd.name,
        "OS_VARIANT": resolve_variant(osd, os_name, force=force_variant),
        "DEBUG_LEVEL": str(int(debug)),
        "PATH": SCRIPT_PATH,
    }
    for pname, pvalue in osparams.items():
        env[osp_var(pname)] = _s(pvalue)
    return env


class InstanceContext(BaseModel):
    """What the OS environment needs beyond :class:`InstanceSpec`.

    ``primary_node``/``secondary_nodes``: node names; ``ctime``/``mtime``:
    the instance's timestamps (seconds since the epoch; exported when given);
    ``file_drivers``: disk uuid -> ``loop``/``blktap``/``blktap2`` for
    file-based disks (default ``loop``); ``nic_networks``: NIC uuid -> the
    NIC's network (``name``, ``uuid``, ``family``, ``subnet``, ``gateway``,
    ``subnet6``, ``gateway6``, ``mac_prefix``, ``tags`` as a list), exported
    as ``NIC_<n>_NETWORK_<KEY>``.
    """

    primary_node: str = ""
    secondary_nodes: list[str] = Field(default_factory=list)
    ctime: float | None = None
    mtime: float | None = None
    file_drivers: dict[str, str] = Field(default_factory=dict)
    nic_networks: dict[str, dict[str, Any]] = Field(default_factory=dict)


def instance_env(osd: OSDefinition, os_name: str, spec: InstanceSpec,
                 ctx: InstanceContext | None = None, *,
                 debug: int = 0, force_variant: bool = False) -> dict[str, str]:
    """The full environment for an instance's ``create``/``import``/``export``/``rename``.

    ``spec`` carries filled hv/be/OS parameters (private OS parameters
    unwrapped into ``osparams``), the assembled disks (``path`` as seen on
    this node, empty when only a userspace ``uri`` exists) and the NICs with
    filled nicparams; ``ctx`` the rest (see :class:`InstanceContext`).
    Raises OpPrereqError for an unknown variant unless ``force_variant``.
    """
    ctx = ctx or InstanceContext()
    env = core_env(osd, os_name, spec.osparams, debug, force_variant)
    env.update({
        "INSTANCE_NAME": spec.name,
        "INSTANCE_OS": os_name,
        "INSTANCE_UUID": spec.uuid,
        "INSTANCE_PRIMARY_NODE": ctx.primary_node,
        "INSTANCE_SECONDARY_NODES": " ".join(ctx.secondary_nodes),
        "HYPERVISOR": spec.hypervisor,
        "DISK_COUNT": str(len(spec.disks)),
        "NIC_COUNT": str(len(spec.nics)),
    })
    if ctx.ctime is not None:
        env["INSTANCE_CTIME"] = str(ctx.ctime)
    if ctx.mtime is not None:
        env["INSTANCE_MTIME"] = str(ctx.mtime)
    env.update(_disks_env(spec, ctx.file_drivers))
    env.update(_nics_env(spec, ctx.nic_networks))
    for prefix, source in (("INSTANCE_BE_", spec.beparams), ("INSTANCE_HV_", spec.hvparams)):
        for key, value in source.items():
            env[prefix + key] = _s(value)
    return env


def _disks_env(spec: InstanceSpec, file_drivers: Mapping[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for idx, disk in enumerate(spec.disks):
        p = f"DISK_{idx}_"
        if disk.path:
            env[p + "PATH"] = disk.path
        if disk.uri:
            env[p + "URI"] = disk.uri
        env[p + "ACCESS"] = disk.mode
        env[p + "UUID"] = disk.uuid
        env[p + "SIZE"] = str(disk.size)
        if disk.name:
            env[p + "NAME"] = disk.name
        if _HV_DISK_TYPE in spec.hvparams:
            env[p + "FRONTEND_TYPE"] = _s(spec.hvparams[_HV_DISK_TYPE])
        if disk.dev_type in _BLOCK_TEMPLATES:
            env[p + "BACKEND_TYPE"] = "block"
        elif disk.dev_type in C.DTS_FILEBASED:
            env[p + "BACKEND_TYPE"] = "file:" + file_drivers.get(disk.uuid, C.FD_DEFAULT)
    return env


# Network keys exported even when empty, as Ganeti's ``Network.HooksDict``.
_NETWORK_ALWAYS = ("name", "uuid", "tags")


def _network_env(prefix: str, network: Mapping[str, Any] | None) -> dict[str, str]:
    """``<prefix>NETWORK_<KEY>`` for a NIC's network (nothing without one).

    Name, UUID and tags (space separated) are always given; other keys only
    when set.
    """
    if not network:
        return {}
    env: dict[str, str] = {}
    for key, value in network.items():
        if key not in _NETWORK_ALWAYS and (value is None or value == "" or value == []):
            continue
        text = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else _s(value)
        env[f"{prefix}NETWORK_{key.upper()}"] = text
    for key in _NETWORK_ALWAYS:
        env.setdefault(f"{prefix}NETWORK_{key.upper()}", "")
    return env


def _nics_env(spec: InstanceSpec, nic_networks: Mapping[str, Mapping[str, Any]]
              ) -> dict[str, str]:
    env: dict[str, str] = {}
    for idx, nic in enumerate(spec.nics):
        p = f"NIC_{idx}_"
        env[p + "MAC"] = nic.mac
        env[p + "UUID"] = nic.uuid
        if nic.name:
            env[p + "NAME"] = nic.name
        if nic.ip:
            env[p + "IP"] = nic.ip
        mode = _s(nic.nicparams.get(C.NIC_MODE, ""))
        link = _s(nic.nicparams.get(C.NIC_LINK, ""))
        vlan = _s(nic.nicparams.get(C.NIC_VLAN, ""))
        env[p + "MODE"] = mode
        if mode == C.NIC_MODE_BRIDGED:
            env[p + "BRIDGE"] = link
        if link:
            env[p + "LINK"] = link
        if vlan:
            env[p + "VLAN"] = vlan
        env.update(_network_env(p, nic_networks.get(nic.uuid)))
        if _HV_NIC_TYPE in spec.hvparams:
            env[p + "FRONTEND_TYPE"] = _s(spec.hvparams[_HV_NIC_TYPE])
    return env
