"""Building the OS scripts' :class:`InstanceContext` from what the master and node know.

* :func:`context_from_config` (master side): node names, timestamps and NIC
  networks of an instance from the cluster configuration, sent along with
  the OS RPCs;
* :func:`with_file_drivers` (node side): the file drivers of file-based
  disks, read from the block device specs the node received.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gnt import constants as C
from gnt.objects import ConfigData
from gnt.osdef.environment import InstanceContext
from gnt.storage.base import BlockDevSpec

# Ganeti's network object fields -> the keys exported as NIC_<n>_NETWORK_<KEY>.
_NETWORK_KEYS = {"name": "name", "uuid": "uuid", "family": "family", "network": "subnet",
                 "gateway": "gateway", "network6": "subnet6", "gateway6": "gateway6",
                 "mac_prefix": "mac_prefix", "tags": "tags"}


def network_info(network: Mapping[str, Any], uuid: str) -> dict[str, Any]:
    """A config network object (Ganeti's shape) as OS environment keys."""
    out = {dst: network.get(src) for src, dst in _NETWORK_KEYS.items() if src in network}
    out.setdefault("uuid", uuid)
    out["tags"] = sorted(out.get("tags") or [])
    return out


def context_from_config(cfg: ConfigData, instance_uuid: str) -> InstanceContext:
    """The context of the instance ``instance_uuid``; an empty one if it is unknown.

    Gives the primary and secondary node names, ``ctime``/``mtime`` and, for
    NICs connected to a network, the network's name, UUID, subnets,
    gateways, MAC prefix and tags.
    """
    inst = cfg.instances.get(instance_uuid)
    if inst is None:
        return InstanceContext()
    names = {u: n.name for u, n in cfg.nodes.items()}
    networks: dict[str, dict[str, Any]] = {}
    for nic in inst.nics:
        net = cfg.networks.get(nic.network) if nic.network else None
        if isinstance(net, Mapping):
            networks[nic.uuid] = network_info(net, str(nic.network))
    return InstanceContext(
        primary_node=names.get(inst.primary_node, inst.primary_node),
        secondary_nodes=[names.get(u, u) for u in cfg.instance_secondary_nodes(inst)],
        ctime=inst.ctime, mtime=inst.mtime, nic_networks=networks)


def with_file_drivers(ctx: InstanceContext, bdevs: Iterable[BlockDevSpec]) -> InstanceContext:
    """``ctx`` plus the driver (``logical_id[0]``) of each file-based disk in ``bdevs``."""
    drivers = dict(ctx.file_drivers)
    for b in bdevs:
        if b.dev_type in C.DTS_FILEBASED and b.logical_id and isinstance(b.logical_id[0], str):
            drivers[b.uuid] = b.logical_id[0]
    return ctx.model_copy(update={"file_drivers": drivers})
