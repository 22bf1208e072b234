#!/usr/bin/env python3
"""Query benchmark: ``gnt-instance list`` / ``gnt-node list`` and the master's query path.

A fake-hypervisor cluster (default 4 node daemons on loopback) gets diskless,
running fake instances up to each size (default 200, then 2,000).  At each
size it measures, as the median of ``--rounds`` runs:

* ``cli_help``: ``gnt-instance --help`` (process start-up and imports);
* ``instance_list``: ``gnt-instance list`` (default fields, live status);
* ``instance_list_static``: ``gnt-instance list -o name,pnode,os`` (no live data);
* ``instance_list_all``: ``gnt-instance list -o <every field of list-fields>``;
* ``instance_list_filter``: ``gnt-instance list -F 'name =~ m/1/ and be/memory > 64'``;
* ``node_list``: ``gnt-node list`` (live memory and disk from every node);
* ``master_query_default`` / ``master_query_all`` / ``master_query_rapi_bulk``: the
  LUXI ``Query`` call alone (master side plus JSON over the socket) for the
  default fields, every field, and the fields of RAPI's ``/2/instances?bulk=1``;
* ``master_query_static``: the same for ``name,pnode,os`` (no node RPC);
* ``cpu_*``: the least CPU time (user + system) of the CLI process for some of the
  commands above: a figure other load on the machine hardly changes.

Ganeti 3.0's figure (issue, same kind of machine): ``gnt-instance list`` at 200
fake instances 0.25 s.  Targets: under 0.1 s at 200, under 0.5 s at 2,000.

Usage::

    .venv/bin/python bench/bench_query.py [--nodes 4] [--sizes 200,2000] [--rounds 5]
    .venv/bin/python bench/bench_query.py --root DIR --keep     # leave the cluster up
    .venv/bin/python bench/bench_query.py --root DIR --reuse    # measure an existing one

Prints one JSON object.  Run it from a directory other than the repository when
comparing against another tree through ``PYTHONPATH`` (``python -m`` puts the
current directory first on the path of the daemons it starts).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gnt.devcluster import LocalCluster
from gnt.luxi.client import Client

GANETI_200 = {"instance_list": 0.25}
STATIC_FIELDS = ["name", "pnode", "os"]
FILTER = "name =~ m/1/ and be/memory > 64"


def timed(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cli_cpu(c: LocalCluster, argv: list[str], rounds: int) -> float:
    """Least CPU time (user + system, s) of the command's process over ``rounds`` runs:
    unlike wall time, hardly affected by other load on the machine."""
    best = float("inf")
    env = c.env()
    for _ in range(rounds):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode})")
        best = min(best, usage.ru_utime + usage.ru_stime)
    return best


def wait_jobs(client: Client, ids: list[int]) -> int:
    """Wait for the jobs to end; returns how many did not succeed."""
    pending = set(ids)
    failed = 0
    while pending:
        rows = client.query_jobs(sorted(pending), ["id", "status"])
        for row in rows:
            if row and row[1] in ("success", "error", "canceled"):
                failed += row[1] != "success"
                pending.discard(row[0])
        time.sleep(0.1)
    return failed


def add_instances(c: LocalCluster, size: int) -> float:
    """Create the running diskless fake instances ``i00000``... missing up to ``size``
    (4 MiB of memory each: the fake hypervisor counts them against the host's
    memory), 100 jobs at a time; failed creations are retried (3 rounds)."""
    t = time.perf_counter()
    with Client() as client:
        for _ in range(3):
            have = {row[0][1] for row in client.query("instance", ["name"], None)["data"]}
            missing = [i for i in range(size) if f"i{i:05d}" not in have]
            if not missing:
                break
            for batch in range(0, len(missing), 100):
                jobs = []
                for i in missing[batch:batch + 100]:
                    jobs.append([{
                        "OP_ID": "OP_INSTANCE_CREATE", "instance_name": f"i{i:05d}",
                        "disk_template": "diskless", "disks": [], "nics": [{}],
                        "os_type": "image+raw", "no_install": True, "name_check": False,
                        "ip_check": False, "pnode": c.fqdn(c.nodes[i % len(c.nodes)]),
                        "beparams": {"memory": 4}, "start": True}])
                res = client.submit_many_jobs(jobs)
                wait_jobs(client, [jid for ok, jid in res if ok])
    return time.perf_counter() - t


def count_instances() -> int:
    with Client() as client:
        return len(client.query("instance", ["name"], None)["data"])


def measure(c: LocalCluster, rounds: int) -> dict[str, float]:
    with Client() as client:
        all_fields = [f["name"] for f in client.query_fields("instance", None)["fields"]]
        from gnt.query.instance import DEFAULT_FIELDS
        from gnt.rapi.constants import INSTANCE_FIELDS

        def q(fields: list[str]) -> Any:
            return lambda: client.query("instance", fields, None)

        out = {
            "cli_help": timed(lambda: c.ok("gnt-instance", "--help"), rounds),
            "instance_list": timed(lambda: c.ok("gnt-instance", "list"), rounds),
            "instance_list_static": timed(
                lambda: c.ok("gnt-instance", "list", "-o", ",".join(STATIC_FIELDS)), rounds),
            "instance_list_all": timed(
                lambda: c.ok("gnt-instance", "list", "-o", ",".join(all_fields)), rounds),
            "instance_list_filter": timed(
                lambda: c.ok("gnt-instance", "list", "-F", FILTER), rounds),
            "node_list": timed(lambda: c.ok("gnt-node", "list"), rounds),
            "master_query_default": timed(q(list(DEFAULT_FIELDS)), rounds),
            "master_query_static": timed(q(STATIC_FIELDS), rounds),
            "master_query_all": timed(q(all_fields), rounds),
            "master_query_rapi_bulk": timed(q(list(INSTANCE_FIELDS)), rounds),
        }
        out["cpu_cli_help"] = cli_cpu(c, ["gnt-instance", "--help"], rounds)
        out["cpu_instance_list"] = cli_cpu(c, ["gnt-instance", "list"], rounds)
        out["cpu_instance_list_all"] = cli_cpu(
            c, ["gnt-instance", "list", "-o", ",".join(all_fields)], rounds)
        out["cpu_node_list"] = cli_cpu(c, ["gnt-node", "list"], rounds)
        out["all_fields_count"] = len(all_fields)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--sizes", default="200,2000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", default=None, help="cluster root (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the cluster already running under --root")
    opts = parser.parse_args()
    root = Path(opts.root) if opts.root else Path(tempfile.mkdtemp(prefix="gnt-bench-q-"))
    nodes = [f"node{i}" for i in range(1, opts.nodes + 1)]
    state = root / "bench-query.json"
    if opts.reuse:
        saved = json.loads(state.read_text())
        c = LocalCluster(root, nodes=saved["nodes"], instances=[], net=saved["net"])
    else:
        c = LocalCluster(root, nodes=nodes, instances=[])
    # as installed packages are: with byte-code caches (compiling gnt costs ~50 ms a run)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "gnt")],
                   check=False, stdout=subprocess.DEVNULL)
    env = c.env()
    os.environ.update(GNT_ROOT=env["GNT_ROOT"], GNT_HOSTNAME=env["GNT_HOSTNAME"],
                      PATH=env["PATH"])
    result: dict[str, Any] = {"nodes": len(c.nodes), "sizes": {}}
    try:
        if not opts.reuse:
            t = time.perf_counter()
            c.up("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless,file")
            result["cluster_up_s"] = round(time.perf_counter() - t, 1)
            state.write_text(json.dumps({"nodes": c.nodes, "net": c.net}))
        have = count_instances()
        for size in (int(s) for s in opts.sizes.split(",")):
            entry: dict[str, Any] = {}
            if size > have:
                entry["create_s"] = round(add_instances(c, size), 1)
                have = size
            entry.update({k: round(v, 3) for k, v in measure(c, opts.rounds).items()})
            result["sizes"][size] = entry
            print(json.dumps({size: entry}), file=sys.stderr)
        if 200 in result["sizes"]:
            result["ganeti_3_0_over_gnt_200"] = {
                k: round(v / result["sizes"][200][k], 1) for k, v in GANETI_200.items()}
    finally:
        if not opts.keep and not opts.reuse:
            c.destroy()
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
