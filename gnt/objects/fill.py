"""Filled parameters: the effective values after inheritance.

Follows Ganeti's ``Cluster.Fill*`` rules:

* hvparams: cluster ``hvparams[hv]`` -> ``os_hvp[os][hv]`` -> instance
* beparams: cluster ``beparams["default"]`` -> instance
* nicparams: cluster ``nicparams["default"]`` -> NIC
* osparams: cluster ``osparams[os]`` (base name, then ``os+variant``) -> instance
  (OS scripts: -> private -> secret, :func:`fill_instance_os`)
* ndparams: cluster -> node group -> node
* diskparams: cluster ``diskparams[template]`` -> node group -> disk
* ipolicy: cluster -> node group
"""

from __future__ import annotations

from typing import Any

from gnt.objects.cluster import Cluster
from gnt.objects.group import NodeGroup
from gnt.objects.instance import NIC, Disk, Instance
from gnt.objects.node import Node
from gnt.objects.params import fill_dict


def os_base(os_name: str) -> str:
    """``debian+minimal`` -> ``debian``."""
    return os_name.split("+", 1)[0]


def fill_hv(cluster: Cluster, hypervisor: str, os_name: str,
            custom: dict[str, Any] | None) -> dict[str, Any]:
    """Effective hvparams for an instance of ``os_name`` on ``hypervisor``."""
    from gnt.hypervisor import defaults_for

    base = fill_dict(defaults_for(hypervisor), cluster.hvparams.get(hypervisor, {}))
    for name in (os_base(os_name), os_name):
        base = fill_dict(base, cluster.os_hvp.get(name, {}).get(hypervisor, {}))
    return fill_dict(base, custom)


def fill_instance_hv(cluster: Cluster, inst: Instance) -> dict[str, Any]:
    return fill_hv(cluster, inst.hypervisor, inst.os, inst.hvparams)


def fill_be(cluster: Cluster, custom: dict[str, Any] | None) -> dict[str, Any]:
    return fill_dict(cluster.beparams.get("default", {}), custom)


def fill_instance_be(cluster: Cluster, inst: Instance) -> dict[str, Any]:
    return fill_be(cluster, inst.beparams)


def fill_nic(cluster: Cluster, nic: NIC) -> dict[str, Any]:
    return fill_dict(cluster.nicparams.get("default", {}), nic.nicparams)


def fill_os(cluster: Cluster, os_name: str, custom: dict[str, Any] | None) -> dict[str, Any]:
    base: dict[str, Any] = {}
    for name in (os_base(os_name), os_name):
        base = fill_dict(base, cluster.osparams.get(name, {}))
    return fill_dict(base, custom)


def fill_instance_os(cluster: Cluster, inst: Instance,
                     secret: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OS parameters an instance's OS scripts get: cluster defaults, the
    instance's public then private parameters, then ``secret`` ones (given
    per job, never stored).  Ganeti passes them all as ``OSP_<NAME>``; only
    the public ones are shown by queries."""
    return fill_os(cluster, inst.os, {**inst.osparams, **inst.osparams_private,
                                      **(secret or {})})


def fill_nd(cluster: Cluster, group: NodeGroup | None, node: Node | None) -> dict[str, Any]:
    out = dict(cluster.ndparams)
    if group is not None:
        out = fill_dict(out, group.ndparams)
    if node is not None:
        out = fill_dict(out, node.ndparams)
    return out


def fill_diskparams(cluster: Cluster, group: NodeGroup | None,
                    template: str) -> dict[str, Any]:
    out = dict(cluster.diskparams.get(template, {}))
    if group is not None:
        out = fill_dict(out, group.diskparams.get(template, {}))
    return out


def fill_disk_params(cluster: Cluster, group: NodeGroup | None,
                     disk: Disk) -> dict[str, Any]:
    """A disk's parameters as its node gets them: cluster ``diskparams[template]``
    -> the group's -> the disk's own ``params`` (Ganeti's AnnotateDiskParams)."""
    return fill_dict(fill_diskparams(cluster, group, disk.dev_type), disk.params)


def fill_ipolicy(cluster: Cluster, group: NodeGroup | None) -> dict[str, Any]:
    out = dict(cluster.ipolicy)
    if group is not None:
        out = fill_dict(out, group.ipolicy)
    return out
