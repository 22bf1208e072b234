"""Cluster verification: config consistency, node reachability and versions, instances.

Messages follow Ganeti's format: ``  - ERROR: node node1: message``, or with
``--error-codes`` ``  - ERROR:ENODERPC:node:node1:message``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from gnt import constants as C
from gnt import hooks
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, NoHooksLU
from gnt.cmdlib.ipolicy import verify_group_instances
from gnt.cmdlib.verify_orphans import verify_orphan_volumes
from gnt.config.ssconf import compute_values
from gnt.masterd.noderpc import TMO_FAST
from gnt.opcodes.cluster import OpClusterVerify, OpClusterVerifyConfig, OpClusterVerifyGroup

# (item type, code) as Ganeti's cluster-verify error codes
ECLUSTERCFG = ("cluster", "ECLUSTERCFG")
EINSTANCEBADNODE = ("instance", "EINSTANCEBADNODE")
EINSTANCEDOWN = ("instance", "EINSTANCEDOWN")
EINSTANCEWRONGNODE = ("instance", "EINSTANCEWRONGNODE")
EINSTANCELAYOUT = ("instance", "EINSTANCELAYOUT")
ENODERPC = ("node", "ENODERPC")
ENODEVERSION = ("node", "ENODEVERSION")
ENODEORPHANINSTANCE = ("node", "ENODEORPHANINSTANCE")
ENODEHV = ("node", "ENODEHV")
ENODEFILECHECK = ("node", "ENODEFILECHECK")
ENODEHOOKS = ("node", "ENODEHOOKS")


class _VerifyLU(NoHooksLU):
    REQ_BGL = False

    def _setup(self) -> None:
        self.bad = False

    def _error(self, code: tuple[str, str], item: str, msg: str, warning: bool = False
               ) -> None:
        op: Any = self.op
        ltype = "WARNING" if warning else "ERROR"
        if code[1] in op.ignore_errors:
            ltype = "WARNING"
        if op.error_codes:
            line = f"{ltype}:{code[1]}:{code[0]}:{item}:{msg}"
        else:
            line = f"{ltype}: {code[0]} {item}: {msg}" if item else f"{ltype}: {msg}"
        self.log_info(f"  - {line}")
        if ltype == "ERROR":
            self.bad = True


class LUClusterVerify(NoHooksLU):
    """Submit one config-verify job and one job per node group."""

    OP = OpClusterVerify
    REQ_BGL = False

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpClusterVerify = self.op  # type: ignore[assignment]
        common = dict(verbose=op.verbose, error_codes=op.error_codes,
                      debug_simulate_errors=op.debug_simulate_errors,
                      ignore_errors=op.ignore_errors, priority=op.priority)
        groups = [g.name for g in self.cfg.nodegroups.values()
                  if op.group_name in (None, g.name)]
        jobs = [[OpClusterVerifyConfig(**common)]] if op.group_name is None else []
        jobs += [[OpClusterVerifyGroup(group_name=g, skip_checks=op.skip_checks, **common)]
                 for g in sorted(groups)]
        return {"jobs": self.ctx.queue.submit_many(jobs)}


class LUClusterVerifyConfig(_VerifyLU):
    """Internal consistency of the configuration."""

    OP = OpClusterVerifyConfig

    def expand_names(self) -> None:
        self.share_all()

    def exec(self, feedback: FeedbackFn) -> Any:
        self._setup()
        cfg = self.cfg
        feedback("* Verifying cluster config")
        if cfg.cluster.master_node not in cfg.nodes:
            self._error(ECLUSTERCFG, "", "master node not in the node list")
        for node in cfg.nodes.values():
            if node.group not in cfg.nodegroups:
                self._error(ECLUSTERCFG, "", f"node {node.name} in unknown group {node.group}")
        names = Counter(i.name for i in cfg.instances.values())
        for name, count in names.items():
            if count > 1:
                self._error(ECLUSTERCFG, "", f"instance name {name} used {count} times")
        macs = Counter(n.mac for i in cfg.instances.values() for n in i.nics)
        for mac, count in macs.items():
            if count > 1:
                self._error(ECLUSTERCFG, "", f"MAC address {mac} used {count} times")
        ports = Counter(i.network_port for i in cfg.instances.values() if i.network_port)
        for port, count in ports.items():
            if count > 1:
                self._error(ECLUSTERCFG, "", f"network port {port} used {count} times")
        for inst in cfg.instances.values():
            if inst.primary_node not in cfg.nodes:
                self._error(EINSTANCEBADNODE, inst.name,
                            f"primary node {inst.primary_node} not in the config")
            for d in inst.disks:
                if d not in cfg.disks:
                    self._error(EINSTANCELAYOUT, inst.name, f"disk {d} not in the config")
                elif any(n not in cfg.nodes for n in cfg.disks[d].nodes):
                    self._error(EINSTANCELAYOUT, inst.name, f"disk {d} on unknown node(s)")
            if inst.hypervisor not in cfg.cluster.enabled_hypervisors:
                self._error(ECLUSTERCFG, "", f"instance {inst.name} uses disabled "
                            f"hypervisor {inst.hypervisor}")
        # disks of no instance are detached disks (Ganeti 3.0), not errors
        return not self.bad


class LUClusterVerifyGroup(_VerifyLU):
    """Nodes of one group: reachability, versions, instances where the config says."""

    OP = OpClusterVerifyGroup
    HPATH = "cluster-verify"
    HTYPE = C.HTYPE_CLUSTER
    _HOOKS_INDENT_RE = re.compile("^", re.MULTILINE)

    def _hooks_group_nodes(self) -> list[str]:
        group = self.cfg.group_by_name(self.op.group_name)  # type: ignore[attr-defined]
        return hooks.group_nodes(self.cfg, group) if group is not None else []

    def build_hooks_env(self) -> dict[str, Any]:
        env = {"CLUSTER_TAGS": " ".join(self.cfg.cluster.tags)}
        for uuid in self._hooks_group_nodes():
            node = self.cfg.nodes[uuid]
            env[f"NODE_TAGS_{node.name}"] = " ".join(node.tags)
        return env

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """No pre hooks; post hooks on every node of the group."""
        return [], self._hooks_group_nodes()

    def hooks_callback(self, phase: str, results: Any, result: Any) -> Any:
        """Post-hook failures are verify errors (Ganeti's ENODEHOOKS)."""
        if phase != C.HOOKS_PHASE_POST or not results:
            return result
        self.log_info("* Hooks Results")
        ok = True
        for res in results.values():
            if res.offline:
                continue
            if res.fail_msg:
                self._error(ENODEHOOKS, res.node,
                            f"Communication failure in hooks execution: {res.fail_msg}")
                ok = False
                continue
            for script in res.failed_scripts:
                self._error(ENODEHOOKS, res.node, f"Script {script.name} failed, output:")
                self.log_info(self._HOOKS_INDENT_RE.sub("      ", script.output))
                ok = False
        return bool(result) and ok

    def expand_names(self) -> None:
        self.needed_locks[Level.NODE] = ALL_SET
        self.share_all()

    def exec(self, feedback: FeedbackFn) -> Any:
        self._setup()
        op: OpClusterVerifyGroup = self.op  # type: ignore[assignment]
        cfg = self.cfg
        group = cfg.group_by_name(op.group_name)
        if group is None:
            self._error(ECLUSTERCFG, "", f"unknown group {op.group_name}")
            return False
        nodes = [n for n in cfg.nodes.values() if n.group == group.uuid]
        online = [n for n in nodes if not n.offline]
        feedback(f"* Verifying group '{group.name}'")
        feedback(f"* Gathering data ({len(online)} nodes)")
        versions = self.ctx.rpc.version([n.uuid for n in online])
        hvs = cfg.cluster.enabled_hypervisors
        live = self.ctx.rpc.all_instances_info([n.uuid for n in online], hvs)
        feedback("* Verifying node status")
        reachable: dict[str, dict[str, Any]] = {}
        for node in online:
            res = versions[node.uuid]
            if res.fail_msg:
                self._error(ENODERPC, node.name, f"while contacting node: {res.fail_msg}")
                continue
            if res.data != C.PROTOCOL_VERSION:
                self._error(ENODEVERSION, node.name, f"incompatible protocol versions: master"
                            f" {C.PROTOCOL_VERSION}, node {res.data}")
            lres = live[node.uuid]
            if lres.fail_msg:
                self._error(ENODEHV, node.name, f"cannot list instances: {lres.fail_msg}")
                continue
            reachable[node.uuid] = lres.data or {}
        self._verify_replicas(cfg, [n for n in online if n.uuid in reachable], feedback)
        feedback("* Verifying instance status")
        verify_group_instances(cfg, group.uuid, self._error)  # instance policy warnings
        by_name = {i.name: i for i in cfg.instances.values()}
        for inst in sorted(cfg.instances.values(), key=lambda i: i.name):
            pnode = cfg.nodes.get(inst.primary_node)
            if pnode is None or pnode.group != group.uuid or pnode.uuid not in reachable:
                continue
            running_here = inst.name in reachable[pnode.uuid]
            elsewhere = [cfg.nodes[u].name for u, data in reachable.items()
                         if u != pnode.uuid and inst.name in data]
            if inst.admin_state == C.ADMINST_UP and not running_here:
                if elsewhere:
                    self._error(EINSTANCEWRONGNODE, inst.name,
                                f"instance running on the wrong node(s) {', '.join(elsewhere)}")
                else:
                    self._error(EINSTANCEDOWN, inst.name,
                                "instance not running on its primary node "
                                f"{pnode.name}")
        verify_orphan_volumes(self.ctx, cfg, [cfg.nodes[u] for u in reachable], self._error,
                              feedback)
        feedback("* Verifying orphan instances")
        for uuid, data in reachable.items():
            for name in sorted(data):
                inst = by_name.get(name)
                if inst is None or inst.primary_node != uuid:
                    self._error(ENODEORPHANINSTANCE, cfg.nodes[uuid].name,
                                f"instance {name}, should not run on this node")
        return not self.bad

    def _verify_replicas(self, cfg: Any, nodes: list[Any], feedback: FeedbackFn) -> None:
        """ssconf files on every node and config replicas on candidates match the master's."""
        feedback("* Verifying configuration file consistency")
        replicator = self.ctx.extra.get("replicator")
        if replicator is not None:  # pushes under way (group commit) are not faults
            replicator.flush_ssconf()
            replicator.wait_config()
        expected = compute_values(cfg)
        master = cfg.cluster.master_node
        states = self.ctx.rpc.call_many([n.uuid for n in nodes], "node_replica_state", [],
                                        TMO_FAST)
        for node in sorted(nodes, key=lambda n: n.name):
            res = states[node.uuid]
            if res.fail_msg:
                self._error(ENODERPC, node.name, f"cannot read its replicas: {res.fail_msg}")
                continue
            have = res.data.get("ssconf") or {}
            bad = sorted(k for k, v in expected.items() if have.get(k, "").strip() != v.strip())
            if bad:
                self._error(ENODEFILECHECK, node.name, "ssconf file(s) differ from the"
                            f" master's: {', '.join('ssconf_' + k for k in bad)}")
            if node.master_candidate and node.uuid != master:
                serial = res.data.get("config_serial")
                if serial != cfg.serial_no:
                    self._error(ENODEFILECHECK, node.name, "configuration replica is at serial"
                                f" {serial}, the master's at {cfg.serial_no} (not yet"
                                " resynchronised)")
