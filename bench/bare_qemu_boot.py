#!/usr/bin/env python3
"""Reference boot time of the test guest under bare QEMU ("the limit").

Starts ``qemu-system-x86_64`` directly (no gnt) with the test guest built by
``tools/build-test-guest.sh`` and a blank 64 MiB raw virtio disk, and measures
the seconds from process start to the ``GNT-TEST-GUEST-BOOTED`` line on the
serial console (stdout).  Runs N times and prints one JSON line::

    {"bench": "bare_qemu_boot", "accel": "tcg", "runs": 5, "median_s": 2.1,
     "min_s": 2.0, "max_s": 2.3, "samples_s": [...], "kernel": "6.1.0-...", "qemu": "..."}

gnt's own add-to-marker time is reported against ``median_s``.

Usage: bench/bare_qemu_boot.py [--runs N] [--accel tcg|kvm] [--guest-dir DIR]
                               [--qemu PATH] [--timeout S]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = b"GNT-TEST-GUEST-BOOTED"
KERNEL_ARGS = "console=ttyS0 quiet"


def guest_dir(arg: str | None) -> Path:
    """The guest build dir: ``--guest-dir``, ``$GNT_GUEST_DIR`` or ``<repo>/.cache/guest``."""
    return Path(arg or os.environ.get("GNT_GUEST_DIR") or REPO / ".cache" / "guest")


def ensure_guest(gdir: Path) -> None:
    """Build the guest if needed (fast no-op when up to date)."""
    subprocess.run([str(REPO / "tools" / "build-test-guest.sh"), str(gdir)], check=True,
                   stdout=subprocess.DEVNULL)


def boot_once(qemu: str, accel: str, gdir: Path, disk: Path, timeout: float) -> float:
    """Seconds from QEMU start to the marker; raises RuntimeError on timeout/exit."""
    with open(disk, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    cmd = [qemu, "-accel", accel, "-m", "256", "-nographic", "-no-reboot",
           "-kernel", str(gdir / "vmlinuz"), "-initrd", str(gdir / "initrd.img"),
           "-append", KERNEL_ARGS,
           "-drive", f"file={disk},if=virtio,format=raw"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    buf = b""
    try:
        while MARKER not in buf:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise RuntimeError(f"no marker after {timeout}s; output tail: {buf[-500:]!r}")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"QEMU exited ({proc.wait()}); output tail: {buf[-500:]!r}")
            buf += chunk
        return time.monotonic() - t0
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--accel", default="tcg", choices=("tcg", "kvm"))
    ap.add_argument("--guest-dir")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()

    gdir = guest_dir(args.guest_dir)
    ensure_guest(gdir)
    samples = []
    with tempfile.TemporaryDirectory(prefix="gnt-bench-") as tmp:
        disk = Path(tmp) / "blank.img"
        for _ in range(args.runs):
            samples.append(round(boot_once(args.qemu, args.accel, gdir, disk, args.timeout), 3))
    manifest = dict(line.split("=", 1) for line in
                    (gdir / "manifest").read_text().splitlines() if "=" in line)
    qemu_version = subprocess.run([args.qemu, "--version"], capture_output=True, check=True,
                                  text=True).stdout.splitlines()[0]
    print(json.dumps({
        "bench": "bare_qemu_boot", "accel": args.accel, "runs": args.runs,
        "median_s": round(statistics.median(samples), 3),
        "min_s": min(samples), "max_s": max(samples), "samples_s": samples,
        "kernel": manifest.get("kernel_version", ""), "qemu": qemu_version,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
