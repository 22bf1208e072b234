"""Everyday operations on existing instances, on a real two-node fake-hypervisor cluster.

``gnt-instance modify`` (disks, NICs, parameters, runtime memory, offline,
new primary), ``grow-disk``, ``activate-disks``/``deactivate-disks``,
``recreate-disks``, ``rename``, ``reinstall`` (also ``--select-os`` on a
terminal) and ``batch-create``, through the CLI against real daemons; every
bad input is refused with a clear message and changes nothing (config serial,
disk files and the fake hypervisor's state stay as they were).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    """node1 (master) and node2; fake hypervisor; file, sharedfile and diskless."""
    c = TestCluster(tmp_path_factory.mktemp("imodify"), nodes=["node1", "node2"])
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
               "file,sharedfile,diskless")
        c.add_node("node2")
        yield c
    finally:
        c.destroy()


# ---------------------------------------------------------------- helpers
def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _inst(c: TestCluster, name: str) -> dict:
    cfg = _config(c)
    return next(i for i in cfg["instances"].values() if i["name"] == c.fqdn(name))


def _disks(c: TestCluster, name: str) -> list[dict]:
    cfg = _config(c)
    return [cfg["disks"][u] for u in _inst(c, name)["disks"]]


def _files(c: TestCluster) -> list[str]:
    out = []
    for base in (c.root / "srv/ganeti/file-storage", c.root / "shared"):
        out += sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())
    return sorted(out)


def _fake_state(c: TestCluster, name: str, node: str = "node1") -> Any:
    f = c.node_root(node) / "var/run/ganeti/fake-hypervisor" / f"{c.fqdn(name)}.json"
    return json.loads(f.read_text()) if f.exists() else None


def _add(c: TestCluster, name: str, *extra: str, template: str = "file",
         node: str = "node1") -> None:
    args = ["gnt-instance", "add", "-t", template, "-n", c.fqdn(node), "-o", "image+raw",
            "--no-nics"]
    if template != "diskless":
        args += ["--disk", "0:size=32M"]
    c.ok(*args, *extra, name)


def _snapshot(c: TestCluster, name: str) -> tuple[int, list[str], Any]:
    return _config(c)["serial_no"], _files(c), _fake_state(c, name)


def _refused(c: TestCluster, *argv: str, word: str, name: str) -> str:
    """Run a command that must fail with ``word`` in its message and change nothing."""
    before = _snapshot(c, name)
    res = c.run(*argv)
    assert res.code != 0, f"{argv} succeeded:\n{res.out}"
    assert word.lower() in (res.err + res.out).lower(), res.err + res.out
    assert _snapshot(c, name) == before, f"{argv} changed something"
    return res.err


def _changes(out: str) -> list[str]:
    """The `` - key -> value`` lines of ``modify``'s output."""
    return [ln.strip()[2:] for ln in out.splitlines() if ln.startswith(" - ")]


# ------------------------------------------------------------------ modify
def test_modify_disks_with_hotplug(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst1")
    out = c.ok("gnt-instance", "modify", "--disk", "add:size=16M,name=data", "inst1")
    assert "Modified instance inst1" in out.splitlines()
    assert _changes(out) == ["disk/1 -> add:size=16,mode=rw", "disk/1 -> hotplug:done"]
    assert "take effect only at the next (re)start" in out
    disks = _disks(c, "inst1")
    assert [d["size"] for d in disks] == [32, 16]
    assert [d["iv_name"] for d in disks] == ["disk/0", "disk/1"]
    assert disks[1]["name"] == "data"
    assert _fake_state(c, "inst1")["disks"] == [d["uuid"] for d in disks]
    assert len([f for f in _files(c) if "inst1" in f]) == 2

    # insert at an index, modify by name, remove by index (new disk/1 shifts to 2)
    out = c.ok("gnt-instance", "modify", "--disk", "1:add,size=8M", "--disk",
               "data:modify,mode=ro", "inst1")
    assert _changes(out) == ["disk/1 -> add:size=8,mode=rw", "disk/1 -> hotplug:done",
                             "disk.mode/2 -> ro"]
    disks = _disks(c, "inst1")
    assert [(d["size"], d["mode"], d["iv_name"]) for d in disks] == [
        (32, "rw", "disk/0"), (8, "rw", "disk/1"), (16, "ro", "disk/2")]
    out = c.ok("gnt-instance", "modify", "--disk", "1:remove", "inst1")
    assert _changes(out) == ["disk/1 -> remove", "disk/1 -> hotplug:done"]
    disks = _disks(c, "inst1")
    assert [(d["size"], d["iv_name"]) for d in disks] == [(32, "disk/0"), (16, "disk/1")]
    assert _fake_state(c, "inst1")["disks"] == [d["uuid"] for d in disks]
    assert len([f for f in _files(c) if "inst1" in f]) == 2
    # the last disk, legacy form
    out = c.ok("gnt-instance", "modify", "--disk", "remove", "inst1")
    assert _changes(out)[0] == "disk/1 -> remove"
    assert len(_disks(c, "inst1")) == 1


def test_modify_without_hotplug(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst2")
    out = c.ok("gnt-instance", "modify", "--no-hotplug", "--disk", "add:size=8M", "inst2")
    assert _changes(out) == ["disk/1 -> add:size=8,mode=rw"]
    assert len(_disks(c, "inst2")) == 2
    assert len(_fake_state(c, "inst2")["disks"]) == 1  # the guest sees it at its next start
    _refused(c, "gnt-instance", "modify", "--no-hotplug", "--disk", "1:remove", "inst2",
             word="can't remove volume from a running instance without using hotplug",
             name="inst2")
    c.ok("gnt-instance", "reboot", "inst2")
    assert len(_fake_state(c, "inst2")["disks"]) == 2
    # stopped: no hotplug is tried, the disk goes at once
    c.ok("gnt-instance", "shutdown", "inst2")
    out = c.ok("gnt-instance", "modify", "--disk", "1:remove", "--disk", "0:remove", "inst2")
    assert _changes(out) == ["disk/1 -> remove", "disk/0 -> remove"]
    assert _disks(c, "inst2") == []
    assert not [f for f in _files(c) if "inst2" in f]
    c.ok("gnt-instance", "remove", "-f", "inst2")


def test_modify_nics(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst3")
    out = c.ok("gnt-instance", "modify", "--net", "add:mac=aa:00:00:11:22:33,link=br9,"
               "ip=192.0.2.7,name=eth", "inst3")
    assert _changes(out) == [
        "nic.0 -> add:mac=aa:00:00:11:22:33,ip=192.0.2.7,mode=bridged,link=br9,network=None",
        "nic.0 -> hotplug:done"]
    nics = _inst(c, "inst3")["nics"]
    assert [(n["mac"], n["ip"], n["name"], n["nicparams"]) for n in nics] == [
        ("aa:00:00:11:22:33", "192.0.2.7", "eth", {"link": "br9"})]
    assert _fake_state(c, "inst3")["nics"] == [nics[0]["uuid"]]
    out = c.ok("gnt-instance", "modify", "--net", "add", "inst3")  # generated MAC
    mac = _inst(c, "inst3")["nics"][1]["mac"]
    assert mac.startswith("aa:00:00:") and mac != "aa:00:00:11:22:33"
    # hot-modify asks first (no terminal: no); -f goes ahead
    res = c.run("gnt-instance", "modify", "--net", "eth:modify,ip=192.0.2.8", "inst3")
    assert res.code == 1 and _inst(c, "inst3")["nics"][0]["ip"] == "192.0.2.7"
    out = c.ok("gnt-instance", "modify", "-f", "--net", "eth:modify,ip=192.0.2.8", "inst3")
    assert "nic.ip/0 -> 192.0.2.8" in _changes(out)
    assert "nic/0 -> hotplug:done" in _changes(out)
    assert _inst(c, "inst3")["nics"][0]["ip"] == "192.0.2.8"
    out = c.ok("gnt-instance", "modify", "--net", "0:remove", "inst3")
    assert _changes(out) == ["nic/0 -> remove", "nic/0 -> hotplug:done"]
    assert [n["mac"] for n in _inst(c, "inst3")["nics"]] == [mac]
    assert _fake_state(c, "inst3")["nics"] == [_inst(c, "inst3")["nics"][0]["uuid"]]


def test_modify_parameters_and_states(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst4", "-B", "maxmem=256,minmem=128")
    image = c.root / "tiny.img"
    image.write_bytes(b"\0" * 4096)
    out = c.ok("gnt-instance", "modify", "-B", "maxmem=384,vcpus=2", "-H",
               "migration_mode=non-live", "-O", f"image={image}", "inst4")
    assert _changes(out) == ["hv/migration_mode -> non-live", "be/maxmem -> 384",
                             "be/vcpus -> 2", f"os/image -> {image}"]
    assert "live migration" in out  # Ganeti's note after -H
    inst = _inst(c, "inst4")
    assert inst["beparams"] == {"maxmem": 384, "minmem": 128, "vcpus": 2}
    assert inst["hvparams"] == {"migration_mode": "non-live"}
    assert inst["osparams"] == {"image": str(image)}
    _refused(c, "gnt-instance", "modify", "-O", "image=/nonexistent/x.img", "inst4",
             word="/nonexistent/x.img", name="inst4")
    c.ok("gnt-instance", "modify", "-B", "vcpus=default", "-O", "image=default", "inst4")
    inst = _inst(c, "inst4")
    assert "vcpus" not in inst["beparams"] and inst["osparams"] == {}
    out = c.ok("gnt-instance", "modify", "-o", "image+qcow2", "inst4")
    assert _inst(c, "inst4")["os"] == "image+qcow2"
    # --dry-run checks only; --submit --print-jobid returns at once
    serial = _config(c)["serial_no"]
    c.ok("gnt-instance", "modify", "--dry-run", "-B", "vcpus=3", "inst4")
    assert _config(c)["serial_no"] == serial and "vcpus" not in _inst(c, "inst4")["beparams"]
    res = c.run("gnt-instance", "modify", "--submit", "--print-jobid", "-B", "vcpus=3",
                "inst4").check()
    job_id = res.out.strip()
    assert job_id.isdigit() and f"JobID: {job_id}" in res.err
    c.ok("gnt-job", "wait", job_id)
    assert _inst(c, "inst4")["beparams"]["vcpus"] == 3
    # runtime memory: the running (fake) guest is ballooned
    out = c.ok("gnt-instance", "modify", "-m", "200", "inst4")
    assert _changes(out) == ["runtime_memory -> 200"]
    assert _fake_state(c, "inst4")["memory"] == 200
    oper = c.ok("gnt-instance", "list", "--no-headers", "--units=m", "-o", "oper_ram", "inst4")
    assert oper.strip() == "200"
    _refused(c, "gnt-instance", "modify", "-m", "64", "inst4", word="between 128 and 384",
             name="inst4")
    c.ok("gnt-instance", "modify", "-f", "-m", "64", "inst4")
    assert _fake_state(c, "inst4")["memory"] == 64
    # offline/online
    _refused(c, "gnt-instance", "modify", "--offline", "inst4",
             word="can't change to offline without being down first", name="inst4")
    c.ok("gnt-instance", "shutdown", "inst4")
    _refused(c, "gnt-instance", "modify", "-m", "200", "inst4", word="is not running",
             name="inst4")
    out = c.ok("gnt-instance", "modify", "--offline", "inst4")
    assert _changes(out) == ["admin_state -> offline"]
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "status",
                "inst4").strip() == "ADMIN_offline"
    _refused(c, "gnt-instance", "startup", "inst4", word="offline", name="inst4")
    out = c.ok("gnt-instance", "modify", "--online", "inst4")
    assert _changes(out) == ["admin_state -> down"]


def test_new_primary_for_shared_storage(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst5", template="sharedfile")
    _refused(c, "gnt-instance", "modify", "--new-primary", c.fqdn("node2"), "inst5",
             word="still running", name="inst5")
    c.ok("gnt-instance", "shutdown", "inst5")
    _refused(c, "gnt-instance", "modify", "--new-primary", c.fqdn("node1"), "inst5",
             word="already the primary node", name="inst5")
    c.ok("gnt-instance", "modify", "--new-primary", c.fqdn("node2"), "inst5")
    node2 = next(n["uuid"] for n in _config(c)["nodes"].values()
                 if n["name"] == c.fqdn("node2"))
    assert _inst(c, "inst5")["primary_node"] == node2
    assert _disks(c, "inst5")[0]["nodes"] == [node2]
    c.ok("gnt-instance", "startup", "inst5")
    assert _fake_state(c, "inst5", node="node2") is not None
    assert _fake_state(c, "inst5", node="node1") is None
    c.ok("gnt-instance", "remove", "-f", "inst5")
    # a file instance's disks stay on its node: refused
    _add(c, "inst6", "--no-start")
    _refused(c, "gnt-instance", "modify", "--new-primary", c.fqdn("node2"), "inst6",
             word="needs shared storage", name="inst6")
    c.ok("gnt-instance", "remove", "-f", "inst6")


BAD_MODIFIES = [
    ([], "at least one of the parameters"),
    (["--disk", "add:size=12Q"], "unit"),
    (["--disk", "add:name=x"], "missing required parameter 'size'"),
    (["--disk", "add:size=8M,mode=rx"], "invalid access mode"),
    (["--disk", "add:size=8M,bogus=1"], "bogus"),
    (["--disk", "7:remove"], "invalid disk index 7"),
    (["--disk", "nosuchdisk:modify,mode=ro"], "cannot find disk"),
    (["--disk", "0:modify,size=64M"], "use grow-disk"),
    (["--disk", "0:remove,size=1"], "not accepting parameters"),
    (["--disk", "0:add,remove"], "cannot do more than one"),
    (["--disk", "0:remove"], "disk 0"),
    (["--disk", "0:attach,name=x"], "no disk was found with this name: x"),
    (["--disk", "add:size=8M,name=d", "--disk", "add:size=8M,name=d"], "used more than once"),
    (["--net", "add:mac=zz:00:00:00:00:01"], "invalid mac"),
    (["--net", "add:ip=300.1.1.1"], "invalid ip"),
    (["--net", "add:mode=routed"], "routed"),
    (["--net", "add:bogus=1"], "bogus"),
    (["--net", "3:remove"], "invalid nic index"),
    (["-B", "maxmem=10T"], "maxmem"),
    (["-B", "minmem=512"], "can't be bigger than maximum"),
    (["-B", "bogus=1"], "bogus"),
    (["-H", "bogus=1"], "bogus"),
    (["-H", "migration_mode=sideways"], "migration_mode"),
    (["-o", "nosuchos"], "nosuchos"),
    (["-o", "image+nosuchvariant"], "variant"),
    (["-O", "nosuchparam=1"], "nosuchparam"),
    (["-m", "100000000"], "between"),
    (["--offline", "--online"], "at the same time"),
    (["-t", "sharedfile"], "cannot change disk template"),
    (["--new-primary", "nosuchnode"], "not known"),
    (["-B", "vcpus=1", "--file-storage-dir", "x"], "file-based"),
]


@pytest.mark.parametrize("extra,word", BAD_MODIFIES)
def test_bad_modify_changes_nothing(cl: TestCluster, extra: list[str], word: str) -> None:
    c = cl
    if _fake_state(c, "inst7") is None:
        _add(c, "inst7")
    err = _refused(c, "gnt-instance", "modify", *extra, "inst7", word=word, name="inst7")
    assert "Traceback" not in err


def test_bad_modify_on_diskless_and_unknown(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst8", "--no-install", template="diskless")
    _refused(c, "gnt-instance", "modify", "--disk", "add:size=8M", "inst8",
             word="diskless", name="inst8")
    _refused(c, "gnt-instance", "modify", "-B", "vcpus=2", "nosuchinstance",
             word="not known", name="inst8")
    c.ok("gnt-instance", "remove", "-f", "inst8")


# ------------------------------------------------------------------- disks
def test_grow_disk(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst9")
    disk_file = c.root / "srv/ganeti/file-storage" / c.fqdn("inst9")
    f = next(disk_file.glob("*.disk0"))
    out = c.ok("gnt-instance", "grow-disk", "inst9", "0", "16M")
    assert "Growing disk 0 of instance 'inst9.gnt.test' by 16M to 48M" in out
    assert f.stat().st_size == 48 * 1024 * 1024
    c.ok("gnt-instance", "grow-disk", "--absolute", "inst9", "0", "1G")
    assert f.stat().st_size == 1024 * 1024 * 1024
    assert c.ok("gnt-instance", "list", "--no-headers", "--units=m", "-o", "disk.sizes",
                "inst9").strip() == "1024"
    _refused(c, "gnt-instance", "grow-disk", "--absolute", "inst9", "0", "512M",
             word="smaller than current disk size", name="inst9")
    _refused(c, "gnt-instance", "grow-disk", "inst9", "0", "--", "-1G",
             word="negative", name="inst9")
    _refused(c, "gnt-instance", "grow-disk", "inst9", "3", "1G", word="invalid disk index 3",
             name="inst9")
    _refused(c, "gnt-instance", "grow-disk", "inst9", "x", "1G", word="invalid disk index",
             name="inst9")
    _refused(c, "gnt-instance", "grow-disk", "inst9", "0", "20T", word="maximum",
             name="inst9")
    # an opcode (as RAPI would send it) with a negative amount
    code = ("import sys; from gnt.cli.base import get_client; from gnt.cli.jobs import "
            "run_opcode; from gnt.opcodes.instance_modify import OpInstanceGrowDisk as O; "
            "run_opcode(get_client(), O(instance_name='inst9', disk=0, amount=-1024))")
    before = _snapshot(c, "inst9")
    res = c.run(sys.executable, "-c", code)
    assert res.code != 0 and "Requested increment (-1024 MiB) is negative" in res.err
    assert _snapshot(c, "inst9") == before
    assert f.stat().st_size == 1024 * 1024 * 1024


def test_activate_deactivate_disks(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst10", "--disk", "1:size=8M")
    out = c.ok("gnt-instance", "activate-disks", "inst10")
    lines = out.splitlines()
    assert len(lines) == 2
    for idx, line in enumerate(lines):
        node, iv_name, path = line.split(":", 2)
        assert node == c.fqdn("node1") and iv_name == f"disk/{idx}"
        assert Path(path).is_file() and path.endswith(f".file.disk{idx}")
    assert _inst(c, "inst10")["disks_active"] is True
    _refused(c, "gnt-instance", "deactivate-disks", "inst10", word="cannot shutdown disks",
             name="inst10")
    c.ok("gnt-instance", "deactivate-disks", "-f", "inst10")
    assert _inst(c, "inst10")["disks_active"] is False
    c.ok("gnt-instance", "shutdown", "inst10")
    c.ok("gnt-instance", "activate-disks", "inst10")
    c.ok("gnt-instance", "deactivate-disks", "inst10")
    assert _inst(c, "inst10")["disks_active"] is False
    # a disk file that shrank behind gnt's back: refused unless --ignore-size
    f = next((c.root / "srv/ganeti/file-storage" / c.fqdn("inst10")).glob("*.disk1"))
    os.truncate(f, 4 * 1024 * 1024)
    _refused(c, "gnt-instance", "activate-disks", "inst10", word="less than", name="inst10")
    assert len(c.ok("gnt-instance", "activate-disks", "--ignore-size",
                    "inst10").splitlines()) == 2


def test_recreate_disks(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst11", "--disk", "1:size=8M")
    _refused(c, "gnt-instance", "recreate-disks", "inst11",
             word="is marked to be up, cannot recreate disks", name="inst11")
    c.ok("gnt-instance", "shutdown", "inst11")
    _refused(c, "gnt-instance", "recreate-disks", "inst11", word="exists on node",
             name="inst11")
    d = c.root / "srv/ganeti/file-storage" / c.fqdn("inst11")
    f1 = next(d.glob("*.disk1"))
    f1.unlink()
    _refused(c, "gnt-instance", "recreate-disks", "--disk", "5", "inst11",
             word="invalid disk index 5", name="inst11")
    _refused(c, "gnt-instance", "recreate-disks", "--disk", "1:bogus=2", "inst11",
             word="not allowed for recreating", name="inst11")
    c.ok("gnt-instance", "recreate-disks", "--disk", "1:size=16M", "inst11")
    assert f1.stat().st_size == 16 * 1024 * 1024
    assert [x["size"] for x in _disks(c, "inst11")] == [32, 16]
    c.ok("gnt-instance", "startup", "inst11")


def test_recreate_disks_on_another_node(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst12", "--no-start")
    for f in (c.root / "srv/ganeti/file-storage").rglob("*inst12*/*.disk0"):
        f.unlink()
    _refused(c, "gnt-instance", "recreate-disks", "-n", f"{c.fqdn('node1')}:"
             f"{c.fqdn('node2')}", "inst12", word="new node list has 2 nodes", name="inst12")
    c.ok("gnt-instance", "recreate-disks", "-n", c.fqdn("node2"), "inst12")
    node2_files = list((c.node_root("node2") / "srv/ganeti/file-storage").rglob(
        "*inst12*/*.disk0"))
    assert len(node2_files) == 1
    c.ok("gnt-instance", "startup", "inst12")
    assert _fake_state(c, "inst12", node="node2") is not None


# -------------------------------------------------------- rename/reinstall
def test_rename(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst13")
    _refused(c, "gnt-instance", "rename", "inst13", "inst14",
             word="is marked to be up, cannot rename", name="inst13")
    c.ok("gnt-instance", "shutdown", "inst13")
    _add(c, "inst15", "--no-install", template="diskless")
    _refused(c, "gnt-instance", "rename", "inst13", "inst15", word="already in the cluster",
             name="inst13")
    _refused(c, "gnt-instance", "rename", "inst13", "ghost.nowhere.invalid",
             word="resolve", name="inst13")
    _refused(c, "gnt-instance", "rename", "--no-name-check", "-f", "inst13", "other",
             word="ip address check requires a name check", name="inst13")
    out = c.ok("gnt-instance", "rename", "inst13", "inst14")
    assert out.strip().splitlines()[-1] == "Instance 'inst13' renamed to 'inst14.gnt.test'"
    base = c.root / "srv/ganeti/file-storage"
    assert not (base / c.fqdn("inst13")).exists()
    assert len(list((base / c.fqdn("inst14")).glob("*.disk0"))) == 1
    disk = _disks(c, "inst14")[0]
    assert disk["logical_id"][1].startswith(f"/srv/ganeti/file-storage/{c.fqdn('inst14')}/")
    logs = list((c.root / "var/log/ganeti/os").glob("rename-image*inst13*inst14*"))
    assert logs and "renamed to inst14.gnt.test" in logs[0].read_text()
    c.ok("gnt-instance", "startup", "inst14")
    assert _fake_state(c, "inst14") is not None
    jobs = c.ok("gnt-job", "list", "--no-headers", "-o", "status,summary")
    assert "success INSTANCE_RENAME(inst13)" in " ".join(jobs.split())
    # without name check: asks (no terminal: no), -f goes on
    c.ok("gnt-instance", "shutdown", "inst15")
    res = c.run("gnt-instance", "rename", "--no-name-check", "--no-ip-check", "inst15",
                "plain-name")
    assert res.code == 1 and _inst(c, "inst15")
    c.ok("gnt-instance", "rename", "--no-name-check", "--no-ip-check", "-f", "inst15",
         "plain-name")
    assert any(i["name"] == "plain-name" for i in _config(c)["instances"].values())


def _run_on_tty(c: TestCluster, argv: list[str], prompt: bytes, answer: bytes,
                timeout: float = 120) -> tuple[int, str]:
    """Run ``argv`` with a terminal as its controlling tty; answer ``prompt``."""
    master, slave = os.openpty()

    def make_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=c.env(),
                            preexec_fn=make_tty, close_fds=True)  # noqa: PLW1509
    os.close(slave)
    out, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                out += data
                if not answered and prompt in out:
                    os.write(master, answer)
                    answered = True
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), out.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_reinstall(cl: TestCluster) -> None:
    c = cl
    _add(c, "inst16")
    _refused(c, "gnt-instance", "reinstall", "-f", "inst16", word="cannot reinstall",
             name="inst16")
    c.ok("gnt-instance", "shutdown", "inst16")
    # without -f and without a terminal: the safe answer (no)
    res = c.run("gnt-instance", "reinstall", "inst16")
    assert res.code == 1
    out = c.ok("gnt-instance", "reinstall", "-f", "inst16")
    assert "Running the instance OS create scripts..." in out
    logs = sorted((c.root / "var/log/ganeti/os").glob("add-image*inst16*"))
    assert len(logs) == 2  # the creation and the reinstall
    _refused(c, "gnt-instance", "reinstall", "-f", "-o", "nosuchos", "inst16",
             word="nosuchos", name="inst16")
    _refused(c, "gnt-instance", "reinstall", "-f", "-O", "bogus=1", "inst16", word="bogus",
             name="inst16")
    c.ok("gnt-instance", "reinstall", "-f", "-o", "image+qcow2", "-O", "image=", "inst16")
    assert _inst(c, "inst16")["os"] == "image+qcow2"
    # --select-os: the OS list on the terminal, pick one by number
    code, out = _run_on_tty(c, ["gnt-instance", "reinstall", "--select-os", "-f", "inst16"],
                            b"Enter OS template number", b"0\n")
    assert code == 0, out
    assert "Available OS templates:\r\n  0: image+raw\r\n  1: image+qcow2" in out
    assert _inst(c, "inst16")["os"] == "image+raw"
    code, out = _run_on_tty(c, ["gnt-instance", "reinstall", "--select-os", "-f", "inst16"],
                            b"Enter OS template number", b"1\n")
    assert code == 0, out
    assert _inst(c, "inst16")["os"] == "image+qcow2"
    code, out = _run_on_tty(c, ["gnt-instance", "reinstall", "--select-os", "-f", "inst16"],
                            b"Enter OS template number", b"x\n")
    assert code == 1 and "User aborted reinstall, exiting" in out
    _add(c, "inst17", "--no-install", template="diskless")
    _refused(c, "gnt-instance", "reinstall", "-f", "inst17", word="has no disks",
             name="inst17")


# ------------------------------------------------------------ batch-create
def test_batch_create(cl: TestCluster, tmp_path: Path) -> None:
    c = cl
    spec = tmp_path / "instances.json"
    spec.write_text(json.dumps([
        {"mode": "create", "instance_name": "inst18", "disk_template": "file",
         "os_type": "image+raw", "disks": [{"size": "16"}], "nics": [],
         "pnode": c.fqdn("node1")},
        {"mode": "create", "instance_name": "inst19", "disk_template": "diskless",
         "no_install": True, "nics": [{}], "pnode": c.fqdn("node2"), "start": False,
         "beparams": {"maxmem": 256, "minmem": 128}},
    ]))
    out = c.ok("gnt-instance", "batch-create", str(spec))
    assert out.splitlines()[0].startswith("Submitted jobs ")
    assert out.strip().splitlines()[-1] == "All instances created successfully."
    assert _fake_state(c, "inst18") is not None
    inst19 = _inst(c, "inst19")
    assert inst19["beparams"] == {"maxmem": 256, "minmem": 128} and len(inst19["nics"]) == 1
    # one bad definition: the others are created, the failure is counted
    spec.write_text(json.dumps([
        {"instance_name": "inst20", "disk_template": "diskless", "no_install": True,
         "pnode": c.fqdn("node1"), "start": False},
        {"instance_name": "inst18", "disk_template": "diskless", "no_install": True,
         "pnode": c.fqdn("node1")},
    ]))
    res = c.run("gnt-instance", "batch-create", str(spec))
    assert res.code == 1
    assert "There were 1 errors during the creation." in res.out
    assert "already" in res.err
    assert _inst(c, "inst20")
    # --submit: only the job ids
    c.ok("gnt-instance", "remove", "-f", "inst20")
    spec.write_text(json.dumps([{"instance_name": "inst20", "disk_template": "diskless",
                                 "no_install": True, "pnode": c.fqdn("node1")}]))
    out = c.ok("gnt-instance", "batch-create", "--submit", str(spec))
    job_id, name = out.strip().split(": ")
    assert name == "inst20"
    c.ok("gnt-job", "wait", job_id)
    assert _inst(c, "inst20")


@pytest.mark.parametrize("content,word", [
    ("not json", "Can't parse the instance definition file"),
    ('{"instance_name": "x"}', "not a list"),
    ('[{"instance_name": "x", "bogus": 1}]', "Unknown fields in definition 0: bogus"),
    ('[{"instance_name": "x", "iallocator": "hail"}]', "only allowed for the whole batch"),
    ('[{"instance_name": "x", "disks": 5}]', "disks"),
])
def test_bad_batch_create(cl: TestCluster, tmp_path: Path, content: str, word: str) -> None:
    c = cl
    spec = tmp_path / "bad.json"
    spec.write_text(content)
    before = _config(c)["serial_no"]
    res = c.run("gnt-instance", "batch-create", str(spec))
    assert res.code != 0 and word in res.err, res.err
    assert _config(c)["serial_no"] == before
