#!/usr/bin/env python3
"""Time from ``gnt-instance add`` to the test guest's boot marker, against the limit.

The limit is the same guest booted by a bare ``qemu-system-x86_64`` command
(``bench/bare_qemu_boot.py``, TCG, blank disk).  gnt's figure includes
everything ``add`` does: the job, creating the file disk, the ``image`` OS
writing the disk image, starting QEMU detached and the guest's boot to its
marker (read from the serial console log).  A warm-up instance is added
first so the one-time accelerator probe of a new node is not counted.
Prints JSON with both medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bare_qemu_boot  # noqa: E402

from gnt.devcluster import GUEST_DIR, LocalCluster  # noqa: E402

MARKER = "GNT-TEST-GUEST-BOOTED"


def gnt_boot(c: LocalCluster, name: str, timeout: float = 120) -> float:
    log = c.root / "var/log/ganeti/kvm" / f"{c.fqdn(name)}.serial.log"
    t0 = time.perf_counter()
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "-o", "image+raw",
         "-B", "memory=256M", "--no-nics", name)
    while time.perf_counter() - t0 < timeout:
        if log.exists() and MARKER in log.read_text(errors="replace"):
            return time.perf_counter() - t0
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not boot within {timeout}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    bare_qemu_boot.ensure_guest(GUEST_DIR)
    root = Path(tempfile.mkdtemp(prefix="gnt-bench-boot-"))
    names = [f"b{i}" for i in range(opts.runs + 1)]
    c = LocalCluster(root, domain="boot.gnt", instances=names)
    gnt: list[float] = []
    bare: list[float] = []
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "file",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     "kernel_args=quiet,serial_console=true")
        gnt_boot(c, names[0])
        c.ok("gnt-instance", "remove", "-f", names[0])
        disk = root / "bare-disk.img"
        for name in names[1:]:
            disk.write_bytes(b"")
            with open(disk, "r+b") as f:
                f.truncate(64 * 1024 * 1024)
            bare.append(bare_qemu_boot.boot_once("qemu-system-x86_64", "tcg", GUEST_DIR,
                                                 disk, 120))
            gnt.append(gnt_boot(c, name))
            c.ok("gnt-instance", "remove", "-f", name)
    finally:
        c.destroy()
    result = {"runs": opts.runs, "bare_qemu_s": round(statistics.median(bare), 2),
              "gnt_add_to_marker_s": round(statistics.median(gnt), 2)}
    result["ratio_gnt_over_bare"] = round(result["gnt_add_to_marker_s"]
                                          / result["bare_qemu_s"], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
