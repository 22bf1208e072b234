"""Node group query fields (``gnt-group list``): Ganeti's names, titles, kinds and docs.

Every value comes from the config; the query context is the
:class:`~gnt.objects.ConfigData` itself.
"""

from __future__ import annotations

from typing import Any

from gnt.objects import ConfigData, NodeGroup, fill
from gnt.query import defaults
from gnt.query.base import QFT_NUMBER, QFT_OTHER, QFT_TEXT, FieldDef, FieldTable
from gnt.query.node import common_fields, ndparam_fields

DEFAULT_FIELDS = defaults.GROUP


def group_nodes(cfg: ConfigData, group_uuid: str) -> list[str]:
    """Names of the nodes in the group, sorted."""
    return sorted(n.name for n in cfg.nodes.values() if n.group == group_uuid)


def group_primary_instances(cfg: ConfigData, group_uuid: str) -> list[str]:
    """Names of the instances whose primary node is in the group, sorted."""
    members = {n.uuid for n in cfg.nodes.values() if n.group == group_uuid}
    return sorted(i.name for i in cfg.instances.values() if i.primary_node in members)


def merged_ndparams(cfg: ConfigData, g: NodeGroup) -> dict[str, Any]:
    return fill.fill_nd(cfg.cluster, g, None)


def merged_diskparams(cfg: ConfigData, g: NodeGroup) -> dict[str, dict[str, Any]]:
    """Disk parameters per template, cluster values overridden by the group's."""
    templates = set(cfg.cluster.diskparams) | set(g.diskparams)
    return {t: fill.fill_diskparams(cfg.cluster, g, t) for t in sorted(templates)}


def merged_ipolicy(cfg: ConfigData, g: NodeGroup) -> dict[str, Any]:
    return fill.fill_ipolicy(cfg.cluster, g)


_FIELDS = [
    FieldDef("name", "Group", QFT_TEXT, "Group name", lambda c, g: g.name),
    FieldDef("alloc_policy", "AllocPolicy", QFT_TEXT, "Allocation policy for group",
             lambda c, g: g.alloc_policy),
    FieldDef("node_cnt", "Nodes", QFT_NUMBER, "Number of nodes",
             lambda c, g: len(group_nodes(c, g.uuid))),
    FieldDef("node_list", "NodeList", QFT_OTHER, "List of nodes",
             lambda c, g: group_nodes(c, g.uuid)),
    FieldDef("pinst_cnt", "Instances", QFT_NUMBER, "Number of primary instances",
             lambda c, g: len(group_primary_instances(c, g.uuid))),
    FieldDef("pinst_list", "InstanceList", QFT_OTHER, "List of primary instances",
             lambda c, g: group_primary_instances(c, g.uuid)),
    FieldDef("ndparams", "NDParams", QFT_OTHER, "Node parameters", merged_ndparams),
    FieldDef("custom_ndparams", "CustomNDParams", QFT_OTHER, "Custom node parameters",
             lambda c, g: dict(g.ndparams)),
    FieldDef("diskparams", "DiskParameters", QFT_OTHER, "Disk parameters (merged)",
             merged_diskparams),
    FieldDef("custom_diskparams", "CustomDiskParameters", QFT_OTHER,
             "Custom disk parameters", lambda c, g: dict(g.diskparams)),
    FieldDef("ipolicy", "InstancePolicy", QFT_OTHER, "Instance policy limitations (merged)",
             merged_ipolicy),
    FieldDef("custom_ipolicy", "CustomInstancePolicy", QFT_OTHER,
             "Custom instance policy limitations", lambda c, g: dict(g.ipolicy)),
    *ndparam_fields(merged_ndparams),
    *common_fields("Group"),
]

TABLE = FieldTable(_FIELDS)
