"""End to end: changes to existing KVM instances, seen from inside the real test guest.

* a disk hot-added with ``gnt-instance modify --disk add`` appears in the
  running guest (``/sys/block/vdb``), a grown disk shows its new size
  (``/sys/block/vd?/size``), a hot-removed disk disappears, a hot-added NIC
  appears (``/sys/class/net``) and goes away again; the runtime file keeps
  the hot-plugged devices; ``--no-hotplug`` changes show up after a restart;
* QEMU refusing a hot-add (a q35 machine, whose root bus takes no hotplug)
  leaves neither a disk in the config nor a file behind;
* rename and reinstall of a stopped instance, which then boots again with
  the OS image written by the reinstall.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_kvm_cluster import Console, _console_socket
from tests.support.cluster import GUEST_DIR, TestCluster, wait_for

pytestmark = pytest.mark.e2e

if not (GUEST_DIR / "vmlinuz").exists() or not shutil.which("qemu-system-x86_64"):
    pytest.skip("test guest not built or QEMU missing (run tools/setup.sh)",
                allow_module_level=True)

PROMPT = b"gnt-guest# "


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


@pytest.fixture
def bridge() -> Iterator[str]:
    """A host bridge for hot-plugged NICs (removed afterwards)."""
    name = f"gnthp{secrets.token_hex(3)}"
    res = subprocess.run(["ip", "link", "add", name, "type", "bridge"], capture_output=True,
                         text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot create a bridge: {res.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _disk_files(c: TestCluster) -> list[Path]:
    return sorted(p for p in (c.root / "srv/ganeti/file-storage").rglob("*.file.disk*"))


def _runtime(c: TestCluster, name: str) -> dict:
    return json.loads((c.root / f"var/run/ganeti/kvm-hypervisor/conf/{name}.runtime")
                      .read_text())


def _add(c: TestCluster, name: str, *extra: str) -> None:
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=128M", "-o", "image+raw",
         "-O", f"image={GUEST_DIR / 'disk.img'}", "-B", "memory=192M", "--no-nics",
         *extra, name, timeout=300)


class Guest:
    """The serial console shell of a running instance (``socket``: its serial socket,
    default: what ``gnt-instance console`` connects to)."""

    def __init__(self, c: TestCluster, name: str, socket: str | None = None) -> None:
        self.con = Console(socket or _console_socket(c, name))
        self.con.wait_prompt(PROMPT, timeout=180)

    def run(self, cmd: str, timeout: float = 30) -> str:
        """Output of ``cmd`` in the guest's shell (the echoed command line skipped)."""
        tok = secrets.token_hex(4)
        self.con.buf = b""
        self.con.send(f"{cmd}; echo GNT-E''ND-{tok}")  # the echo of the line does not match
        out = self.con.read_until(f"GNT-END-{tok}".encode(), timeout=timeout).decode(
            errors="replace")
        body = out.rsplit(f"E''ND-{tok}", 1)[-1]  # after the (last) echo of the line
        return body.split(f"GNT-END-{tok}", 1)[0].strip()

    def wait(self, cmd: str, expected: str, timeout: float = 30) -> str:
        """Run ``cmd`` until its output contains ``expected``."""
        def probe() -> str | None:
            out = self.run(cmd)
            return out if expected in out else None
        result: str = wait_for(probe, timeout=timeout, interval=0.5)
        return result

    def close(self) -> None:
        self.con.close()


def test_hotplug_disks_and_nics_reach_the_guest(kvm_cluster: TestCluster, bridge: str) -> None:
    c = kvm_cluster
    _add(c, "inst1")
    guest = Guest(c, "inst1")
    try:
        assert guest.run("ls /sys/block") == "vda"

        out = c.ok("gnt-instance", "modify", "--disk", "add:size=64M,name=data", "inst1")
        assert "disk/1 -> add:size=64,mode=rw" in out
        assert "disk/1 -> hotplug:done" in out
        guest.wait("ls /sys/block", "vdb")
        assert guest.run("cat /sys/block/vdb/size") == str(64 * 2048)
        rt = _runtime(c, "inst1.gnt.test")
        assert [d["name"] for d in rt["spec"]["disks"]] == [None, "data"]
        assert rt["spec"]["disks"][1]["pci_slot"] >= 12

        # grown disks: the guest sees the new sizes at once
        c.ok("gnt-instance", "grow-disk", "inst1", "1", "32M")
        guest.wait("cat /sys/block/vdb/size", str(96 * 2048))
        c.ok("gnt-instance", "grow-disk", "--absolute", "inst1", "0", "160M")
        guest.wait("cat /sys/block/vda/size", str(160 * 2048))
        sizes = c.ok("gnt-instance", "list", "--no-headers", "-o", "disk.sizes", "inst1")
        assert sizes.strip() == "160,96"

        # a NIC on a bridge
        out = c.ok("gnt-instance", "modify", "--net", f"add:link={bridge}", "inst1")
        assert "nic.0 -> hotplug:done" in out
        guest.wait("ls /sys/class/net", "eth0")
        tap = _runtime(c, "inst1.gnt.test")["taps"][0]["name"]
        assert Path(f"/sys/class/net/{bridge}/brif/{tap}").exists()
        c.ok("gnt-instance", "modify", "--net", "0:remove", "inst1")
        wait_for(lambda: "eth0" not in guest.run("ls /sys/class/net"), timeout=30)
        assert not Path(f"/sys/class/net/{tap}").exists()

        # removing disk 1 takes it out of the guest, the config and the node
        c.ok("gnt-instance", "modify", "--disk", "1:remove", "inst1")
        wait_for(lambda: guest.run("ls /sys/block") == "vda", timeout=30)
        assert len(_disk_files(c)) == 1
        assert len(_config(c)["disks"]) == 1
        # disk 0 of a running instance: refused, nothing changes
        serial = _config(c)["serial_no"]
        res = c.run("gnt-instance", "modify", "--disk", "0:remove", "inst1")
        assert res.code != 0 and "disk 0" in res.err
        assert _config(c)["serial_no"] == serial

        # --no-hotplug: the config changes now, the guest at its next start
        out = c.ok("gnt-instance", "modify", "--no-hotplug", "--disk", "add:size=32M", "inst1")
        assert "hotplug" not in out and "next (re)start" in out
        assert guest.run("ls /sys/block") == "vda"
        res = c.run("gnt-instance", "modify", "--no-hotplug", "--disk", "1:remove", "inst1")
        assert res.code != 0 and "without using hotplug" in res.err
    finally:
        guest.close()
    c.ok("gnt-instance", "reboot", "inst1", timeout=300)
    guest = Guest(c, "inst1")
    try:
        assert guest.run("ls /sys/block").split() == ["vda", "vdb"]
        assert guest.run("cat /sys/block/vdb/size") == str(32 * 2048)
    finally:
        guest.close()
    c.ok("gnt-instance", "remove", "-f", "inst1", timeout=300)
    assert _disk_files(c) == []


def test_refused_hot_add_leaves_nothing(kvm_cluster: TestCluster, bridge: str) -> None:
    c = kvm_cluster
    # on a q35 machine the root bus takes no hot-plugged devices: QEMU refuses
    _add(c, "inst2", "-H", "kvm:machine_version=q35")
    before = _config(c)
    files = _disk_files(c)
    res = c.run("gnt-instance", "modify", "--disk", "add:size=32M", "inst2")
    assert res.code != 0, res.out
    assert "Bus 'pcie.0' does not support hotplugging" in res.err  # QEMU's own refusal
    after = _config(c)
    assert after["disks"] == before["disks"]
    assert after["instances"] == before["instances"]
    assert _disk_files(c) == files
    rt = _runtime(c, "inst2.gnt.test")
    assert len(rt["spec"]["disks"]) == 1
    # the same for a NIC: no NIC in the config, no tap left on the bridge
    res = c.run("gnt-instance", "modify", "--net", f"add:link={bridge}", "inst2")
    assert res.code != 0 and "does not support hotplugging" in res.err
    assert _config(c)["instances"] == before["instances"]
    assert list(Path(f"/sys/class/net/{bridge}/brif").iterdir()) == []
    assert _runtime(c, "inst2.gnt.test")["taps"] == []
    c.ok("gnt-instance", "remove", "-f", "inst2", timeout=300)


def test_rename_and_reinstall_then_boot(kvm_cluster: TestCluster) -> None:
    c = kvm_cluster
    _add(c, "inst3", "--no-start")
    old_dir = c.root / "srv/ganeti/file-storage/inst3.gnt.test"
    assert old_dir.is_dir()
    out = c.ok("gnt-instance", "rename", "inst3", "inst4")
    assert "Instance 'inst3' renamed to 'inst4.gnt.test'" in out
    new_dir = c.root / "srv/ganeti/file-storage/inst4.gnt.test"
    assert new_dir.is_dir() and not old_dir.exists()
    # wipe the disk, then let reinstall write the image again
    disk = next(new_dir.glob("*.file.disk0"))
    with open(disk, "r+b") as f:
        f.write(b"\0" * 1024 * 1024 * 4)
    c.ok("gnt-instance", "reinstall", "-f", "inst4", timeout=300)
    c.ok("gnt-instance", "startup", "inst4", timeout=300)
    guest = Guest(c, "inst4")
    try:
        assert guest.run("cat /mnt/gnt-image-marker") == "installed-by-gnt-image-os"
    finally:
        guest.close()
    c.ok("gnt-instance", "remove", "-f", "inst4", timeout=300)


def test_hotplugged_devices_survive_migration(tmp_path_factory: pytest.TempPathFactory,
                                             bridge: str) -> None:
    """The runtime file keeps hot-plugged devices and the PCI layout: the
    migration target starts QEMU with the same devices in the same slots (also
    after a device present at start was unplugged), and they can be unplugged
    there."""
    c = TestCluster(tmp_path_factory.mktemp("hpmig"), nodes=["node1", "node2"],
                    instances=["inst5"])
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "sharedfile",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     "kernel_args=quiet,serial_console=true")
        c.add_node("node2")
        c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=128M", "--disk",
             "1:size=16M", "-o", "image+raw", "-O", f"image={GUEST_DIR / 'disk.img'}", "-B",
             "memory=128M", "--no-nics", "-n", c.fqdn("node1"), "inst5", timeout=300)

        def socket(node: str) -> str:
            rt = (c.node_root(node) / "var/run/ganeti/kvm-hypervisor/conf" /
                  f"{c.fqdn('inst5')}.runtime")
            return str(json.loads(rt.read_text())["serial"])

        guest = Guest(c, "inst5", socket("node1"))
        try:
            # a disk QEMU got at start goes (its PCI slot stays free), two devices come
            assert guest.run("cat /sys/block/vdb/size") == str(16 * 2048)
            c.ok("gnt-instance", "modify", "--disk", "1:remove", "inst5")
            wait_for(lambda: guest.run("ls /sys/block") == "vda", timeout=30)
            c.ok("gnt-instance", "modify", "--disk", "add:size=32M", "inst5")
            c.ok("gnt-instance", "modify", "--net", f"add:link={bridge}", "inst5")
            guest.wait("ls /sys/block /sys/class/net", "vdb")
            guest.wait("ls /sys/class/net", "eth0")
        finally:
            guest.close()
        c.ok("gnt-instance", "migrate", "-f", "-n", c.fqdn("node2"), "inst5", timeout=300)
        guest = Guest(c, "inst5", socket("node2"))
        try:
            assert guest.run("cat /sys/block/vdb/size") == str(32 * 2048)
            assert "eth0" in guest.run("ls /sys/class/net")
            c.ok("gnt-instance", "modify", "--disk", "1:remove", "--net", "0:remove", "inst5")
            wait_for(lambda: guest.run("ls /sys/block") == "vda", timeout=30)
            wait_for(lambda: "eth0" not in guest.run("ls /sys/class/net"), timeout=30)
        finally:
            guest.close()
        rt = json.loads((c.node_root("node2") / "var/run/ganeti/kvm-hypervisor/conf" /
                         f"{c.fqdn('inst5')}.runtime").read_text())
        assert len(rt["spec"]["disks"]) == 1 and rt["spec"]["nics"] == [] and rt["taps"] == []
    finally:
        c.destroy()
