#!/usr/bin/env python3
"""``gnt-instance move`` throughput against ``cp`` of the same file, in one run.

1. **cp** (the anchor): the instance's disk file (``--size`` MiB of real,
   non-zero data, in the page cache) copied with ``cp`` to another
   directory, then ``sync`` of the copy (the move fsyncs its target
   before it succeeds, so ``cp + sync`` is the like-for-like anchor;
   plain ``cp`` is printed too).
2. **gnt**: a two-node cluster on this machine (two node daemons on their
   own 127.x addresses, fake hypervisor, ``file`` disks); the stopped
   instance is moved node1 -> node2 -> node1 ...; for each move the wall
   time of ``gnt-instance move`` (command start to exit: shutdown, disk
   creation, copy with SHA-256 on both ends over TLS, config update,
   source removal) and the copy alone (the job log's
   ``copied in X s`` line).

Prints one JSON line: MiB/s of each (median of ``--runs``) and the ratios.
Usage: bench/bench_move.py [--size 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gnt.devcluster import LocalCluster

MIB = 1024 * 1024


def fill(path: Path, size_mib: int) -> None:
    """``size_mib`` MiB of non-zero pseudo-random data (no sparse shortcut)."""
    block = os.urandom(16 * MIB)
    with open(path, "r+b") as f:
        f.writelines(block[: min(16, size_mib - i) * MIB] for i in range(0, size_mib, 16))
        f.flush()
        os.fsync(f.fileno())


def disk_file(c: LocalCluster, inst: str, node: str) -> Path:
    cfg = json.loads((c.node_root("node1") / "var/lib/ganeti/config.data").read_text())
    i = next(x for x in cfg["instances"].values() if x["name"] in (inst, c.fqdn(inst)))
    return c.node_root(node) / cfg["disks"][i["disks"][0]]["logical_id"][1].lstrip("/")


def bench_cp(src: Path, tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    plain, synced = [], []
    for _ in range(runs):
        dst = tmp / "cp-copy"
        t = time.monotonic()
        subprocess.run(["cp", str(src), str(dst)], check=True)
        plain.append(time.monotonic() - t)
        subprocess.run(["sync", str(dst)], check=True)
        synced.append(time.monotonic() - t)
        dst.unlink()
    return plain, synced


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024, help="disk size, MiB")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-move-"))
    c = LocalCluster(tmp / "cluster", nodes=["node1", "node2"], instances=["inst1"])
    out: dict[str, object] = {"size_mib": args.size, "runs": args.runs}
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file")
        c.add_node("node2")
        c.ok("gnt-instance", "add", "-t", "file", "--disk", f"0:size={args.size}M",
             "--no-install", "--no-start", "-o", "image+raw", "--no-name-check",
             "--no-ip-check", "-n", c.fqdn("node1"), "inst1")
        src = disk_file(c, "inst1", "node1")
        fill(src, args.size)
        plain, synced = bench_cp(src, tmp, args.runs)
        walls, copies = [], []
        node = "node1"
        for _ in range(args.runs):
            target = "node2" if node == "node1" else "node1"
            t = time.monotonic()
            res = c.run("gnt-instance", "move", "-f", "-n", target, "inst1", timeout=3600)
            walls.append(time.monotonic() - t)
            res.check()
            m = re.search(r"copied in ([\d.]+)s", res.out + res.err)
            if m:
                copies.append(float(m.group(1)))
            node = target
        mibps = lambda secs: round(args.size / statistics.median(secs), 1)
        out.update({
            "cp_mibps": mibps(plain), "cp_sync_mibps": mibps(synced),
            "move_copy_mibps": mibps(copies) if copies else None,
            "move_wall_mibps": mibps(walls),
            "move_wall_s": [round(x, 2) for x in walls],
            "move_copy_s": [round(x, 2) for x in copies],
            "cp_s": [round(x, 2) for x in plain], "cp_sync_s": [round(x, 2) for x in synced],
            "load_avg": os.getloadavg()[0],
        })
        if copies:
            out["ratio_copy_vs_cp_sync"] = round(
                statistics.median(copies) / statistics.median(synced), 2)
        out["ratio_wall_vs_cp_sync"] = round(
            statistics.median(walls) / statistics.median(synced), 2)
    finally:
        c.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
