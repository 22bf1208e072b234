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
    """Every kernel module the test guest ships (its build manifest): those
    loaded at boot and the optional ones (loaded with ``gnt.modules=``)."""
    found: list[str] = []
    for line in (GUEST_DIR / "manifest").read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("modules", "optional_modules"):
            found += value.split()
    return found


# virtio_balloon is optional in the test guest (tools/build-test-guest.sh says
# why): this test's instance loads it with the kernel argument gnt.modules=.
needs_balloon_driver = pytest.mark.skipif(
    "virtio_balloon" not in _guest_modules(),
    reason="the test guest has no virtio_balloon driver (rebuild it: tools/setup.sh): "
           "without it the guest never gives memory back")


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
         "-H", "kvm:kernel_args=quiet gnt.modules=virtio_balloon", "--no-nics", "inst1",
         timeout=300)
    guest = Guest(c, "inst1")
    try:
        assert guest.run("grep -c '^virtio_balloon ' /proc/modules") == "1"
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
