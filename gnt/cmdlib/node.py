"""Node LUs: remove a node, change its roles and parameters.

Roles follow Ganeti: the master is always a master candidate; at most one
of *master candidate*, *offline*, *drained* is set; demoting a candidate
below the pool size needs ``auto_promote`` (another node is promoted); a
node that becomes a candidate gets the config and the job queue before the
job ends.
"""

from __future__ import annotations

import logging
from typing import Any

from gnt import constants as C
from gnt import errors, hooks, netutils
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.candidates import can_be_candidate, candidate_stats, promote_candidates
from gnt.cmdlib.common import expand_node
from gnt.objects import Node
from gnt.objects.params import apply_update, check_params
from gnt.opcodes.node import OpNodeRemove, OpNodeSetParams

log = logging.getLogger(__name__)


def _sync_new_candidates(lu: LogicalUnit, nodes: list[Node], feedback: FeedbackFn) -> None:
    """Give newly promoted candidates the config and job queue now."""
    replicator = lu.ctx.extra.get("replicator")
    for node in nodes:
        feedback(f"Promoted {node.name} to master candidate")
        if replicator is not None and not replicator.resync(node.uuid):
            replicator.mark_stale(node.uuid)
            lu.log_warning(f"Could not copy the config and job queue to {node.name} yet;"
                           " retrying in the background")


class LUNodeRemove(LogicalUnit):
    OP = OpNodeRemove
    REQ_BGL = True
    op: OpNodeRemove
    HPATH = "node-remove"
    HTYPE = C.HTYPE_NODE

    def build_hooks_env(self) -> dict[str, Any]:
        return hooks.node_env(self.node.name)

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """Every other node (the removed one gets its post hooks during exec)."""
        nl = hooks.all_nodes(self.cfg, exclude=[self.node.uuid])
        return nl, nl

    def expand_names(self) -> None:
        self.node = expand_node(self.cfg, self.op.node_name)
        self.needed_locks = {Level.NODE: [self.node.uuid], Level.NODE_RES: [self.node.uuid]}

    def check_prereq(self) -> None:
        data = self.cfg
        node = self.node
        if node.uuid == data.cluster.master_node:
            raise errors.OpPrereqError(
                "Node is the master node, failover to another node is required",
                errors.ECODE_INVAL)
        for inst in sorted(data.instances.values(), key=lambda i: i.name):
            if inst.primary_node == node.uuid or node.uuid in data.instance_secondary_nodes(inst):
                raise errors.OpPrereqError(
                    f"Instance {inst.name} is still running on the node, please remove it"
                    " first", errors.ECODE_INVAL)

    def exec(self, feedback: FeedbackFn) -> Any:
        data = self.cfg
        node = self.node
        was_candidate = node.master_candidate
        self.run_post_hooks_now([node.uuid])  # Ganeti: on the removed node, before it goes
        # say goodbye first: once removed from the config the node gets no more RPCs
        res = self.ctx.rpc.call(node.uuid, "node_leave_cluster", [], 10)
        if res.fail_msg and not node.offline:
            self.log_warning(f"Node {node.name} could not be told to leave the cluster"
                             f" ({res.fail_msg}); clean it up by hand")
        promoted: list[Node] = []
        with self.ctx.cfg.lock:
            self.ctx.cfg.remove_node(node.uuid)
            if was_candidate:
                promoted = promote_candidates(data)
                if promoted:
                    self.ctx.cfg.update(*promoted)
        replicator = self.ctx.extra.get("replicator")
        if replicator is not None:
            replicator.forget(node.uuid)
        self.ctx.glm.remove(self.owner, Level.NODE, [node.uuid])
        self.ctx.glm.remove(self.owner, Level.NODE_RES, [node.uuid])
        _sync_new_candidates(self, promoted, feedback)
        return None


_ROLE_FLAGS = ("master_candidate", "offline", "drained")


class LUNodeSetParams(LogicalUnit):
    OP = OpNodeSetParams
    REQ_BGL = True
    op: OpNodeSetParams
    HPATH = "node-modify"
    HTYPE = C.HTYPE_NODE

    def build_hooks_env(self) -> dict[str, Any]:
        op = self.op
        return {"OP_TARGET": self.node.name, "MASTER_CANDIDATE": op.master_candidate,
                "OFFLINE": op.offline, "DRAINED": op.drained,
                "MASTER_CAPABLE": op.master_capable, "VM_CAPABLE": op.vm_capable}

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """The master and the node."""
        nl = hooks.unique([self.cfg.cluster.master_node, self.node.uuid])
        return nl, nl

    def check_arguments(self) -> None:
        op = self.op
        flags = [getattr(op, f) for f in _ROLE_FLAGS]
        if sum(1 for f in flags if f) > 1:
            raise errors.OpPrereqError(
                "Only one of the master candidate, offline and drained flags can be set to"
                " true", errors.ECODE_INVAL)
        if all(getattr(op, f) is None for f in (*_ROLE_FLAGS, "master_capable", "vm_capable",
                                                 "secondary_ip", "ndparams", "powered",
                                                 "hv_state", "disk_state")):
            raise errors.OpPrereqError("Please pass at least one modification",
                                       errors.ECODE_INVAL)
        if op.secondary_ip is not None and not netutils.is_valid_ip4(op.secondary_ip):
            raise errors.OpPrereqError(f"Invalid secondary IP address '{op.secondary_ip}'",
                                       errors.ECODE_INVAL)

    def expand_names(self) -> None:
        self.node = expand_node(self.cfg, self.op.node_name)
        self.needed_locks = {Level.NODE: [self.node.uuid]}

    def check_prereq(self) -> None:
        op, node, data = self.op, self.node, self.cfg
        is_master = node.uuid == data.cluster.master_node
        if is_master and (op.master_candidate is False or op.offline or op.drained
                          or op.master_capable is False):
            raise errors.OpPrereqError(
                f"The master role can be changed only via master failover (node {node.name}"
                " is the master)", errors.ECODE_INVAL)
        self.demoting = node.master_candidate and (
            op.master_candidate is False or bool(op.offline) or bool(op.drained)
            or op.master_capable is False)
        if self.demoting and not op.auto_promote:
            current, desired, _ = candidate_stats(data, exclude={node.uuid})
            if current < desired:  # another node could take its place
                raise errors.OpPrereqError(
                    f"Not enough master candidates (desired {data.cluster.candidate_pool_size},"
                    f" new value will be {current}), please pass auto promote option to allow"
                    " promotion (--auto-promote or RAPI auto_promote=True)",
                    errors.ECODE_STATE)
        if op.master_candidate:
            if node.offline and op.offline is not False:
                raise errors.OpPrereqError(f"Node {node.name} is offline, cannot promote it",
                                           errors.ECODE_STATE)
            if node.drained and op.drained is not False:
                raise errors.OpPrereqError(f"Node {node.name} is drained, cannot promote it",
                                           errors.ECODE_STATE)
            capable = op.master_capable if op.master_capable is not None else \
                node.master_capable
            if not capable:
                raise errors.OpPrereqError(
                    f"Node {node.name} is not master capable, cannot promote it",
                    errors.ECODE_STATE)
        if op.vm_capable is False and data.node_primary_instances(node.uuid):
            raise errors.OpPrereqError(
                f"Node {node.name} has primary instances, cannot unset vm_capable",
                errors.ECODE_STATE)
        if op.offline is False and node.offline or op.master_candidate:
            res = self.ctx.rpc.client.call(node.primary_ip, "version", [], timeout=10,
                                           node_name=node.name)
            if res.fail_msg:
                raise errors.OpPrereqError(
                    f"Node {node.name} is not reachable ({res.fail_msg}); it must answer"
                    " before it can be brought online or promoted", errors.ECODE_ENVIRON)
            if res.data != C.PROTOCOL_VERSION:
                raise errors.OpPrereqError(
                    f"Node {node.name} runs protocol version {res.data}, this cluster"
                    f" {C.PROTOCOL_VERSION}", errors.ECODE_ENVIRON)
        self.new_ndparams = None
        if op.ndparams is not None:
            self.new_ndparams = check_params("node", C.NDS_PARAMETER_TYPES,
                                             apply_update(node.ndparams, op.ndparams))

    def exec(self, feedback: FeedbackFn) -> Any:
        op, node, data = self.op, self.node, self.cfg
        changes: list[tuple[str, Any]] = []

        def setf(attr: str, value: Any, label: str | None = None) -> None:
            if getattr(node, attr) != value:
                setattr(node, attr, value)
                changes.append((label or attr, str(value)))

        promoted: list[Node] = []
        was_candidate, was_offline = node.master_candidate, node.offline
        with self.ctx.cfg.lock:
            if op.master_capable is not None:
                setf("master_capable", op.master_capable)
            if op.vm_capable is not None:
                setf("vm_capable", op.vm_capable)
            if op.offline is not None:
                setf("offline", op.offline)
            if op.drained is not None:
                setf("drained", op.drained)
            if op.master_candidate is not None:
                setf("master_candidate", op.master_candidate)
            for flag in _ROLE_FLAGS:  # setting one role flag clears the others
                if getattr(op, flag):
                    for other in _ROLE_FLAGS:
                        if other != flag:
                            setf(other, False)
            if node.master_candidate and not can_be_candidate(node):
                setf("master_candidate", False)
            if was_offline and not node.offline and not node.master_candidate \
                    and can_be_candidate(node):
                current, desired, _ = candidate_stats(data)
                if current < desired:  # a returning node fills a gap in the pool
                    setf("master_candidate", True)
            if op.secondary_ip is not None:
                setf("secondary_ip", op.secondary_ip)
            if op.powered is not None:
                setf("powered", op.powered)
            if self.new_ndparams is not None and self.new_ndparams != node.ndparams:
                node.ndparams = self.new_ndparams
                changes.append(("ndparams", str(self.new_ndparams)))
            if was_candidate and not node.master_candidate:
                promoted = promote_candidates(data, exclude={node.uuid})
            self.ctx.cfg.update(node, *promoted)
        replicator = self.ctx.extra.get("replicator")
        if node.offline and replicator is not None:
            replicator.forget(node.uuid)
        if was_candidate and not node.master_candidate and not node.offline:
            self.ctx.rpc.call(node.uuid, "jobqueue_purge", [], 30)
        if node.master_candidate and (not was_candidate or was_offline):
            promoted = [node, *promoted]
        _sync_new_candidates(self, promoted, feedback)
        return changes
