"""Instance query fields (``gnt-instance list``) and the status computation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt.objects import ConfigData, Instance, fill
from gnt.query import defaults
from gnt.query.base import (
    QFT_BOOL,
    QFT_NUMBER,
    QFT_OTHER,
    QFT_TEXT,
    QFT_TIMESTAMP,
    QFT_UNIT,
    RS_NODATA,
    RS_OFFLINE,
    UNAVAIL,
    FieldDef,
    FieldTable,
    Unavailable,
)

DEFAULT_FIELDS = defaults.INSTANCE


@dataclass
class InstanceQueryContext:
    """Config plus live data: ``live[node_uuid][instance_name]`` = runtime info dict.

    ``bad_nodes``: node UUIDs that could not be asked; ``offline_nodes`` too.
    ``console[instance_name]`` is the console information of running
    instances (only collected when the ``console`` field is asked for).
    Merged parameters are computed once per instance row (:meth:`cached`).
    """

    cfg: ConfigData
    live: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    bad_nodes: set[str] = field(default_factory=set)
    have_live: bool = False
    console: dict[str, Any] = field(default_factory=dict)
    _where: dict[str, list[str]] | None = None
    _memo_item: Any = None
    _memo: dict[str, Any] = field(default_factory=dict)

    def nodes_running(self, name: str) -> list[str]:
        """UUIDs of the nodes that report instance ``name`` (an index built once)."""
        if self._where is None:
            where: dict[str, list[str]] = {}
            for node_uuid, data in self.live.items():
                for iname in data:
                    where.setdefault(iname, []).append(node_uuid)
            self._where = where
        return self._where.get(name, [])

    def cached(self, kind: str, inst: Instance, compute: Any) -> Any:
        """``compute(cluster, inst)`` once per ``kind`` while one instance's row is
        computed (queries go instance by instance)."""
        if inst is not self._memo_item:
            self._memo_item = inst
            self._memo = {}
        value = self._memo.get(kind, _MISSING)
        if value is _MISSING:
            value = self._memo[kind] = compute(self.cfg.cluster, inst)
        return value


_MISSING = object()
#: MiB of DRBD metadata per disk, counted in ``disk_usage``
DRBD_META_SIZE = 128


def compute_status(ctx: InstanceQueryContext, inst: Instance) -> str:
    """Ganeti's instance status word from admin state and live data."""
    pnode = ctx.cfg.nodes.get(inst.primary_node)
    if pnode is not None and pnode.offline:
        return C.INSTST_NODEOFFLINE
    if inst.primary_node in ctx.bad_nodes:
        return C.INSTST_NODEDOWN
    if any(u != inst.primary_node for u in ctx.nodes_running(inst.name)):
        return C.INSTST_WRONGNODE
    info = ctx.live.get(inst.primary_node, {}).get(inst.name)
    if info is not None:
        if info.get("state") == "shutdown":
            # the guest shut itself down; USER_down only where user shutdown is allowed
            if inst.admin_state != C.ADMINST_UP:
                return C.INSTST_ADMINDOWN
            hvp = _hvp(ctx, inst)
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


def _console(ctx: InstanceQueryContext, inst: Instance) -> Any:
    _running_info(ctx, inst)
    info = ctx.console.get(inst.name)
    if info is None:
        raise Unavailable()
    return info


def _node_name(ctx: InstanceQueryContext, uuid: str) -> str:
    node = ctx.cfg.nodes.get(uuid)
    return node.name if node else uuid


def _group_of(ctx: InstanceQueryContext, node_uuid: str) -> str:
    node = ctx.cfg.nodes.get(node_uuid)
    if node is None:
        raise Unavailable(RS_NODATA)
    return node.group


def _group_name(ctx: InstanceQueryContext, group_uuid: str) -> str:
    grp = ctx.cfg.nodegroups.get(group_uuid)
    if grp is None:
        raise Unavailable(RS_NODATA)
    return grp.name


def _snodes(ctx: InstanceQueryContext, inst: Instance) -> list[str]:
    return ctx.cached("snodes", inst, lambda _cl, i: ctx.cfg.instance_secondary_nodes(i))


def _disks(ctx: InstanceQueryContext, inst: Instance) -> list[Any]:
    return ctx.cached("disks", inst, lambda _cl, i: ctx.cfg.instance_disks(i))


def _disk_usage(ctx: InstanceQueryContext, inst: Instance) -> int:
    """MiB used on each node: the disk sizes plus DRBD metadata."""
    return sum(d.size + (DRBD_META_SIZE if d.dev_type == C.DT_DRBD8 else 0)
               for d in _disks(ctx, inst))


def _hvp(ctx: InstanceQueryContext, inst: Instance) -> dict[str, Any]:
    return ctx.cached("hv", inst, fill.fill_instance_hv)  # type: ignore[no-any-return]


def _bep(ctx: InstanceQueryContext, inst: Instance) -> dict[str, Any]:
    return ctx.cached("be", inst, fill.fill_instance_be)  # type: ignore[no-any-return]


def _osp(ctx: InstanceQueryContext, inst: Instance) -> dict[str, Any]:
    return ctx.cached("os", inst,  # type: ignore[no-any-return]
                      lambda cl, i: fill.fill_os(cl, i.os, i.osparams))


def _nicp(ctx: InstanceQueryContext, inst: Instance) -> list[dict[str, Any]]:
    return ctx.cached("nic", inst,  # type: ignore[no-any-return]
                      lambda cl, i: [fill.fill_nic(cl, n) for n in i.nics])


def _network_name(ctx: InstanceQueryContext, net_uuid: str | None) -> str | None:
    if not net_uuid:
        return None
    net = ctx.cfg.networks.get(net_uuid)
    if net is None:
        return None
    return net.get("name") if isinstance(net, dict) else getattr(net, "name", None)


def _f(name: str, title: str, kind: str, doc: str, getter: Any) -> FieldDef:
    return FieldDef(name, title, kind, doc, getter)


def _bridges(ctx: InstanceQueryContext, inst: Instance) -> list[Any]:
    return [p["link"] if p["mode"] == C.NIC_MODE_BRIDGED else None for p in _nicp(ctx, inst)]


def _first(values: list[Any]) -> Any:
    if not values:
        raise Unavailable()
    return values[0]


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
    _f("serial_no", "SerialNo", QFT_NUMBER, "Instance object serial number, incremented on "
       "each modification", lambda c, i: i.serial_no),
    _f("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, i: i.ctime),
    _f("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp", lambda c, i: i.mtime),
    _f("tags", "Tags", QFT_OTHER, "Tags", lambda c, i: list(i.tags)),
    _f("pnode", "Primary_node", QFT_TEXT, "Primary node",
       lambda c, i: _node_name(c, i.primary_node)),
    _f("pnode.group", "PrimaryNodeGroup", QFT_TEXT, "Primary node's group",
       lambda c, i: _group_name(c, _group_of(c, i.primary_node))),
    _f("pnode.group.uuid", "PrimaryNodeGroupUUID", QFT_TEXT, "Primary node's group UUID",
       lambda c, i: _group_of(c, i.primary_node)),
    _f("snodes", "Secondary_Nodes", QFT_OTHER, "Secondary nodes; usually this will just be "
       "one node", lambda c, i: [_node_name(c, u) for u in _snodes(c, i)]),
    _f("snodes.group", "SecondaryNodesGroups", QFT_OTHER, "Node groups of secondary nodes",
       lambda c, i: [_group_name(c, _group_of(c, u)) for u in _snodes(c, i)]),
    _f("snodes.group.uuid", "SecondaryNodesGroupsUUID", QFT_OTHER,
       "Node group UUIDs of secondary nodes",
       lambda c, i: [_group_of(c, u) for u in _snodes(c, i)]),
    _f("admin_state", "InstanceState", QFT_TEXT, "Desired state of the instance",
       lambda c, i: i.admin_state),
    _f("admin_state_source", "InstanceStateSource", QFT_TEXT,
       "Who last changed the desired state of the instance", lambda c, i: i.admin_state_source),
    _f("admin_up", "Autostart", QFT_BOOL, "Desired state of the instance",
       lambda c, i: i.admin_state == C.ADMINST_UP),
    _f("disks_active", "DisksActive", QFT_BOOL, "Desired state of the instance disks",
       lambda c, i: i.disks_active),
    _f("forthcoming", "Forthcoming", QFT_BOOL, "Whether the instance is forthcoming",
       lambda c, i: i.forthcoming),
    _f("status", "Status", QFT_TEXT, "Instance status; \"running\" if instance is set to be "
       "running and actually is, \"ADMIN_down\" if instance is stopped and is not running, "
       "\"ERROR_wrongnode\" if instance running, but not on its designated primary node, "
       "\"ERROR_up\" if instance should be stopped, but is actually running, "
       "\"ERROR_down\" if instance should run, but doesn't, \"ERROR_nodedown\" if instance's "
       "primary node is down, \"ERROR_nodeoffline\" if instance's primary node is marked "
       "offline, \"ADMIN_offline\" if instance is offline and does not use dynamic "
       "resources, \"USER_down\" if the instance was shut down by its user",
       lambda c, i: compute_status(c, i)),
    _f("oper_state", "Running", QFT_BOOL, "Actual state of instance",
       lambda c, i: bool(_live(c, i))),
    _f("oper_ram", "Memory", QFT_UNIT, "Actual memory usage as seen by hypervisor",
       _oper_ram),
    _f("oper_vcpus", "VCPUs", QFT_NUMBER, "Actual number of VCPUs as seen by hypervisor",
       _oper_vcpus),
    _f("console", "Console", QFT_OTHER, "Instance console information", _console),
    _f("disk_usage", "DiskUsage", QFT_UNIT, "Total disk space used by instance on each of "
       "its nodes; this is not the disk size visible to the instance, but the usage on the "
       "node", _disk_usage),
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
       "List containing each interface's network name",
       lambda c, i: [_network_name(c, n.network) for n in i.nics]),
    _f("hvparams", "HypervisorParameters", QFT_OTHER, "Hypervisor parameters (merged)", _hvp),
    _f("beparams", "BackendParameters", QFT_OTHER, "Backend parameters (merged)", _bep),
    _f("osparams", "OpSysParameters", QFT_OTHER, "Operating system parameters (merged)",
       _osp),
    _f("custom_hvparams", "CustomHypervisorParameters", QFT_OTHER,
       "Custom hypervisor parameters", lambda c, i: dict(i.hvparams)),
    _f("custom_beparams", "CustomBackendParameters", QFT_OTHER, "Custom backend parameters",
       lambda c, i: dict(i.beparams)),
    _f("custom_osparams", "CustomOpSysParameters", QFT_OTHER,
       "Custom operating system parameters", lambda c, i: dict(i.osparams)),
    _f("custom_nicparams", "CustomNicParameters", QFT_OTHER, "Custom network interface "
       "parameters", lambda c, i: [dict(n.nicparams) for n in i.nics]),
]


def _nic_attr(ctx: InstanceQueryContext, inst: Instance, idx: int, attr: str) -> Any:
    if idx >= len(inst.nics):
        return UNAVAIL
    if attr in ("mode", "link", "vlan"):
        return _nicp(ctx, inst)[idx].get(attr)
    if attr == "bridge":
        return _bridges(ctx, inst)[idx]
    if attr == "network.name":
        return _network_name(ctx, inst.nics[idx].network)
    return getattr(inst.nics[idx], attr)


_NIC_TITLES = {"mac": "NicMAC", "ip": "NicIP", "mode": "NicMode", "link": "NicLink",
               "bridge": "NicBridge", "vlan": "NicVLAN", "name": "NicName", "uuid": "NicUUID",
               "network": "NicNetwork", "network.name": "NicNetworkName"}
#: NIC attributes read from the NIC object itself (the others need merged parameters)
_NIC_OWN_ATTRS = frozenset({"mac", "ip", "name", "uuid", "network"})
_NIC_DOCS = {"mac": "MAC address", "ip": "IP address", "mode": "mode", "link": "link",
             "bridge": "bridge", "vlan": "VLAN", "name": "name", "uuid": "UUID",
             "network": "network", "network.name": "network name"}
_DISK_TITLES = {"size": ("Disk", QFT_UNIT), "spindles": ("DiskSpindles", QFT_NUMBER),
                "name": ("DiskName", QFT_TEXT), "uuid": ("DiskUUID", QFT_TEXT)}
#: Ganeti's titles of some ``hv/``/``be/`` fields (the others are titled by their name)
_HV_TITLES = {"acpi": "ACPI", "boot_order": "Boot_order",
              "cdrom_image_path": "CDROM_image_path", "disk_type": "Disk_type",
              "initrd_path": "Initrd_path", "kernel_path": "Kernel_path",
              "nic_type": "NIC_type", "pae": "PAE", "vnc_bind_address": "VNC_bind_address"}
_BE_TITLES = {C.BE_AUTO_BALANCE: "Auto_balance", C.BE_MAXMEM: "ConfigMaxMem",
              C.BE_MINMEM: "ConfigMinMem", C.BE_VCPUS: "ConfigVCPUs"}
_hv_kinds: dict[str, str] | None = None


def _hv_parameter_kinds() -> dict[str, str]:
    """Every hypervisor parameter of every hypervisor -> its query kind (loaded once)."""
    global _hv_kinds
    if _hv_kinds is None:
        from gnt import hypervisor
        from gnt.query.node import VTYPE_TO_QFT

        kinds: dict[str, str] = {}
        for hv in C.HYPER_TYPES:
            for pname, pdef in hypervisor.parameters(hv).items():
                kinds.setdefault(pname, VTYPE_TO_QFT.get(pdef.kind, QFT_OTHER))
        _hv_kinds = kinds
    return _hv_kinds


def _hv_field(name: str, param: str, kind: str) -> FieldDef:
    def getter(c: InstanceQueryContext, i: Instance) -> Any:
        params = _hvp(c, i)
        # UNAVAIL: not a parameter of this instance's hypervisor
        return params.get(param, UNAVAIL)
    return FieldDef(name, _HV_TITLES.get(param, name), kind,
                    f"The \"{param}\" hypervisor parameter", getter)


def _be_field(name: str, param: str) -> FieldDef:
    kind = QFT_UNIT if param in (C.BE_MAXMEM, C.BE_MINMEM) else \
        VTYPE_TO_QFT_BE.get(C.BES_PARAMETER_TYPES[param], QFT_OTHER)
    return FieldDef(name, _BE_TITLES.get(param, name), kind,
                    f"The \"{param}\" backend parameter",
                    lambda c, i: _bep(c, i).get(param))


VTYPE_TO_QFT_BE = {C.VTYPE_BOOL: QFT_BOOL, C.VTYPE_INT: QFT_NUMBER, C.VTYPE_SIZE: QFT_UNIT}

#: legacy field names: alias -> the field it stands for (Ganeti's aliases)
ALIASES = {"vcpus": "be/vcpus", "be/memory": "be/maxmem", "sda_size": "disk.size/0",
           "sdb_size": "disk.size/1", "ip": "nic.ip/0", "mac": "nic.mac/0",
           "bridge": "nic.bridge/0", "nic_mode": "nic.mode/0", "nic_link": "nic.link/0",
           "nic_network": "nic.network/0"}


def _dynamic(name: str) -> FieldDef | None:
    target = ALIASES.get(name)
    if target is not None:
        f = _dynamic(target)
        return None if f is None else FieldDef(name, f.title, f.kind, f.doc, f.getter)
    prefix, _, rest = name.partition("/")
    if not rest:
        return None
    if prefix == "hv":
        kind = _hv_parameter_kinds().get(rest)
        return None if kind is None else _hv_field(name, rest, kind)
    if prefix == "be":
        return _be_field(name, rest) if rest in C.BES_PARAMETER_TYPES else None
    if not rest.isdigit():
        return None
    idx = int(rest)
    if prefix.startswith("disk.") and prefix[5:] in _DISK_TITLES and idx < C.MAX_DISKS:
        attr = prefix[5:]
        title, kind = _DISK_TITLES[attr]

        def disk_getter(c: InstanceQueryContext, i: Instance) -> Any:
            if idx >= len(i.disks):
                return UNAVAIL
            return getattr(_disks(c, i)[idx], attr)
        return FieldDef(name, f"{title}/{idx}", kind, f"Disk {attr} of disk {idx}",
                        disk_getter)
    if prefix.startswith("nic.") and prefix[4:] in _NIC_TITLES and idx < C.MAX_NICS:
        attr = prefix[4:]
        if attr in _NIC_OWN_ATTRS:
            def nic_getter(c: InstanceQueryContext, i: Instance) -> Any:
                nics = i.nics
                return getattr(nics[idx], attr) if idx < len(nics) else UNAVAIL
        else:
            def nic_getter(c: InstanceQueryContext, i: Instance) -> Any:
                return _nic_attr(c, i, idx, attr) if idx < len(i.nics) else UNAVAIL
        return FieldDef(name, f"{_NIC_TITLES[attr]}/{idx}", QFT_TEXT,
                        f"{_NIC_DOCS[attr]} of network interface {idx}", nic_getter)
    return None


def _listed() -> list[str]:
    """The names of the parametrised fields ``list-fields`` shows."""
    names = [f"hv/{p}" for p in _hv_parameter_kinds()]
    names += [f"be/{p}" for p in C.BES_PARAMETER_TYPES]
    names += [f"disk.{a}/{n}" for a in _DISK_TITLES for n in range(C.MAX_DISKS)]
    names += [f"nic.{a}/{n}" for a in _NIC_TITLES for n in range(C.MAX_NICS)]
    return names + list(ALIASES)


TABLE = FieldTable(_FIELDS, _dynamic, _listed)

# fields whose values need live data from the nodes
LIVE_FIELDS = frozenset({"status", "oper_state", "oper_ram", "oper_vcpus", "console"})


def needs_live(fields: list[str]) -> bool:
    return any(f in LIVE_FIELDS for f in fields)


__all__ = [
    "ALIASES",
    "DEFAULT_FIELDS",
    "LIVE_FIELDS",
    "TABLE",
    "InstanceQueryContext",
    "compute_status",
    "needs_live",
]
