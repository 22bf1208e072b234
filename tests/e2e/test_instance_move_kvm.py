"""End to end: ``gnt-instance move`` of the real test guest on a ``file`` disk.

Two nodes on this machine (own roots, own ``gnt-noded`` on 127.x
addresses), the test guest (128 MiB, KVM or TCG) on a 128 MiB ``file``
disk of node1.  The guest writes a marker into its disk; the move shuts
it down, copies the disk to node2 node-to-node and boots it there: the
guest must boot on node2 from the copied disk and find its marker.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_kvm_cluster import Console
from tests.support.cluster import GUEST_DIR, TestCluster, wait_for
from tests.support.kvm_files import serial_log, serial_socket

pytestmark = pytest.mark.e2e

if not (GUEST_DIR / "vmlinuz").exists() or not shutil.which("qemu-system-x86_64"):
    pytest.skip("test guest not built or QEMU missing (run tools/setup.sh)",
                allow_module_level=True)

INST = "inst1"
PROMPT = b"gnt-guest# "


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("movekvm"), nodes=["node1", "node2"],
                    instances=[INST])
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "file",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     "kernel_args=quiet,serial_console=true")
        c.add_node("node2")
        c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=128M",
             "-o", "image+raw", "-O", f"image={GUEST_DIR / 'disk.img'}",
             "-B", "memory=128M", "--no-nics", "--ignore-ipolicy", "-n", c.fqdn("node1"),
             INST, timeout=300)
        yield c
    finally:
        c.destroy()


def _socket(c: TestCluster, node: str) -> str:
    return serial_socket(c, node, INST)


def _serial_log(c: TestCluster, node: str) -> str:
    return serial_log(c, node, INST)


def _disk_file(c: TestCluster, node: str) -> Path:
    cfg = json.loads((c.node_root("node1") / "var/lib/ganeti/config.data").read_text())
    inst = next(i for i in cfg["instances"].values() if i["name"] in (INST, c.fqdn(INST)))
    return c.node_root(node) / cfg["disks"][inst["disks"][0]]["logical_id"][1].lstrip("/")


def _console(c: TestCluster, node: str, cmd: str, until: bytes) -> bytes:
    con = Console(_socket(c, node))
    try:
        con.wait_prompt(PROMPT, timeout=180)
        con.send(cmd)
        return con.read_until(until, timeout=60)
    finally:
        con.close()


def test_move_file_instance_boots_on_target(cluster: TestCluster) -> None:
    c = cluster
    mark = f"moved-{secrets.token_hex(4)}"
    out = _console(c, "node1", f"echo {mark} >> /mnt/gnt-test.log && sync && "
                   f"echo GNT-MARK-$((2+3))", b"GNT-MARK-5")
    assert b"GNT-MARK-5" in out
    src_file = _disk_file(c, "node1")
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "--shutdown-timeout", "15",
                INST, timeout=600).check()
    log = res.out + res.err
    assert "MiB copied in" in log and "sha256" in log, log
    assert c.short(c.ok("gnt-instance", "list", "--no-headers", "-o", "pnode",
                        INST).strip()) == "node2"
    assert not src_file.exists(), "the source disk must be removed"
    assert _disk_file(c, "node2").exists()
    # the guest boots on node2 from the copied disk and finds its marker
    wait_for(lambda: "GNT-TEST-GUEST-BOOTED" in _serial_log(c, "node2"), timeout=240,
             interval=1)
    out = _console(c, "node2", "cat /mnt/gnt-test.log; echo GNT-READ-$((3+4))",
                   b"GNT-READ-7")
    assert mark.encode() in out, out
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "status",
                INST).strip() == "running"
