"""Node query fields (``gnt-node list``): Ganeti's names, titles, kinds and docs.

Static fields come from the config.  Live fields (memory, CPUs, storage,
boot id) come from the nodes, collected by the master before the query runs
(:mod:`gnt.masterd.queries`) into :class:`NodeQueryContext`:

* ``live[node_uuid]`` maps live field name -> value (sizes in MiB);
* ``bad_nodes`` are nodes whose RPC failed: their live fields are
  ``RS_NODATA``; offline nodes are ``RS_OFFLINE``; a value a node did not
  report (e.g. spindles without exclusive storage) is ``RS_NODATA``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt.objects import ConfigData, Node, fill
from gnt.query import defaults
from gnt.query.base import (
    QFT_BOOL,
    QFT_NUMBER,
    QFT_NUMBER_FLOAT,
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

DEFAULT_FIELDS = defaults.NODE


@dataclass
class NodeQueryContext:
    """Config plus live data per node UUID (see the module doc)."""

    cfg: ConfigData
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad_nodes: set[str] = field(default_factory=set)
    have_live: bool = False
    _instances: dict[str, tuple[list[str], list[str]]] | None = None

    def node_instances(self, node_uuid: str) -> tuple[list[str], list[str]]:
        """Sorted names of the node's primary and secondary instances (an index
        over every instance, built once per query)."""
        if self._instances is None:
            index: dict[str, tuple[list[str], list[str]]] = {}
            for inst in sorted(self.cfg.instances.values(), key=lambda i: i.name):
                index.setdefault(inst.primary_node, ([], []))[0].append(inst.name)
                for snode in self.cfg.instance_secondary_nodes(inst):
                    index.setdefault(snode, ([], []))[1].append(inst.name)
            self._instances = index
        return self._instances.get(node_uuid, ([], []))


# --- fields shared with node groups ----------------------------------------------

#: Ganeti's query kind of each parameter kind (``VTYPE_*`` -> ``QFT_*``)
VTYPE_TO_QFT = {
    C.VTYPE_STRING: QFT_OTHER, C.VTYPE_MAYBE_STRING: QFT_OTHER, C.VTYPE_BOOL: QFT_BOOL,
    C.VTYPE_SIZE: QFT_UNIT, C.VTYPE_INT: QFT_NUMBER, C.VTYPE_FLOAT: QFT_NUMBER_FLOAT,
}

#: titles of the ``ndp/<param>`` fields (parameters without one use the field name)
ND_PARAM_TITLES = {
    C.ND_EXCLUSIVE_STORAGE: "ExclusiveStorage", C.ND_OOB_PROGRAM: "OutOfBandProgram",
    C.ND_OVS: "OpenvSwitch", C.ND_OVS_LINK: "OpenvSwitchLink",
    C.ND_OVS_NAME: "OpenvSwitchName", C.ND_SPINDLE_COUNT: "SpindleCount",
}


def ndparam_fields(merged: Callable[[Any, Any], dict[str, Any]]) -> list[FieldDef]:
    """One ``ndp/<param>`` field per node parameter; ``merged(ctx, item)`` gives
    the item's filled node parameters."""
    out = []
    for name, vtype in sorted(C.NDS_PARAMETER_TYPES.items()):
        fname = f"ndp/{name}"

        def getter(c: Any, item: Any, _name: str = name) -> Any:
            params = merged(c, item)
            if params.get(_name) is None:
                raise Unavailable(RS_NODATA)
            return params[_name]
        out.append(FieldDef(fname, ND_PARAM_TITLES.get(name, fname),
                            VTYPE_TO_QFT.get(vtype, QFT_OTHER),
                            f'The "{name}" node parameter', getter))
    return out


def common_fields(kind: str) -> list[FieldDef]:
    """``uuid``, ``serial_no``, ``ctime``, ``mtime`` and ``tags`` of a ``kind``
    ("Node", "Group") object."""
    return [
        FieldDef("uuid", "UUID", QFT_TEXT, f"{kind} UUID", lambda c, o: o.uuid),
        FieldDef("serial_no", "SerialNo", QFT_NUMBER,
                 f"{kind} object serial number, incremented on each modification",
                 lambda c, o: o.serial_no),
        FieldDef("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, o: o.ctime),
        FieldDef("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp",
                 lambda c, o: o.mtime),
        FieldDef("tags", "Tags", QFT_OTHER, "Tags", lambda c, o: sorted(o.tags)),
    ]


# --- node getters ------------------------------------------------------------------

def merged_ndparams(c: NodeQueryContext, n: Node) -> dict[str, Any]:
    """The node's effective node parameters (cluster -> group -> node)."""
    return fill.fill_nd(c.cfg.cluster, c.cfg.nodegroups.get(n.group), n)


def _group_name(c: NodeQueryContext, n: Node) -> str:
    grp = c.cfg.nodegroups.get(n.group)
    if grp is None:
        raise Unavailable(RS_NODATA)
    return grp.name


def _pinst(c: NodeQueryContext, n: Node) -> list[str]:
    return list(c.node_instances(n.uuid)[0])


def _sinst(c: NodeQueryContext, n: Node) -> list[str]:
    return list(c.node_instances(n.uuid)[1])


def _powered(c: NodeQueryContext, n: Node) -> bool:
    # only known when an out-of-band program can tell
    if not merged_ndparams(c, n).get(C.ND_OOB_PROGRAM):
        raise Unavailable()
    return n.powered


def _live(key: str) -> Callable[[NodeQueryContext, Node], Any]:
    def getter(c: NodeQueryContext, n: Node) -> Any:
        if n.offline:
            raise Unavailable(RS_OFFLINE)
        if not c.have_live or n.uuid in c.bad_nodes:
            raise Unavailable(RS_NODATA)
        value = c.live.get(n.uuid, {}).get(key)
        if value is None:
            raise Unavailable(RS_NODATA)
        return value
    return getter


def _unavailable(c: NodeQueryContext, n: Node) -> Any:
    raise Unavailable()


ROLE_DOC = ('Node role; "M" for master, "C" for master candidate, "R" for regular, '
            '"D" for drained, "O" for offline')

# live fields: name -> (title, kind, doc); values come from the nodes
LIVE_FIELD_DEFS: dict[str, tuple[str, str, str]] = {
    "bootid": ("BootID", QFT_TEXT, ("Random UUID renewed for each system reboot, can be"
                                    " used for detecting reboots by tracking changes")),
    "cnodes": ("CNodes", QFT_NUMBER,
               "Number of NUMA domains on node (if exported by hypervisor)"),
    "cnos": ("CNOs", QFT_NUMBER,
             "Number of logical processors used by the node OS (dom0 for Xen)"),
    "csockets": ("CSockets", QFT_NUMBER,
                 "Number of physical CPU sockets (if exported by hypervisor)"),
    "ctotal": ("CTotal", QFT_NUMBER, "Number of logical processors"),
    "dfree": ("DFree", QFT_UNIT, "Available storage space on storage unit"),
    "dtotal": ("DTotal", QFT_UNIT,
               "Total storage space on storage unit for instance disk allocation"),
    "spfree": ("SpFree", QFT_NUMBER,
               "Available spindles in volume group (exclusive storage only)"),
    "sptotal": ("SpTotal", QFT_NUMBER,
                "Total spindles in volume group (exclusive storage only)"),
    "mfree": ("MFree", QFT_UNIT, "Memory available for instance allocations"),
    "mnode": ("MNode", QFT_UNIT, "Amount of memory used by node (dom0 for Xen)"),
    "mtotal": ("MTotal", QFT_UNIT, "Total amount of memory of physical machine"),
}
LIVE_FIELDS = frozenset(LIVE_FIELD_DEFS)
#: live fields answered by the hypervisor (``node_info``) and by the storage
HV_LIVE_FIELDS = frozenset({"mtotal", "mnode", "mfree", "ctotal", "cnodes", "csockets",
                            "cnos", "bootid"})
STORAGE_LIVE_FIELDS = frozenset({"dtotal", "dfree", "sptotal", "spfree"})

_FIELDS = [
    FieldDef("name", "Node", QFT_TEXT, "Node name", lambda c, n: n.name),
    FieldDef("pip", "PrimaryIP", QFT_TEXT, "Primary IP address", lambda c, n: n.primary_ip),
    FieldDef("sip", "SecondaryIP", QFT_TEXT, "Secondary IP address",
             lambda c, n: n.secondary_ip),
    FieldDef("master", "IsMaster", QFT_BOOL, "Whether node is master",
             lambda c, n: n.uuid == c.cfg.cluster.master_node),
    FieldDef("master_candidate", "MasterC", QFT_BOOL, "Whether node is a master candidate",
             lambda c, n: n.master_candidate),
    FieldDef("master_capable", "MasterCapable", QFT_BOOL,
             "Whether node can become a master candidate", lambda c, n: n.master_capable),
    FieldDef("vm_capable", "VMCapable", QFT_BOOL, "Whether node can host instances",
             lambda c, n: n.vm_capable),
    FieldDef("drained", "Drained", QFT_BOOL, "Whether node is drained",
             lambda c, n: n.drained),
    FieldDef("offline", "Offline", QFT_BOOL, "Whether node is marked offline",
             lambda c, n: n.offline),
    FieldDef("role", "Role", QFT_TEXT, ROLE_DOC,
             lambda c, n: n.role(c.cfg.cluster.master_node)),
    FieldDef("group", "Group", QFT_TEXT, "Node group", _group_name),
    FieldDef("group.uuid", "GroupUUID", QFT_TEXT, "UUID of node group", lambda c, n: n.group),
    FieldDef("ndparams", "NodeParameters", QFT_OTHER, "Merged node parameters",
             merged_ndparams),
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
    FieldDef("powered", "Powered", QFT_BOOL, "Whether node is thought to be powered on",
             _powered),
    FieldDef("hv_state", "HypervisorState", QFT_OTHER, "Hypervisor state", _unavailable),
    FieldDef("disk_state", "DiskState", QFT_OTHER, "Disk state", _unavailable),
    *[FieldDef(name, title, kind, doc, _live(name))
      for name, (title, kind, doc) in LIVE_FIELD_DEFS.items()],
    *ndparam_fields(merged_ndparams),
    *common_fields("Node"),
]

TABLE = FieldTable(_FIELDS)


def live_fields_needed(fields: list[str], qfilter: Any = None) -> set[str]:
    """The live fields among ``fields`` and those the filter mentions."""
    from gnt.query.qlang import filter_fields

    return {f for f in (*fields, *filter_fields(qfilter)) if f in LIVE_FIELDS}

