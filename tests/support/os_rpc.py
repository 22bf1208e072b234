"""Calling the OS node procedures of a test cluster from a test, as the master does.

:func:`master_rpc` gives a real :class:`NodeRpc` (the master's typed RPC
wrappers) on the cluster's current ``config.data`` and certificate;
:func:`instance_call_args` the ``(node_uuid, spec, bdevs)`` the master
sends for an instance.
"""

from __future__ import annotations

from gnt.cmdlib.common import bdev_specs, instance_spec
from gnt.config import ConfigWriter
from gnt.hypervisor.base import InstanceSpec
from gnt.masterd.noderpc import NodeRpc
from gnt.paths import Paths
from gnt.rpc import RpcClient
from gnt.storage.base import BlockDevSpec
from tests.support.cluster import TestCluster


def master_rpc(c: TestCluster) -> NodeRpc:
    """NodeRpc over the master's config (read now) with the cluster certificate."""
    p = Paths(c.node_root(c.master).resolve())
    return NodeRpc(ConfigWriter(p.cluster_conf_file), RpcClient(cert_file=p.noded_cert_file))


def instance_call_args(rpc: NodeRpc, name: str) -> tuple[str, InstanceSpec, list[BlockDevSpec]]:
    """``(primary node uuid, filled spec, disk specs)`` of instance ``name``."""
    data = rpc._cfg.data
    inst = data.instance_by_name(name)
    assert inst is not None, f"no instance {name} in the config"
    return inst.primary_node, instance_spec(data, inst), bdev_specs(data, inst)
