"""``gnt-instance move`` and ``change-group`` on a real three-node cluster.

Fake hypervisor, real node daemons on 127.x addresses, real file disks
with real data: a pattern is written into the source disk files, the move
copies them node to node, and the target files must hash the same.  The
failure tests prove the rollback (config still on the source, source data
untouched, target leftovers removed, instance running again on the
source).  The daemons run with ``GNT_DISK_TRANSFER_MAX_MIBPS`` (so a big
copy lasts long enough to kill the target in the middle) and the
test-only ``GNT_TEST_CORRUPT_TRANSFER`` (the source flips a byte of the
disk named ``corruptme`` after hashing it).

Node groups: node1, node2 in ``default``; node3 in ``g2`` (change-group).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster, wait_for

pytestmark = pytest.mark.integration

NODES = ["node1", "node2", "node3"]
RATE_MIBPS = 150
CORRUPT_NAME = "corruptme"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    saved = {k: os.environ.get(k) for k in ("GNT_DISK_TRANSFER_MAX_MIBPS",
                                             "GNT_TEST_CORRUPT_TRANSFER")}
    os.environ["GNT_DISK_TRANSFER_MAX_MIBPS"] = str(RATE_MIBPS)
    os.environ["GNT_TEST_CORRUPT_TRANSFER"] = CORRUPT_NAME
    c = TestCluster(tmp_path_factory.mktemp("move"), nodes=list(NODES),
                    instances=[f"inst{i}" for i in range(1, 11)])
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "file,diskless,sharedfile")
        c.add_node("node2")
        c.ok("gnt-group", "add", "g2")
        c.add_node("node3", "-g", "g2")
        yield c
    finally:
        c.destroy()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- helpers ---
def _config(c: TestCluster) -> dict:
    return json.loads((c.node_root("node1") / "var/lib/ganeti/config.data").read_text())


def _instance(c: TestCluster, name: str) -> dict:
    cfg = _config(c)
    return next(i for i in cfg["instances"].values() if i["name"] in (name, c.fqdn(name)))


def _primary(c: TestCluster, name: str) -> str:
    cfg = _config(c)
    return c.short(cfg["nodes"][_instance(c, name)["primary_node"]]["name"])


def _disk_files(c: TestCluster, name: str, node: str) -> list[Path]:
    """The local files of the instance's disks on ``node`` (exist or not)."""
    cfg = _config(c)
    return [c.node_root(node) / cfg["disks"][d]["logical_id"][1].lstrip("/")
            for d in _instance(c, name)["disks"]]


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    return h.hexdigest()


def _write_pattern(path: Path, seed: int, data_mib: int, at_mib: int = 0) -> None:
    """``data_mib`` MiB of a reproducible non-zero pattern at ``at_mib``."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    with open(path, "r+b") as f:
        f.seek(at_mib * MIB)
        f.writelines(bytes([i % 251 + 1]) + block[1:] for i in range(data_mib))


def _add(c: TestCluster, name: str, template: str, node: str, *disks: str,
         start: bool = True) -> None:
    argv = ["gnt-instance", "add", "-t", template, "--no-install", "-o", "image+raw",
            "--no-name-check", "--no-ip-check", "-n", c.fqdn(node)]
    for i, d in enumerate(disks):
        argv += ["--disk", f"{i}:{d}"]
    c.ok(*argv, "--no-start", name)
    if start:
        c.ok("gnt-instance", "start", name)


def _status(c: TestCluster, name: str) -> str:
    return c.ok("gnt-instance", "list", "--no-headers", "-o", "status", name).strip()


def _running_on(c: TestCluster, name: str, node: str) -> bool:
    where = (_primary(c, name), _status(c, name))
    assert where == (node, "running"), f"{name}: (primary, status) is {where}"
    return True


def _hook_recorder(c: TestCluster, hpath: str) -> None:
    for node in c.nodes:
        out = c.node_root(node) / "hook-records"
        for phase in ("pre", "post"):
            d = c.node_root(node) / f"etc/ganeti/hooks/{hpath}-{phase}.d"
            d.mkdir(parents=True, exist_ok=True)
            p = d / "50-record"
            p.write_text(f"#!/bin/sh\nmkdir -p {out}\nenv > {out}/{hpath}-{phase}\n")
            p.chmod(0o755)


def _hook_env(c: TestCluster, node: str, name: str) -> dict[str, str]:
    f = c.node_root(node) / "hook-records" / name
    if not f.exists():
        return {}
    return dict(ln.split("=", 1) for ln in f.read_text().splitlines() if "=" in ln)


# --- move ---
def test_move_copies_data_and_restarts_on_target(cluster: TestCluster) -> None:
    c = cluster
    _hook_recorder(c, "instance-move")
    _add(c, "inst1", "file", "node1", "size=40M", "size=24M")
    src = _disk_files(c, "inst1", "node1")
    _write_pattern(src[0], 1, 16)                 # 16 MiB data, 24 MiB zeros
    _write_pattern(src[1], 2, 8, at_mib=8)        # zeros, 8 MiB data, zeros
    sums = [_sha(p) for p in src]
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "inst1").check()
    log = res.out + res.err
    assert _running_on(c, "inst1", "node2")
    dst = _disk_files(c, "inst1", "node2")
    assert [_sha(p) for p in dst] == sums
    assert [p.stat().st_size for p in dst] == [40 * MIB, 24 * MIB]
    assert not any(p.exists() for p in src), "source disks must be removed"
    # zero chunks are not written: the copies stay sparse
    assert dst[0].stat().st_blocks * 512 <= 20 * MIB
    assert dst[1].stat().st_blocks * 512 <= 12 * MIB
    assert re.search(r"disk/0: 40\.0 MiB copied in .* MiB/s\), sha256", log), log
    cfg = _config(c)
    node2 = next(u for u, n in cfg["nodes"].items() if n["name"] == c.fqdn("node2"))
    assert all(cfg["disks"][d]["nodes"] == [node2] for d in _instance(c, "inst1")["disks"])
    # Ganeti's instance-move hooks: master, source and target, both phases
    for node in ("node1", "node2"):
        pre = _hook_env(c, node, "instance-move-pre")
        assert pre.get("GANETI_TARGET_NODE") == c.fqdn("node2")
        assert pre.get("GANETI_SHUTDOWN_TIMEOUT") == "120"
        assert pre.get("GANETI_INSTANCE_NAME") in ("inst1", c.fqdn("inst1"))
        assert pre.get("GANETI_INSTANCE_PRIMARY") == c.fqdn("node1")
        post = _hook_env(c, node, "instance-move-post")
        assert post.get("GANETI_POST_INSTANCE_PRIMARY") == c.fqdn("node2")
    assert _hook_env(c, "node3", "instance-move-pre") == {}
    # and back, stopped: stays stopped
    c.ok("gnt-instance", "stop", "inst1")
    c.ok("gnt-instance", "move", "-f", "--target-node", "node1", "inst1")
    assert _primary(c, "inst1") == "node1"
    assert _status(c, "inst1") == "ADMIN_down"
    assert [_sha(p) for p in _disk_files(c, "inst1", "node1")] == sums
    c.ok("gnt-instance", "remove", "-f", "inst1")


def test_move_diskless_and_refusals(cluster: TestCluster) -> None:
    c = cluster
    _add(c, "inst2", "diskless", "node1")
    c.ok("gnt-instance", "move", "-f", "-n", "node2", "inst2")
    assert _running_on(c, "inst2", "node2")
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "inst2")
    assert res.code != 0 and "already on the node" in res.err
    res = c.run("gnt-instance", "move", "-f", "inst2")
    assert res.code != 0 and "target node is required" in res.err
    c.ok("gnt-instance", "remove", "-f", "inst2")
    _add(c, "inst3", "sharedfile", "node1", "size=8M", start=False)
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "inst3")
    assert res.code != 0
    assert "disk type sharedfile and is not suitable for copying" in res.err
    c.ok("gnt-instance", "remove", "-f", "inst3")


def _assert_rolled_back(c: TestCluster, name: str, sums: list[str]) -> None:
    assert _running_on(c, name, "node1"), "instance must run on the source again"
    assert [_sha(p) for p in _disk_files(c, name, "node1")] == sums
    assert not any(p.exists() for p in _disk_files(c, name, "node2"))


def test_move_rolls_back_when_target_dir_is_unwritable(cluster: TestCluster) -> None:
    c = cluster
    _add(c, "inst4", "file", "node1", "size=16M")
    src = _disk_files(c, "inst4", "node1")
    _write_pattern(src[0], 4, 16)
    sums = [_sha(src[0])]
    storage = c.node_root("node2") / "srv/ganeti/file-storage"
    storage.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chattr", "+i", str(storage)], check=True)
    try:
        res = c.run("gnt-instance", "move", "-f", "-n", "node2", "inst4")
    finally:
        subprocess.run(["chattr", "-i", str(storage)], check=True)
    assert res.code != 0 and "Cannot create disk" in res.err, res.err
    _assert_rolled_back(c, "inst4", sums)


def test_move_removes_partial_target_disks(cluster: TestCluster) -> None:
    c = cluster
    _add(c, "inst5", "file", "node1", "size=8M", "size=8M")
    src = _disk_files(c, "inst5", "node1")
    _write_pattern(src[0], 5, 8)
    sums = [_sha(p) for p in src]
    # a foreign file where the second disk would go: its creation fails
    blocker = _disk_files(c, "inst5", "node2")[1]
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"not ours")
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "inst5")
    assert res.code != 0 and "File already existing" in res.err, res.err
    assert not _disk_files(c, "inst5", "node2")[0].exists(), "disk 0 must be removed"
    assert blocker.read_bytes() == b"not ours"
    blocker.unlink()
    _assert_rolled_back(c, "inst5", sums)


def test_move_detects_corruption_in_transit(cluster: TestCluster) -> None:
    c = cluster
    _add(c, "inst6", "file", "node1", f"size=16M,name={CORRUPT_NAME}")
    src = _disk_files(c, "inst6", "node1")
    _write_pattern(src[0], 6, 16)
    sums = [_sha(src[0])]
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "inst6")
    assert res.code != 0
    assert re.search(r"disk/0 is corrupt: SHA-256 read on .* is [0-9a-f]{64}, written",
                     res.err), res.err
    _assert_rolled_back(c, "inst6", sums)


def _noded_pid(c: TestCluster, node: str) -> int:
    return int((c.node_root(node) / "var/run/ganeti/ganeti-noded.pid").read_text().split()[0])


def _job_log(c: TestCluster, job: str) -> str:
    return c.run("gnt-job", "info", job).out


def _job_log_with(c: TestCluster, job: str, text: str) -> str:
    """The job's log if it contains ``text``, else ''."""
    log = _job_log(c, job)
    return log if text in log else ""


def test_move_survives_target_daemon_killed_mid_copy(cluster: TestCluster) -> None:
    c = cluster
    # 1 GiB at RATE_MIBPS: several seconds of copying (progress lines every 2 s)
    _add(c, "inst7", "file", "node1", "size=1G")
    src = _disk_files(c, "inst7", "node1")
    _write_pattern(src[0], 7, 8)
    _write_pattern(src[0], 8, 8, at_mib=1000)
    sums = [_sha(src[0])]
    res = c.run("gnt-instance", "move", "-f", "-n", "node2", "--submit", "inst7").check()
    job = (res.out + res.err).split()[-1]
    log = wait_for(lambda: _job_log_with(c, job, "ETA"), 30, 0.3)
    assert re.search(r"disk/0: [\d.]+ of 1024\.0 MiB \([\d.]+ %\), [\d.]+ MiB/s, ETA", log)
    os.kill(_noded_pid(c, "node2"), signal.SIGKILL)
    try:
        wait_for(lambda: "error" in c.ok("gnt-job", "list", "--no-headers", "-o", "status",
                                         job), 60, 0.5)
        info = _job_log(c, job)
        assert "Copy of disk/0 failed" in info, info
        assert "remove it manually" in info      # the target could not be cleaned
        assert _running_on(c, "inst7", "node1")
        assert [_sha(src[0])] == sums
    finally:
        c.run("gnt-daemon-util", "start", "ganeti-noded", node="node2").check()
    # the leftover partial file can be cleaned and the move retried
    leftover = _disk_files(c, "inst7", "node2")[0]
    if leftover.exists():
        leftover.unlink()
    start = time.monotonic()
    c.ok("gnt-instance", "move", "-f", "-n", "node2", "inst7", timeout=120)
    assert time.monotonic() - start < 60
    assert _running_on(c, "inst7", "node2")
    assert _sha(_disk_files(c, "inst7", "node2")[0]) == sums[0]
    c.ok("gnt-instance", "remove", "-f", "inst7")


# --- change-group ---
def test_change_group_moves_shared_storage_instance(cluster: TestCluster) -> None:
    c = cluster
    _hook_recorder(c, "instance-change-group")
    _add(c, "inst8", "sharedfile", "node1", "size=8M")
    res = c.run("gnt-instance", "change-group", "-I", "hail", "--to", "g2", "inst8").check()
    assert "changed group successfully" in res.out
    assert _running_on(c, "inst8", "node3")
    env = _hook_env(c, "node1", "instance-change-group-pre")
    g2 = next(u for u, g in _config(c)["nodegroups"].items() if g["name"] == "g2")
    assert env.get("GANETI_TARGET_GROUPS") == g2
    assert _hook_env(c, "node3", "instance-change-group-pre") == {}   # master only
    # the LU returned the job of hail's move (a migration to node3): it succeeded
    jobs = c.ok("gnt-job", "list", "--no-headers", "-o", "summary")
    assert "INSTANCE_MIGRATE(inst8" in jobs.replace(c.fqdn("inst8"), "inst8"), jobs
    c.ok("gnt-instance", "remove", "-f", "inst8")


def test_change_group_refusals(cluster: TestCluster) -> None:
    c = cluster
    _add(c, "inst9", "file", "node1", "size=8M", start=False)
    res = c.run("gnt-instance", "change-group", "-I", "hail", "--to", "default", "inst9")
    assert res.code != 0 and "used by the instance" in res.err, res.err
    res = c.run("gnt-instance", "change-group", "-I", "hail", "--to", "nosuch", "inst9")
    assert res.code != 0 and "'nosuch' not found" in res.err, res.err
    # as in Ganeti, hail cannot relocate plain/file instances (use move -n)
    res = c.run("gnt-instance", "change-group", "-I", "hail", "--to", "g2", "inst9")
    assert res.code != 0 and "cannot be relocated" in res.err, res.err
    assert _primary(c, "inst9") == "node1"
    c.ok("gnt-instance", "remove", "-f", "inst9")
