"""Instance query fields (``gnt-instance list``) and the status computation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt.objects import ConfigData, Instance, fill
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

DEFAULT_FIELDS = ["name", "hypervisor", "os", "pnode", "status", "oper_ram"]


@dataclass
class InstanceQueryContext:
    """Config plus live data: ``live[node_uuid][instance_name]`` = runtime info dict.

    ``bad_nodes``: node UUIDs that could not be asked; ``offline_nodes`` too.
    """

    cfg: ConfigData
    live: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    bad_nodes: set[str] = field(default_factory=set)
    have_live: bool = False


def compute_status(ctx: InstanceQueryContext, inst: Instance) -> str:
    """Ganeti's instance status word from admin state and live data."""
    pnode = ctx.cfg.nodes.get(inst.primary_node)
    if pnode is not None and pnode.offline:
        return C.INSTST_NODEOFFLINE
    if inst.primary_node in ctx.bad_nodes:
        return C.INSTST_NODEDOWN
    for node_uuid, data in ctx.live.items():
        if node_uuid != inst.primary_node and inst.name in data:
            return C.INSTST_WRONGNODE
    info = ctx.live.get(inst.primary_node, {}).get(inst.name)
    if info is not None:
        if info.get("state") == "shutdown":
            # the guest shut itself down; USER_down only where user shutdown is allowed
            if inst.admin_state != C.ADMINST_UP:
                return C.INSTST_ADMINDOWN
            hvp = fill.fill_instance_hv(ctx.cfg.cluster, inst)
            allowed = ctx.cfg.cluster.enabled_user_shutdown and (
                inst.hypervisor != C.HT_KVM or bool(hvp.get("user_shutdown")))
            return C.INSTST_USERDOWN if allowed else C.INSTST_ERRORDOWN
        if inst.admin_state == C.ADMINST_UP:
            return C.INSTST_RUNNING
        return C.INSTST_ERRORUP
    if inst.admin_state == C.ADMINST_UP:
        return C.INSTST_ERRORDOWN
    if inst.admin_state == C.ADMINST_OFFLINE:
        return C.INSTST_ADMINOFFLINE
    if inst.admin_state_source == C.USER_SOURCE:
        return C.INSTST_USERDOWN
    return C.INSTST_ADMINDOWN


def _live(ctx: InstanceQueryContext, inst: Instance) -> dict[str, Any] | None:
    if not ctx.have_live:
        raise Unavailable(RS_NODATA)
    pnode = ctx.cfg.nodes.get(inst.primary_node)
    if pnode is not None and pnode.offline:
        raise Unavailable(RS_OFFLINE)
    if inst.primary_node in ctx.bad_nodes:
        raise Unavailable(RS_NODATA)
    return ctx.live.get(inst.primary_node, {}).get(inst.name)


def _running_info(ctx: InstanceQueryContext, inst: Instance) -> dict[str, Any]:
    """Live data of a running instance; unavailable ("-") when it does not run."""
    info = _live(ctx, inst)
    if not info:
        raise Unavailable()
    return info


def _oper_ram(ctx: InstanceQueryContext, inst: Instance) -> Any:
    return _running_info(ctx, inst)["memory"]


def _oper_vcpus(ctx: InstanceQueryContext, inst: Instance) -> Any:
    return _running_info(ctx, inst)["vcpus"]


def _node_name(ctx: InstanceQueryContext, uuid: str) -> str:
    node = ctx.cfg.nodes.get(uuid)
    return node.name if node else uuid


def _disks(ctx: InstanceQueryContext, inst: Instance) -> list[Any]:
    return ctx.cfg.instance_disks(inst)


def _nicp(ctx: InstanceQueryContext, inst: Instance) -> list[dict[str, Any]]:
    return [fill.fill_nic(ctx.cfg.cluster, n) for n in inst.nics]


def _f(name: str, title: str, kind: str, doc: str, getter: Any) -> FieldDef:
    return FieldDef(name, title, kind, doc, getter)


def _bridges(ctx: InstanceQueryContext, inst: Instance) -> list[Any]:
    return [p["link"] if p["mode"] == C.NIC_MODE_BRIDGED else None for p in _nicp(ctx, inst)]


_FIELDS = [
    _f("name", "Instance", QFT_TEXT, "Instance name", lambda c, i: i.name),
    _f("uuid", "UUID", QFT_TEXT, "Instance UUID", lambda c, i: i.uuid),
    _f("os", "OS", QFT_TEXT, "Operating system", lambda c, i: i.os),
    _f("hypervisor", "Hypervisor", QFT_TEXT, "Hypervisor name", lambda c, i: i.hypervisor),
    _f("disk_template", "Disk_template", QFT_TEXT, "Instance disk template",
       lambda c, i: i.disk_template),
    _f("network_port", "Network_port", QFT_OTHER,
       "Instance network port if available (e.g. for VNC console)",
       lambda c, i: i.network_port),
    _f("serial_no", "SerialNo", QFT_NUMBER, "Instance object serial number",
       lambda c, i: i.serial_no),
    _f("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, i: i.ctime),
    _f("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp", lambda c, i: i.mtime),
    _f("tags", "Tags", QFT_OTHER, "Tags", lambda c, i: list(i.tags)),
    _f("pnode", "Primary_node", QFT_TEXT, "Primary node",
       lambda c, i: _node_name(c, i.primary_node)),
    _f("pnode.group", "PrimaryNodeGroup", QFT_TEXT, "Primary node's group",
       lambda c, i: c.cfg.nodegroups[c.cfg.nodes[i.primary_node].group].name),
    _f("pnode.group.uuid", "PrimaryNodeGroupUUID", QFT_TEXT, "Primary node's group UUID",
       lambda c, i: c.cfg.nodes[i.primary_node].group),
    _f("snodes", "Secondary_Nodes", QFT_OTHER, "Secondary nodes",
       lambda c, i: [_node_name(c, u) for u in c.cfg.instance_secondary_nodes(i)]),
    _f("admin_state", "InstanceState", QFT_TEXT, "Desired state of the instance",
       lambda c, i: i.admin_state),
    _f("admin_state_source", "InstanceStateSource", QFT_TEXT,
       "Who last changed the desired state of the instance", lambda c, i: i.admin_state_source),
    _f("admin_up", "Autostart", QFT_BOOL, "Desired state of the instance is up",
       lambda c, i: i.admin_state == C.ADMINST_UP),
    _f("disks_active", "DisksActive", QFT_BOOL, "Desired state of the instance disks",
       lambda c, i: i.disks_active),
    _f("forthcoming", "Forthcoming", QFT_BOOL, "Whether the instance is forthcoming",
       lambda c, i: i.forthcoming),
    _f("status", "Status", QFT_TEXT, "Instance status", lambda c, i: compute_status(c, i)),
    _f("oper_state", "Running", QFT_BOOL, "Actual state of the instance",
       lambda c, i: _live(c, i) is not None),
    _f("oper_ram", "Memory", QFT_UNIT, "Actual memory usage as seen by hypervisor",
       _oper_ram),
    _f("oper_vcpus", "VCPUs", QFT_NUMBER, "Actual number of VCPUs as seen by hypervisor",
       _oper_vcpus),
    _f("disk_usage", "DiskUsage", QFT_UNIT, "Total disk space used by instance on each of "
       "its nodes", lambda c, i: sum(d.size for d in _disks(c, i))),
    _f("disk.count", "Disks", QFT_NUMBER, "Number of disks", lambda c, i: len(i.disks)),
    _f("disk.sizes", "Disk_sizes", QFT_OTHER, "List of disk sizes",
       lambda c, i: [d.size for d in _disks(c, i)]),
    _f("disk.spindles", "Disk_spindles", QFT_OTHER, "List of disk spindles",
       lambda c, i: [d.spindles for d in _disks(c, i)]),
    _f("disk.names", "Disk_names", QFT_OTHER, "List of disk names",
       lambda c, i: [d.name for d in _disks(c, i)]),
    _f("disk.uuids", "Disk_UUIDs", QFT_OTHER, "List of disk UUIDs",
       lambda c, i: [d.uuid for d in _disks(c, i)]),
    _f("nic.count", "NICs", QFT_NUMBER, "Number of network interfaces",
       lambda c, i: len(i.nics)),
    _f("nic.macs", "NIC_MACs", QFT_OTHER, "List containing each network interface's MAC "
       "address", lambda c, i: [n.mac for n in i.nics]),
    _f("nic.ips", "NIC_IPs", QFT_OTHER, "List containing each network interface's IP "
       "address", lambda c, i: [n.ip for n in i.nics]),
    _f("nic.names", "NIC_Names", QFT_OTHER, "List containing each network interface's name",
       lambda c, i: [n.name for n in i.nics]),
    _f("nic.uuids", "NIC_UUIDs", QFT_OTHER, "List containing each network interface's UUID",
       lambda c, i: [n.uuid for n in i.nics]),
    _f("nic.modes", "NIC_modes", QFT_OTHER, "List containing each network interface's mode",
       lambda c, i: [p["mode"] for p in _nicp(c, i)]),
    _f("nic.links", "NIC_links", QFT_OTHER, "List containing each network interface's link",
       lambda c, i: [p["link"] for p in _nicp(c, i)]),
    _f("nic.vlans", "NIC_VLANs", QFT_OTHER, "List containing each network interface's VLAN",
       lambda c, i: [p.get("vlan", "") for p in _nicp(c, i)]),
    _f("nic.bridges", "NIC_bridges", QFT_OTHER, "List containing each network interface's "
       "bridge", _bridges),
    _f("nic.networks", "NIC_networks", QFT_OTHER, "List containing each interface's network",
       lambda c, i: [n.network for n in i.nics]),
    _f("nic.networks.names", "NIC_networks_names", QFT_OTHER,
       "List containing each interface's network name", lambda c, i: [None for _ in i.nics]),
    _f("hvparams", "HypervisorParameters", QFT_OTHER, "Hypervisor parameters (merged)",
       lambda c, i: fill.fill_instance_hv(c.cfg.cluster, i)),
    _f("beparams", "BackendParameters", QFT_OTHER, "Backend parameters (merged)",
       lambda c, i: fill.fill_instance_be(c.cfg.cluster, i)),
    _f("osparams", "OpSysParameters", QFT_OTHER, "Operating system parameters (merged)",
       lambda c, i: fill.fill_os(c.cfg.cluster, i.os, i.osparams)),
    _f("custom_hvparams", "CustomHypervisorParameters", QFT_OTHER,
       "Custom hypervisor parameters", lambda c, i: dict(i.hvparams)),
    _f("custom_beparams", "CustomBackendParameters", QFT_OTHER, "Custom backend parameters",
       lambda c, i: dict(i.beparams)),
    _f("custom_osparams", "CustomOpSysParameters", QFT_OTHER,
       "Custom operating system parameters", lambda c, i: dict(i.osparams)),
    _f("custom_nicparams", "CustomNicParameters", QFT_OTHER, "Custom network interface "
       "parameters", lambda c, i: [dict(n.nicparams) for n in i.nics]),
    # legacy aliases (NIC 0, memory)
    _f("ip", "IP_address", QFT_TEXT, "IP address of the first NIC",
       lambda c, i: i.nics[0].ip if i.nics else None),
    _f("mac", "MAC_address", QFT_TEXT, "MAC address of the first NIC",
       lambda c, i: i.nics[0].mac if i.nics else None),
    _f("bridge", "Bridge", QFT_TEXT, "Bridge of the first NIC",
       lambda c, i: _bridges(c, i)[0] if i.nics else None),
    _f("nic_mode", "NIC_Mode", QFT_TEXT, "Mode of the first NIC",
       lambda c, i: _nicp(c, i)[0]["mode"] if i.nics else None),
    _f("nic_link", "NIC_Link", QFT_TEXT, "Link of the first NIC",
       lambda c, i: _nicp(c, i)[0]["link"] if i.nics else None),
    _f("vcpus", "VCPUs", QFT_NUMBER, "Number of VCPUs",
       lambda c, i: fill.fill_instance_be(c.cfg.cluster, i)[C.BE_VCPUS]),
    _f("sda_size", "Disk/0", QFT_UNIT, "Size of disk 0", lambda c, i: _disk_attr(c, i, 0)),
    _f("sdb_size", "Disk/1", QFT_UNIT, "Size of disk 1", lambda c, i: _disk_attr(c, i, 1)),
]


def _disk_attr(ctx: InstanceQueryContext, inst: Instance, idx: int, attr: str = "size"
               ) -> Any:
    disks = _disks(ctx, inst)
    if idx >= len(disks):
        raise Unavailable()
    return getattr(disks[idx], attr)


def _nic_attr(ctx: InstanceQueryContext, inst: Instance, idx: int, attr: str) -> Any:
    if idx >= len(inst.nics):
        raise Unavailable()
    if attr in ("mode", "link", "vlan"):
        return _nicp(ctx, inst)[idx].get(attr)
    if attr == "bridge":
        return _bridges(ctx, inst)[idx]
    return getattr(inst.nics[idx], attr)


_NIC_TITLES = {"mac": "NicMAC", "ip": "NicIP", "mode": "NicMode", "link": "NicLink",
               "bridge": "NicBridge", "vlan": "NicVLAN", "name": "NicName", "uuid": "NicUUID",
               "network": "NicNetwork"}
_DISK_TITLES = {"size": ("Disk", QFT_UNIT), "spindles": ("DiskSpindles", QFT_NUMBER),
                "name": ("DiskName", QFT_TEXT), "uuid": ("DiskUUID", QFT_TEXT)}


def _dynamic(name: str) -> FieldDef | None:
    prefix, _, rest = name.partition("/")
    if not rest:
        return None
    if prefix == "hv":
        return FieldDef(name, name, QFT_OTHER, f"The \"{rest}\" hypervisor parameter",
                        lambda c, i: fill.fill_instance_hv(c.cfg.cluster, i).get(rest))
    if prefix == "be":
        key = C.BE_MAXMEM if rest == C.BE_MEMORY else rest
        if key not in C.BES_PARAMETER_TYPES:
            return None
        kind = QFT_UNIT if key in (C.BE_MAXMEM, C.BE_MINMEM) else QFT_OTHER
        return FieldDef(name, name, kind, f"The \"{rest}\" backend parameter",
                        lambda c, i: fill.fill_instance_be(c.cfg.cluster, i)[key])
    if not rest.isdigit():
        return None
    idx = int(rest)
    if prefix.startswith("disk.") and prefix[5:] in _DISK_TITLES:
        attr = prefix[5:]
        title, kind = _DISK_TITLES[attr]
        return FieldDef(name, f"{title}/{idx}", kind, f"Disk {attr} of disk {idx}",
                        lambda c, i: _disk_attr(c, i, idx, attr))
    if prefix.startswith("nic.") and prefix[4:] in _NIC_TITLES:
        attr = prefix[4:]
        return FieldDef(name, f"{_NIC_TITLES[attr]}/{idx}", QFT_TEXT,
                        f"{attr} of network interface {idx}",
                        lambda c, i: _nic_attr(c, i, idx, attr))
    return None


TABLE = FieldTable(_FIELDS, _dynamic)

# fields whose values need live data from the nodes
LIVE_FIELDS = {"status", "oper_state", "oper_ram", "oper_vcpus"}


def needs_live(fields: list[str]) -> bool:
    return any(f in LIVE_FIELDS for f in fields)


__all__ = ["TABLE", "DEFAULT_FIELDS", "InstanceQueryContext", "compute_status",
           "needs_live"]
