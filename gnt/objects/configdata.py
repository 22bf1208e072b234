"""The whole configuration, as stored in ``config.data`` (Ganeti's shape)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from gnt import constants as C
from gnt import errors
from gnt.objects.base import ConfigObject
from gnt.objects.cluster import Cluster
from gnt.objects.group import NodeGroup
from gnt.objects.instance import Disk, Instance
from gnt.objects.node import Node


class ConfigData(ConfigObject):
    """Top level of ``config.data``: objects keyed by UUID, plus serial and times."""

    version: int = C.CONFIG_VERSION
    cluster: Cluster
    nodes: dict[str, Node] = Field(default_factory=dict)
    nodegroups: dict[str, NodeGroup] = Field(default_factory=dict)
    instances: dict[str, Instance] = Field(default_factory=dict)
    disks: dict[str, Disk] = Field(default_factory=dict)
    networks: dict[str, Any] = Field(default_factory=dict)
    filters: dict[str, Any] = Field(default_factory=dict)
    serial_no: int = 1
    ctime: float = Field(default_factory=time.time)
    mtime: float = Field(default_factory=time.time)

    # --- lookups by name ---
    def node_by_name(self, name: str) -> Node | None:
        for node in self.nodes.values():
            if node.name == name:
                return node
        return None

    def instance_by_name(self, name: str) -> Instance | None:
        for inst in self.instances.values():
            if inst.name == name:
                return inst
        return None

    def group_by_name(self, name: str) -> NodeGroup | None:
        for grp in self.nodegroups.values():
            if grp.name == name:
                return grp
        return None

    def get_node(self, uuid: str) -> Node:
        try:
            return self.nodes[uuid]
        except KeyError:
            raise errors.ConfigurationError(f"Unknown node UUID {uuid}") from None

    def get_group(self, uuid: str) -> NodeGroup:
        try:
            return self.nodegroups[uuid]
        except KeyError:
            raise errors.ConfigurationError(f"Unknown node group UUID {uuid}") from None

    def instance_disks(self, inst: Instance) -> list[Disk]:
        """The instance's disks, in order."""
        return [self.disks[d] for d in inst.disks]

    def node_primary_instances(self, node_uuid: str) -> list[Instance]:
        return [i for i in self.instances.values() if i.primary_node == node_uuid]

    def instance_secondary_nodes(self, inst: Instance) -> list[str]:
        """UUIDs of the instance's secondary nodes (nodes of its disks, minus primary)."""
        out: list[str] = []
        for disk in self.instance_disks(inst):
            for n in disk.nodes:
                if n != inst.primary_node and n not in out:
                    out.append(n)
        return out

    @property
    def master_node(self) -> Node:
        return self.get_node(self.cluster.master_node)
