"""The kvm hypervisor driving real QEMU with the test guest (tools/build-test-guest.sh).

One temporary GNT_ROOT for the module (so the KVM probe runs once); each
test starts its own instance and stops it again.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt import errors, paths
from gnt.hypervisor.base import DiskSpec, InstanceSpec
from gnt.hypervisor.kvm import KVMHypervisor, accel
from gnt.hypervisor.kvm import params as P
from gnt.hypervisor.kvm import runtime as R

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
GUEST = Path(os.environ.get("GNT_GUEST_DIR") or REPO / ".cache" / "guest")
QEMU = P.default_kvm_path()
BOOT_TIMEOUT = 60.0

if not shutil.which(QEMU):
    pytest.skip(f"QEMU not installed ({QEMU}); run tools/install-deps.sh",
                allow_module_level=True)
if not all((GUEST / f).is_file() for f in ("vmlinuz", "initrd.img")):
    pytest.skip(f"test guest not built in {GUEST}; run tools/build-test-guest.sh",
                allow_module_level=True)

log = logging.getLogger(__name__)


class Serial:
    """The guest's serial console socket, with everything read so far."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.text = ""

    def wait_for(self, pattern: str, timeout: float = BOOT_TIMEOUT, start: int = 0) -> str:
        """Read until ``pattern`` (regex) matches after offset ``start``; the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.text, start)
            if m:
                return m.group(0)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} on the console after {timeout}s; "
                                     f"got: {self.text[-2000:]!r}")
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"console closed while waiting for {pattern!r}; "
                                         f"got: {self.text[-2000:]!r}")
                self.text += chunk.decode(errors="replace")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="gnt-kvm-e2e-"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(paths.ENV_ROOT, str(d))
        assert paths.get().root == d.resolve()
        yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def hv(root: Path) -> Iterator[KVMHypervisor]:
    drv = KVMHypervisor()
    yield drv
    for name in R.runtime_names():  # never leave a QEMU behind
        drv.stop(name, force=True)


def make_spec(root: Path, name: str, disk: bool = True, **hv: object) -> InstanceSpec:
    disks = []
    if disk:
        img = root / f"{name}.disk0"
        with open(img, "wb") as f:
            f.truncate(64 * 1024 * 1024)
        disks.append(DiskSpec(uuid=f"{name}-disk0", index=0, path=str(img), size=64))
    hvparams: dict[str, object] = {
        "kernel_path": str(GUEST / "vmlinuz"), "initrd_path": str(GUEST / "initrd.img"),
        "kernel_args": "quiet", "root_path": "", "serial_console": True}
    hvparams.update(hv)
    return InstanceSpec(name=name, uuid=str(uuid.uuid4()), hypervisor="kvm", hvparams=hvparams,
                        beparams={"maxmem": 128, "vcpus": 1}, disks=disks)


def start_and_attach(hv: KVMHypervisor, spec: InstanceSpec) -> tuple[Serial, float]:
    """Start, attach to the console; (console, seconds from start call to the marker)."""
    t0 = time.monotonic()
    hv.start_instance(spec)
    rt = R.load(R.InstancePaths(spec.name))
    assert rt is not None and rt.serial
    con = Serial(rt.serial)
    con.wait_for("GNT-TEST-GUEST-BOOTED")
    return con, time.monotonic() - t0


def info_from_new_process(root: Path, name: str) -> dict[str, Any]:
    code = ("import json,sys; from gnt.hypervisor.kvm import KVMHypervisor as H; h=H(); "
            "i=h.get_instance_info(sys.argv[1]); "
            "print(json.dumps({'info': i.model_dump() if i else None, "
            "'list': h.list_instances()}))")
    res = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True,
                         env={**os.environ, paths.ENV_ROOT: str(root)}, timeout=60,
                         check=True, cwd=REPO)
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def test_probe_sector_runs_under_tcg() -> None:
    ok, detail = accel.run_probe(QEMU, "tcg")
    assert ok, detail


def test_boot_disk_reboot_info_and_acpi_stop(
        hv: KVMHypervisor, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gnt.hypervisor.kvm")
    spec = make_spec(root, "guest1", kernel_args="quiet gnt.counter=1")
    con, marker_s = start_and_attach(hv, spec)
    print(f"\nguest1: start_instance -> GNT-TEST-GUEST-BOOTED in {marker_s:.2f}s "
          f"(includes the first KVM probe of this root)")
    assert any("accel=" in r.getMessage() for r in caplog.records)
    assert con.wait_for(r"GNT-DISK-OK \d+") == "GNT-DISK-OK 1"  # blank disk, formatted
    con.wait_for("GNT-COUNTER 2")

    with pytest.raises(errors.HypervisorError, match="already running") as exc:
        hv.start_instance(spec)
    assert exc.value.ecode == errors.ECODE_STATE

    info = hv.get_instance_info("guest1")
    assert info is not None and info.state == "running" and info.memory == 128
    assert hv.list_instances() == ["guest1"]

    # soft reboot: same process, the guest boots again and finds its disk
    pid = info.pid
    mark = len(con.text)
    hv.reboot_instance(spec)
    con.wait_for("GNT-TEST-GUEST-BOOTED", start=mark)
    assert con.wait_for(r"GNT-DISK-OK \d+", start=mark) == "GNT-DISK-OK 2"
    con.wait_for("GNT-COUNTER 1", start=mark)

    # a fresh process (a restarted node daemon) sees the instance
    out = info_from_new_process(root, "guest1")
    assert out["list"] == ["guest1"]
    assert out["info"] is not None
    assert out["info"] == {**out["info"], "name": "guest1", "state": "running", "pid": pid}

    # graceful stop: ACPI power button, the guest powers itself off
    mark = len(con.text)
    t0 = time.monotonic()
    method = hv.stop("guest1", timeout=30)
    took = time.monotonic() - t0
    assert method == "acpi", f"stopped by {method}, not by the guest powering off"
    assert took < 30
    con.wait_for("GNT-POWEROFF", start=mark, timeout=1)
    assert hv.get_instance_info("guest1") is None and hv.list_instances() == []
    assert not R.InstancePaths("guest1").runtime.exists()
    assert pid is not None and R.process_cmdline(pid) is None
    con.close()


def test_stop_instance_interface_logs_acpi(hv: KVMHypervisor, root: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gnt.hypervisor.kvm")
    con, marker_s = start_and_attach(hv, make_spec(root, "guest2"))
    print(f"\nguest2: start_instance -> GNT-TEST-GUEST-BOOTED in {marker_s:.2f}s")
    con.wait_for(r"GNT-DISK-OK \d+")
    hv.stop_instance("guest2", timeout=30)
    assert any("stopped (guest powered off after ACPI powerdown)" in r.getMessage()
               for r in caplog.records)
    hv.stop_instance("guest2")  # not running: no error
    con.close()


def test_hard_stop_and_console_command(hv: KVMHypervisor, root: Path) -> None:
    spec = make_spec(root, "guest3", disk=False)
    hv.start_instance(spec)
    console = hv.get_console(spec, "node1.example.com")
    assert console.kind == "ssh" and console.host == "node1.example.com" and console.command
    assert console.command[0] == "socat"
    # run the console command on a pty, as `gnt-instance console` would, and use the shell
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - child
        os.execvp(console.command[0], console.command)
    try:
        buf = b""
        deadline = time.monotonic() + BOOT_TIMEOUT
        sent = False
        while b"GNT-42" not in buf:
            assert time.monotonic() < deadline, buf[-1000:]
            r, _, _ = select.select([fd], [], [], 1.0)
            if r:
                buf += os.read(fd, 65536)
            if not sent and b"gnt-guest#" in buf:
                os.write(fd, b"echo GNT-$((40+2))\r")
                sent = True
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    assert hv.stop("guest3", force=True) == "quit"
    assert hv.list_instances() == []


def test_stale_runtime_is_cleaned_and_instance_restarts(hv: KVMHypervisor,
                                                        root: Path) -> None:
    spec = make_spec(root, "guest4", disk=False)
    hv.start_instance(spec)
    rt = R.load(R.InstancePaths("guest4"))
    assert rt is not None
    os.kill(rt.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while R.is_alive(rt):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert hv.list_instances() == [] and hv.get_instance_info("guest4") is None
    assert R.InstancePaths("guest4").runtime.exists()  # stale until the next start/stop
    con, _ = start_and_attach(hv, spec)
    new = R.load(R.InstancePaths("guest4"))
    assert new is not None and new.pid != rt.pid
    assert hv.stop("guest4", force=True) == "quit"
    con.close()


def test_qemu_failure_reports_stderr(hv: KVMHypervisor, root: Path) -> None:
    spec = make_spec(root, "guest5", disk=False, kvm_extra="-no-such-qemu-option")
    with pytest.raises(errors.HypervisorError, match="no-such-qemu-option"):
        hv.start_instance(spec)
    assert hv.list_instances() == []
    assert not R.InstancePaths("guest5").runtime.exists()


def test_missing_bridge_is_refused_before_starting(hv: KVMHypervisor, root: Path) -> None:
    from gnt.hypervisor.base import NICSpec
    spec = make_spec(root, "guest6", disk=False)
    spec.nics = [NICSpec(uuid="n1", index=0, mac="aa:00:00:11:22:33",
                         nicparams={"mode": "bridged", "link": "gnt-nobr0"})]
    with pytest.raises(errors.HypervisorError, match="bridge 'gnt-nobr0' does not exist"):
        hv.start_instance(spec)
    assert hv.list_instances() == []


def test_node_info(hv: KVMHypervisor) -> None:
    info = hv.get_node_info()
    assert info.memory_total > 0 and 0 <= info.memory_free <= info.memory_total
    assert info.cpu_total >= 1 and re.match(r"\d+\.\d+", info.hv_version)
    assert hv.verify() == []


def test_startup_paused_and_reboot_of_stopped_instance(hv: KVMHypervisor, root: Path) -> None:
    spec = make_spec(root, "guest7", disk=False)
    hv.start_instance(spec, startup_paused=True)
    info = hv.get_instance_info("guest7")
    assert info is not None and info.state == "paused"
    assert hv.stop("guest7", force=True) == "quit"
    with pytest.raises(errors.HypervisorError, match="not running") as exc:
        hv.reboot_instance(spec)
    assert exc.value.ecode == errors.ECODE_STATE


def test_qmp_poll_holds_one_session_until_done_or_wait(hv: KVMHypervisor, root: Path) -> None:
    """The long poll behind ``migration_status(wait=...)``: asks again in one
    session until the answer satisfies ``until`` or the wait is over; without
    an outgoing migration the status comes back at once as ``none``."""
    from gnt.hypervisor.kvm import qmp

    spec = make_spec(root, "guest8", disk=False)
    hv.start_instance(spec, startup_paused=True)
    try:
        rt = R.load(R.InstancePaths("guest8"))
        assert rt is not None
        seen: list[str] = []

        def until(res: dict[str, Any]) -> bool:
            seen.append(res["status"])
            return len(seen) == 3

        start = time.monotonic()
        assert qmp.poll(rt.qmp, "query-status", None, until, 0.01, 5.0)["status"] == "prelaunch"
        assert seen == ["prelaunch"] * 3 and time.monotonic() - start < 2
        start = time.monotonic()
        qmp.poll(rt.qmp, "query-status", None, lambda _r: False, 0.01, 0.3)
        assert 0.25 < time.monotonic() - start < 2  # gave up after the wait
        start = time.monotonic()
        st = hv.migration_status("guest8", wait=5.0)  # nothing under way: at once
        assert st.status == "none" and st.finished and time.monotonic() - start < 2
    finally:
        hv.stop("guest8", force=True)


@pytest.fixture
def bridge() -> Iterator[str]:
    """A bridge with no uplink, created for the test (skips when that is not allowed)."""
    name = f"gnte2e{os.getpid() % 100000}"
    res = subprocess.run(["ip", "link", "add", name, "type", "bridge"], capture_output=True,
                         text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot create a bridge here: {res.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)


def test_bridged_nic_gets_a_tap_on_the_bridge(hv: KVMHypervisor, root: Path,
                                              bridge: str) -> None:
    from gnt.hypervisor.base import NICSpec
    spec = make_spec(root, "guest8", disk=False)
    mac = "aa:00:00:5e:00:53"
    spec.nics = [NICSpec(uuid="0a0b0c0d-1111", index=0, mac=mac,
                         nicparams={"mode": "bridged", "link": bridge, "vlan": ""})]
    con, _ = start_and_attach(hv, spec)
    rt = R.load(R.InstancePaths("guest8"))
    assert rt is not None and len(rt.taps) == 1
    tap = rt.taps[0].name
    assert Path(f"/sys/class/net/{tap}/master").resolve().name == bridge
    con.wait_for("gnt-guest#")
    con.send("cat /sys/class/net/eth0/address")
    con.wait_for(mac)
    assert hv.stop("guest8", timeout=30) == "acpi"
    assert not Path(f"/sys/class/net/{tap}").exists()  # the tap went with QEMU
    con.close()


def _free_vnc_port() -> int:
    for port in range(5990, 6100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 5990-6099 for VNC")


def test_vnc_console_with_password(hv: KVMHypervisor, root: Path) -> None:
    port = _free_vnc_port()
    pw = root / "vnc.pw"
    pw.write_text("s3cret\n")
    spec = make_spec(root, "guest9", disk=False, serial_console=False,
                     vnc_bind_address="127.0.0.1", vnc_password_file=str(pw))
    spec.network_port = port
    hv.start_instance(spec)
    console = hv.get_console(spec, "node1")
    assert (console.kind, console.host, console.port, console.display) == (
        "vnc", "127.0.0.1", port, port - 5900)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        assert s.recv(12).startswith(b"RFB 003.008")
        s.sendall(b"RFB 003.008\n")
        sec = s.recv(16)
        assert sec[:1] == b"\x01" and 2 in sec[1:]  # one type offered: VNC authentication
    assert hv.stop("guest9", force=True) == "quit"


def test_graceful_stop_falls_back_to_hard_when_the_guest_ignores_acpi(
        hv: KVMHypervisor, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = make_spec(root, "guest10", disk=False, acpi=False)  # no power button at all
    hv.start_instance(spec)
    t0 = time.monotonic()
    assert hv.stop("guest10", timeout=2) == "quit"
    assert 2 <= time.monotonic() - t0 < 15
    assert any("did not power off within 2s" in r.getMessage() for r in caplog.records)


def test_sigkill_when_qemu_does_not_answer(hv: KVMHypervisor, root: Path) -> None:
    hv.start_instance(make_spec(root, "guest11", disk=False))
    info = hv.get_instance_info("guest11")
    assert info is not None and info.pid
    os.kill(info.pid, signal.SIGSTOP)  # QMP cannot answer any more
    assert hv.stop("guest11", force=True) == "kill"
    assert R.process_cmdline(info.pid) is None and hv.list_instances() == []
