#!/usr/bin/env python3
"""The gnt demo: a two-node cluster on this machine boots a real Linux guest
and live-migrates it from one node to the other and back.

Creates a cluster under a temporary root (two nodes, each its own node
daemon on its own loopback address, the second joined with a token), adds
an instance with the test guest on a ``sharedfile`` disk installed by the
``image`` OS definition, shows the guest's serial console proving it booted
and wrote to its disk, live-migrates it to node2 and back (the guest keeps
running: no boot marker appears on node2's console), shows ``gnt-job
list``; then removes everything.  Run through ``tools/demo.sh``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnt.devcluster import GUEST_DIR, LocalCluster  # noqa: E402

MARKERS = ("GNT-TEST-GUEST-BOOTED", "GNT-DISK-OK")


def step(c: LocalCluster, *argv: str, check: bool = True) -> str:
    print(f"\n$ {shlex.join(argv)}", flush=True)
    t0 = time.monotonic()
    res = c.run(*argv)
    out = (res.out + res.err).rstrip()
    if out:
        print(out)
    print(f"  [exit {res.code}, {time.monotonic() - t0:.2f}s]", flush=True)
    if check and res.code != 0:
        raise SystemExit(f"demo: '{' '.join(argv)}' failed")
    return res.out


def console_log(c: LocalCluster, name: str, node: str = "node1") -> Path:
    return c.node_root(node) / "var/log/ganeti/kvm" / f"{c.fqdn(name)}.serial.log"


def migrate(c: LocalCluster, name: str, target: str) -> None:
    """Live-migrate ``name`` to ``target`` and show that it did not reboot there."""
    step(c, "gnt-instance", "migrate", "-f", "-n", target, name)
    step(c, "gnt-instance", "list", "-o", "name,pnode,status,oper_ram")
    log = console_log(c, name, target)
    text = log.read_text(errors="replace") if log.exists() else ""
    if "GNT-TEST-GUEST-BOOTED" in text.split("=== ")[-1] and target == "node2":
        raise SystemExit("demo: the guest rebooted on the target")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    opts = parser.parse_args()
    for f in ("vmlinuz", "initrd.img", "disk.img"):
        if not (GUEST_DIR / f).exists():
            raise SystemExit(f"demo: {GUEST_DIR / f} missing; run tools/setup.sh first")
    root = Path(tempfile.mkdtemp(prefix="gnt-demo-"))
    c = LocalCluster(root, domain="demo.gnt", nodes=["node1", "node2"], instances=["demo1"])
    print(f"Cluster root: {root} (GNT_ROOT), master node {c.master}")
    try:
        step(c, "gnt-cluster", "init", "--no-etc-hosts", "--no-ssh-init",
             "--master-netdev", "lo", "--enabled-hypervisors", "kvm",
             "--enabled-disk-templates", "sharedfile,file,diskless",
             "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                   f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                   "kernel_args=quiet,serial_console=true",
             c.fqdn("cluster"))
        step(c, "gnt-cluster", "getmaster")
        token = c.start_join_mode("node2")
        step(c, "gnt-node", "add", "--join-token", token, c.fqdn("node2"))
        step(c, "gnt-node", "list")
        step(c, "gnt-os", "list")
        t0 = time.monotonic()
        step(c, "gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=256M",
             "-o", "image+raw", "-O", f"image={GUEST_DIR / 'disk.img'}",
             "-B", "memory=256M", "--no-nics", "--ignore-ipolicy", "-n", c.nodes[0], "demo1")
        step(c, "gnt-instance", "list")
        log = console_log(c, "demo1")
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            if all(m in text for m in MARKERS):
                break
            time.sleep(0.2)
        booted = time.monotonic() - t0
        print(f"\n--- serial console of demo1 ({log}) ---")
        for line in text.splitlines():
            if line.startswith("GNT-") or "login" in line.lower():
                print(f"  {line.rstrip()}")
        if not all(m in text for m in MARKERS):
            print("demo: the guest did not reach its markers in time", file=sys.stderr)
            return 1
        print(f"--- guest booted and wrote to its disk {booted:.1f}s after "
              "'gnt-instance add' started ---")
        step(c, "gnt-instance", "info", "demo1")
        migrate(c, "demo1", "node2")
        migrate(c, "demo1", "node1")
        step(c, "gnt-instance", "shutdown", "--timeout", "30", "demo1")
        step(c, "gnt-instance", "list")
        step(c, "gnt-job", "list")
        if opts.keep:
            print(f"\nLeaving the cluster running: export GNT_ROOT={root} "
                  f"GNT_HOSTNAME={c.master}")
            return 0
        step(c, "gnt-instance", "remove", "-f", "demo1")
        step(c, "gnt-node", "remove", c.fqdn("node2"))
        step(c, "gnt-cluster", "destroy", "--yes-do-it")
    finally:
        if not opts.keep:
            c.destroy()
    print("\nDemo finished; everything was removed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
