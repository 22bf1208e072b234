"""LUs that act on one existing instance: start, stop, reboot, remove, console."""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors, hooks, hypervisor
from gnt.cmdlib.base import FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.common import (
    bdev_specs,
    check_node_free_memory,
    check_node_online,
    expand_instance,
    instance_spec,
)
from gnt.cmdlib.disk_shutdown import shutdown_instance_disks
from gnt.objects import Disk, Instance, Node
from gnt.objects.params import check_params, upgrade_beparams
from gnt.opcodes.instance import (
    OpInstanceConsole,
    OpInstanceReboot,
    OpInstanceRemove,
    OpInstanceShutdown,
    OpInstanceStartup,
)


class _InstanceLU(LogicalUnit):
    """An LU on one instance: locks the instance and its primary node."""

    REQ_BGL = False
    LOCK_NODE_RES = False
    HTYPE = C.HTYPE_INSTANCE

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """Master, primary and secondaries, both phases."""
        nl = hooks.master_and_instance_nodes(self.cfg, self.instance)
        return nl, nl

    def expand_names(self) -> None:
        self.instance: Instance = expand_instance(self.cfg, self.op.instance_name)  # type: ignore[attr-defined]
        self.needed_locks[Level.INSTANCE] = [self.instance.name]
        self.needed_locks[Level.NODE] = [self.instance.primary_node]
        if self.LOCK_NODE_RES:
            self.needed_locks[Level.NODE_RES] = [self.instance.primary_node]

    def check_prereq(self) -> None:
        # re-read under the lock: the instance may have been removed meanwhile
        self.instance = expand_instance(self.cfg, self.instance.name)
        self.pnode: Node = self.cfg.get_node(self.instance.primary_node)

    def _is_running(self) -> bool:
        res = self.ctx.rpc.instance_info(self.pnode.uuid, self.instance.hypervisor,
                                         self.instance.name)
        res.raise_on_fail(f"Error checking node {self.pnode.name}")
        return bool(res.data)

    def _set_admin_state(self, state: str, source: str = C.ADMIN_SOURCE) -> None:
        inst = self.instance
        if inst.admin_state != state or inst.admin_state_source != source:
            inst.admin_state = state
            inst.admin_state_source = source
            self.ctx.cfg.update(inst)


class LUInstanceStartup(_InstanceLU):
    """Start an instance (``gnt-instance startup``)."""

    OP = OpInstanceStartup
    LOCK_NODE_RES = True
    HPATH = "instance-start"

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceStartup = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, override={"FORCE": op.force})

    def check_prereq(self) -> None:
        super().check_prereq()
        op: OpInstanceStartup = self.op  # type: ignore[assignment]
        inst = self.instance
        if inst.admin_state == C.ADMINST_OFFLINE:
            raise errors.OpPrereqError(f"Instance {inst.name} is marked offline; mark it "
                                       "online first", errors.ECODE_STATE)
        self.hvp = hypervisor.check_parameters(inst.hypervisor, op.hvparams)
        self.bep = check_params("backend", C.BES_PARAMETER_TYPES,
                                upgrade_beparams(op.beparams))
        if self.pnode.offline and op.ignore_offline_nodes:
            self.primary_offline = True
            return
        self.primary_offline = False
        check_node_online(self.pnode, "Cannot start instance")
        self.spec = instance_spec(self.cfg, inst, self.hvp, self.bep)
        if not self._is_running():
            # Ganeti checks the instance's minimum memory here (maxmem at creation)
            check_node_free_memory(self.ctx, self.pnode, f"starting instance {inst.name}",
                                   int(self.spec.beparams[C.BE_MINMEM]), inst.hypervisor)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceStartup = self.op  # type: ignore[assignment]
        if not op.no_remember:
            self._set_admin_state(C.ADMINST_UP)
        if self.primary_offline:
            self.log_warning("Ignoring offline primary node")
            return None
        if self._is_running():
            feedback(f"Instance {self.instance.name} is already running")
            return None
        self.ctx.rpc.instance_start(self.pnode.uuid, self.spec,
                                    bdev_specs(self.cfg, self.instance),
                                    op.startup_paused).raise_on_fail(
            f"Could not start instance {self.instance.name}")
        return None


class LUInstanceShutdown(_InstanceLU):
    """Stop an instance (``gnt-instance shutdown``)."""

    OP = OpInstanceShutdown
    HPATH = "instance-stop"

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceShutdown = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, override={"TIMEOUT": op.timeout})

    def check_prereq(self) -> None:
        super().check_prereq()
        op: OpInstanceShutdown = self.op  # type: ignore[assignment]
        if not (self.pnode.offline and op.ignore_offline_nodes):
            check_node_online(self.pnode, "Cannot shut down instance")

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceShutdown = self.op  # type: ignore[assignment]
        inst = self.instance
        if not op.no_remember:
            self._set_admin_state(C.ADMINST_DOWN, op.admin_state_source or C.ADMIN_SOURCE)
        if self.pnode.offline:
            self.log_warning("Ignoring offline primary node")
            return None
        res = self.ctx.rpc.instance_shutdown(self.pnode.uuid, inst.hypervisor, inst.name,
                                             op.timeout, False)
        if res.fail_msg:
            self.log_warning(f"Could not shutdown instance: {res.fail_msg}")
            res.raise_on_fail(f"Could not shutdown instance {inst.name}")
        shutdown_instance_disks(self, inst, self.pnode)  # as Ganeti: ext volumes detach
        return None


class LUInstanceReboot(_InstanceLU):
    """Reboot an instance: ``soft`` (guest reset), ``hard`` (stop + start), ``full``."""

    OP = OpInstanceReboot
    HPATH = "instance-reboot"

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceReboot = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, override={
            "IGNORE_SECONDARIES": op.ignore_secondaries, "REBOOT_TYPE": op.reboot_type,
            "SHUTDOWN_TIMEOUT": op.shutdown_timeout})

    def check_prereq(self) -> None:
        super().check_prereq()
        check_node_online(self.pnode, "Cannot reboot instance")
        if self.instance.admin_state != C.ADMINST_UP:
            raise errors.OpPrereqError(f"Instance {self.instance.name} is not marked to be "
                                       "up; start it instead", errors.ECODE_STATE)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceReboot = self.op  # type: ignore[assignment]
        inst = self.instance
        spec = instance_spec(self.cfg, inst)
        running = self._is_running()
        if running and op.reboot_type in (C.INSTANCE_REBOOT_SOFT, C.INSTANCE_REBOOT_HARD):
            self.ctx.rpc.instance_reboot(self.pnode.uuid, spec, bdev_specs(self.cfg, inst),
                                         op.reboot_type, op.shutdown_timeout).raise_on_fail(
                f"Could not reboot instance {inst.name}")
            return None
        if running:
            self.ctx.rpc.instance_shutdown(self.pnode.uuid, inst.hypervisor, inst.name,
                                           op.shutdown_timeout, False).raise_on_fail(
                f"Could not shutdown instance {inst.name} for full reboot")
        else:
            feedback(f"Instance {inst.name} was not running, starting it")
        self.ctx.rpc.instance_start(self.pnode.uuid, spec,
                                    bdev_specs(self.cfg, inst)).raise_on_fail(
            f"Could not start instance {inst.name} for full reboot")
        return None


class LUInstanceRemove(_InstanceLU):
    """Remove an instance: shut it down, remove its disks and its config entry."""

    OP = OpInstanceRemove
    LOCK_NODE_RES = True
    HPATH = "instance-remove"

    def check_prereq(self) -> None:
        super().check_prereq()
        # the post hooks run once the disks are gone from the config
        self.hook_disks: list[Disk] = self.cfg.instance_disks(self.instance)

    def build_hooks_env(self) -> dict[str, Any]:
        op: OpInstanceRemove = self.op  # type: ignore[assignment]
        return hooks.instance_env(self.cfg, self.instance, disks=self.hook_disks,
                                  override={"SHUTDOWN_TIMEOUT": op.shutdown_timeout})

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """Pre: the master; post: master, primary and secondaries."""
        master = hooks.master_nodes(self.cfg)
        return master, hooks.master_and_instance_nodes(self.cfg, self.instance,
                                                       self.hook_disks)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpInstanceRemove = self.op  # type: ignore[assignment]
        inst = self.instance
        feedback(f"Shutting down instance {inst.name} on node {self.pnode.name}")
        res = self.ctx.rpc.instance_shutdown(self.pnode.uuid, inst.hypervisor, inst.name,
                                             op.shutdown_timeout, False)
        if res.fail_msg:
            if op.ignore_failures:
                self.log_warning(f"Could not shutdown instance: {res.fail_msg}")
            else:
                res.raise_on_fail(f"Could not shutdown instance {inst.name} on node "
                                  f"{self.pnode.name}")
        feedback(f"Removing block devices for instance {inst.name}")
        failed = False
        for spec in bdev_specs(self.cfg, inst):
            r = self.ctx.rpc.blockdev_remove(self.pnode.uuid, spec)
            if r.fail_msg:
                failed = True
                self.log_warning(f"Could not remove disk {spec.iv_name} on node "
                                 f"{self.pnode.name}: {r.fail_msg}")
        if failed and not op.ignore_failures:
            raise errors.OpExecError("Can't remove instance's disks")
        feedback(f"Removing instance {inst.name} out of cluster config")
        self.ctx.cfg.remove_instance(inst.uuid)
        self.ctx.glm.remove(self.owner, Level.INSTANCE, [inst.name])
        return None


class LUInstanceConsole(_InstanceLU):
    """Console connection information for a running instance."""

    OP = OpInstanceConsole

    def exec(self, feedback: FeedbackFn) -> Any:
        inst = self.instance
        check_node_online(self.pnode, "Cannot connect to the console")
        if not self._is_running():
            state = (C.INSTST_ERRORDOWN if inst.admin_state == C.ADMINST_UP
                     else C.INSTST_ADMINDOWN)
            raise errors.OpExecError(f"Instance {inst.name} is not running (state "
                                     f"{state})", errors.ECODE_STATE)
        res = self.ctx.rpc.instance_console_info(self.pnode.uuid,
                                                 instance_spec(self.cfg, inst),
                                                 self.pnode.name)
        res.raise_on_fail(f"Can't get console information for instance {inst.name}")
        return res.data
