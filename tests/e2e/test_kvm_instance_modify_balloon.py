"""End to end: ``gnt-instance modify -m`` balloons a running KVM guest and
``oper_ram`` (``gnt-instance list -o oper_ram``) then reports the memory the
guest has now (QMP ``query-balloon``), not what QEMU was started with; the
guest itself sees less memory.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_kvm_instance_modify import Guest, kvm_cluster  # noqa: F401 (fixture)
from tests.support.cluster import GUEST_DIR, TestCluster, wait_for

pytestmark = pytest.mark.e2e


def _guest_modules() -> list[str]:
    """The kernel modules the test guest loads (its build manifest)."""
    for line in (GUEST_DIR / "manifest").read_text().splitlines():
        if line.startswith("modules="):
            return line.split("=", 1)[1].split()
    return []


# The guest does not load virtio_balloon: with the driver loaded, a live migration
# after a killed node daemon never resumed on the target (tests/e2e/test_migration.py),
# not understood yet; until it is, the guest ships without it and this test skips.
needs_balloon_driver = pytest.mark.skipif(
    "virtio_balloon" not in _guest_modules(),
    reason="the test guest has no virtio_balloon driver: without it the guest never "
           "gives memory back and QEMU's balloon stays at the start size")


def _oper_ram(c: TestCluster, name: str) -> str:
    return c.ok("gnt-instance", "list", "--no-headers", "--units", "m", "-o", "oper_ram",
                name).strip()


def _mem_total_kib(guest: Guest) -> int:
    line = guest.run("grep MemTotal /proc/meminfo")
    return int(line.split()[1])


@needs_balloon_driver
def test_balloon_changes_oper_ram(kvm_cluster: TestCluster) -> None:  # noqa: F811
    c = kvm_cluster
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=128M", "-o", "image+raw",
         "-O", f"image={GUEST_DIR / 'disk.img'}", "-B", "maxmem=192M,minmem=128M",
         "--no-nics", "inst1", timeout=300)
    guest = Guest(c, "inst1")
    try:
        assert _oper_ram(c, "inst1") == "192"
        before = _mem_total_kib(guest)
        out = c.ok("gnt-instance", "modify", "-m", "144M", "inst1")
        assert "runtime_memory -> 144" in out
        wait_for(lambda: _oper_ram(c, "inst1") == "144", timeout=60, interval=1)
        wait_for(lambda: _mem_total_kib(guest) <= before - 40 * 1024, timeout=60,
                 interval=1)
        # back up to the maximum
        c.ok("gnt-instance", "modify", "-m", "192M", "inst1")
        wait_for(lambda: _oper_ram(c, "inst1") == "192", timeout=60, interval=1)
    finally:
        guest.close()
    c.ok("gnt-instance", "remove", "-f", "inst1", timeout=300)
