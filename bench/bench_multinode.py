#!/usr/bin/env python3
"""Multi-node benchmark (issue 3): a 40-node fake-hypervisor cluster on this machine.

Every node is a real ``gnt-noded`` with its own root and 127.x address,
joined through the token path (the join-mode daemons start in parallel, the
``OP_NODE_ADD`` jobs are submitted together).  Instances are created by
concurrent jobs submitted over LUXI (``create_s``, ``create_per_s``).  At each size (default 200
and 2,000 instances, diskless, fake hypervisor, running) it measures, as
the median of several runs:

* ``instance_list``: ``gnt-instance list`` (default fields, live status);
* ``node_list``: ``gnt-node list`` (default fields, live memory/disk from
  every node);
* ``verify``: ``gnt-cluster verify``;
* ``config_write``: one config-changing job (``OP_TAGS_SET`` on the
  cluster) over LUXI, from submit to success: the job ends only once every
  master candidate holds the new config (checked: each candidate's
  ``config.data`` has the master's serial when the job reports success);

and once at the end ``failover``: ``kill -9`` of the master daemon, then
``gnt-cluster master-failover`` on a candidate until ``master-ping`` answers.

Ganeti's figures for comparison (issue 3, same kind of machine, 200 fake
instances): list 0.25 s, verify 1.24 s.  The 1-minute load average before
and after each size's measurements is part of the output (the machine may
be shared).  Prints one JSON object.  Usage:
``.venv/bin/python bench/bench_multinode.py [--nodes 40] [--sizes 200,2000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnt.devcluster import LocalCluster
from gnt.luxi.client import Client
from gnt.opcodes.instance import OpInstanceCreate
from gnt.opcodes.node import OpNodeAdd

GANETI_200 = {"instance_list": 0.25, "verify": 1.24}


def timed(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def wait_jobs(client: Client, ids: list[int]) -> None:
    pending = set(ids)
    while pending:
        rows = client.query_jobs(sorted(pending), ["id", "status"])
        for row in rows:
            if row and row[1] in ("success", "error", "canceled"):
                if row[1] != "success":
                    raise RuntimeError(f"job {row[0]} ended {row[1]}")
                pending.discard(row[0])
        time.sleep(0.05)


def add_instances(c: LocalCluster, start: int, count: int, nodes: list[str]) -> float:
    t = time.perf_counter()
    env = c.env()
    os.environ.update(GNT_ROOT=env["GNT_ROOT"], GNT_HOSTNAME=env["GNT_HOSTNAME"])
    with Client() as client:
        for batch in range(start, start + count, 200):
            jobs = []
            for i in range(batch, min(batch + 200, start + count)):
                jobs.append([OpInstanceCreate(
                    instance_name=f"i{i:05d}", disk_template="diskless", os_type="image+raw",
                    no_install=True, name_check=False, ip_check=False,
                    pnode=c.fqdn(nodes[i % len(nodes)]), beparams={"memory": 128})])
            res = client.submit_many_jobs(jobs)
            wait_jobs(client, [jid for ok, jid in res if ok])
    return time.perf_counter() - t


def cluster_up(c: LocalCluster) -> None:
    """Init on the first node; join the others (join-mode daemons started in parallel)."""
    c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless,file")
    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(c.start_join_mode, c.nodes[1:]))
    env = c.env()
    os.environ.update(GNT_ROOT=env["GNT_ROOT"], GNT_HOSTNAME=env["GNT_HOSTNAME"])
    with Client() as client:
        res = client.submit_many_jobs([[OpNodeAdd(node_name=c.fqdn(n), join_token=tok)]
                                       for n, tok in zip(c.nodes[1:], tokens)])
        wait_jobs(client, [jid for ok, jid in res if ok])


def serial(c: LocalCluster, node: str) -> int:
    f = c.node_root(node) / "var/lib/ganeti/config.data"
    return int(json.loads(f.read_text())["serial_no"])


def candidates(c: LocalCluster) -> list[str]:
    out = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,role")
    return [c.short(n) for n, r in (ln.split("|") for ln in out.split()) if r == "C"]


def measure(c: LocalCluster, rounds: int) -> dict[str, float]:
    out = {
        "instance_list": timed(lambda: c.ok("gnt-instance", "list"), rounds),
        "node_list": timed(lambda: c.ok("gnt-node", "list"), rounds),
        "verify": timed(lambda: c.ok("gnt-cluster", "verify"), rounds),
    }
    n = [0]

    def config_write() -> None:
        n[0] += 1
        with Client() as client:
            jid = client.submit_job([{"OP_ID": "OP_TAGS_SET", "kind": "cluster",
                                      "name": None, "tags": [f"bench{n[0]}"]}])
            wait_jobs(client, [jid])
        want = serial(c, c.master_node)
        behind = [n for n in cands if serial(c, n) != want]
        if behind:
            raise RuntimeError(f"config serial {want} missing on {behind} at job success")

    cands = candidates(c)
    out["config_write"] = timed(config_write, rounds)
    return out


def failover(c: LocalCluster) -> float:
    pid = int((c.node_root(c.master_node) / "var/run/ganeti/ganeti-masterd.pid")
              .read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    new = c.nodes[1]
    t = time.perf_counter()
    c.ok("gnt-cluster", "master-failover", node=new)
    c.master_node = new
    while c.run("gnt-cluster", "master-ping").code != 0:
        time.sleep(0.05)
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--sizes", default="200,2000")
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gnt-bench-mn-"))
    nodes = [f"node{i}" for i in range(1, opts.nodes + 1)]
    c = LocalCluster(root, nodes=nodes, instances=[])
    result: dict[str, Any] = {"nodes": opts.nodes, "sizes": {}}
    try:
        t = time.perf_counter()
        cluster_up(c)
        result["cluster_up_s"] = round(time.perf_counter() - t, 1)
        have = 0
        for size in (int(s) for s in opts.sizes.split(",")):
            took = add_instances(c, have, size - have, nodes)
            result["sizes"][size] = {"create_s": round(took, 1),
                                     "create_per_s": round((size - have) / took, 1)}
            have = size
            load_before = os.getloadavg()[0]
            figures = measure(c, opts.rounds)
            result["sizes"][size].update({k: round(v, 3) for k, v in figures.items()})
            # the machine may be shared: say how busy it was while measuring
            result["sizes"][size]["load_avg_1min"] = [round(load_before, 1),
                                                     round(os.getloadavg()[0], 1)]
            print(json.dumps({size: result["sizes"][size]}), file=sys.stderr)
        result["failover_s"] = round(failover(c), 2)
        result["failover_load_avg_1min"] = round(os.getloadavg()[0], 1)
        if 200 in result["sizes"]:
            result["ratio_vs_ganeti_200"] = {
                k: round(v / result["sizes"][200][k], 1) for k, v in GANETI_200.items()}
    finally:
        c.destroy()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
