"""Moving a running instance to another node: live migration, failover, cleanup.

:class:`Migrater` does the work for the migrate and failover LUs (Ganeti's
``TLMigrateInstance``), with the locks they hold (the instance, its source
and target nodes).  The order of node calls:

1. one parallel round of checks (:meth:`Migrater.gather`): on the source
   ``instance_migration_source`` (does it run, its current memory, the spec
   its QEMU runs); on the target ``instance_check_accept`` (the hypervisor
   can run the instance there: binaries, kernel files, links, disks
   reachable; and its free memory).  The target must have the instance's
   ``minmem``; nothing moves before the checks pass;
2. when the instance's current memory exceeds the target's free memory it
   is ballooned down to what the target has (``instance_balloon_memory``
   on the source), unless runtime changes are not allowed
   (``--no-runtime-changes``): then the migration is refused;
3. ``instance_accept`` on the target (destination QEMU waiting);
4. ``instance_migrate`` on the source, then ``instance_migration_status``
   polled (every 10 ms at first, then guided by QEMU's estimate of what is
   left): progress lines in the job log; the target node is checked while
   the migration runs and the migration is cancelled when the target's
   daemon stops answering or no RAM moved for ``stall_timeout`` seconds;
5. on completion the config names the target at once (one config write;
   the guest runs there from that moment) while the target keeps the
   guest, then the source releases its QEMU and disks; on failure the
   target discards what it made and the source runs on (a non-live
   migration resumes it).

``--cleanup`` asks every node which one really runs the guest: that node
wins, the config follows it and leftovers elsewhere are removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.base import FeedbackFn, LogicalUnit
from gnt.cmdlib.common import (
    bdev_specs,
    check_node_not_drained,
    check_node_online,
    check_node_vm_capable,
    instance_spec,
)
from gnt.cmdlib.disk_mobility import for_template
from gnt.hypervisor.base import MigrationStatus, MigrationTarget
from gnt.objects import Instance, Node, fill

#: s without progress before a migration is cancelled (GNT_MIGRATION_STALL_TIMEOUT)
STALL_TIMEOUT = float(os.environ.get("GNT_MIGRATION_STALL_TIMEOUT", "60"))
#: s between checks that the target's node daemon still answers
TARGET_CHECK_INTERVAL = 1.0
#: consecutive failed target checks before the migration is cancelled
TARGET_CHECK_FAILURES = 2
#: s between progress lines in the job log
PROGRESS_INTERVAL = 2.0
#: s a migration status call waits on the source node for the migration to
#: finish (the node looks every 10 ms in one QMP session): the master learns
#: of the end at once, with one RPC per this long instead of many short polls
STATUS_WAIT = 0.5
#: s between two status calls to a source node that did not answer
UNANSWERED_PAUSE = 0.2
# QEMU states of a process that does not run the guest (yet/any more)
_NOT_OWNING = {"inmigrate", "postmigrate", "finish-migrate", "shutdown", None}
# a process whose state cannot be read ("unknown") proves nothing either way
_UNKNOWN = "unknown"


#: threads for the node calls a migration makes side by side
_POOL = ThreadPoolExecutor(8, thread_name_prefix="migration")


def parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` side by side; their results in order (the first exception
    raised, after all finished)."""
    futures = [_POOL.submit(c) for c in calls]
    out = []
    first_err: BaseException | None = None
    for f in futures:
        try:
            out.append(f.result())
        except BaseException as err:  # noqa: BLE001 - re-raised below
            out.append(None)
            first_err = first_err or err
    if first_err is not None:
        raise first_err
    return out


@dataclass
class Prereqs:
    """What one round of checks found (:meth:`Migrater.gather`); memory in MiB."""

    #: the instance runs on the source (False also when the source was not asked)
    running: bool = False
    #: its current memory there (None when not running)
    memory: int | None = None
    #: the source hypervisor's migration info (the spec its process runs)
    info: dict[str, Any] | None = None
    #: free memory of the target's hypervisor
    target_free: int | None = None


def _owns(state: str | None) -> bool:
    """Whether a process in hypervisor ``state`` is the one running the guest."""
    return state not in _NOT_OWNING and state != _UNKNOWN


@dataclass
class MigrationResult:
    """What a migration measured (QEMU's own figures, ms; RAM in MiB)."""

    total_time_ms: int | None = None
    downtime_ms: int | None = None
    transferred_ram: float = 0


def check_target_node(lu: LogicalUnit, inst: Instance, source: Node, target: Node,
                      action: str) -> None:
    """Refuse a target that is the source, offline, drained or not vm_capable."""
    if target.uuid == source.uuid:
        raise errors.OpPrereqError(
            f"Instance {inst.name} is already on node {target.name}; cannot {action} it "
            f"to the same node", errors.ECODE_INVAL)
    check_node_online(target, f"Cannot {action} instance {inst.name}")
    check_node_not_drained(target)
    check_node_vm_capable(target)


class Migrater:
    """Live migration, failover and migration cleanup of one instance.

    ``lu`` holds the locks; ``target`` is None only for cleanup.
    """

    def __init__(self, lu: LogicalUnit, inst: Instance, target: Node | None) -> None:
        self.lu = lu
        self.ctx = lu.ctx
        self.rpc = lu.ctx.rpc
        self.inst = inst
        self.source: Node = lu.cfg.get_node(inst.primary_node)
        self.target = target
        self.prereqs = Prereqs()

    # --- checks ---
    def is_running(self) -> bool:
        res = self.rpc.instance_info(self.source.uuid, self.inst.hypervisor, self.inst.name)
        res.raise_on_fail(f"Error checking node {self.source.name}")
        return bool(res.data)

    def gather(self, source: bool = True) -> Prereqs:
        """One parallel round: the instance on the source (if ``source``) and the
        target's fitness and free memory.  Raises OpPrereqError when the target
        cannot run the instance or a node cannot be asked."""
        assert self.target is not None
        inst, cfg, dst = self.inst, self.lu.cfg, self.target
        spec, bdevs = instance_spec(cfg, inst), bdev_specs(cfg, inst)
        calls: list[Callable[[], Any]] = [
            lambda: self.rpc.instance_check_accept(dst.uuid, spec, bdevs)]
        if source:
            calls.append(lambda: self.rpc.instance_migration_source(
                self.source.uuid, inst.hypervisor, inst.name))
        results = parallel(*calls)
        res = results[0]
        if res.fail_msg:
            raise errors.OpPrereqError(
                f"Node {dst.name} cannot run instance {inst.name}: {res.fail_msg}",
                errors.ECODE_ENVIRON)
        pre = Prereqs(target_free=int((res.data or {}).get("memory_free", 0)))
        if source:
            sres = results[1]
            sres.raise_on_fail(f"Error checking node {self.source.name}")
            data = sres.data or {}
            if data.get("instance"):
                pre.running = True
                pre.memory = int(data["instance"]["memory"])
                pre.info = data.get("migration") or {}
        self.prereqs = pre
        return pre

    def check_target_memory(self, needed: int, reason: str) -> None:
        """Refuse (Ganeti's message) when the target has less than ``needed`` MiB free."""
        assert self.target is not None
        free = self.prereqs.target_free or 0
        if needed > free:
            raise errors.OpPrereqError(
                f"Not enough memory on node {self.target.name} for {reason}: needed "
                f"{needed} MiB, available {free} MiB", errors.ECODE_NORES)

    def fit_memory(self, allow_runtime_changes: bool, feedback: FeedbackFn) -> None:
        """Balloon the running instance down to the target's free memory when its
        current memory does not fit there; refuse when that is not allowed."""
        assert self.target is not None
        pre, inst = self.prereqs, self.inst
        current, free = pre.memory or 0, pre.target_free or 0
        if current <= free:
            return
        if not allow_runtime_changes:
            raise errors.OpExecError(
                f"Memory ballooning not allowed and not enough free memory to fit "
                f"instance {inst.name} on target node {self.target.name} (have {free}MB, "
                f"need {current}MB)")
        feedback(f"* setting instance memory to {free}")
        res = self.rpc.instance_balloon_memory(self.source.uuid, inst.hypervisor,
                                               inst.name, free)
        res.raise_on_fail("Cannot modify instance runtime memory")
        pre.memory = free
        pre.info = None  # what the source runs changed: asked again before the move

    def _set_primary(self, node: Node) -> None:
        """Make ``node`` the instance's primary (its shared disks follow)."""
        inst = self.lu.ctx.cfg.data.instances[self.inst.uuid]
        disks = self.lu.cfg.instance_disks(inst)
        inst.primary_node = node.uuid
        for d in disks:
            if for_template(d.dev_type).any_target:
                d.nodes = [node.uuid]
        self.lu.ctx.cfg.update(inst, *disks)
        self.inst = inst

    def _shutdown_disks(self, node: Node, warn_only: bool = True) -> None:
        for b in bdev_specs(self.lu.cfg, self.inst):
            res = self.rpc.blockdev_shutdown(node.uuid, b)
            if res.fail_msg:
                msg = (f"Could not shut down disk {b.iv_name} of {self.inst.name} on node "
                       f"{node.name}: {res.fail_msg}")
                if not warn_only:
                    raise errors.OpExecError(msg)
                self.lu.log_warning(msg)

    # --- live migration ---
    def migrate(self, live: bool, feedback: FeedbackFn) -> MigrationResult:
        """Migrate the running instance to the target (prerequisites already checked)."""
        assert self.target is not None
        inst, src, dst = self.inst, self.source, self.target
        hv = inst.hypervisor
        hvp = fill.fill_instance_hv(self.lu.cfg.cluster, inst)
        info = self.prereqs.info
        if info is None:
            feedback(f"* checking where the instance {inst.name} runs")
            res = self.rpc.instance_migration_info(src.uuid, hv, inst.name)
            res.raise_on_fail(f"Cannot get migration information from node {src.name}")
            info = res.data or {}
        port = int(hvp.get("migration_port") or 0)
        target = MigrationTarget(address=dst.primary_ip, port=port, hvparams=hvp)
        feedback(f"* preparing {dst.name} to accept the instance")
        res = self.rpc.instance_accept(dst.uuid, instance_spec(self.lu.cfg, inst),
                                       bdev_specs(self.lu.cfg, inst), info, target)
        if res.fail_msg:
            self._discard_target()
            raise errors.OpExecError(
                f"Could not pre-migrate instance {inst.name}: node {dst.name} cannot "
                f"accept it: {res.fail_msg}")
        feedback(f"* migrating instance to {dst.name} ({'live' if live else 'non-live'})")
        res = self.rpc.instance_migrate(src.uuid, hv, inst.name, target, live)
        status = (MigrationStatus(status="failed", error=res.fail_msg) if res.fail_msg
                  else self._wait(feedback))
        if status.status != "completed" and not self._landed_on_target():
            self._failed(live)
            why = status.error or f"migration {status.status}"
            raise errors.OpExecError(f"Could not migrate instance {inst.name}: {why}; it "
                                     f"keeps running on {src.name}")
        # the guest runs on the target from now on: the config says so (one write)
        # while the target confirms it keeps the guest, then the source lets go
        # (the guest left it: its QEMU must not run on; a crash in between leaves
        # two processes or a stale config, which --cleanup resolves either way)
        bdevs = bdev_specs(self.lu.cfg, inst)

        def finalize() -> tuple[Any, Any]:
            dres = self.rpc.instance_finalize_migration_dst(dst.uuid, hv, inst.name, True)
            return dres, self.rpc.instance_finalize_migration_src(src.uuid, hv, inst.name,
                                                                  True, live, bdevs)

        _, (dres, res) = parallel(lambda: self._set_primary(dst), finalize)
        if status.status == "completed":
            feedback(f"* done: {status.transferred_ram:.1f} MiB in "
                     f"{status.total_time_ms} ms, downtime {status.downtime_ms} ms")
        else:
            self.lu.log_warning(f"The migration reported '{status.error or status.status}' "
                                f"but the instance runs on {dst.name}: keeping it there")
        if dres.fail_msg:
            self.lu.log_warning(f"Could not finalize the migration on {dst.name}: "
                                f"{dres.fail_msg}; run 'gnt-instance migrate --cleanup "
                                f"{inst.name}'")
        if res.fail_msg:
            self.lu.log_warning(f"Could not stop the migrated instance's old process on "
                                f"{src.name}: {res.fail_msg}; run 'gnt-instance migrate "
                                f"--cleanup {inst.name}' once it answers")
        problems = [] if res.fail_msg else list(res.data or [])
        for problem in problems:
            self.lu.log_warning(f"{problem} (instance {inst.name}, node {src.name})")
        return MigrationResult(status.total_time_ms, status.downtime_ms,
                               status.transferred_ram)

    def _target_state(self) -> tuple[bool, str | None]:
        """(answered, hypervisor state) of the instance on the target."""
        assert self.target is not None
        res = self.rpc.instance_status([self.target.uuid], self.inst.hypervisor,
                                       self.inst.name)[self.target.uuid]
        return (False, None) if res.fail_msg else (True, res.data)

    def _target_answers(self) -> bool:
        """Whether the target's node daemon answers (it is not asked about the
        instance: a QEMU receiving a migration is left alone; QMP sessions opened
        on it while it loads the guest made the guest hang after landing, QEMU 7.2
        TCG, in 3 of 4 test runs)."""
        assert self.target is not None
        return not self.rpc.version([self.target.uuid])[self.target.uuid].fail_msg

    def _landed_on_target(self) -> bool:
        """Whether the guest runs on the target after all (the migration finished
        although the source could not tell us)."""
        answered, state = self._target_state()
        return answered and _owns(state)

    def _wait(self, feedback: FeedbackFn) -> MigrationStatus:
        """Poll the source until the migration ends.

        Cancelled when no RAM moved for ``STALL_TIMEOUT`` s or the target's
        daemon stops answering.  When the source's daemon stops answering, the
        target tells: a guest running there means the migration completed.
        """
        assert self.target is not None
        inst, src, dst = self.inst, self.source, self.target
        hv = inst.hypervisor
        start = last_move = last_seen = time.monotonic()
        last_progress = last_check = start
        transferred = -1.0
        target_failures = 0
        while True:
            res = self.rpc.instance_migration_status(src.uuid, hv, inst.name, STATUS_WAIT)
            now = time.monotonic()
            if res.fail_msg:
                answered, state = self._target_state()
                if answered and _owns(state):
                    return MigrationStatus(status="completed", error=(
                        f"source node {src.name} did not answer ({res.fail_msg})"))
                if now - last_seen > STALL_TIMEOUT:
                    return MigrationStatus(status="failed", error=(
                        f"source node {src.name} does not answer ({res.fail_msg})"))
                time.sleep(UNANSWERED_PAUSE)
                continue
            last_seen = now
            st = MigrationStatus.model_validate(res.data)
            if st.finished:
                return st
            if st.transferred_ram != transferred:
                transferred, last_move = st.transferred_ram, now
            elif now - last_move > STALL_TIMEOUT:
                self._abort()
                return MigrationStatus(status="failed", error=(
                    f"no progress for {STALL_TIMEOUT:.0f}s (network path to {dst.name}?); "
                    f"migration cancelled"))
            if now - last_check >= TARGET_CHECK_INTERVAL:
                last_check = now
                target_failures = 0 if self._target_answers() else target_failures + 1
                if target_failures >= TARGET_CHECK_FAILURES:
                    self._abort()
                    return MigrationStatus(status="failed", error=(
                        f"node {dst.name} stopped answering; migration cancelled"))
            if now - last_progress >= PROGRESS_INTERVAL and st.total_ram:
                last_progress = now
                done = 100.0 * (1 - st.remaining_ram / st.total_ram)
                feedback(f"* memory transfer progress: {done:.2f} % "
                         f"({st.transferred_ram:.0f} MiB sent, {st.remaining_ram:.0f} MiB "
                         f"remaining, {st.mbps:.0f} Mbit/s)")

    def _abort(self) -> None:
        res = self.rpc.instance_abort_migration(self.source.uuid, self.inst.hypervisor,
                                                self.inst.name)
        if res.fail_msg:
            self.lu.log_warning(f"Could not cancel the migration on {self.source.name}: "
                                f"{res.fail_msg}")

    def _discard_target(self) -> None:
        """Remove what accept made on the target, unless the target cannot be asked
        (then nothing is touched: ``--cleanup`` decides later)."""
        assert self.target is not None
        res = self.rpc.instance_finalize_migration_dst(self.target.uuid,
                                                       self.inst.hypervisor,
                                                       self.inst.name, False)
        if res.fail_msg:
            self.lu.log_warning(f"Could not clean up the target node {self.target.name}: "
                                f"{res.fail_msg}; run 'gnt-instance migrate --cleanup "
                                f"{self.inst.name}' once it answers")

    def _failed(self, live: bool) -> None:
        """After a failed migration: target cleaned up, source runs on."""
        self._discard_target()
        res = self.rpc.instance_finalize_migration_src(self.source.uuid, self.inst.hypervisor,
                                                       self.inst.name, False, live)
        if res.fail_msg:
            self.lu.log_warning(f"Could not resume the instance on {self.source.name}: "
                                f"{res.fail_msg}")

    # --- failover ---
    def failover(self, shutdown_timeout: int, ignore_consistency: bool,
                 feedback: FeedbackFn) -> None:
        """Stop the instance on the source (if it answers) and start it on the target."""
        assert self.target is not None
        inst, src, dst = self.inst, self.source, self.target
        if src.offline:
            feedback(f"* not shutting down the instance on the offline node {src.name}")
        else:
            feedback(f"* shutting down instance {inst.name} on source node {src.name}")
            res = self.rpc.instance_shutdown(src.uuid, inst.hypervisor, inst.name,
                                             shutdown_timeout)
            if res.fail_msg:
                if not ignore_consistency:
                    raise errors.OpExecError(
                        f"Could not shutdown instance {inst.name} on node {src.name}: "
                        f"{res.fail_msg}. Make sure the node is down, mark it offline "
                        f"(gnt-node modify -O yes) or use --ignore-consistency")
                self.lu.log_warning(f"Could not shutdown instance {inst.name} on node "
                                    f"{src.name}, proceeding anyway: {res.fail_msg}")
            self._shutdown_disks(src, warn_only=ignore_consistency)
        self._set_primary(dst)
        if inst.admin_state != C.ADMINST_UP:
            feedback(f"* instance {inst.name} is marked down; not starting it on "
                     f"{dst.name}")
            return
        feedback(f"* starting the instance on the target node {dst.name}")
        res = self.rpc.instance_start(dst.uuid, instance_spec(self.lu.cfg, self.inst),
                                      bdev_specs(self.lu.cfg, self.inst))
        if res.fail_msg:
            self._shutdown_disks(dst)
            raise errors.OpExecError(f"Could not start instance {inst.name} on node "
                                     f"{dst.name}: {res.fail_msg}")

    # --- cleanup ---
    def cleanup(self, feedback: FeedbackFn) -> str:
        """Find the node that really runs the guest, make the config follow it and
        remove leftovers elsewhere.  Returns a one-line verdict."""
        inst, cfg = self.inst, self.lu.cfg
        nodes = [n for n in cfg.nodes.values() if n.vm_capable and not n.offline]
        feedback("* checking where the instance actually runs")
        answers = self.rpc.instance_status([n.uuid for n in nodes], inst.hypervisor,
                                           inst.name)
        unreachable = [n.name for n in nodes if answers[n.uuid].fail_msg]
        present = {n.uuid: answers[n.uuid].data for n in nodes
                   if not answers[n.uuid].fail_msg and answers[n.uuid].data is not None}
        unclear = [cfg.get_node(u).name for u, st in present.items() if st == _UNKNOWN]
        if unclear:
            raise errors.OpExecError(
                f"The state of instance {inst.name} on {', '.join(unclear)} cannot be read "
                f"(its hypervisor does not answer); retry, or stop that process by hand")
        owners = [u for u, st in present.items() if _owns(st)]
        if len(owners) > 1:
            names = ", ".join(cfg.get_node(u).name for u in owners)
            raise errors.OpExecError(
                f"Instance {inst.name} runs on several nodes ({names}); manual "
                f"intervention required: stop it on all but one")
        if unreachable and not owners:
            raise errors.OpExecError(
                f"Instance {inst.name} does not run on any node that answers; nodes "
                f"{', '.join(unreachable)} did not answer: retry when they do")
        verdict = f"Instance {inst.name} runs on {self.source.name}; nothing to change"
        if owners and owners[0] != inst.primary_node:
            owner = cfg.get_node(owners[0])
            feedback(f"* instance runs on {owner.name}, not on {self.source.name}: "
                     f"updating the configuration")
            self._set_primary(owner)
            verdict = f"Instance {inst.name} runs on {owner.name}; configuration updated"
        elif not owners:
            verdict = f"Instance {inst.name} does not run on any node"
        keep = owners[0] if owners else None
        for uuid, st in sorted(present.items()):
            if uuid == keep:
                continue
            node = cfg.get_node(uuid)
            feedback(f"* removing the leftover process (state {st}) on {node.name}")
            res = self.rpc.instance_finalize_migration_dst(uuid, inst.hypervisor, inst.name,
                                                           False)
            res.raise_on_fail(f"Could not clean up instance {inst.name} on {node.name}")
            self._shutdown_disks(node)
        if unreachable:
            self.lu.log_warning(f"Nodes {', '.join(unreachable)} did not answer; they may "
                                f"hold leftovers of {inst.name}")
        return verdict


__all__ = ["Migrater", "MigrationResult", "Prereqs", "check_target_node", "parallel"]
