#!/usr/bin/env python3
"""Lock manager throughput: acquire/release operations per second.

Run: ``.venv/bin/python bench/bench_locking.py [--seconds S]``.  Prints one
line per scenario.  An "op" is one acquire or one release call, so an
acquire+release pair counts as two.

Scenarios:
* uncontended single name, 10 names, ALL_SET (10,000 known instances), and
  a whole job's lock set (BGL shared, 1 instance, 2 nodes, 2 node-res);
* contended: 8 threads taking random instance locks (mixed modes) from a
  pool of 64, and 8 threads fighting over one exclusive lock (hand-off
  cost through the wait queue).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gnt.locking import ALL_SET, BGL, Level, LockManager

INSTANCES = [f"inst{k}.example.com" for k in range(10_000)]
NODES = [f"node-uuid-{k}" for k in range(200)]


def manager() -> LockManager:
    return LockManager(instances=INSTANCES, nodes=NODES, nodegroups=["group-uuid-0"])


def timed(seconds: float, body: Callable[[int], None], batch: int = 1000) -> tuple[int, float]:
    """Run ``body(batch)`` until ``seconds`` pass; returns (iterations, elapsed)."""
    n = 0
    start = time.perf_counter()
    while True:
        body(batch)
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n, elapsed


def report(name: str, ops: int, elapsed: float) -> None:
    rate = ops / elapsed
    print(f"{name:62s} {rate:12,.0f} ops/s  {1e6 / rate:7.2f} us/op")


def bench_single(seconds: float) -> None:
    m = manager()
    acquire, release = m.acquire, m.release

    def body(k: int) -> None:
        for _ in range(k):
            acquire("job", Level.INSTANCE, "inst1.example.com")
            release("job", Level.INSTANCE)

    n, t = timed(seconds, body)
    report("uncontended, 1 name, exclusive", 2 * n, t)


def bench_many(seconds: float) -> None:
    m = manager()
    names = INSTANCES[:10]

    def body(k: int) -> None:
        for _ in range(k):
            m.acquire("job", Level.INSTANCE, names, shared=True)
            m.release("job", Level.INSTANCE)

    n, t = timed(seconds, body)
    report("uncontended, 10 names, shared", 2 * n, t)


def bench_all_set(seconds: float) -> None:
    m = manager()

    def body(k: int) -> None:
        for _ in range(k):
            m.acquire("job", Level.INSTANCE, ALL_SET, shared=True)
            m.release("job", Level.INSTANCE)

    n, t = timed(seconds, body)
    report(f"uncontended, ALL_SET ({len(INSTANCES)} known names)", 2 * n, t)


def bench_job(seconds: float) -> None:
    m = manager()

    def body(k: int) -> None:
        for i in range(k):
            owner = ("job", i)
            m.acquire(owner, Level.CLUSTER, BGL, shared=True)
            m.acquire(owner, Level.INSTANCE, INSTANCES[i % 1000])
            m.acquire(owner, Level.NODE, NODES[i % 100: i % 100 + 2])
            m.acquire(owner, Level.NODE_RES, NODES[i % 100: i % 100 + 2])
            m.release_all(owner)

    n, t = timed(seconds, body, batch=500)
    report("uncontended job: BGL, inst, 2 nodes, 2 node-res; release_all", 5 * n, t)
    print(f"{'':62s} {n / t:12,.0f} jobs/s")


def run_threads(n_threads: int, seconds: float, work: Callable[[int, threading.Event], int]
                ) -> tuple[int, float]:
    stop = threading.Event()
    counts = [0] * n_threads

    def runner(k: int) -> None:
        counts[k] = work(k, stop)

    threads = [threading.Thread(target=runner, args=(k,)) for k in range(n_threads)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join()
    return sum(counts), time.perf_counter() - start


def bench_contended_pool(seconds: float, n_threads: int = 8) -> None:
    m = manager()
    pool = INSTANCES[:64]

    def work(k: int, stop: threading.Event) -> int:
        rnd = random.Random(k)
        n = 0
        while not stop.is_set():
            for _ in range(100):
                m.acquire(k, Level.INSTANCE, rnd.sample(pool, 2), shared=rnd.random() < 0.5)
                m.release(k, Level.INSTANCE)
            n += 100
        return n

    n, t = run_threads(n_threads, seconds, work)
    report(f"{n_threads} threads, 2 random names of 64, mixed modes", 2 * n, t)


def bench_contended_one(seconds: float, n_threads: int = 8) -> None:
    m = manager()

    def work(k: int, stop: threading.Event) -> int:
        n = 0
        while not stop.is_set():
            for _ in range(100):
                m.acquire(k, Level.INSTANCE, "inst0.example.com")
                m.release(k, Level.INSTANCE)
            n += 100
        return n

    n, t = run_threads(n_threads, seconds, work)
    report(f"{n_threads} threads, one exclusive lock (FIFO hand-off)", 2 * n, t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per scenario (default 1)")
    args = parser.parse_args()
    print(f"gnt lock manager benchmark (Python {sys.version.split()[0]})")
    for bench in (bench_single, bench_many, bench_all_set, bench_job):
        bench(args.seconds)
    bench_contended_pool(args.seconds)
    bench_contended_one(args.seconds)


if __name__ == "__main__":
    main()
