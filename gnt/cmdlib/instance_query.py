"""LUInstanceQueryData: ``gnt-instance info``."""

from __future__ import annotations

import time
from typing import Any

from gnt import constants as C
from gnt.cmdlib.base import FeedbackFn, Level, NoHooksLU
from gnt.cmdlib.common import expand_instance
from gnt.objects import Instance, fill
from gnt.opcodes.instance import OpInstanceQueryData
from gnt.query.instance import InstanceQueryContext, compute_status


def _ts(value: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(value))


class LUInstanceQueryData(NoHooksLU):
    """Configuration and (unless ``static``) runtime data of instances."""

    OP = OpInstanceQueryData
    REQ_BGL = False

    def expand_names(self) -> None:
        op: OpInstanceQueryData = self.op  # type: ignore[assignment]
        if op.instances:
            self.wanted = [expand_instance(self.cfg, n) for n in op.instances]
        else:
            self.wanted = sorted(self.cfg.instances.values(), key=lambda i: i.name)
        if op.use_locking:
            self.needed_locks[Level.INSTANCE] = [i.name for i in self.wanted]
            self.share_all()

    def _live(self) -> InstanceQueryContext:
        cfg = self.cfg
        qctx = InstanceQueryContext(cfg=cfg, have_live=True)
        nodes = {i.primary_node for i in self.wanted}
        online = [u for u in nodes if not cfg.nodes[u].offline]
        for uuid, res in self.ctx.rpc.all_instances_info(
                online, cfg.cluster.enabled_hypervisors).items():
            if res.fail_msg:
                qctx.bad_nodes.add(uuid)
            else:
                qctx.live[uuid] = res.data or {}
        return qctx

    def _one(self, inst: Instance, qctx: InstanceQueryContext | None) -> list[Any]:
        cfg, cl = self.cfg, self.cfg.cluster
        pnode = cfg.nodes[inst.primary_node]
        group = cfg.nodegroups.get(pnode.group)
        if qctx is None:
            run_state = "unknown (static)"
        else:
            info = qctx.live.get(inst.primary_node, {}).get(inst.name)
            run_state = "up" if info else "down"
            if inst.primary_node in qctx.bad_nodes:
                run_state = "unknown (node down)"
        hvp = fill.fill_instance_hv(cl, inst)
        bep = fill.fill_instance_be(cl, inst)
        disks = []
        for idx, d in enumerate(cfg.instance_disks(inst)):
            disks.append((f"disk/{idx}", [
                ("name", d.name), ("uuid", d.uuid), ("type", d.dev_type),
                ("size", f"{d.size}M"), ("access mode", d.mode),
                ("logical_id", " ".join(str(x) for x in d.logical_id) or None),
                ("on primary", d.logical_id[1] if d.dev_type in C.DTS_FILEBASED else None),
            ]))
        nics = []
        for idx, n in enumerate(inst.nics):
            p = fill.fill_nic(cl, n)
            nics.append((f"nic/{idx}", [("MAC", n.mac), ("IP", n.ip), ("mode", p["mode"]),
                                        ("link", p["link"]), ("vlan", p.get("vlan", "")),
                                        ("network", n.network), ("UUID", n.uuid),
                                        ("name", n.name)]))
        status = compute_status(qctx, inst) if qctx is not None else None
        return [
            ("Instance name", inst.name),
            ("UUID", inst.uuid),
            ("Serial number", inst.serial_no),
            ("Creation time", _ts(inst.ctime)),
            ("Modification time", _ts(inst.mtime)),
            ("State", f"configured to be {inst.admin_state}, actual state is {run_state}"
             + (f" ({status})" if status else "")),
            ("Nodes", [("primary", pnode.name),
                       ("group", f"{group.name} (UUID {group.uuid})" if group else None),
                       ("secondaries", [cfg.nodes[u].name for u in
                                        cfg.instance_secondary_nodes(inst)])]),
            ("Operating system", inst.os),
            ("Operating system parameters", fill.fill_os(cl, inst.os, inst.osparams)),
            ("Allocated network port", inst.network_port),
            ("Hypervisor", inst.hypervisor),
            ("Hypervisor parameters", [(k, hvp[k]) for k in sorted(hvp)]),
            ("Back-end parameters", [(k, bep[k]) for k in sorted(bep)]),
            ("NICs", nics),
            ("Disk template", inst.disk_template),
            ("Disks", disks),
        ]

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceQueryData = self.op  # type: ignore[assignment]
        qctx = None if op.static else self._live()
        return {i.name: self._one(i, qctx) for i in self.wanted}
