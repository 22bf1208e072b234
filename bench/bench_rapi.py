#!/usr/bin/env python3
"""RAPI benchmark: gnt-rapi side by side with Ganeti 3.0's ganeti-rapi.

Measures, over HTTPS with Basic auth, for each system available:

* ``GET /2/instances?bulk=1`` with N fake-hypervisor instances (200 and
  2,000 for gnt; Ganeti at the sizes given by ``--anchor-instances``, since
  it creates instances at about one per second): requests/s and latency
  (median, 95th percentile), one client sending requests one after another
  (connections kept alive where the server allows it; Ganeti closes every
  connection), and ``--concurrency`` clients at once;
* job submission: ``PUT /2/tags?tag=...`` (one ``OP_TAGS_SET`` job) sent one
  after another: submissions/s and latency, then the time until all those
  jobs have ended.

Instances are diskless, fake hypervisor, no-op OS, created through the RAPI
itself; the first 100 run, the others are stopped (the node's memory holds
about 180 fake instances).  Ganeti runs when ``shared/anchors/ganeti-3.0-single-node.sh`` has
set it up and its daemons run (RAPI on 127.0.0.1:5080, user ``anchor``).
Prints one JSON object.  Usage:
``.venv/bin/python bench/bench_rapi.py [--requests N] [--anchor-instances 200]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnt.devcluster import LocalCluster
from gnt.rapi.devserver import RapiDaemon

ANCHOR_URL = "https://127.0.0.1:5080"
ANCHOR_AUTH = ("anchor", "anchorpass")
ANCHOR_NODE = "node1.example.test"
FINAL = ("success", "error", "canceled")


class Target:
    """A RAPI server to measure: base URL, credentials, TLS settings."""

    def __init__(self, name: str, url: str, auth: tuple[str, str], verify: Any,
                 node: str) -> None:
        self.name, self.url, self.auth, self.verify, self.node = name, url, auth, verify, node

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, verify=self.verify,
                            timeout=300, headers={"Content-Type": "application/json"})


def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_jobs(c: httpx.Client, job_ids: list[int], timeout: float = 3600,
              tolerate: bool = False) -> list[str]:
    """Wait until the jobs end; raises RuntimeError on a failed job unless
    ``tolerate``, then returns the failures (``"job N: opresult"``)."""
    deadline = time.monotonic() + timeout
    failures: list[str] = []
    for job_id in job_ids:
        prev = None
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not finish")
            r = c.request("GET", f"/2/jobs/{job_id}/wait",
                          json={"fields": ["status"], "previous_job_info": prev,
                                "previous_log_serial": None})
            r.raise_for_status()
            change = r.json()
            if change is None:
                continue
            prev = change["job_info"]
            if prev[0] in FINAL:
                if prev[0] != "success":
                    job = c.get(f"/2/jobs/{job_id}").json()
                    failures.append(f"job {job_id}: {job['opresult']}")
                    if not tolerate:
                        raise RuntimeError(failures[-1])
                break
    return failures


#: Instances started (the node's memory holds about 180 fake 128 MiB ones);
#: the others are created stopped.
RUNNING = 100
#: rounds of creating what is still missing (a failed creation is retried,
#: and reported in the results)
CREATE_ROUNDS = 3


def ensure_instances(t: Target, prefix: str, count: int, batch: int = 100,
                     failures: list[str] | None = None) -> list[str]:
    """Create instances ``<prefix>-<i>`` until ``count`` of them exist, the
    first :data:`RUNNING` of them running.  Failed creations are appended
    to ``failures`` and retried (up to :data:`CREATE_ROUNDS` rounds); raises
    RuntimeError if instances are still missing after that."""
    names = [f"{prefix}-{i}" for i in range(count)]
    with t.client() as c:
        for _round in range(CREATE_ROUNDS):
            existing = {i["id"].split(".", 1)[0] for i in c.get("/2/instances").json()}
            todo = [n for n in names if n not in existing]
            if not todo:
                return names
            for start in range(0, len(todo), batch):
                ids = []
                for name in todo[start:start + batch]:
                    r = c.post("/2/instances", json={
                        "__version__": 1, "mode": "create", "instance_name": name,
                        "disk_template": "diskless", "disks": [], "nics": [{}],
                        "os_type": "noop+default", "pnode": t.node, "hypervisor": "fake",
                        "name_check": False, "ip_check": False,
                        "start": int(name.rsplit("-", 1)[1]) < RUNNING})
                    r.raise_for_status()
                    ids.append(r.json())
                failed = wait_jobs(c, ids, tolerate=True)
                if failures is not None:
                    failures.extend(failed)
        existing = {i["id"].split(".", 1)[0] for i in c.get("/2/instances").json()}
    missing = [n for n in names if n not in existing]
    if missing:
        raise RuntimeError(f"{len(missing)} instances could not be created: {failures}")
    return names


def remove_instances(t: Target, names: list[str], batch: int = 100) -> None:
    with t.client() as c:
        for start in range(0, len(names), batch):
            ids = [c.delete(f"/2/instances/{n}").json() for n in names[start:start + batch]]
            wait_jobs(c, ids)


def _stats(samples: list[float], wall: float) -> dict[str, float]:
    samples = sorted(samples)
    return {"requests_per_s": round(len(samples) / wall, 2),
            "median_ms": round(statistics.median(samples) * 1000, 1),
            "p95_ms": round(samples[int(0.95 * (len(samples) - 1))] * 1000, 1)}


def bench_list(t: Target, requests: int, concurrency: int, expect: int) -> dict[str, Any]:
    def one(c: httpx.Client, out: list[float]) -> None:
        t0 = time.perf_counter()
        r = c.get("/2/instances", params={"bulk": 1})
        out.append(time.perf_counter() - t0)
        r.raise_for_status()
        if len(r.json()) < expect:
            raise RuntimeError(f"{t.name}: {len(r.json())} instances listed, expected {expect}")

    with t.client() as c:
        one(c, [])  # warm up
        samples: list[float] = []
        t0 = time.perf_counter()
        for _ in range(requests):
            one(c, samples)
        sequential = _stats(samples, time.perf_counter() - t0)

    per_client = max(1, requests // concurrency)
    samples = []
    lock = threading.Lock()

    def worker() -> None:
        local: list[float] = []
        with t.client() as c:
            for _ in range(per_client):
                one(c, local)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    concurrent = _stats(samples, time.perf_counter() - t0)
    return {"sequential": sequential, f"concurrent_{concurrency}": concurrent}


def bench_submit(t: Target, jobs: int) -> dict[str, Any]:
    with t.client() as c:
        samples = []
        ids = []
        t0 = time.perf_counter()
        for i in range(jobs):
            s0 = time.perf_counter()
            r = c.put("/2/tags", params={"tag": f"bench{i % 5}"})
            samples.append(time.perf_counter() - s0)
            r.raise_for_status()
            ids.append(r.json())
        submit_wall = time.perf_counter() - t0
        wait_jobs(c, ids)
        all_done = time.perf_counter() - t0
        c.delete("/2/tags", params={"tag": [f"bench{i}" for i in range(5)]})
    out = _stats(samples, submit_wall)
    return {"submissions_per_s": out["requests_per_s"], "median_ms": out["median_ms"],
            "p95_ms": out["p95_ms"], "jobs_done_per_s": round(jobs / all_done, 2)}


def gnt_target(root: Path) -> tuple[LocalCluster, RapiDaemon, Target]:
    cluster = LocalCluster(root, domain="bench.gnt")
    noop = root / "srv/ganeti/os/noop"
    noop.mkdir(parents=True)
    for script in ("create", "export", "import", "rename", "verify"):
        (noop / script).write_text("#!/bin/sh\nexit 0\n")
        (noop / script).chmod(0o755)
    (noop / "ganeti_api_version").write_text("20\n")
    (noop / "variants.list").write_text("default\n")
    (noop / "parameters.list").write_text("")
    cluster.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless")
    daemon = RapiDaemon(cluster)
    daemon.write_users("bench benchpw write\n")
    daemon.start()
    return cluster, daemon, Target("gnt", daemon.url, ("bench", "benchpw"),
                                   daemon.ssl_context(), cluster.master)


def anchor_available() -> bool:
    try:
        r = httpx.get(f"{ANCHOR_URL}/2/info", auth=ANCHOR_AUTH, verify=_insecure(), timeout=10)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def _progress(t: Target, out: dict[str, Any]) -> None:
    """The results so far on stderr (a late failure keeps the earlier figures)."""
    print(f"[{t.name}] {json.dumps(out)}", file=sys.stderr, flush=True)


def measure(t: Target, sizes: list[int], requests: int, concurrency: int,
            jobs: int, cleanup: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"job_submission": bench_submit(t, jobs)}
    _progress(t, out)
    created: list[str] = []
    for size in sizes:
        t0 = time.perf_counter()
        failures: list[str] = []
        created = ensure_instances(t, "rapibench", size, failures=failures)
        out[f"create_{size}_s"] = round(time.perf_counter() - t0, 1)
        if failures:
            out[f"create_{size}_failed_jobs"] = {"count": len(failures),
                                                 "first": failures[:3]}
        _progress(t, out)
        out[f"list_bulk_{size}"] = bench_list(t, requests, concurrency, size)
        _progress(t, out)
    if cleanup and created:
        remove_instances(t, created)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="200,2000", help="instance counts for gnt")
    parser.add_argument("--anchor-instances", default="200",
                        help="instance counts for Ganeti ('' to skip its listing)")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--no-anchor", action="store_true")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",") if s]
    results: dict[str, Any] = {"requests": opts.requests, "concurrency": opts.concurrency}
    root = Path(tempfile.mkdtemp(prefix="gnt-rapibench-"))
    cluster = None
    try:
        cluster, _daemon, target = gnt_target(root)
        results["gnt"] = measure(target, sizes, opts.requests, opts.concurrency, opts.jobs,
                                 cleanup=False)
    except BaseException:
        logs = root / "var/log/ganeti"
        if logs.exists():  # the master's log says why a job failed
            kept = Path(tempfile.mkdtemp(prefix="gnt-rapibench-logs-"))
            shutil.copytree(logs, kept, dirs_exist_ok=True)
            print(f"daemon logs kept in {kept}", file=sys.stderr)
        raise
    finally:
        if cluster is not None:
            RapiDaemon(cluster).stop()
            cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    if not opts.no_anchor and anchor_available():
        anchor = Target("ganeti", ANCHOR_URL, ANCHOR_AUTH, _insecure(), ANCHOR_NODE)
        anchor_sizes = [int(s) for s in opts.anchor_instances.split(",") if s]
        results["ganeti"] = measure(anchor, anchor_sizes, opts.requests, opts.concurrency,
                                    opts.jobs, cleanup=True)
    else:
        results["ganeti"] = "not available (run shared/anchors/ganeti-3.0-single-node.sh)"
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
