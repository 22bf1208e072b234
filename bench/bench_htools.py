"""Benchmark gnt htools against Ganeti's (Debian ganeti-htools-3.0), side by side.

For each size (nodes/instances) an unbalanced DRBD cluster is generated
(seeded, ``gnt.htools.generate``), then ``hbal``, ``hspace`` and ``hail``
(an allocate request for one DRBD instance on that cluster) run with
Ganeti's binaries and with gnt's.  Reported per tool: wall time, CPU time
(user+sys of the child), peak RSS of the child, and for hbal the final
score and the number of moves.  Ganeti gets a time limit; when it hits it
the row says so and shows the last score it had printed.

Usage::

    .venv/bin/python bench/bench_htools.py [--sizes 20/200,100/2000] [--limit 120]
        [--seed 1] [--no-ganeti] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SIZES = "20/200,100/2000,200/4000,400/8000"
SCORE_LINE = re.compile(r"^\s+\d+\. .* (\d+\.\d+) a=")


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    finished: bool
    stdout: str


def run(cmd: list[str], limit: float | None) -> Run:
    """Run ``cmd``; per-process rusage via wait4; kill at ``limit`` seconds."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        finished = True
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if limit is not None and time.monotonic() - start > limit:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(proc.pid, 0)
                finished = False
                break
            time.sleep(0.05)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, finished,
                   out.read())


REF_HAIL = "/usr/lib/ganeti/iallocators/hail"


def write_request(data: Path, path: Path) -> None:
    """An iallocator request: allocate one DRBD instance (4 GiB, 100 GiB) on ``data``."""
    import json

    from gnt.htools.iallocator import cluster_to_json
    from gnt.htools.text import load_file
    req = {"type": "allocate", "name": "new1.example.com", "disk_template": "drbd",
           "memory": 4096, "vcpus": 2, "disks": [{"size": 102400, "mode": "rw"}],
           "disk_space_total": 102400, "nics": [], "tags": [], "spindle_use": 1,
           "os": "debian", "hypervisor": "xen-pvm", "required_nodes": 2}
    path.write_text(json.dumps(cluster_to_json(load_file(data), req, "xen-pvm")))


def hail_nodes(r: Run) -> str:
    m = re.search(r'"result":(\[[^\]]*\])', r.stdout)
    return m.group(1) if m else "?"


def final_score(stdout: str) -> tuple[float | None, int]:
    moves = [m for m in (SCORE_LINE.match(ln) for ln in stdout.splitlines()) if m]
    m = re.search(r"Cluster score improved from [\d.]+ to ([\d.]+)", stdout)
    if m:
        return float(m.group(1)), len(moves)
    if moves:
        return float(moves[-1].group(1)), len(moves)
    m = re.search(r"Initial score: ([\d.]+)", stdout)
    return (float(m.group(1)) if m else None), 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES)
    ap.add_argument("--limit", type=float, default=120.0, help="time limit for Ganeti (s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-ganeti", action="store_true")
    args = ap.parse_args(argv)
    have_ganeti = os.path.exists("/usr/bin/hbal") and not args.no_ganeti
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="bench-htools-"))
    rows = []
    for size in args.sizes.split(","):
        n, m = (int(x) for x in size.split("/"))
        data = tmp / f"c{n}_{m}.txt"
        subprocess.run([py, "-m", "gnt.htools.generate", "--nodes", str(n), "--instances",
                        str(m), "--seed", str(args.seed), "--unbalanced", "-o", str(data)],
                       check=True)
        load0 = os.getloadavg()[0]
        ours = run([py, "-m", "gnt.htools", "hbal", "-t", str(data)], None)
        o_score, o_moves = final_score(ours.stdout)
        hs = ["--disk-template", "drbd", "--standard-alloc=10240,1024,1", "-t", str(data)]
        ours_hs = run([py, "-m", "gnt.htools", "hspace", *hs], None)
        req = tmp / f"r{n}_{m}.json"
        write_request(data, req)
        ours_hail = run([py, "-m", "gnt.htools", "hail", str(req)], None)
        row = {"size": size, "o": ours, "o_score": o_score, "o_moves": o_moves,
               "o_hs": ours_hs, "o_hail": ours_hail, "o_hail_ans": hail_nodes(ours_hail)}
        if have_ganeti:
            ref = run(["/usr/bin/hbal", "-t", str(data)], args.limit)
            r_score, r_moves = final_score(ref.stdout)
            g_hail = run([REF_HAIL, str(req)], args.limit)
            row.update(g=ref, g_score=r_score, g_moves=r_moves,
                       g_hs=run(["/usr/bin/hspace", *hs], args.limit),
                       g_hail=g_hail, g_hail_ans=hail_nodes(g_hail))
        row["load"] = (load0, os.getloadavg()[0])
        rows.append(row)
        print(fmt_row(row), flush=True)
    print()
    print(markdown(rows, args.limit))
    print()
    print("1-minute load average before / after each size: " + ", ".join(
        f"{r['size']} {r['load'][0]:.1f} / {r['load'][1]:.1f}" for r in rows))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def fmt_row(r: dict) -> str:
    o = r["o"]
    s = (f"{r['size']}: gnt hbal {o.wall:.2f}s wall {o.cpu:.2f}s cpu {o.rss_mib:.0f}MiB "
         f"score {r['o_score']} ({r['o_moves']} moves); gnt hspace {r['o_hs'].cpu:.2f}s cpu"
         f"; gnt hail {r['o_hail'].cpu:.2f}s cpu {r['o_hail_ans']}")
    if "g" in r:
        g = r["g"]
        s += (f" | ganeti hbal {g.wall:.2f}s wall {g.cpu:.2f}s cpu {g.rss_mib:.0f}MiB "
              f"score {r['g_score']} ({r['g_moves']} moves{'' if g.finished else ', CUT'})"
              f"; ganeti hspace {r['g_hs'].cpu:.2f}s cpu"
              f"; ganeti hail {r['g_hail'].cpu:.2f}s cpu {r['g_hail_ans']}")
    return s


def _sc(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.8f}"


def markdown(rows: list[dict], limit: float) -> str:
    lines = [("| nodes/instances | gnt hbal wall / cpu | gnt final score (moves) | "
             "Ganeti hbal wall / cpu | Ganeti final score (moves) | speed-up (cpu) | "
             "gnt / Ganeti peak RSS | gnt / Ganeti hspace cpu | gnt / Ganeti hail cpu "
             "(same answer) |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o = r["o"]
        if "g" in r:
            g = r["g"]
            gdone = "" if g.finished else f" (cut at {limit:.0f} s)"
            lines.append(
                f"| {r['size']} | {o.wall:.2f} s / {o.cpu:.2f} s | {_sc(r['o_score'])} "
                f"({r['o_moves']}) | {g.wall:.2f} s / {g.cpu:.2f} s{gdone} | "
                f"{_sc(r['g_score'])} ({r['g_moves']}){'' if g.finished else ' so far'} | "
                f"{g.cpu / o.cpu:.1f}x{'+' if not g.finished else ''} | "
                f"{o.rss_mib:.0f} / {g.rss_mib:.0f} MiB | "
                f"{r['o_hs'].cpu:.2f} / {r['g_hs'].cpu:.2f} s | "
                f"{r['o_hail'].cpu:.2f} / {r['g_hail'].cpu:.2f} s "
                f"({'yes' if r['o_hail_ans'] == r['g_hail_ans'] else 'no'}) |")
        else:
            lines.append(f"| {r['size']} | {o.wall:.2f} s / {o.cpu:.2f} s | "
                         f"{_sc(r['o_score'])} ({r['o_moves']}) | - | - | - | "
                         f"{o.rss_mib:.0f} MiB | {r['o_hs'].cpu:.2f} s | "
                         f"{r['o_hail'].cpu:.2f} s |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
