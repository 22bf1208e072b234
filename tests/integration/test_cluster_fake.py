"""A real one-node cluster (noded + masterd) with the fake hypervisor.

Covers the instance lifecycle through the CLI, refusal of bad input without
side effects, clean-up after a failure half-way through ``add``, and the job
queue surviving ``kill -9`` of the master daemon.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster, wait_for

pytestmark = pytest.mark.integration


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _files(c: TestCluster) -> list[str]:
    base = c.root / "srv/ganeti/file-storage"
    return sorted(str(p.relative_to(base)) for p in base.rglob("*"))


def _status(c: TestCluster, name: str) -> str:
    out = c.ok("gnt-instance", "list", "--no-headers", "-o", "status", name)
    return out.strip()


def test_instance_lifecycle(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    out = c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "-o", "image+raw",
               "-B", "maxmem=256,vcpus=2", "--no-nics", "inst1")
    assert "starting instance" in out
    rows = c.ok("gnt-instance", "list", "--no-headers", "--separator=|").strip()
    assert rows == "inst1.gnt.test|fake|image+raw|node1.gnt.test|running|256"
    disk_files = _files(c)
    assert len([f for f in disk_files if f.endswith(".file.disk0")]) == 1

    c.ok("gnt-instance", "shutdown", "inst1")
    assert _status(c, "inst1") == "ADMIN_down"
    c.ok("gnt-instance", "startup", "inst1")
    assert _status(c, "inst1") == "running"
    c.ok("gnt-instance", "reboot", "--type", "hard", "inst1")
    assert _status(c, "inst1") == "running"

    info = c.ok("gnt-instance", "info", "inst1")
    assert "Instance name: inst1.gnt.test" in info
    assert "actual state is up" in info

    fields = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                  "name,disk.sizes,be/maxmem,oper_vcpus,admin_state", "inst1").strip()
    assert fields == "inst1.gnt.test|64|256|2|up"

    c.ok("gnt-instance", "remove", "-f", "inst1")
    assert c.ok("gnt-instance", "list", "--no-headers").strip() == ""
    assert _files(c) == []
    jobs = c.ok("gnt-job", "list", "--no-headers", "-o", "status,summary")
    assert "success INSTANCE_REMOVE(inst1)" in " ".join(jobs.split())


BAD_ADDS = [
    (["-o", "nosuchos"], "nosuchos"),
    (["-o", "image", "-H", "xen-pvm"], "hypervisor"),
    (["-o", "image", "-H", "fake:bogus=1"], "bogus"),
    (["-o", "image", "--disk", "0:size=12Q"], "unit"),
    (["-o", "image", "--disk", "0:size=-4"], "size"),
    (["-o", "image", "--disk", "0:size=999999999G"], "size"),
    (["-o", "image", "-B", "maxmem=10T"], "maxmem"),
    (["-o", "image", "-B", "vcpus=-1"], "vcpus"),
    (["-o", "image", "-B", "bogus=1"], "bogus"),
    (["-o", "image+nosuchvariant"], "variant"),
    (["-o", "image", "-O", "nosuchparam=1"], "nosuchparam"),
]


@pytest.mark.parametrize("extra,word", BAD_ADDS)
def test_bad_add_changes_nothing(fake_cluster: TestCluster, extra: list[str],
                                 word: str) -> None:
    c = fake_cluster
    before = _config(c)["serial_no"]
    args = ["gnt-instance", "add", "-t", "file", "--no-nics", *extra]
    if not any(a.startswith("0:") for a in extra):
        args += ["--disk", "0:size=64M"]
    res = c.run(*args, "inst2")
    assert res.code != 0, res.out
    assert word.lower() in (res.err + res.out).lower(), res.err
    assert _config(c)["serial_no"] == before
    assert _config(c)["instances"] == {}
    assert _files(c) == []
    assert c.ok("gnt-instance", "list", "--no-headers").strip() == ""


def test_duplicate_and_unresolvable_names(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics", "inst1")
    serial = _config(c)["serial_no"]
    res = c.run("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics", "inst1")
    assert res.code != 0 and "already" in res.err
    res = c.run("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics",
                "ghost.nowhere.invalid")
    assert res.code != 0 and "resolve" in res.err
    assert _config(c)["serial_no"] == serial
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics",
         "--no-name-check", "--no-ip-check", "ghost.nowhere.invalid")
    assert "ghost.nowhere.invalid" in c.ok("gnt-instance", "list", "--no-headers", "-o", "name")


def test_failing_os_script_removes_everything(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    osdir = c.root / "srv/ganeti/os/failing"
    osdir.mkdir(parents=True)
    (osdir / "ganeti_api_version").write_text("20\n")
    (osdir / "parameters.list").write_text("")
    for script in ("create", "import", "export", "rename", "verify"):
        body = "#!/bin/sh\necho 'disk is on fire' >&2\nexit 3\n" if script == "create" \
            else "#!/bin/sh\nexit 0\n"
        (osdir / script).write_text(body)
        (osdir / script).chmod(0o755)
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=32M", "-o", "failing",
                "--no-nics", "inst3")
    assert res.code != 0
    assert "disk is on fire" in res.err
    assert _config(c)["instances"] == {} and _config(c)["disks"] == {}
    assert [f for f in _files(c) if f.endswith("disk0")] == []
    fake_state = c.root / "var/run/ganeti/fake-hypervisor"
    assert not any(fake_state.glob("*inst3*"))


def test_user_visible_error_down_and_verify(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics", "inst4")
    assert _status(c, "inst4") == "ADMIN_down"  # --no-install implies --no-start
    c.ok("gnt-instance", "startup", "inst4")
    assert c.run("gnt-cluster", "verify").code == 0
    # the guest dies behind gnt's back
    for f in (c.root / "var/run/ganeti/fake-hypervisor").rglob("*inst4*"):
        f.unlink()
    assert _status(c, "inst4") == "ERROR_down"
    res = c.run("gnt-cluster", "verify", "--error-codes")
    assert res.code != 0
    assert "ERROR:EINSTANCEDOWN:instance:inst4.gnt.test:" in res.out


def test_submit_and_job_commands(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    res = c.run("gnt-debug", "delay", "--submit", "0.2")
    assert res.code == 0
    job_id = res.err.strip().split()[-1]
    assert res.err.startswith("JobID:")
    c.ok("gnt-job", "wait", job_id)
    info = c.ok("gnt-job", "info", job_id)
    assert "Status: success" in info and "OP_TEST_DELAY" in info
    assert c.ok("gnt-job", "list", "--no-headers", "-o", "status", job_id).strip() == "success"
    c.ok("gnt-job", "archive", job_id)
    live = c.ok("gnt-job", "list", "--no-headers", "-o", "id").split()
    assert job_id not in live
    everything = c.ok("gnt-job", "list", "--archived", "--no-headers", "-o", "id,archived")
    assert f"{job_id} Y" in " ".join(everything.split())


def _masterd_pid(c: TestCluster) -> int:
    return int((c.root / "var/run/ganeti/ganeti-masterd.pid").read_text().split()[0])


def test_masterd_kill9_during_jobs(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-cluster", "modify", "--max-running-jobs", "1")
    running = c.run("gnt-debug", "delay", "--submit", "30").err.split()[-1]
    queued = c.run("gnt-debug", "delay", "--submit", "0.1").err.split()[-1]
    wait_for(lambda: c.ok("gnt-job", "list", "--no-headers", "-o", "status",
                          running).strip() == "running")
    serial = _config(c)["serial_no"]
    os.kill(_masterd_pid(c), signal.SIGKILL)
    time.sleep(0.5)
    assert c.run("gnt-job", "list").code != 0
    c.ok("gnt-daemon-util", "start", "ganeti-masterd")
    c.ok("gnt-job", "wait", queued)
    rows = dict(line.split(None, 1) for line in c.ok(
        "gnt-job", "list", "--no-headers", "-o", "id,status", running, queued).splitlines())
    assert rows == {running: "error", queued: "success"}
    info = c.ok("gnt-job", "info", running)
    assert "nclean master daemon shutdown" in info
    assert _config(c)["serial_no"] == serial
    # ids are never reused
    new = c.run("gnt-debug", "delay", "--submit", "0").err.split()[-1]
    assert int(new) > int(queued)


def test_cluster_info_modify_and_os(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    assert c.ok("gnt-cluster", "getmaster").strip() == "node1.gnt.test"
    assert "Software version:" in c.ok("gnt-cluster", "version")
    info = c.ok("gnt-cluster", "info")
    assert "Cluster name: cluster.gnt.test" in info and "Master node: node1.gnt.test" in info
    assert c.ok("gnt-os", "list").split() == ["Name", "image+qcow2", "image+raw"]
    diag = c.run("gnt-os", "diagnose")
    assert diag.code == 0 and "OS: image [global status: valid]" in diag.out

    serial = _config(c)["serial_no"]
    for bad in (["-B", "vcpus=lots"], ["-H", "fake:nosuch=1"], ["--enabled-hypervisors", "xen"],
                ["--mac-prefix", "zz:00:00"], ["--enabled-disk-templates", "floppy"]):
        res = c.run("gnt-cluster", "modify", *bad)
        assert res.code != 0, bad
    assert _config(c)["serial_no"] == serial

    c.ok("gnt-cluster", "modify", "-B", "maxmem=512,vcpus=2", "-H", "fake:migration_mode=non-live",
         "--mac-prefix", "ab:cd:ef")
    cl = _config(c)["cluster"]
    assert cl["beparams"]["default"]["maxmem"] == 512 and cl["beparams"]["default"]["vcpus"] == 2
    assert cl["hvparams"]["fake"]["migration_mode"] == "non-live"
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "inst5")
    out = c.ok("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
               "be/maxmem,be/vcpus,hv/migration_mode,nic.macs", "inst5").strip()
    maxmem, vcpus, mode, mac = out.split("|")
    assert (maxmem, vcpus, mode) == ("512", "2", "non-live") and mac.startswith("ab:cd:ef:")
    ssconf = (c.root / "var/lib/ganeti/ssconf_instance_list").read_text()
    assert "inst5.gnt.test" in ssconf


@pytest.mark.parametrize("keep", [False, True])
def test_destroy_with_instances(cluster_root: Path, keep: bool) -> None:
    c = TestCluster(cluster_root)
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless")
        c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=32M", "-o", "image+raw",
             "--no-nics", "inst1")
        assert c.run("gnt-cluster", "destroy").code != 0  # needs --yes-do-it
        assert len(_files(c)) == 2  # instance dir + disk file
        extra = ["--keep-instance-disks"] if keep else []
        c.ok("gnt-cluster", "destroy", "--yes-do-it", *extra)
        assert not (c.root / "var/lib/ganeti/config.data").exists()
        assert not list((c.root / "var/lib/ganeti").glob("ssconf_*"))
        assert not (c.root / "var/run/ganeti/ganeti-masterd.pid").exists()
        assert not list((c.root / "var/run/ganeti/fake-hypervisor").rglob("*inst1*"))
        disks = [f for f in _files(c) if f.endswith("disk0")]
        assert len(disks) == (1 if keep else 0)
    finally:
        c.destroy()
