"""``gnt-instance move``: copy a stopped instance's disks to another node.

Ganeti's ``LUInstanceMove``: only disks of the templates in
:data:`constants.DTS_COPYABLE` (``plain``, ``file``: local to one node)
can be copied; a diskless instance just changes node.  The steps:

1. shut the instance down on the source (``--ignore-consistency``: go on
   when that fails);
2. create the disks on the target;
3. copy each disk node to node (:class:`DiskCopier`, protocol in
   :mod:`gnt.noded.disk_transfer`): streamed, SHA-256 on both ends,
   progress in the job log;
4. the config names the target (instance and disks), the source disks are
   removed, and the instance starts on the target if it is marked up.

Until step 4 every failure rolls back: the target's new disks are
removed, the config still names the source, whose disks were only read,
and the instance is started again on the source if it was running.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from gnt import constants as C
from gnt import errors, hooks
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import (
    bdev_specs,
    check_node_free_memory,
    disk_bdev_specs,
    expand_instance,
    expand_node,
    instance_spec,
)
from gnt.cmdlib.ipolicy import TARGET, check_instance_ipolicy
from gnt.cmdlib.migration import check_target_node
from gnt.objects import Disk, Instance, Node, fill
from gnt.opcodes.mobility import OpInstanceMove
from gnt.rpc.result import RpcResult
from gnt.storage.base import BlockDevSpec

MIB = 1024 * 1024
#: s between progress lines in the job log
PROGRESS_INTERVAL = 2.0
#: s between status polls of the two ends
POLL_INTERVAL = 0.25
#: s without a byte written on the target before the copy is abandoned
STALL_TIMEOUT = 60.0
#: consecutive unanswered status polls of one end before the copy is abandoned
MAX_UNANSWERED = 8


def _check(res: RpcResult, what: str) -> None:
    """Raise OpExecError ``what: <node's error>`` when the call failed."""
    if res.fail_msg:
        raise errors.OpExecError(f"{what}: {res.fail_msg}")


def _fmt_eta(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else \
        f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class DiskCopier:
    """Copies disks from ``source`` to ``target`` through their node daemons.

    ``copy(disk)`` returns the SHA-256 both ends agree on; raises
    OpExecError when either end fails, stops answering, stalls, or the
    digests differ.  The sessions on both nodes are always cleaned up.
    """

    def __init__(self, lu: LogicalUnit, source: Node, target: Node,
                 feedback: FeedbackFn) -> None:
        self.lu, self.rpc = lu, lu.ctx.rpc
        self.source, self.target = source, target
        self.feedback = feedback

    def copy(self, disk: Disk, label: str) -> str:
        spec = disk_bdev_specs([disk])[0]
        tid = uuid.uuid4().hex
        try:
            return self._copy(spec, tid, label)
        finally:
            for node in (self.source, self.target):
                self.rpc.disk_transfer_cleanup(node.uuid, tid)

    def _copy(self, spec: BlockDevSpec, tid: str, label: str) -> str:
        src, dst = self.source, self.target
        res = self.rpc.disk_export_prepare(src.uuid, spec, tid)
        _check(res, f"Cannot read {label} on the source node {src.name}")
        res = self.rpc.disk_import_start(dst.uuid, spec, tid, src.primary_ip,
                                         self.rpc.client.port)
        _check(res, f"Cannot start copying {label} to node {dst.name}")
        total = spec.size * MIB
        start = last_change = last_line = time.monotonic()
        done = -1
        unanswered = {src.uuid: 0, dst.uuid: 0}
        while True:
            time.sleep(POLL_INTERVAL)
            now = time.monotonic()
            st: dict[str, dict[str, Any]] = {}
            for node in (src, dst):
                r = self.rpc.disk_transfer_status(node.uuid, tid)
                if r.fail_msg:
                    unanswered[node.uuid] += 1
                    if unanswered[node.uuid] >= MAX_UNANSWERED or r.remote_error:
                        raise errors.OpExecError(
                            f"Copy of {label} failed: node {node.name} does not answer "
                            f"about it: {r.fail_msg}")
                    continue
                unanswered[node.uuid] = 0
                st[node.uuid] = r.data
                if r.data["state"] == "failed":
                    raise errors.OpExecError(f"Copy of {label} failed on node {node.name}: "
                                             f"{r.data['error']}")
            if dst.uuid in st and st[dst.uuid]["bytes"] != done:
                done, last_change = st[dst.uuid]["bytes"], now
            elif now - last_change > STALL_TIMEOUT:
                raise errors.OpExecError(f"Copy of {label} stalled: nothing written on "
                                         f"{dst.name} for {STALL_TIMEOUT:.0f}s")
            if len(st) == 2 and all(s["state"] == "done" for s in st.values()):
                break
            if now - last_line >= PROGRESS_INTERVAL and done >= 0:
                last_line = now
                rate = done / max(now - start, 1e-6)
                eta = (total - done) / rate if rate > 0 else 0
                self.feedback(f"  - {label}: {done / MIB:.1f} of {total / MIB:.1f} MiB "
                              f"({100.0 * done / max(total, 1):.1f} %), "
                              f"{rate / MIB:.1f} MiB/s, ETA {_fmt_eta(eta)}")
        sent, got = st[src.uuid]["sha256"], st[dst.uuid]["sha256"]
        if not sent or sent != got:
            raise errors.OpExecError(
                f"Copy of {label} is corrupt: SHA-256 read on {src.name} is {sent}, "
                f"written on {dst.name} is {got}")
        secs = max(time.monotonic() - start, 1e-6)
        sparse = st[dst.uuid].get("zero_skipped", 0)
        self.feedback(f"  - {label}: {total / MIB:.1f} MiB copied in {secs:.1f}s "
                      f"({total / MIB / secs:.1f} MiB/s), sha256 {got[:16]}..., "
                      f"{sparse / MIB:.0f} MiB left sparse")
        return str(got)


class LUInstanceMove(LogicalUnit):
    """Move an instance by copying its disks (``gnt-instance move``)."""

    OP = OpInstanceMove
    REQ_BGL = False
    HPATH = "instance-move"
    HTYPE = C.HTYPE_INSTANCE

    def check_arguments(self) -> None:
        op: OpInstanceMove = self.op  # type: ignore[assignment]
        if op.compress != "none":
            raise errors.OpPrereqError(
                f"Transport compression '{op.compress}' is not supported by gnt's move "
                f"(the copy is node to node over TLS); use 'none'", errors.ECODE_INVAL)

    def expand_names(self) -> None:
        op: OpInstanceMove = self.op  # type: ignore[assignment]
        self.instance: Instance = expand_instance(self.cfg, op.instance_name)
        self.target: Node = expand_node(self.cfg, op.target_node)
        nodes = sorted({self.instance.primary_node, self.target.uuid})
        self.needed_locks[Level.INSTANCE] = [self.instance.name]
        self.needed_locks[Level.NODE] = nodes
        self.needed_locks[Level.NODE_RES] = list(nodes)

    def check_prereq(self) -> None:
        op: OpInstanceMove = self.op  # type: ignore[assignment]
        inst = self.instance = expand_instance(self.cfg, self.instance.name)
        if inst.primary_node not in self.needed_locks[Level.NODE]:
            raise errors.OpPrereqError(f"Instance {inst.name} changed node while waiting "
                                       f"for the locks; retry", errors.ECODE_STATE)
        self.source: Node = self.cfg.get_node(inst.primary_node)
        self.target = self.cfg.get_node(self.target.uuid)
        if inst.admin_state == C.ADMINST_OFFLINE:
            raise errors.OpPrereqError(f"Instance {inst.name} is marked offline",
                                       errors.ECODE_STATE)
        self.disks: list[Disk] = self.cfg.instance_disks(inst)
        for idx, d in enumerate(self.disks):
            if d.dev_type not in C.DTS_COPYABLE:
                raise errors.OpPrereqError(
                    f"Instance disk {idx} has disk type {d.dev_type} and is not suitable "
                    f"for copying (copyable: {', '.join(C.DTS_COPYABLE)}; shared storage "
                    f"moves with 'gnt-instance failover/migrate -n')", errors.ECODE_STATE)
        if self.target.uuid == self.source.uuid:
            raise errors.OpPrereqError(f"Instance {inst.name} is already on the node "
                                       f"{self.target.name}", errors.ECODE_STATE)
        check_target_node(self, inst, self.source, self.target, "move")
        check_instance_ipolicy(self.cfg, inst, self.target, op.ignore_ipolicy,
                               self.log_warning, mode=TARGET)
        if inst.admin_state == C.ADMINST_UP:
            maxmem = int(fill.fill_instance_be(self.cfg.cluster, inst)[C.BE_MAXMEM])
            check_node_free_memory(self.ctx, self.target, f"moving instance {inst.name}",
                                   maxmem, inst.hypervisor)
        else:
            self.log_info("Not checking memory on the target node as the instance will "
                          "not be started")

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceMove = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, override={
            "TARGET_NODE": self.target.name, "SHUTDOWN_TIMEOUT": op.shutdown_timeout})

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        nl = hooks.unique([self.cfg.cluster.master_node, self.source.uuid, self.target.uuid])
        return nl, nl

    # --- exec ---
    def _was_running(self) -> bool:
        res = self.ctx.rpc.instance_info(self.source.uuid, self.instance.hypervisor,
                                         self.instance.name)
        return not res.fail_msg and bool(res.data)

    def _shutdown_source(self, feedback: FeedbackFn) -> None:
        op: OpInstanceMove = self.op  # type: ignore[assignment]
        inst, src = self.instance, self.source
        feedback(f"* shutting down instance {inst.name} on source node {src.name}")
        res = self.ctx.rpc.instance_shutdown(src.uuid, inst.hypervisor, inst.name,
                                             op.shutdown_timeout)
        if res.fail_msg:
            msg = f"Could not shutdown instance {inst.name} on node {src.name}"
            if not op.ignore_consistency:
                raise errors.OpExecError(f"{msg}: {res.fail_msg}")
            self.log_warning(f"{msg}. Proceeding anyway. Please make sure node {src.name} "
                             f"is down. Error details: {res.fail_msg}")

    def _remove_disks(self, node: Node, specs: list[BlockDevSpec]) -> None:
        for b in specs:
            res = self.ctx.rpc.blockdev_remove(node.uuid, b)
            if res.fail_msg:
                self.log_warning(f"Could not remove disk {b.iv_name} ({b.uuid}) on node "
                                 f"{node.name}: {res.fail_msg}; remove it manually")

    def _start(self, node: Node) -> str | None:
        """Start the instance on ``node``; the error message, None when it runs."""
        res = self.ctx.rpc.instance_start(node.uuid, instance_spec(self.cfg, self.instance),
                                          bdev_specs(self.cfg, self.instance))
        return res.fail_msg or None

    def _rollback(self, created: list[BlockDevSpec], was_running: bool,
                  feedback: FeedbackFn) -> None:
        if created:
            feedback(f"* removing the new disks on {self.target.name}")
            self._remove_disks(self.target, created)
        if was_running:
            feedback(f"* starting instance {self.instance.name} again on "
                     f"{self.source.name}")
            err = self._start(self.source)
            if err:
                self.log_warning(f"Could not restart instance {self.instance.name} on "
                                 f"{self.source.name}: {err}")

    def _set_primary(self) -> None:
        inst = self.ctx.cfg.data.instances[self.instance.uuid]
        disks = self.cfg.instance_disks(inst)
        inst.primary_node = self.target.uuid
        for d in disks:
            d.nodes = [self.target.uuid]
        self.ctx.cfg.update(inst, *disks)
        self.instance = inst

    def exec(self, feedback: FeedbackFn) -> Any:
        inst, src, dst = self.instance, self.source, self.target
        was_running = self._was_running()
        self._shutdown_source(feedback)
        specs = disk_bdev_specs(self.disks)
        created: list[BlockDevSpec] = []
        try:
            for b in specs:
                feedback(f"* creating disk {b.iv_name} ({b.size} MiB) on {dst.name}")
                res = self.ctx.rpc.blockdev_create(dst.uuid, b)
                _check(res, f"Cannot create disk {b.iv_name} on node {dst.name}")
                created.append(b)
            copier = DiskCopier(self, src, dst, feedback)
            for idx, d in enumerate(self.disks):
                feedback(f"* copying disk/{idx} ({d.size} MiB) from {src.name} to "
                         f"{dst.name}")
                copier.copy(d, f"disk/{idx}")
        except BaseException:
            feedback("* the copy failed: rolling back")
            self._rollback(created, was_running, feedback)
            raise
        self._set_primary()
        feedback(f"* instance {inst.name} now has its primary on {dst.name}; removing "
                 f"the disks on {src.name}")
        self._remove_disks(src, specs)
        if inst.admin_state == C.ADMINST_UP:
            feedback(f"* starting instance {inst.name} on node {dst.name}")
            err = self._start(dst)
            if err:
                raise errors.OpExecError(f"Could not start instance {inst.name} on node "
                                         f"{dst.name}: {err}")
        return None


__all__ = ["DiskCopier", "LUInstanceMove"]
