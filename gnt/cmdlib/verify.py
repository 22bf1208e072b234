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
from gnt.cmdlib.verify_orphans import orphan_directories, verify_orphan_volumes
from gnt.config.ssconf import compute_values
from gnt.config.ssconf import digest as ssconf_digest
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
_EMPTY = ssconf_digest("")  # a missing ssconf file compares as an empty one


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
    #: nodes to run the post hooks on, once ``exec`` asked (None: all of the group)
    _hook_nodes: set[str] | None = None

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

    def prepare_post_hooks_nodes(self, nodes: list[str]) -> list[str]:
        """Of the group's nodes, those that have post hooks to run (as their
        ``node_verify`` answer says) or did not say."""
        known = self._hook_nodes
        return nodes if known is None else [n for n in nodes if n in known]

    def hooks_callback(self, phase: str, results: Any, result: Any) -> Any:
        """Post-hook failures are verify errors (Ganeti's ENODEHOOKS)."""
        if phase != C.HOOKS_PHASE_POST or not self._hooks_group_nodes():
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
        replicator = self.ctx.extra.get("replicator")
        pending: set[str] = set()
        if replicator is not None:  # pushes under way (group commit) are not faults:
            replicator.wait_config()  # the candidates' is waited for,
            pending = replicator.ssconf_pending()  # the other nodes' keys skipped
        dirs = orphan_directories(cfg)
        # one round of RPCs: every check of every node in one call
        answers = self.ctx.rpc.node_verify(
            [n.uuid for n in online], {"version": None, "replica": None, "volumes": dirs,
                                       "instances": cfg.cluster.enabled_hypervisors,
                                       "hooks": [self.HPATH, C.HOOKS_PHASE_POST]})
        # the post hooks go only where there are scripts to run (or no answer):
        # a hooks round to every node of a 40-node group costs about 50 ms
        self._hook_nodes = {uuid for uuid, res in answers.items()
                            if res.fail_msg or (res.data or {}).get("hooks") != [True, False]}
        feedback("* Verifying node status")
        reachable: dict[str, dict[str, Any]] = {}
        replicas: dict[str, list[Any]] = {}
        volumes: dict[str, dict[str, list[dict[str, Any]]]] = {d: {} for d in dirs}
        for node in online:
            res = answers[node.uuid]
            if res.fail_msg:
                self._error(ENODERPC, node.name, f"while contacting node: {res.fail_msg}")
                continue
            data = res.data if isinstance(res.data, dict) else {}
            version = (data.get("version") or [False, None])[1]
            if version != C.PROTOCOL_VERSION:
                self._error(ENODEVERSION, node.name, f"incompatible protocol versions: master"
                            f" {C.PROTOCOL_VERSION}, node {version}")
            ok, live = data.get("instances") or [False, "no answer"]
            if not ok:
                self._error(ENODEHV, node.name, f"cannot list instances: {live}")
                continue
            reachable[node.uuid] = live or {}
            replicas[node.uuid] = data.get("replica") or [False, "no answer"]
            for d, (ok, vols) in (data.get("volumes") or {}).items():
                if ok and d in volumes:
                    volumes[d][node.uuid] = list(vols or [])
        self._verify_replicas(cfg, [n for n in online if n.uuid in reachable], replicas,
                              pending, feedback)
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
                              feedback, volumes)
        feedback("* Verifying orphan instances")
        for uuid, data in reachable.items():
            for name in sorted(data):
                inst = by_name.get(name)
                if inst is None or inst.primary_node != uuid:
                    self._error(ENODEORPHANINSTANCE, cfg.nodes[uuid].name,
                                f"instance {name}, should not run on this node")
        return not self.bad

    def _verify_replicas(self, cfg: Any, nodes: list[Any], replicas: dict[str, list[Any]],
                         pending: set[str], feedback: FeedbackFn) -> None:
        """ssconf files on every node and config replicas on candidates match the
        master's; ``replicas`` are the nodes' ``node_verify`` answers, ``pending``
        the ssconf keys still on their way to the nodes other than candidates."""
        feedback("* Verifying configuration file consistency")
        expected = {k: ssconf_digest(v) for k, v in compute_values(cfg).items()}
        master = cfg.cluster.master_node
        for node in sorted(nodes, key=lambda n: n.name):
            ok, state = replicas[node.uuid]
            if not ok:
                self._error(ENODERPC, node.name, f"cannot read its replicas: {state}")
                continue
            have = state.get("ssconf_digests") or {}
            skip = set() if node.master_candidate and node.uuid != master else pending
            bad = sorted(k for k, v in expected.items()
                         if k not in skip and have.get(k, _EMPTY) != v)
            if bad:
                self._error(ENODEFILECHECK, node.name, "ssconf file(s) differ from the"
                            f" master's: {', '.join('ssconf_' + k for k in bad)}")
            if node.master_candidate and node.uuid != master:
                serial = state.get("config_serial")
                if serial != cfg.serial_no:
                    self._error(ENODEFILECHECK, node.name, "configuration replica is at serial"
                                f" {serial}, the master's at {cfg.serial_no} (not yet"
                                " resynchronised)")
