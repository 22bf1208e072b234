"""End to end: ``gnt-instance add`` boots the real test guest under QEMU.

The guest (tools/build-test-guest.sh) prints a marker on its serial
console, formats/mounts its virtio disk, writes to it and keeps a shell on
the console.  The test reads the console through the instance's serial
socket (the one ``gnt-instance console`` connects to), talks to the guest's
shell, then shuts the guest down by ACPI and removes the instance.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import GUEST_DIR, TestCluster, wait_for

pytestmark = pytest.mark.e2e

if not (GUEST_DIR / "vmlinuz").exists() or not shutil.which("qemu-system-x86_64"):
    pytest.skip("test guest not built or QEMU missing (run tools/setup.sh)",
                allow_module_level=True)


@pytest.fixture
def kvm_cluster(cluster_root: Path) -> Iterator[TestCluster]:
    c = TestCluster(cluster_root)
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "file,diskless",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     "kernel_args=quiet,serial_console=true")
        yield c
    finally:
        c.destroy()


class Console:
    """A client of the instance's serial console socket."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(0.2)
        self.buf = b""

    def read_until(self, needle: bytes, timeout: float = 60) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not seen on the console; got "
                                     f"{self.buf[-2000:]!r}")
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError("console closed")
            self.buf += data
        return self.buf

    def wait_prompt(self, prompt: bytes, timeout: float) -> None:
        """Press Enter every few seconds until the shell prompt shows up."""
        deadline = time.monotonic() + timeout
        while True:
            self.buf = b""
            self.send("")
            try:
                self.read_until(prompt, timeout=3)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def close(self) -> None:
        self.sock.close()


def _console_socket(c: TestCluster, name: str) -> str:
    cmd = shlex.split(c.ok("gnt-instance", "console", "--show-cmd", name).strip())
    for arg in cmd:
        for part in arg.split(","):
            part = part.split(":", 1)[-1] if part.startswith(("UNIX-CONNECT:", "unix:")) \
                else part
            if part.endswith(".serial") or "serial" in Path(part).name:
                if Path(part).exists():
                    return part
    raise AssertionError(f"no serial socket in console command {cmd}")


def test_add_boots_real_guest(kvm_cluster: TestCluster) -> None:
    c = kvm_cluster
    t0 = time.monotonic()
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=128M", "-o", "image+raw",
         "-O", f"image={GUEST_DIR / 'disk.img'}", "-B", "memory=256M", "--no-nics",
         "inst1", timeout=300)
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "status", "inst1").strip() \
        == "running"
    con = Console(_console_socket(c, "inst1"))
    try:
        con.wait_prompt(b"gnt-guest# ", timeout=120)
        con.send("echo GNT-PROBE-$((40+2))")
        con.read_until(b"GNT-PROBE-42", timeout=30)
        booted = time.monotonic() - t0
        # the marker is computed by the shell, so the echoed command line never matches it
        con.send("cat /mnt/gnt-image-marker; tail -1 /mnt/gnt-test.log; echo GNT-DONE-$((6*7))")
        out = con.read_until(b"GNT-DONE-42", timeout=30)
        assert b"installed-by-gnt-image-os" in out
    finally:
        con.close()
    log = c.root / "var/log/ganeti/kvm" / "inst1.gnt.test.serial.log"
    text = log.read_text(errors="replace")
    assert "GNT-TEST-GUEST-BOOTED" in text and "GNT-DISK-OK" in text
    print(json.dumps({"add_to_shell_prompt_s": round(booted, 2)}))

    c.ok("gnt-instance", "shutdown", "--timeout", "60", "inst1", timeout=120)
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "status,oper_state",
                "inst1").split() == ["ADMIN_down", "N"]
    pids = list((c.root / "var/run/ganeti/kvm-hypervisor").rglob("*.pid"))
    assert not pids
    c.ok("gnt-instance", "remove", "-f", "inst1")
    disks = c.root / "srv/ganeti/file-storage"
    assert not any(disks.rglob("*disk0"))


def test_qemu_failure_cleans_up(kvm_cluster: TestCluster) -> None:
    c = kvm_cluster
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=32M", "-o", "image+raw",
                "--no-nics", "-H", "kvm:kernel_path=/nonexistent/vmlinuz", "inst2")
    assert res.code != 0
    cfg = json.loads((c.root / "var/lib/ganeti/config.data").read_text())
    assert cfg["instances"] == {} and cfg["disks"] == {}
    assert not any((c.root / "srv/ganeti/file-storage").rglob("*disk0"))
    wait_for(lambda: not list((c.root / "var/run/ganeti/kvm-hypervisor").rglob("*.pid")),
             timeout=10)
