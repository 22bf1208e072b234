#!/usr/bin/env python3
"""Live migration: gnt against a bare QEMU-to-QEMU migration, in one run.

1. **Bare** (the limit): the test guest (128 MiB, TCG unless ``--accel kvm``)
   booted by ``qemu-system-x86_64`` directly; a second QEMU with
   ``-incoming tcp:127.0.0.1:PORT``; QMP ``migrate``; wall time from the
   ``migrate`` command to ``completed``, and QEMU's own ``downtime``.
2. **gnt**: a two-node cluster on this machine (two node daemons on their own
   127.x addresses), the same guest on a ``sharedfile`` disk, with the same
   bandwidth and downtime limits as the bare run's QEMU defaults;
   ``gnt-instance migrate`` wall time (command start to exit) and the
   downtime from QEMU's figures (the job result).
3. ``gnt-node migrate`` of N instances: fake hypervisor (N fake instances)
   and real (N real guests).

Prints one JSON line with the figures and the ratios gnt/bare.
Usage: bench/bench_migration.py [--runs 3] [--node-instances 10] [--real-node-instances 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qemu.qmp import QMPClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gnt.devcluster import GUEST_DIR, LocalCluster, wait_for

MIB = 1024 * 1024


async def _qmp(path: str, cmds: list[tuple[str, dict[str, Any] | None]]) -> list[Any]:
    c = QMPClient("bench")
    await c.connect(path)
    try:
        return [await c.execute(n, a) for n, a in cmds]
    finally:
        await c.disconnect()


def qmp(path: str, *cmds: tuple[str, dict[str, Any] | None]) -> list[Any]:
    return asyncio.run(_qmp(path, list(cmds)))


def _qemu(tmp: Path, name: str, accel: str, incoming: str | None) -> subprocess.Popen[bytes]:
    cmd = ["qemu-system-x86_64", "-accel", accel, "-m", "128", "-display", "none", "-nodefaults",
           "-serial", f"file:{tmp / name}.serial", "-kernel", str(GUEST_DIR / "vmlinuz"),
           "-initrd", str(GUEST_DIR / "initrd.img"), "-append", "console=ttyS0 quiet",
           "-drive", f"file={tmp / 'disk.img'},if=virtio,format=raw,cache=none",
           "-qmp", f"unix:{tmp / name}.qmp,server=on,wait=off"]
    if incoming:
        cmd += ["-incoming", incoming]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _answers(path: str) -> bool:
    try:
        qmp(path, ("query-status", None))
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bare_once(accel: str, port: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gnt-bench-mig-") as d:
        tmp = Path(d)
        subprocess.run(["cp", "--sparse=always", str(GUEST_DIR / "disk.img"),
                        str(tmp / "disk.img")], check=True)
        src = _qemu(tmp, "src", accel, None)
        dst = _qemu(tmp, "dst", accel, f"tcp:127.0.0.1:{port}")
        try:
            serial = tmp / "src.serial"
            wait_for(lambda: serial.exists() and b"GNT-TEST-GUEST-BOOTED" in
                     serial.read_bytes(), timeout=120)
            wait_for(lambda: (tmp / "dst.qmp").exists(), timeout=30)
            # QMP answering means QEMU's main loop runs: the incoming port listens
            wait_for(lambda: _answers(str(tmp / "dst.qmp")), timeout=30)
            params = qmp(str(tmp / "src.qmp"), ("query-migrate-parameters", None))[0]
            t0 = time.monotonic()
            qmp(str(tmp / "src.qmp"), ("migrate", {"uri": f"tcp:127.0.0.1:{port}"}))
            while True:
                st = qmp(str(tmp / "src.qmp"), ("query-migrate", None))[0]
                if st["status"] in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.005)
            wall = time.monotonic() - t0
            if st["status"] != "completed":
                raise RuntimeError(f"bare migration {st['status']}: {st.get('error-desc')}")
            return {"wall_s": wall, "downtime_ms": st.get("downtime"),
                    "total_time_ms": st.get("total-time"),
                    "max_bandwidth_mib_s": params["max-bandwidth"] / MIB,
                    "downtime_limit_ms": params["downtime-limit"]}
        finally:
            for p in (src, dst):
                p.kill()
                p.wait()


def _pnode(c: LocalCluster, name: str) -> str:
    return c.short(c.ok("gnt-instance", "list", "--no-headers", "-o", "pnode", name).strip())


def _job_times(c: LocalCluster, job: str) -> dict[str, float]:
    """Seconds the job took from receipt to end (``job_s``) and from the opcode's
    start of execution, locks held, to the end (``exec_s``)."""
    text = c.ok("gnt-job", "list", "--no-headers", "--separator=|", "-o",
                "received_ts,opexec,end_ts", job)
    nums = [int(n) for n in re.findall(r"\d+", text)]
    ts = [nums[i] + nums[i + 1] / 1e6 for i in range(0, len(nums) - 1, 2)]
    if len(ts) < 3:
        return {}
    return {"job_s": round(ts[-1] - ts[0], 3), "exec_s": round(ts[-1] - ts[1], 3)}


def gnt_runs(root: Path, runs: int, bw: int, downtime: int) -> list[dict[str, Any]]:
    c = LocalCluster(root, nodes=["node1", "node2"], instances=["inst1"])
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "sharedfile",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     f"kernel_args=quiet,serial_console=true,migration_bandwidth={bw},"
                     f"migration_downtime={downtime}")
        c.add_node("node2")
        c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=128M",
             "-o", "image+raw", "-O", f"image={GUEST_DIR / 'disk.img'}", "-B", "memory=128M",
             "--no-nics", "--ignore-ipolicy", "-n", c.fqdn("node1"), "inst1", timeout=300)
        log = c.root / "var/log/ganeti/kvm" / f"{c.fqdn('inst1')}.serial.log"
        wait_for(lambda: log.exists() and "GNT-TEST-GUEST-BOOTED" in log.read_text(
            errors="replace"), timeout=120)
        out = []
        for _ in range(runs):
            target = "node2" if _pnode(c, "inst1") == "node1" else "node1"
            t0 = time.monotonic()
            res = c.ok("gnt-instance", "migrate", "-f", "-n", target, "inst1", timeout=300)
            wall = time.monotonic() - t0
            job = c.ok("gnt-job", "list", "--no-headers", "-o", "id").split()[-1]
            result = c.ok("gnt-job", "list", "--no-headers", "-o", "opresult", job)
            downtime_ms = None
            for line in res.splitlines():
                if "downtime" in line:
                    downtime_ms = int(line.rsplit("downtime", 1)[1].split()[0])
            out.append({"wall_s": wall, "downtime_ms": downtime_ms, "opresult": result.strip(),
                        **_job_times(c, job)})
        return out
    finally:
        c.destroy()


def node_migrate(root: Path, count: int, real: bool) -> float:
    """Seconds for ``gnt-node migrate`` of ``count`` instances from node1 to node2."""
    insts = [f"inst{i}" for i in range(1, count + 1)]
    c = LocalCluster(root, nodes=["node1", "node2"], instances=insts)
    hv = "kvm" if real else "fake"
    try:
        extra = (["-H", (f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},initrd_path="
                         f"{GUEST_DIR / 'initrd.img'},root_path=/dev/vda,kernel_args=quiet,"
                         "migration_bandwidth=1000")] if real else [])
        c.init("--enabled-hypervisors", hv, "--enabled-disk-templates", "sharedfile,diskless",
               *extra)
        c.add_node("node2")
        for name in insts:
            if real:
                c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=128M",
                     "-o", "image+raw", "-O", f"image={GUEST_DIR / 'disk.img'}",
                     "-B", "memory=128M", "--no-nics", "--ignore-ipolicy", "--no-name-check",
                     "--no-ip-check", "-n", c.fqdn("node1"), name, timeout=300)
            else:
                c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "-o",
                     "image+raw", "--no-name-check", "--no-ip-check", "--ignore-ipolicy",
                     "-n", c.fqdn("node1"), name)
                c.ok("gnt-instance", "start", name)
        t0 = time.monotonic()
        c.ok("gnt-node", "migrate", "-f", "-n", "node2", "node1", timeout=1800)
        took = time.monotonic() - t0
        left = [n for n in insts if _pnode(c, n) != "node2"]
        if left:
            raise RuntimeError(f"not migrated: {left}")
        return took
    finally:
        c.destroy()


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r]
    return round(statistics.median(vals), 3) if vals else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--accel", default="tcg", choices=("tcg", "kvm"))
    ap.add_argument("--node-instances", type=int, default=10)
    ap.add_argument("--real-node-instances", type=int, default=10)
    args = ap.parse_args()
    bare = [bare_once(args.accel, _free_port()) for _ in range(args.runs)]
    bw = round(bare[0]["max_bandwidth_mib_s"])
    downtime = int(bare[0]["downtime_limit_ms"])
    with tempfile.TemporaryDirectory(prefix="gnt-bench-mig-") as d:
        gnt = gnt_runs(Path(d) / "c1", args.runs, bw, downtime)
        fake_s = node_migrate(Path(d) / "c2", args.node_instances, real=False)
        real_s = (node_migrate(Path(d) / "c3", args.real_node_instances, real=True)
                  if args.real_node_instances else None)
    bare_wall = statistics.median(r["wall_s"] for r in bare)
    gnt_wall = statistics.median(r["wall_s"] for r in gnt)
    print(json.dumps({
        "bench": "migration", "accel": args.accel, "runs": args.runs,
        "limits": {"bandwidth_mib_s": bw, "downtime_limit_ms": downtime},
        "bare": {"median_wall_s": round(bare_wall, 3),
                 "downtime_ms": [r["downtime_ms"] for r in bare]},
        "gnt_instance_migrate": {"median_wall_s": round(gnt_wall, 3),
                                 "downtime_ms": [r["downtime_ms"] for r in gnt],
                                 "median_job_s": _median(gnt, "job_s"),
                                 "median_exec_s": _median(gnt, "exec_s")},
        "ratio_wall_gnt_over_bare": round(gnt_wall / bare_wall, 2),
        "gnt_node_migrate_fake_s": {"instances": args.node_instances,
                                    "seconds": round(fake_s, 2)},
        "gnt_node_migrate_real_s": {"instances": args.real_node_instances,
                                    "seconds": round(real_s, 2) if real_s else None},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
