"""The KVM hypervisor driver: one daemonized QEMU per instance, controlled over QMP.

Start: check files, links and parameters; choose the accelerator
(:mod:`.accel`); open and wire tap devices (:mod:`.network`); run QEMU
(:mod:`.cmdline`) with ``-daemonize -S``, its stderr going to
``<log_dir>/kvm/<name>.log``; record :class:`.runtime.KVMRuntime`; apply
VNC password and CPU pinning; ``cont`` (unless starting paused).

Stop: graceful = ACPI power button (QMP ``system_powerdown``, repeated every
few seconds in case the guest was not listening yet) and wait up to
``timeout`` seconds for QEMU to exit; hard = QMP ``quit``, then SIGKILL.
:meth:`KVMHypervisor.stop` returns how the instance went down
(:data:`STOP_ACPI`, :data:`STOP_QUIT`, :data:`STOP_KILL` or
:data:`STOP_NOT_RUNNING`) and logs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Literal

from gnt import constants as C
from gnt import errors, paths
from gnt.hypervisor.base import (
    ConsoleInfo,
    DiskSpec,
    Hypervisor,
    InstanceRuntimeInfo,
    InstanceSpec,
    MigrationStatus,
    MigrationTarget,
    NICSpec,
    NodeHvInfo,
)
from gnt.hypervisor.kvm import accel as accel_mod
from gnt.hypervisor.kvm import cmdline, migration, network, nodeinfo, qmp
from gnt.hypervisor.kvm import params as P
from gnt.hypervisor.kvm import runtime as R

log = logging.getLogger(__name__)

STOP_ACPI = "acpi"
STOP_QUIT = "quit"
STOP_KILL = "kill"
STOP_NOT_RUNNING = "not-running"

LAUNCH_TIMEOUT = 60.0  # s for QEMU's daemonizing parent to report success
POWERDOWN_RESEND = 5.0  # s between ACPI power button presses
HARD_STOP_WAIT = 5.0  # s to wait after quit and after SIGKILL
INFO_QMP_TIMEOUT = 5.0
#: s a migration's destination gets to finish loading the guest once the source
#: reports the migration completed, and s between two looks meanwhile
SETTLE_TIMEOUT = 5.0
SETTLE_INTERVAL = 0.02
_SOCAT_ESCAPE = "0x1d"  # Ctrl+], as Ganeti's console wrapper

_PAUSED_STATES = {"paused", "prelaunch", "inmigrate", "postmigrate", "suspended",
                  "save-vm", "restore-vm", "finish-migrate", "colo"}
_CRASHED_STATES = {"internal-error", "io-error", "guest-panicked"}


def serial_log_file(name: str) -> Path:
    """Where the guest's serial console output is logged (appended across boots):
    ``<log_dir>/kvm/<instance>.serial.log``."""
    d = paths.get().log_dir / "kvm"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{name}.serial.log"


class KVMHypervisor(Hypervisor):
    """QEMU/KVM instances on this node (TCG when KVM cannot run guests)."""

    name = C.HT_KVM
    PARAMETERS = P.PARAMETERS
    MEMINFO = "/proc/meminfo"
    CPUINFO = "/proc/cpuinfo"

    # ------------------------------------------------------------------ start
    def start_instance(self, spec: InstanceSpec, startup_paused: bool = False) -> None:
        """Start QEMU for ``spec``; raises HypervisorError if running or QEMU fails.

        The error of a failed start carries the tail of QEMU's stderr.
        """
        self._start(spec, startup_paused)

    def _start(self, spec: InstanceSpec, startup_paused: bool,
               incoming: MigrationTarget | None = None,
               accel_override: str | None = None) -> None:
        """Start QEMU; with ``incoming``, as the destination of a migration
        (``accel_override``: the source's accelerator, which the guest keeps)."""
        ip = R.InstancePaths(spec.name)
        hvp = P.filled(spec.hvparams)
        with R.instance_lock(ip):
            self._refuse_if_running(ip)
            self._check_prerequisites(spec, hvp)
            accel, why = ((accel_override, "the migration source's accelerator")
                          if accel_override else accel_mod.choose(hvp))
            log.info("Starting instance %s with accel=%s (%s)", spec.name, accel, why)
            for name in cmdline.ignored(hvp):
                log.warning("Instance %s: hypervisor parameter %s=%r is not used by gnt yet",
                            spec.name, name, hvp[name])
            ip.make_dirs()
            R.remove_files(ip)
            taps: list[tuple[NICSpec, network.Tap]] = []
            queues = (int(hvp[P.VIRTIO_NET_QUEUES])
                      if hvp[P.NIC_TYPE] == P.NIC_PARAVIRTUAL else 1)
            try:
                taps = network.start_nics(spec, bool(hvp[P.VNET_HDR]), queues,
                                          incoming=incoming is not None)
                ctx = cmdline.LaunchContext(
                    accel=accel, pidfile=str(ip.pidfile), qmp=str(ip.qmp),
                    monitor=str(ip.monitor),
                    serial=str(ip.serial) if hvp[P.SERIAL_CONSOLE] else None,
                    serial_log=(str(serial_log_file(spec.name)) if hvp[P.SERIAL_CONSOLE]
                                else None),
                    qga=str(ip.qga) if hvp[P.USE_GUEST_AGENT] else None,
                    chroot_dir=self._chroot_dir(ip) if hvp[P.USE_CHROOT] else None,
                    nic_fds={nic.index: tap.fds for nic, tap in taps},
                    incoming=migration.INCOMING if incoming else None)
                cmd = cmdline.build(spec, ctx)
                self._launch(spec.name, ip, cmd, [fd for _, t in taps for fd in t.fds])
            except BaseException:
                self._cleanup(ip, None)
                network.release(spec, taps)
                raise
            finally:
                for _, tap in taps:
                    tap.close()
            pid = R.read_pidfile(ip.pidfile)
            if pid is None:
                raise errors.HypervisorError(
                    f"Failed to start instance {spec.name}: QEMU wrote no pidfile {ip.pidfile}")
            rt = self._new_runtime(spec, hvp, ctx, cmd, pid, taps)
            rt.migrating_in = incoming is not None
            R.save(ip, rt)
            try:
                self._post_start(rt, hvp, startup_paused or incoming is not None)
                if incoming is not None:
                    migration.listen(rt, incoming)
            except errors.HypervisorError:
                self._hard_stop(rt)
                self._cleanup(ip, rt)
                raise
            log.info("Instance %s started (pid %d, accel %s)", spec.name, pid, accel)

    @staticmethod
    def _new_runtime(spec: InstanceSpec, hvp: dict[str, Any], ctx: cmdline.LaunchContext,
                     cmd: list[str], pid: int,
                     taps: list[tuple[NICSpec, network.Tap]]) -> R.KVMRuntime:
        vnc = cmdline.vnc_display(spec, hvp)
        return R.KVMRuntime(
            name=spec.name, uuid=spec.uuid, pid=pid, cmdline=cmd, spec=spec,
            start_time=time.time(), accel=ctx.accel, qmp=ctx.qmp, serial=ctx.serial,
            monitor=ctx.monitor, qga=ctx.qga,
            vnc={"bind": vnc[0], "display": vnc[1], "port": spec.network_port} if vnc else None,
            taps=[R.TapInfo(index=nic.index, name=tap.name,
                            mode=str(nic.nicparams.get(C.NIC_MODE, "")),
                            link=str(nic.nicparams.get(C.NIC_LINK, "")))
                  for nic, tap in taps])

    def _refuse_if_running(self, ip: R.InstancePaths) -> None:
        try:
            rt = R.load(ip)
        except errors.HypervisorError as err:
            log.warning("Discarding unreadable runtime file of %s: %s", ip.name, err)
            rt = None
        if rt is not None and R.is_alive(rt):
            raise errors.HypervisorError(
                f"Failed to start instance {ip.name}: already running (pid {rt.pid})",
                errors.ECODE_STATE)
        pid = R.read_pidfile(ip.pidfile)
        argv = R.process_cmdline(pid) if pid else None
        if argv and str(ip.pidfile) in argv:
            raise errors.HypervisorError(
                f"Failed to start instance {ip.name}: a QEMU process (pid {pid}) still uses "
                f"its pidfile; stop it first", errors.ECODE_STATE)
        if rt is not None:
            log.info("Cleaning up stale runtime state of %s (pid %d is gone)", ip.name, rt.pid)
            self._cleanup(ip, rt)

    @staticmethod
    def _check_prerequisites(spec: InstanceSpec, hvp: dict[str, Any]) -> None:
        qemu = str(hvp[P.KVM_PATH])
        if not os.access(qemu, os.X_OK):
            raise errors.HypervisorError(
                f"kvm_path {qemu} does not exist or is not executable", errors.ECODE_ENVIRON)
        files = [P.KERNEL_PATH, P.CDROM_IMAGE_PATH, P.CDROM2_IMAGE_PATH,
                 P.FLOPPY_IMAGE_PATH, P.VNC_PASSWORD_FILE]
        if hvp.get(P.KERNEL_PATH):
            files.append(P.INITRD_PATH)  # without a kernel the initrd is not used
        for key in files:
            value = str(hvp.get(key) or "")
            if value and not os.path.isfile(value):
                raise errors.HypervisorError(
                    f"Instance {spec.name}: {key} {value} does not exist or is not a file",
                    errors.ECODE_ENVIRON)
        for disk in spec.disks:
            if not disk.uri and not os.path.exists(disk.path):
                raise errors.HypervisorError(
                    f"Instance {spec.name}: disk {disk.index} ({disk.path}) does not exist",
                    errors.ECODE_ENVIRON)
        cmdline.check_supported(hvp)
        for nic in spec.nics:
            network.check_link(nic)
        if spec.nics and hvp.get(P.VHOST_NET) and not os.path.exists("/dev/vhost-net"):
            raise errors.HypervisorError(
                "vhost_net is on but /dev/vhost-net does not exist on this node; set "
                "vhost_net=false or load the vhost_net module", errors.ECODE_ENVIRON)
        cmdline.parse_cpu_mask(str(hvp.get(P.CPU_MASK) or P.CPU_MASK_ALL),
                               int(spec.beparams.get(C.BE_VCPUS, 1)))

    @staticmethod
    def _chroot_dir(ip: R.InstancePaths) -> str:
        d = ip.base / "chroot" / ip.name
        d.mkdir(parents=True, exist_ok=True, mode=0o750)
        return str(d)

    @staticmethod
    def _launch(name: str, ip: R.InstancePaths, cmd: list[str], fds: list[int]) -> None:
        with open(ip.log, "ab") as logf:
            logf.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: "
                       f"{' '.join(cmd)}\n".encode())
            logf.flush()
            offset = logf.tell()
            try:
                res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     pass_fds=fds, timeout=LAUNCH_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                raise errors.HypervisorError(
                    f"Failed to start instance {name}: QEMU did not finish starting within "
                    f"{LAUNCH_TIMEOUT:.0f}s") from None
            except OSError as err:
                raise errors.HypervisorError(
                    f"Failed to start instance {name}: cannot run {cmd[0]}: {err.strerror}"
                ) from err
        if res.returncode != 0:
            with open(ip.log, "rb") as f:
                f.seek(offset)
                tail = f.read().decode(errors="replace").strip().splitlines()[-10:]
            raise errors.HypervisorError(
                f"Failed to start instance {name}: QEMU exited with status {res.returncode}: "
                + (" | ".join(tail) or "no error output"))

    def _post_start(self, rt: R.KVMRuntime, hvp: dict[str, Any],
                    startup_paused: bool) -> None:
        commands: list[qmp.Command] = []
        pw_file = str(hvp.get(P.VNC_PASSWORD_FILE) or "")
        if pw_file and rt.vnc:
            try:
                lines = Path(pw_file).read_text().splitlines()
            except OSError as err:
                raise errors.HypervisorError(
                    f"Cannot read vnc_password_file {pw_file}: {err.strerror}") from err
            commands.append(("change-vnc-password", {"password": lines[0] if lines else ""}))
        vcpus = int(rt.spec.beparams.get(C.BE_VCPUS, 1))
        masks = cmdline.parse_cpu_mask(str(hvp.get(P.CPU_MASK) or P.CPU_MASK_ALL), vcpus)
        if masks is not None:
            self._pin_cpus(rt, masks)
        if not startup_paused:
            commands.append(("cont", None))
        if commands:
            qmp.execute_many(rt.qmp, commands)

    @staticmethod
    def _pin_cpus(rt: R.KVMRuntime, masks: list[list[int]]) -> None:
        try:
            if all(m == masks[0] for m in masks):
                if masks[0]:
                    for tid in os.listdir(f"/proc/{rt.pid}/task"):
                        os.sched_setaffinity(int(tid), masks[0])
                return
            cpus = qmp.execute(rt.qmp, "query-cpus-fast")
            for cpu in cpus:
                mask = masks[int(cpu["cpu-index"])]
                if mask:
                    os.sched_setaffinity(int(cpu["thread-id"]), mask)
        except OSError as err:
            raise errors.HypervisorError(
                f"Cannot apply cpu_mask to instance {rt.name}: {err.strerror}") from err

    # ------------------------------------------------------------------- stop
    def stop_instance(self, name: str, force: bool = False, timeout: int = 120) -> None:
        """Stop ``name`` (see :meth:`stop`); not running is fine."""
        self.stop(name, force=force, timeout=timeout)

    def stop(self, name: str, force: bool = False, timeout: float = 120) -> str:
        """Stop ``name``; how it went down: ``acpi``, ``quit``, ``kill`` or ``not-running``.

        Graceful (ACPI power button, up to ``timeout`` s) unless ``force``,
        then hard.  Cleans the runtime files.  Raises HypervisorError when
        the process survives SIGKILL.
        """
        ip = R.InstancePaths(name)
        with R.instance_lock(ip):
            try:
                rt = R.load(ip)
            except errors.HypervisorError as err:
                log.warning("Discarding unreadable runtime file of %s: %s", name, err)
                rt = None
            if rt is None or not R.is_alive(rt):
                self._cleanup(ip, rt)
                return STOP_NOT_RUNNING
            method = None
            if not force and self._powerdown(rt, timeout):
                method = STOP_ACPI
            if method is None:
                if not force:
                    log.warning("Instance %s did not power off within %ss; stopping it hard",
                                name, timeout)
                method = self._hard_stop(rt)
            self._cleanup(ip, rt)
            log.info("Instance %s stopped (%s)", name,
                     {STOP_ACPI: "guest powered off after ACPI powerdown",
                      STOP_QUIT: "QMP quit", STOP_KILL: "SIGKILL"}[method])
            return method

    @staticmethod
    def _wait_exit(rt: R.KVMRuntime, timeout: float) -> bool:
        """Whether QEMU exits within ``timeout`` s (checked every 5 ms for the first
        0.2 s: a QMP ``quit`` takes effect in a few ms, then every 50 ms)."""
        start = time.monotonic()
        while True:
            if not R.is_alive(rt):
                return True
            elapsed = time.monotonic() - start
            if elapsed >= timeout:
                return False
            time.sleep(0.005 if elapsed < 0.2 else 0.05)

    def _powerdown(self, rt: R.KVMRuntime, timeout: float) -> bool:
        """Press the ACPI power button until QEMU exits or ``timeout`` s pass."""
        user_shutdown = bool(P.filled(rt.spec.hvparams)[P.USER_SHUTDOWN])
        deadline = time.monotonic() + timeout
        next_press = 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_press:
                next_press = now + POWERDOWN_RESEND
                try:
                    qmp.execute(rt.qmp, "system_powerdown", timeout=INFO_QMP_TIMEOUT)
                except errors.HypervisorError as err:
                    if not R.is_alive(rt):
                        return True
                    log.warning("ACPI powerdown of %s failed: %s", rt.name, err)
                if user_shutdown and self._qmp_status(rt) == "shutdown":
                    # -no-shutdown keeps QEMU around after the guest powered off
                    with contextlib.suppress(errors.HypervisorError):
                        qmp.execute(rt.qmp, "quit", timeout=INFO_QMP_TIMEOUT)
            if self._wait_exit(rt, min(1.0 if user_shutdown else 0.2,
                                       max(0.0, deadline - time.monotonic()))):
                return True
        return not R.is_alive(rt)

    def _hard_stop(self, rt: R.KVMRuntime) -> str:
        """QMP quit, then SIGKILL; the method that worked."""
        with contextlib.suppress(errors.HypervisorError):
            qmp.execute(rt.qmp, "quit", timeout=2.0)
            if self._wait_exit(rt, HARD_STOP_WAIT):
                return STOP_QUIT
        if not R.is_alive(rt):
            return STOP_QUIT
        with contextlib.suppress(ProcessLookupError):
            os.kill(rt.pid, signal.SIGKILL)
        if not self._wait_exit(rt, HARD_STOP_WAIT):
            raise errors.HypervisorError(
                f"Instance {rt.name}: QEMU (pid {rt.pid}) survives SIGKILL")
        return STOP_KILL

    @staticmethod
    def _cleanup(ip: R.InstancePaths, rt: R.KVMRuntime | None) -> None:
        if rt is not None:
            network.stop_nics(rt.spec, rt.taps)
        R.remove_files(ip)

    def cleanup_instance(self, name: str) -> None:
        """Remove the runtime files of ``name`` if it does not run (else nothing)."""
        ip = R.InstancePaths(name)
        with R.instance_lock(ip):
            try:
                rt = R.load(ip)
            except errors.HypervisorError:
                rt = None
            if rt is not None and R.is_alive(rt):
                log.warning("Not cleaning up instance %s: it is running", name)
                return
            self._cleanup(ip, rt)

    # ----------------------------------------------------------------- reboot
    def reboot_instance(self, spec: InstanceSpec) -> None:
        """Soft reboot: QMP ``system_reset`` (same QEMU process, the guest restarts)."""
        rt = self._running(spec.name)
        if rt is None:
            raise errors.HypervisorError(
                f"Cannot reboot instance {spec.name}: not running", errors.ECODE_STATE)
        qmp.execute(rt.qmp, "system_reset")
        log.info("Instance %s reset", spec.name)

    # ------------------------------------------------------------------ query
    def _running(self, name: str) -> R.KVMRuntime | None:
        try:
            rt = R.load(R.InstancePaths(name))
        except errors.HypervisorError as err:
            log.warning("%s", err)
            return None
        return rt if rt is not None and R.is_alive(rt) else None

    @staticmethod
    def _query_status(rt: R.KVMRuntime) -> str:
        """QEMU's run state (QMP ``query-status``); raises HypervisorError."""
        return str(qmp.execute(rt.qmp, "query-status", timeout=INFO_QMP_TIMEOUT)
                   .get("status", ""))

    @classmethod
    def _qmp_status(cls, rt: R.KVMRuntime) -> str | None:
        """QEMU's run state, or None (logged) when QMP does not answer."""
        try:
            return cls._query_status(rt)
        except errors.HypervisorError as err:
            log.warning("Cannot query the status of %s: %s", rt.name, err)
            return None

    @classmethod
    def _settled_status(cls, rt: R.KVMRuntime) -> str | None:
        """The status of a destination QEMU once its incoming migration ended
        (``None`` when QMP never answered within :data:`SETTLE_TIMEOUT` s).

        Asked the moment the source reports the migration completed, the
        destination may still be loading the last of the guest's state, and
        its ``RESUME`` event can reach a new QMP client before the answer to
        ``qmp_capabilities`` (qemu.qmp then fails the negotiation; QEMU 7.2):
        both pass within milliseconds, so the question is asked again.
        """
        deadline = time.monotonic() + SETTLE_TIMEOUT
        last: errors.HypervisorError | None = None
        while True:
            try:
                st = cls._query_status(rt)
            except errors.HypervisorError as err:
                st, last = None, err
            if st not in ("inmigrate", None) or time.monotonic() > deadline:
                break
            time.sleep(SETTLE_INTERVAL)
        if st is None and last is not None:
            log.warning("Cannot query the status of %s: %s", rt.name, last)
        return st

    def get_instance_info(self, name: str) -> InstanceRuntimeInfo | None:
        """State (from QMP ``query-status``), memory MiB, vcpus, pid, uptime; or None."""
        rt = self._running(name)
        if rt is None:
            return None
        status = self._qmp_status(rt)
        state: Literal["running", "paused", "shutdown", "crashed", "unknown"] = "unknown"
        if status == "running":
            state = "running"
        elif status in _PAUSED_STATES:
            state = "paused"
        elif status == "shutdown":
            state = "shutdown"
        elif status in _CRASHED_STATES:
            state = "crashed"
        from gnt.hypervisor.kvm import hotplug  # the balloon's view, after ballooning

        # only a running guest is asked: an incoming migration's QEMU (inmigrate)
        # must not get monitor commands for its devices before their state arrived
        memory = ((hotplug.current_memory(rt, INFO_QMP_TIMEOUT) if state == "running"
                   else None) or rt.spec.memory)
        return InstanceRuntimeInfo(
            name=name, state=state, memory=memory,
            vcpus=int(rt.spec.beparams.get(C.BE_VCPUS, 1)), pid=rt.pid,
            uptime=max(0.0, time.time() - rt.start_time))

    def list_instances(self) -> list[str]:
        """Names of the instances whose QEMU runs here, sorted."""
        return [n for n in R.runtime_names() if self._running(n) is not None]

    def get_node_info(self) -> NodeHvInfo:
        """Memory (MiB) and CPUs of this node.

        ``memory_free`` = MemAvailable minus the memory promised to running
        instances that their QEMU has not touched yet; ``memory_dom0`` = what
        the host uses besides the instances' QEMU processes.
        """
        try:
            mem = nodeinfo.parse_meminfo(Path(self.MEMINFO).read_text())
            cpuinfo = Path(self.CPUINFO).read_text()
        except OSError as err:
            raise errors.HypervisorError(f"Cannot read node information: {err}") from err
        rss_total = untouched = 0
        for name in R.runtime_names():
            rt = self._running(name)
            if rt is None:
                continue
            rss = nodeinfo.process_rss_mib(rt.pid)
            rss_total += rss
            untouched += max(0, rt.spec.memory - rss)
        cpus = len(os.sched_getaffinity(0))
        return NodeHvInfo(
            memory_total=mem["total"], memory_free=max(0, mem["available"] - untouched),
            memory_dom0=max(0, mem["total"] - mem["available"] - rss_total),
            cpu_total=cpus, cpu_nodes=nodeinfo.numa_nodes(),
            cpu_sockets=nodeinfo.cpu_sockets(cpuinfo), cpu_dom0=cpus,
            hv_version=nodeinfo.qemu_version(P.default_kvm_path()))

    def get_console(self, spec: InstanceSpec, node_name: str) -> ConsoleInfo:
        """Serial console (``ssh`` kind running socat), else VNC, else a message."""
        hvp = P.filled(spec.hvparams)
        rt = self._running(spec.name)
        if hvp[P.SERIAL_CONSOLE]:
            serial = (rt.serial if rt and rt.serial else
                      str(R.InstancePaths(spec.name).serial))
            return ConsoleInfo(
                instance=spec.name, kind="ssh", host=node_name, user="root",
                command=["socat", f"STDIO,raw,echo=0,escape={_SOCAT_ESCAPE}",
                         f"UNIX-CONNECT:{serial}"])
        vnc = cmdline.vnc_display(spec, hvp)
        if vnc is not None and vnc[1] is not None:
            bind = vnc[0]
            host = node_name if bind in ("0.0.0.0", "::") else bind
            return ConsoleInfo(instance=spec.name, kind="vnc", host=host,
                               port=spec.network_port, display=vnc[1])
        return ConsoleInfo(instance=spec.name, kind="msg",
                           message=f"No serial console or VNC for instance {spec.name}")

    def verify(self) -> list[str]:
        """Problems: no QEMU binary, no socat for consoles, run dir not writable."""
        problems = []
        qemu = P.default_kvm_path()
        if not os.access(qemu, os.X_OK):
            problems.append(f"The QEMU binary {qemu} does not exist or is not executable")
        if shutil.which("socat") is None:
            problems.append("socat is not installed: serial consoles cannot be reached")
        run_dir = paths.get().kvm_run_dir
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            problems.append(f"Cannot create {run_dir}: {err.strerror}")
        return problems

    # -------------------------------------------------------------- migration
    def _must_run(self, name: str, what: str) -> R.KVMRuntime:
        rt = self._running(name)
        if rt is None:
            raise errors.HypervisorError(f"Cannot {what} instance {name}: not running here",
                                         errors.ECODE_STATE)
        return rt

    def check_accept(self, spec: InstanceSpec) -> None:
        """The files, links and parameters ``spec`` needs exist on this node."""
        self._check_prerequisites(spec, P.filled(spec.hvparams))

    def migration_info(self, name: str) -> dict[str, Any]:
        """The spec the running QEMU was started from and its accelerator."""
        rt = self._must_run(name, "migrate")
        return {"spec": rt.spec.model_dump(mode="json"), "accel": rt.accel}

    def accept_instance(self, spec: InstanceSpec, info: dict[str, Any],
                        target: MigrationTarget) -> None:
        """Start the destination QEMU (``-incoming defer``) listening on ``target``."""
        self._start(spec, startup_paused=True, incoming=target,
                    accel_override=str(info.get("accel") or "") or None)

    def migrate_instance(self, name: str, target: MigrationTarget, live: bool) -> None:
        migration.start(self._must_run(name, "migrate"), target, live)

    def migration_status(self, name: str, wait: float = 0.0) -> MigrationStatus:
        rt = self._running(name)
        if rt is None:
            return MigrationStatus(status="failed", error=f"QEMU of {name} is gone")
        return migration.status(rt, wait)

    def abort_migration(self, name: str) -> None:
        rt = self._running(name)
        if rt is not None:
            migration.cancel(rt)

    def finalize_migration_dst(self, name: str, success: bool) -> None:
        """Keep the received guest (it must run) or stop and clean up the destination."""
        ip = R.InstancePaths(name)
        if success:
            with R.instance_lock(ip):
                rt = R.load(ip)
                if rt is None or not R.is_alive(rt):
                    raise errors.HypervisorError(
                        f"Instance {name} did not survive its migration to this node")
                st = self._settled_status(rt)
                if st in ("inmigrate", None):
                    raise errors.HypervisorError(
                        f"Instance {name} has not finished migrating to this node "
                        f"(QEMU state {st})")
                rt.migrating_in = False
                R.save(ip, rt)
                network.finish_incoming(rt.spec, rt.taps)  # routed NICs move now
            return
        self.stop(name, force=True)

    def finalize_migration_src(self, name: str, success: bool, live: bool) -> None:
        """After success stop the source QEMU (its guest now runs elsewhere); after a
        failure resume a guest a non-live migration paused."""
        if success:
            self.stop(name, force=True)
            return
        rt = self._running(name)
        if rt is not None and not live:
            migration.resume_if_stopped(rt)

    def instance_status(self, name: str) -> str | None:
        """QEMU's run state (``running``, ``paused``, ``inmigrate``, ``postmigrate``...)."""
        rt = self._running(name)
        if rt is None:
            return None
        return self._qmp_status(rt) or "unknown"

    # --- hotplug and runtime changes (logic in gnt.hypervisor.kvm.hotplug) ---
    def hotplug_supported(self, name: str) -> None:
        from gnt.hypervisor.kvm import hotplug
        hotplug.check_supported(name)

    def hot_add_disk(self, name: str, disk: DiskSpec) -> DiskSpec:
        from gnt.hypervisor.kvm import hotplug
        return hotplug.add_disk(name, disk)

    def hot_del_disk(self, name: str, disk_uuid: str) -> None:
        from gnt.hypervisor.kvm import hotplug
        hotplug.remove_disk(name, disk_uuid)

    def hot_add_nic(self, name: str, nic: NICSpec) -> NICSpec:
        from gnt.hypervisor.kvm import hotplug
        return hotplug.add_nic(name, nic)

    def hot_del_nic(self, name: str, nic_uuid: str) -> None:
        from gnt.hypervisor.kvm import hotplug
        hotplug.remove_nic(name, nic_uuid)

    def resize_disk(self, name: str, disk_uuid: str, size: int) -> None:
        from gnt.hypervisor.kvm import hotplug
        hotplug.resize_disk(name, disk_uuid, size)

    def balloon_memory(self, name: str, memory: int) -> None:
        from gnt.hypervisor.kvm import hotplug
        hotplug.balloon(name, memory)
