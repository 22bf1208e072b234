"""Job queue throughput and latency with no-op jobs.

Runs a real JobQueue (real files, fsync'ed atomic writes, worker threads) in
a temporary GNT_ROOT with an executor that only calls ``notify_start``, so
what is measured is the queue itself: persisting, scheduling, notifying.

* throughput: N jobs submitted by C client threads, each client then waits
  for its jobs with ``wait_for_job_change`` (as ``gnt-job`` clients do);
* latency: one job at a time, submit -> finished (seen by a waiting client).

Reports jobs/s and per-job latency (mean, p50, p95, max) and the ratio to
the targets (>= 100 jobs/s, < 20 ms per trivial job).  Usage::

    .venv/bin/python bench/bench_jqueue.py [--jobs 1000] [--clients 8]
        [--latency-jobs 200] [--max-running 20] [--dir /var/tmp] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnt import constants as C
from gnt.jqueue import JobQueue, JobStore, OpContext
from gnt.opcodes.base import OpCode
from gnt.opcodes.test import OpTestDelay

TARGET_JOBS_PER_S = 100.0
TARGET_LATENCY_MS = 20.0


class NoopExecutor:
    def execute(self, op: OpCode, ctx: OpContext) -> Any:
        ctx.notify_start()
        return None


def wait_done(q: JobQueue, job_id: int) -> str:
    prev: list[Any] | None = None
    while True:
        res = q.wait_for_job_change(job_id, ["status"], prev, None, 10)
        if isinstance(res, str):  # JOB_NOTCHANGED
            continue
        prev = res[0]
        if prev[0] in C.JOBS_FINALIZED:
            return str(prev[0])


def throughput(q: JobQueue, jobs: int, clients: int) -> float:
    per_client = [jobs // clients + (1 if i < jobs % clients else 0) for i in range(clients)]
    failures: list[str] = []

    def client(n: int) -> None:
        ids = [q.submit([OpTestDelay(duration=0)]) for _ in range(n)]
        for job_id in ids:
            status = wait_done(q, job_id)
            if status != "success":
                failures.append(f"job {job_id}: {status}")

    threads = [threading.Thread(target=client, args=(n,)) for n in per_client]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"jobs failed: {failures[:5]}")
    return jobs / elapsed


def latency(q: JobQueue, jobs: int) -> list[float]:
    out = []
    for _ in range(jobs):
        start = time.perf_counter()
        job_id = q.submit([OpTestDelay(duration=0)])
        assert wait_done(q, job_id) == "success"
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--latency-jobs", type=int, default=200)
    ap.add_argument("--max-running", type=int, default=C.DEFAULT_MAX_RUNNING_JOBS)
    ap.add_argument("--dir", default=None, help="where to create the temporary queue")
    ap.add_argument("--json", action="store_true", help="print one JSON object only")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-jqueue-", dir=args.dir) as tmp:
        store = JobStore(Path(tmp) / "queue")
        q = JobQueue(NoopExecutor(), max_running=args.max_running, store=store)
        try:
            latency(q, 20)  # warm up (imports, threads, page cache)
            lat = latency(q, args.latency_jobs)
            rate = throughput(q, args.jobs, args.clients)
        finally:
            q.shutdown(30)

    lat_sorted = sorted(lat)
    result = {
        "jobs": args.jobs, "clients": args.clients, "max_running": args.max_running,
        "jobs_per_s": round(rate, 1),
        "latency_ms": {
            "mean": round(statistics.fmean(lat), 2),
            "p50": round(lat_sorted[len(lat) // 2], 2),
            "p95": round(lat_sorted[int(len(lat) * 0.95) - 1], 2),
            "max": round(lat_sorted[-1], 2),
        },
        "ratio_throughput_vs_target": round(rate / TARGET_JOBS_PER_S, 2),
        "ratio_latency_target_vs_p50": round(TARGET_LATENCY_MS / lat_sorted[len(lat) // 2], 2),
        "fs": os.path.realpath(args.dir or tempfile.gettempdir()),
    }
    if args.json:
        print(json.dumps(result))
    else:
        lm = result["latency_ms"]
        print(f"throughput: {result['jobs_per_s']} jobs/s ({args.jobs} jobs, {args.clients}"
              f" clients, max_running {args.max_running}); target {TARGET_JOBS_PER_S:g}"
              f" -> x{result['ratio_throughput_vs_target']}")
        print(f"latency:    mean {lm['mean']} ms, p50 {lm['p50']} ms, p95 {lm['p95']} ms,"
              f" max {lm['max']} ms; target < {TARGET_LATENCY_MS:g} ms"
              f" -> x{result['ratio_latency_target_vs_p50']} headroom")
    ok = rate >= TARGET_JOBS_PER_S and result["latency_ms"]["p50"] < TARGET_LATENCY_MS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
