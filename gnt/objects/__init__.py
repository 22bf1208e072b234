"""Typed config objects (pydantic) and parameter filling."""

from gnt.objects.base import ConfigObject, TimestampedObject, new_uuid
from gnt.objects.cluster import Cluster
from gnt.objects.configdata import ConfigData
from gnt.objects.group import NodeGroup
from gnt.objects.instance import NIC, Disk, Instance
from gnt.objects.node import Node

__all__ = ["ConfigObject", "TimestampedObject", "new_uuid", "Cluster", "ConfigData",
           "NodeGroup", "NIC", "Disk", "Instance", "Node"]
