"""Node query fields (the static ones; live values come with ``gnt-node``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gnt.objects import ConfigData, Node
from gnt.query.base import (
    QFT_BOOL,
    QFT_NUMBER,
    QFT_OTHER,
    QFT_TEXT,
    QFT_TIMESTAMP,
    QFT_UNIT,
    RS_NODATA,
    RS_OFFLINE,
    FieldDef,
    FieldTable,
    Unavailable,
)

DEFAULT_FIELDS = ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt",
                  "sinst_cnt"]


@dataclass
class NodeQueryContext:
    """Config plus live data per node UUID (``node_info`` RPC results)."""

    cfg: ConfigData
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    have_live: bool = False


def _live(key: str) -> Any:
    def getter(c: NodeQueryContext, n: Node) -> Any:
        if not c.have_live:
            raise Unavailable(RS_NODATA)
        if n.offline:
            raise Unavailable(RS_OFFLINE)
        data = c.live.get(n.uuid)
        if data is None or data.get(key) is None:
            raise Unavailable(RS_NODATA)
        return data[key]
    return getter


def _pinst(c: NodeQueryContext, n: Node) -> list[str]:
    return sorted(i.name for i in c.cfg.instances.values() if i.primary_node == n.uuid)


def _sinst(c: NodeQueryContext, n: Node) -> list[str]:
    return sorted(i.name for i in c.cfg.instances.values()
                  if n.uuid in c.cfg.instance_secondary_nodes(i))


_FIELDS = [
    FieldDef("name", "Node", QFT_TEXT, "Node name", lambda c, n: n.name),
    FieldDef("uuid", "UUID", QFT_TEXT, "Node UUID", lambda c, n: n.uuid),
    FieldDef("pip", "PrimaryIP", QFT_TEXT, "Primary IP address", lambda c, n: n.primary_ip),
    FieldDef("sip", "SecondaryIP", QFT_TEXT, "Secondary IP address",
             lambda c, n: n.secondary_ip),
    FieldDef("master", "IsMaster", QFT_BOOL, "Whether node is master",
             lambda c, n: n.uuid == c.cfg.cluster.master_node),
    FieldDef("master_candidate", "MasterC", QFT_BOOL, "Whether node is a master candidate",
             lambda c, n: n.master_candidate),
    FieldDef("master_capable", "MasterCapable", QFT_BOOL, "Whether node can become master",
             lambda c, n: n.master_capable),
    FieldDef("vm_capable", "VMCapable", QFT_BOOL, "Whether node can host instances",
             lambda c, n: n.vm_capable),
    FieldDef("drained", "Drained", QFT_BOOL, "Whether node is drained",
             lambda c, n: n.drained),
    FieldDef("offline", "Offline", QFT_BOOL, "Whether node is marked offline",
             lambda c, n: n.offline),
    FieldDef("role", "Role", QFT_TEXT, "Node role", lambda c, n: n.role(c.cfg.cluster.master_node)),
    FieldDef("group", "Group", QFT_TEXT, "Node group",
             lambda c, n: c.cfg.nodegroups[n.group].name),
    FieldDef("group.uuid", "GroupUUID", QFT_TEXT, "UUID of node group", lambda c, n: n.group),
    FieldDef("serial_no", "SerialNo", QFT_NUMBER, "Node object serial number",
             lambda c, n: n.serial_no),
    FieldDef("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, n: n.ctime),
    FieldDef("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp", lambda c, n: n.mtime),
    FieldDef("tags", "Tags", QFT_OTHER, "Tags", lambda c, n: list(n.tags)),
    FieldDef("ndparams", "NodeParameters", QFT_OTHER, "Merged node parameters",
             lambda c, n: {**c.cfg.cluster.ndparams,
                           **c.cfg.nodegroups[n.group].ndparams, **n.ndparams}),
    FieldDef("custom_ndparams", "CustomNodeParameters", QFT_OTHER, "Custom node parameters",
             lambda c, n: dict(n.ndparams)),
    FieldDef("pinst_cnt", "Pinst", QFT_NUMBER, "Number of instances with this node as primary",
             lambda c, n: len(_pinst(c, n))),
    FieldDef("sinst_cnt", "Sinst", QFT_NUMBER,
             "Number of instances with this node as secondary", lambda c, n: len(_sinst(c, n))),
    FieldDef("pinst_list", "PriInstances", QFT_OTHER,
             "List of instances with this node as primary", _pinst),
    FieldDef("sinst_list", "SecInstances", QFT_OTHER,
             "List of instances with this node as secondary", _sinst),
    FieldDef("mtotal", "MTotal", QFT_UNIT, "Total amount of memory of physical machine",
             _live("mtotal")),
    FieldDef("mnode", "MNode", QFT_UNIT, "Amount of memory used by node (dom0 for Xen)",
             _live("mnode")),
    FieldDef("mfree", "MFree", QFT_UNIT, "Memory available for instance allocations",
             _live("mfree")),
    FieldDef("dtotal", "DTotal", QFT_UNIT, "Total disk space in volume group",
             _live("dtotal")),
    FieldDef("dfree", "DFree", QFT_UNIT, "Available disk space in volume group",
             _live("dfree")),
    FieldDef("ctotal", "CTotal", QFT_NUMBER, "Number of logical processors",
             _live("ctotal")),
    FieldDef("cnodes", "CNodes", QFT_NUMBER, "Number of NUMA domains", _live("cnodes")),
    FieldDef("csockets", "CSockets", QFT_NUMBER, "Number of physical CPU sockets",
             _live("csockets")),
    FieldDef("cnos", "CNOs", QFT_NUMBER, "Number of logical processors used by the node OS",
             _live("cnos")),
    FieldDef("bootid", "BootID", QFT_TEXT, "Random UUID renewed for each system reboot",
             _live("bootid")),
]

TABLE = FieldTable(_FIELDS)
LIVE_FIELDS = {"mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal", "cnodes", "csockets",
               "cnos", "bootid"}
