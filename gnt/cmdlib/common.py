"""Helpers shared by logical units: name expansion, node checks, specs."""

from __future__ import annotations

from typing import Any, TypeVar

from gnt import errors
from gnt.hypervisor.base import DiskSpec, InstanceSpec, NICSpec
from gnt.objects import ConfigData, Disk, Instance, Node, fill
from gnt.storage.base import BlockDevSpec

T = TypeVar("T")


def _expand(kind: str, name: str, by_name: dict[str, T]) -> T:
    """Exact name, else the unique object whose short name is ``name`` (Ganeti's
    ``ExpandName``); raises OpPrereqError (unknown_entity) otherwise."""
    obj = by_name.get(name)
    if obj is None:
        matches = [o for n, o in by_name.items() if n.split(".")[0] == name
                   or n.startswith(name + ".")]
        if len(matches) == 1:
            obj = matches[0]
    if obj is None:
        raise errors.OpPrereqError(f"{kind} '{name}' not known", errors.ECODE_NOENT)
    return obj


def expand_instance(cfg: ConfigData, name: str) -> Instance:
    """The instance called ``name`` (full or short name); raises OpPrereqError."""
    return _expand("Instance", name, {i.name: i for i in cfg.instances.values()})


def expand_node(cfg: ConfigData, name: str) -> Node:
    """The node called ``name`` (full or short name); raises OpPrereqError."""
    return _expand("Node", name, {n.name: n for n in cfg.nodes.values()})


def check_node_online(node: Node, msg: str = "") -> None:
    if node.offline:
        raise errors.OpPrereqError(
            f"{msg or 'Cannot use node'}: node {node.name} is offline", errors.ECODE_STATE)


def check_node_not_drained(node: Node) -> None:
    if node.drained:
        raise errors.OpPrereqError(f"Node {node.name} is drained", errors.ECODE_STATE)


def check_node_vm_capable(node: Node) -> None:
    if not node.vm_capable:
        raise errors.OpPrereqError(f"Node {node.name} is not vm capable",
                                   errors.ECODE_STATE)


def _disk_params(cfg: ConfigData | None, disk: Disk) -> dict[str, Any]:
    """``disk.params`` filled from the cluster's and its node group's diskparams
    (as they are without ``cfg``)."""
    if cfg is None:
        return disk.params
    node = cfg.nodes.get(disk.nodes[0]) if disk.nodes else None
    group = cfg.nodegroups.get(node.group) if node is not None else None
    return fill.fill_disk_params(cfg.cluster, group, disk)


def disk_bdev_specs(disks: list[Disk], cfg: ConfigData | None = None) -> list[BlockDevSpec]:
    """Disks as sent to nodes; with ``cfg`` their params are filled (cluster ->
    node group -> disk diskparams, as Ganeti annotates them)."""
    return [BlockDevSpec(uuid=d.uuid, dev_type=d.dev_type, logical_id=d.logical_id,
                         size=d.size, mode=d.mode, name=d.name, iv_name=d.iv_name,
                         params=_disk_params(cfg, d))
            for d in disks]


def bdev_specs(cfg: ConfigData, inst: Instance) -> list[BlockDevSpec]:
    """The instance's disks as sent to nodes (params filled)."""
    return disk_bdev_specs(cfg.instance_disks(inst), cfg)


def instance_spec(cfg: ConfigData, inst: Instance, hvparams: dict[str, Any] | None = None,
                  beparams: dict[str, Any] | None = None) -> InstanceSpec:
    """The :class:`InstanceSpec` of ``inst`` with filled parameters.

    ``hvparams``/``beparams`` override the instance's for this use only
    (``gnt-instance start -H/-B``).  Disk paths are filled in by the node.
    """
    cl = cfg.cluster
    hvp = fill.fill_instance_hv(cl, inst)
    if hvparams:
        hvp.update(hvparams)
    bep = fill.fill_instance_be(cl, inst)
    if beparams:
        bep.update(beparams)
    disks = [DiskSpec(uuid=d.uuid, name=d.name, index=i, path="", mode=d.mode, size=d.size,
                      dev_type=d.dev_type)
             for i, d in enumerate(cfg.instance_disks(inst))]
    nics = [NICSpec(uuid=n.uuid, name=n.name, index=i, mac=n.mac, ip=n.ip,
                    nicparams=fill.fill_nic(cl, n),
                    netinfo=_netinfo(cfg, n.network))
            for i, n in enumerate(inst.nics)]
    return InstanceSpec(name=inst.name, uuid=inst.uuid, hypervisor=inst.hypervisor,
                        os=inst.os, hvparams=hvp, beparams=bep,
                        osparams=fill.fill_os(cl, inst.os, inst.osparams),
                        disks=disks, nics=nics, network_port=inst.network_port,
                        tags=list(inst.tags))


def os_script_spec(cfg: ConfigData, inst: Instance,
                   secret: dict[str, Any] | None = None) -> InstanceSpec:
    """The :class:`InstanceSpec` an OS script (create, rename, ...) gets: as
    :func:`instance_spec`, with every OS parameter (public, private, and the
    job's ``secret`` ones) in ``osparams``, as Ganeti passes them all as
    ``OSP_<NAME>``."""
    return instance_spec(cfg, inst).model_copy(
        update={"osparams": fill.fill_instance_os(cfg.cluster, inst, secret)})


def _netinfo(cfg: ConfigData, network: str | None) -> dict[str, Any] | None:
    """The network object a NIC is in (by UUID, or by name), as sent to nodes."""
    if not network:
        return None
    net = cfg.networks.get(network)
    if net is None:
        net = next((n for n in cfg.networks.values()
                    if (n.get("name") if isinstance(n, dict) else getattr(n, "name", None))
                    == network), None)
    if net is None:
        return None
    return dict(net) if isinstance(net, dict) else net.model_dump(mode="json")


def node_free_memory(ctx: Any, node: Node, hypervisor: str) -> int:
    """Free memory (MiB) of ``node`` as its hypervisor reports it; raises on RPC failure."""
    res = ctx.rpc.node_info([node.uuid], [hypervisor])[node.uuid]
    res.raise_on_fail(f"Cannot get current information from node {node.name}")
    return int(res.data["hv"][hypervisor]["memory_free"])


def check_node_free_memory(ctx: Any, node: Node, reason: str, requested: int,
                           hypervisor: str) -> None:
    """Raise OpPrereqError (insufficient_resources) if ``node`` lacks ``requested`` MiB."""
    free = node_free_memory(ctx, node, hypervisor)
    if requested > free:
        raise errors.OpPrereqError(
            f"Not enough memory on node {node.name} for {reason}: needed {requested} MiB,"
            f" available {free} MiB", errors.ECODE_NORES)
