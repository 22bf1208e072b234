"""Hook environments: the variables an LU gives its hooks, and the node lists.

Every builder returns ``dict[str, str]`` **without** the ``GANETI_`` prefix
(the hooks master adds ``GANETI_`` in the pre phase and ``GANETI_POST_`` in
the post phase).  Values follow Ganeti's conversion: ``str(value)``, so
``True`` -> ``"True"``, ``None`` -> ``"None"``, lists as Python shows them;
``INSTANCE_SECONDARIES`` and tag lists are space-separated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gnt import constants as C
from gnt.objects import NIC, ConfigData, Disk, Instance, Node, NodeGroup, fill


def hook_str(value: Any) -> str:
    """A value as a hook variable: Ganeti's ``str()``."""
    return value if isinstance(value, str) else str(value)


def stringify(env: Mapping[str, Any]) -> dict[str, str]:
    """``env`` with every key and value converted by :func:`hook_str`."""
    return {str(k): hook_str(v) for k, v in env.items()}


# --- networks ---
def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def network_env(network: Any, prefix: str = "") -> dict[str, str]:
    """``<prefix>NETWORK_NAME``, ``_UUID``, ``_TAGS`` and, when set, ``_SUBNET``,
    ``_GATEWAY``, ``_SUBNET6``, ``_GATEWAY6``, ``_MAC_PREFIX`` of a network
    (a config dict or object with Ganeti's network fields)."""
    env = {f"{prefix}NETWORK_NAME": hook_str(_get(network, "name")),
           f"{prefix}NETWORK_UUID": hook_str(_get(network, "uuid")),
           f"{prefix}NETWORK_TAGS": " ".join(_get(network, "tags") or [])}
    for field, key in (("network", "SUBNET"), ("gateway", "GATEWAY"),
                       ("network6", "SUBNET6"), ("gateway6", "GATEWAY6"),
                       ("mac_prefix", "MAC_PREFIX")):
        value = _get(network, field)
        if value:
            env[f"{prefix}NETWORK_{key}"] = hook_str(value)
    return env


# --- instances ---
def nics_env(cfg: ConfigData, nics: Sequence[NIC]) -> dict[str, str]:
    """``INSTANCE_NIC_COUNT`` and ``INSTANCE_NIC<n>_{NAME,UUID,IP,MAC,MODE,LINK,
    VLAN,BRIDGE,NETWORK_*}`` (filled NIC parameters; ``NAME`` only if set,
    ``BRIDGE`` only in bridged/openvswitch mode, ``IP`` empty if none)."""
    env: dict[str, str] = {"INSTANCE_NIC_COUNT": str(len(nics))}
    for idx, nic in enumerate(nics):
        p = f"INSTANCE_NIC{idx}_"
        params = fill.fill_nic(cfg.cluster, nic)
        mode = params.get(C.NIC_MODE, "")
        link = params.get(C.NIC_LINK, "")
        if nic.name:
            env[p + "NAME"] = nic.name
        env[p + "UUID"] = nic.uuid
        env[p + "IP"] = nic.ip or ""
        env[p + "MAC"] = nic.mac
        env[p + "MODE"] = hook_str(mode)
        env[p + "LINK"] = hook_str(link)
        env[p + "VLAN"] = hook_str(params.get(C.NIC_VLAN, ""))
        if nic.network:
            net = cfg.networks.get(nic.network)
            if net is not None:
                env.update(network_env(net, p))
            else:
                env[p + "NETWORK_NAME"] = nic.network
        if mode in (C.NIC_MODE_BRIDGED, C.NIC_MODE_OVS):
            env[p + "BRIDGE"] = hook_str(link)
    return env


def disks_env(disks: Sequence[Disk]) -> dict[str, str]:
    """``INSTANCE_DISK_COUNT`` and ``INSTANCE_DISK<n>_{NAME,UUID,SIZE,MODE}``
    (``SIZE`` in MiB, ``NAME`` only if set)."""
    env: dict[str, str] = {"INSTANCE_DISK_COUNT": str(len(disks))}
    for idx, disk in enumerate(disks):
        p = f"INSTANCE_DISK{idx}_"
        if disk.name:
            env[p + "NAME"] = disk.name
        env[p + "UUID"] = disk.uuid
        env[p + "SIZE"] = str(disk.size)
        env[p + "MODE"] = disk.mode
    return env


def _node_name(cfg: ConfigData, uuid: str) -> str:
    node = cfg.nodes.get(uuid)
    return node.name if node is not None else uuid


def instance_secondaries(cfg: ConfigData, inst: Instance,
                         disks: Sequence[Disk] | None = None) -> list[str]:
    """UUIDs of the instance's secondary nodes: from ``disks`` if given (for an
    instance not, or no longer, in the config), else from the config."""
    if disks is None:
        return cfg.instance_secondary_nodes(inst)
    out: list[str] = []
    for d in disks:
        for n in d.nodes:
            if n != inst.primary_node and n not in out:
                out.append(n)
    return out


def instance_env(cfg: ConfigData, inst: Instance, *,
                 disks: Sequence[Disk] | None = None,
                 secondary_nodes: Sequence[str] | None = None,
                 status: Any = None,
                 beparams: Mapping[str, Any] | None = None,
                 hvparams: Mapping[str, Any] | None = None,
                 override: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Ganeti's standard instance hook variables for ``inst``.

    ``OP_TARGET``, ``INSTANCE_NAME``, ``INSTANCE_PRIMARY`` /
    ``INSTANCE_SECONDARIES`` (node names), ``INSTANCE_OS_TYPE``,
    ``INSTANCE_STATUS`` (the admin state: up/down/offline), ``INSTANCE_MINMEM``,
    ``INSTANCE_MAXMEM``, ``INSTANCE_MEMORY`` (= maxmem, MiB), ``INSTANCE_VCPUS``,
    ``INSTANCE_DISK_TEMPLATE``, ``INSTANCE_HYPERVISOR``, ``INSTANCE_TAGS``, the
    NIC and disk variables (:func:`nics_env`, :func:`disks_env`), and
    ``INSTANCE_BE_<param>`` / ``INSTANCE_HV_<param>`` (filled values).

    The keywords replace what would be read from the config: ``disks``
    (Disk objects, for an instance being created or already removed),
    ``secondary_nodes`` (UUIDs), ``status``, ``beparams``/``hvparams`` (filled
    dicts); ``override`` entries are applied last (Ganeti's ``override``).
    """
    cl = cfg.cluster
    if disks is None:
        disks = [cfg.disks[d] for d in inst.disks if d in cfg.disks]
    if secondary_nodes is None:
        secondary_nodes = instance_secondaries(cfg, inst, disks)
    bep = dict(beparams) if beparams is not None else fill.fill_instance_be(cl, inst)
    hvp = dict(hvparams) if hvparams is not None else fill.fill_instance_hv(cl, inst)
    env: dict[str, Any] = {
        "OP_TARGET": inst.name,
        "INSTANCE_NAME": inst.name,
        "INSTANCE_PRIMARY": _node_name(cfg, inst.primary_node),
        "INSTANCE_SECONDARIES": " ".join(_node_name(cfg, n) for n in secondary_nodes),
        "INSTANCE_OS_TYPE": inst.os,
        "INSTANCE_STATUS": inst.admin_state if status is None else status,
        "INSTANCE_MINMEM": bep.get(C.BE_MINMEM),
        "INSTANCE_MAXMEM": bep.get(C.BE_MAXMEM),
        "INSTANCE_MEMORY": bep.get(C.BE_MAXMEM),
        "INSTANCE_VCPUS": bep.get(C.BE_VCPUS),
        "INSTANCE_DISK_TEMPLATE": inst.disk_template,
        "INSTANCE_HYPERVISOR": inst.hypervisor,
        "INSTANCE_TAGS": " ".join(inst.tags),
    }
    env.update(nics_env(cfg, inst.nics))
    env.update(disks_env(disks))
    for kind, params in (("BE", bep), ("HV", hvp)):
        for key, value in params.items():
            env[f"INSTANCE_{kind}_{key}"] = value
    if override:
        env.update(override)
    return stringify(env)


# --- nodes, groups, cluster ---
def node_env(node_name: str) -> dict[str, str]:
    """``OP_TARGET`` and ``NODE_NAME`` (the node the operation is about)."""
    return {"OP_TARGET": node_name, "NODE_NAME": node_name}


def group_env(group_name: str) -> dict[str, str]:
    """``GROUP_NAME``."""
    return {"GROUP_NAME": group_name}


def cluster_env(cfg: ConfigData) -> dict[str, str]:
    """``OP_TARGET``: the cluster name."""
    return {"OP_TARGET": cfg.cluster.cluster_name}


# --- node lists (UUIDs) ---
def unique(uuids: Iterable[str]) -> list[str]:
    """``uuids`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(uuids))


def master_nodes(cfg: ConfigData) -> list[str]:
    """``[master UUID]``."""
    return [cfg.cluster.master_node]


def instance_nodes(cfg: ConfigData, inst: Instance,
                   disks: Sequence[Disk] | None = None) -> list[str]:
    """Primary then secondary node UUIDs of ``inst``."""
    return unique([inst.primary_node, *instance_secondaries(cfg, inst, disks)])


def master_and_instance_nodes(cfg: ConfigData, inst: Instance,
                              disks: Sequence[Disk] | None = None) -> list[str]:
    """Master, primary and secondaries (the usual instance hook nodes)."""
    return unique([cfg.cluster.master_node, *instance_nodes(cfg, inst, disks)])


def group_nodes(cfg: ConfigData, group: NodeGroup | str) -> list[str]:
    """UUIDs of the nodes in ``group`` (object or UUID), sorted by name."""
    guuid = group if isinstance(group, str) else group.uuid
    members: list[Node] = sorted((n for n in cfg.nodes.values() if n.group == guuid),
                                 key=lambda n: n.name)
    return [n.uuid for n in members]


def all_nodes(cfg: ConfigData, exclude: Iterable[str] = ()) -> list[str]:
    """Every node UUID except ``exclude``, sorted by name."""
    skip = set(exclude)
    return [n.uuid for n in sorted(cfg.nodes.values(), key=lambda n: n.name)
            if n.uuid not in skip]
