#!/usr/bin/env python3
"""Core benchmarks, gnt side by side with Ganeti 3.0 (the anchor), fake hypervisor.

Measures, for each system that is available:

* ``delay_luxi``: one ``OP_TEST_DELAY`` (1 ms) job submitted and waited for
  over LUXI (the same client code talks to both: it is Ganeti's protocol);
* ``delay_cli``: ``gnt-debug delay 0.001`` end to end from the CLI;
* ``jobs_per_s``: 100 such jobs submitted at once over LUXI, until all end;
* ``start``/``stop``/``reboot``: ``gnt-instance startup|shutdown|reboot`` of a
  fake-hypervisor diskless instance, from the CLI;
* ``adds_per_s``: ``gnt-instance add`` (diskless, fake, no-op OS) sequentially
  from the CLI, and ``adds_per_s_parallel`` with 20 jobs submitted at once.

Ganeti runs when ``shared/anchors/ganeti-3.0-single-node.sh`` has set it up
(its commands run in the anchor's UTS namespace).  Prints one JSON object
with the figures and the gnt/Ganeti ratios.  Usage:
``.venv/bin/python bench/bench_core.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnt.devcluster import LocalCluster  # noqa: E402
from gnt.luxi.client import Client  # noqa: E402
from gnt.opcodes.instance import OpInstanceCreate  # noqa: E402
from gnt.opcodes.test import OpTestDelay  # noqa: E402

ANCHOR_NS = "/run/ganeti-ns/uts"
ANCHOR_NODE = "node1.example.test"
DELAY_OP = OpTestDelay(duration=0.001).to_dict()


class System:
    name: str

    def cli(self, *argv: str) -> None:
        raise NotImplementedError

    def luxi(self) -> Client:
        raise NotImplementedError


class Gnt(System):
    name = "gnt"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gnt-bench-"))
        self.c = LocalCluster(self.root, domain="bench.gnt")
        noop = self.root / "srv/ganeti/os/noop"
        noop.mkdir(parents=True)
        for s in ("create", "export", "import", "rename", "verify"):
            (noop / s).write_text("#!/bin/sh\nexit 0\n")
            (noop / s).chmod(0o755)
        (noop / "ganeti_api_version").write_text("20\n")
        (noop / "variants.list").write_text("default\n")
        (noop / "parameters.list").write_text("")
        self.c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
                    "file,diskless")
        self.node = self.c.master

    def cli(self, *argv: str) -> None:
        self.c.ok(*argv)

    def luxi(self) -> Client:
        return Client(self.root / "var/run/ganeti/socket/ganeti-query")

    def close(self) -> None:
        self.c.destroy()


class Ganeti(System):
    name = "ganeti"
    node = ANCHOR_NODE

    @staticmethod
    def available() -> bool:
        if not shutil.which("nsenter") or not Path(ANCHOR_NS).exists():
            return False
        res = subprocess.run(["nsenter", f"--uts={ANCHOR_NS}", "gnt-cluster", "getmaster"],
                             capture_output=True, text=True)
        return res.returncode == 0

    def cli(self, *argv: str) -> None:
        subprocess.run(["nsenter", f"--uts={ANCHOR_NS}", *argv], check=True,
                       capture_output=True, text=True)

    def luxi(self) -> Client:
        return Client("/var/run/ganeti/socket/ganeti-query")

    def close(self) -> None:
        pass


def timed(fn: Callable[[], Any], rounds: int) -> float:
    """Median seconds of ``rounds`` calls."""
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def wait_job(cl: Client, job_id: int) -> None:
    prev = None
    while True:
        res = cl.wait_for_job_change_once(job_id, ["status"], prev, None, timeout=10)
        if res == "nochange":
            continue
        prev = res[0]
        if prev[0] in ("success", "error", "canceled"):
            if prev[0] != "success":
                raise RuntimeError(f"job {job_id} ended with {prev[0]}")
            return


def bench(sys_: System, rounds: int) -> dict[str, float]:
    out: dict[str, float] = {}
    cl = sys_.luxi()
    out["delay_luxi"] = timed(lambda: wait_job(cl, cl.submit_job([DELAY_OP])), rounds * 5)
    out["delay_cli"] = timed(lambda: sys_.cli("gnt-debug", "delay", "0.001"), rounds)

    def hundred() -> None:
        ids = [cl.submit_job([DELAY_OP]) for _ in range(100)]
        for j in ids:
            wait_job(cl, j)
    out["jobs_per_s"] = 100 / timed(hundred, 1)

    tag = f"b{int(time.time()) % 100000}"
    add = ["gnt-instance", "add", "-t", "diskless", "-o", "noop+default", "--no-name-check",
           "--no-ip-check", "-H", "fake", "-n", sys_.node]
    sys_.cli(*add, f"{tag}-0")
    out["stop"] = timed(lambda: sys_.cli("gnt-instance", "shutdown", "--timeout=0",
                                         f"{tag}-0") or sys_.cli("gnt-instance", "startup",
                                                                 f"{tag}-0"), rounds)
    out["start"] = timed(lambda: sys_.cli("gnt-instance", "startup", f"{tag}-0"), rounds)
    out["reboot"] = timed(lambda: sys_.cli("gnt-instance", "reboot", f"{tag}-0"), rounds)
    # stop measured with a start in the same sample: subtract the start median
    out["stop"] = max(out["stop"] - out["start"], 0.0)
    n = 10 * rounds
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        sys_.cli(*add, f"{tag}-{i}")
    out["adds_per_s"] = n / (time.perf_counter() - t0)
    par = 20
    ops = [OpInstanceCreate(instance_name=f"{tag}-p{i}", disk_template="diskless",
                            os_type="noop+default", name_check=False, ip_check=False,
                            nics=[{}], disks=[], hypervisor="fake", pnode=sys_.node,
                            start=True).to_dict() for i in range(par)]
    t0 = time.perf_counter()
    ids = [cl.submit_job([op]) for op in ops]
    for j in ids:
        wait_job(cl, j)
    out["adds_per_s_parallel"] = par / (time.perf_counter() - t0)
    for i in range(n + 1):
        sys_.cli("gnt-instance", "remove", "-f", f"{tag}-{i}")
    for i in range(par):
        sys_.cli("gnt-instance", "remove", "-f", f"{tag}-p{i}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-anchor", action="store_true")
    opts = parser.parse_args()
    results: dict[str, Any] = {}
    gnt = Gnt()
    try:
        results["gnt"] = bench(gnt, opts.rounds)
    finally:
        gnt.close()
    if not opts.no_anchor and Ganeti.available():
        results["ganeti"] = bench(Ganeti(), opts.rounds)
        ratios = {}
        for k, v in results["gnt"].items():
            g = results["ganeti"][k]
            # >1 means gnt is better: time ratios are ganeti/gnt, rates gnt/ganeti
            ratios[k] = round(v / g if "per_s" in k else g / v, 2) if v and g else None
        results["speedup_gnt_vs_ganeti"] = ratios
    else:
        results["ganeti"] = "not available (run shared/anchors/ganeti-3.0-single-node.sh)"
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
