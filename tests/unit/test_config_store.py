"""The config store: atomic config.data writes, serials, add/remove, hooks, crash safety."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from gnt import constants as C
from gnt import errors, paths
from gnt.config import ConfigWriter, load_config_file, write_config_file
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup

pytestmark = pytest.mark.unit


def small_config() -> ConfigData:
    grp = NodeGroup(name="default")
    node = Node(name="node1.example.com", primary_ip="192.0.2.1", secondary_ip="192.0.2.1",
                group=grp.uuid)
    cluster = Cluster(cluster_name="cluster.example.com", master_node=node.uuid,
                      master_ip="192.0.2.254", enabled_hypervisors=[C.HT_FAKE])
    return ConfigData(cluster=cluster, nodes={node.uuid: node}, nodegroups={grp.uuid: grp})


def new_instance(cfg: ConfigData, name: str) -> tuple[Instance, list[Disk]]:
    node = next(iter(cfg.nodes.values()))
    disks = [Disk(dev_type=C.DT_FILE, logical_id=["loop", f"/srv/{name}/disk{i}"],
                  size=1024 * (i + 1), nodes=[node.uuid], iv_name=f"disk/{i}")
             for i in range(2)]
    inst = Instance(name=name, primary_node=node.uuid, os="debian", hypervisor=C.HT_FAKE,
                    disk_template=C.DT_FILE, nics=[NIC(mac="aa:00:00:00:00:01")])
    return inst, disks


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    assert paths.get().root == tmp_path.resolve()
    return tmp_path


@pytest.fixture
def conf_file(root: Path) -> Path:
    write_config_file(small_config())
    return paths.get().cluster_conf_file


def on_disk(p: Path) -> dict[str, Any]:
    return json.loads(p.read_bytes())


# --- load / write ---------------------------------------------------------------

def test_write_load_round_trip(root: Path) -> None:
    data = small_config()
    raw = write_config_file(data)
    p = paths.get().cluster_conf_file
    assert p == root.resolve() / "var/lib/ganeti/config.data"
    assert p.read_bytes() == raw
    assert raw.endswith(b"\n")
    assert load_config_file() == data
    assert load_config_file(p) == data


def test_write_is_deterministic_and_private(root: Path) -> None:
    data = small_config()
    p = root / "elsewhere" / "config.data"
    raw1 = write_config_file(data, p)
    raw2 = write_config_file(data, p)
    assert raw1 == raw2
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    # no temp files left behind
    assert [f.name for f in p.parent.iterdir()] == ["config.data"]


def test_load_missing(root: Path) -> None:
    with pytest.raises(errors.ConfigurationError) as ei:
        load_config_file()
    assert ei.value.ecode == errors.ECODE_ENVIRON
    assert "config.data" in str(ei.value)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"cluster": {}}'])
def test_load_invalid(root: Path, content: bytes) -> None:
    p = paths.get().cluster_conf_file
    p.parent.mkdir(parents=True)
    p.write_bytes(content)
    with pytest.raises(errors.ConfigurationError) as ei:
        load_config_file()
    assert "Invalid cluster configuration" in str(ei.value)


# --- ConfigWriter ---------------------------------------------------------------

def test_writer_loads_existing(conf_file: Path) -> None:
    w = ConfigWriter()
    assert w.data == load_config_file(conf_file)
    assert w.serial_no() == 1
    assert w.dump() == w.data.to_dict()
    d = w.dump()
    d["cluster"]["cluster_name"] = "changed"
    assert w.data.cluster.cluster_name == "cluster.example.com"


def test_writer_without_config(root: Path) -> None:
    with pytest.raises(errors.ConfigurationError):
        ConfigWriter()


def test_serial_increments_on_each_write(conf_file: Path) -> None:
    w = ConfigWriter()
    serials = []
    for _ in range(3):
        w.save()
        serials.append(on_disk(conf_file)["serial_no"])
    assert serials == [2, 3, 4]
    assert w.serial_no() == 4
    assert load_config_file().serial_no == 4


def test_save_bumps_mtime(conf_file: Path) -> None:
    w = ConfigWriter()
    w.data.mtime = 1.0
    w.save()
    assert on_disk(conf_file)["mtime"] > 1.0


def test_update_touches_objects_and_writes(conf_file: Path) -> None:
    w = ConfigWriter()
    node = next(iter(w.data.nodes.values()))
    node.drained = True
    w.update(node, w.data.cluster)
    d = on_disk(conf_file)
    assert d["serial_no"] == 2
    assert d["nodes"][node.uuid]["drained"] is True
    assert d["nodes"][node.uuid]["serial_no"] == 2
    assert d["cluster"]["serial_no"] == 2
    grp = next(iter(d["nodegroups"].values()))
    assert grp["serial_no"] == 1  # not touched


def test_add_instance(conf_file: Path) -> None:
    w = ConfigWriter()
    inst, disks = new_instance(w.data, "inst1.example.com")
    w.add_instance(inst, disks)
    assert inst.disks == [d.uuid for d in disks]
    loaded = load_config_file()
    assert loaded.serial_no == 2
    got = loaded.instance_by_name("inst1.example.com")
    assert got is not None and got.uuid == inst.uuid
    assert [d.size for d in loaded.instance_disks(got)] == [1024, 2048]
    # a fresh writer sees the same
    assert ConfigWriter().data == loaded


def test_add_instance_duplicate_name_refused_file_unchanged(conf_file: Path) -> None:
    w = ConfigWriter()
    inst, disks = new_instance(w.data, "inst1.example.com")
    w.add_instance(inst, disks)
    before = conf_file.read_bytes()
    before_mtime = conf_file.stat().st_mtime_ns
    dup, dup_disks = new_instance(w.data, "inst1.example.com")
    with pytest.raises(errors.OpPrereqError) as ei:
        w.add_instance(dup, dup_disks)
    assert ei.value.ecode == errors.ECODE_EXISTS
    assert "inst1.example.com" in str(ei.value)
    assert conf_file.read_bytes() == before
    assert conf_file.stat().st_mtime_ns == before_mtime
    # memory unchanged too: no stray disks, same serial
    assert len(w.data.instances) == 1
    assert set(w.data.disks) == {d.uuid for d in disks}
    assert w.serial_no() == 2


def test_add_instance_duplicate_uuid_refused(conf_file: Path) -> None:
    w = ConfigWriter()
    inst, disks = new_instance(w.data, "inst1.example.com")
    w.add_instance(inst, disks)
    before = conf_file.read_bytes()
    other, other_disks = new_instance(w.data, "inst2.example.com")
    other.uuid = inst.uuid
    with pytest.raises(errors.ProgrammerError):
        w.add_instance(other, other_disks)
    assert conf_file.read_bytes() == before


def test_remove_instance_removes_disks(conf_file: Path) -> None:
    w = ConfigWriter()
    i1, d1 = new_instance(w.data, "inst1.example.com")
    i2, d2 = new_instance(w.data, "inst2.example.com")
    w.add_instance(i1, d1)
    w.add_instance(i2, d2)
    assert len(load_config_file().disks) == 4
    w.remove_instance(i1.uuid)
    loaded = load_config_file()
    assert set(loaded.instances) == {i2.uuid}
    assert set(loaded.disks) == {d.uuid for d in d2}
    assert loaded.serial_no == 4


def test_remove_unknown_instance(conf_file: Path) -> None:
    w = ConfigWriter()
    before = conf_file.read_bytes()
    with pytest.raises(errors.OpPrereqError) as ei:
        w.remove_instance("no-such-uuid")
    assert ei.value.ecode == errors.ECODE_NOENT
    assert conf_file.read_bytes() == before


def test_add_node_and_group(conf_file: Path) -> None:
    w = ConfigWriter()
    grp = NodeGroup(name="second")
    w.add_group(grp)
    node = Node(name="node2.example.com", primary_ip="192.0.2.2", secondary_ip="192.0.2.2",
                group=grp.uuid)
    w.add_node(node)
    loaded = load_config_file()
    assert loaded.group_by_name("second") is not None
    assert loaded.node_by_name("node2.example.com") is not None
    assert loaded.serial_no == 3
    before = conf_file.read_bytes()
    with pytest.raises(errors.OpPrereqError) as ei:
        w.add_group(NodeGroup(name="second"))
    assert ei.value.ecode == errors.ECODE_EXISTS
    with pytest.raises(errors.OpPrereqError) as ei:
        w.add_node(Node(name="node2.example.com", primary_ip="192.0.2.9",
                        secondary_ip="192.0.2.9", group=grp.uuid))
    assert ei.value.ecode == errors.ECODE_EXISTS
    assert conf_file.read_bytes() == before


# --- on_write hook ----------------------------------------------------------------

def test_on_write_hook_gets_written_bytes(conf_file: Path) -> None:
    calls: list[tuple[ConfigData, bytes, bytes]] = []

    def hook(data: ConfigData, raw: bytes) -> None:
        # the file is already durable when the hook runs
        calls.append((data, raw, conf_file.read_bytes()))

    w = ConfigWriter(on_write=hook)
    assert calls == []  # loading does not write
    inst, disks = new_instance(w.data, "inst1.example.com")
    w.add_instance(inst, disks)
    w.save()
    assert len(calls) == 2
    for data, raw, file_bytes in calls:
        assert data is w.data
        assert raw == file_bytes
    assert json.loads(calls[0][1])["serial_no"] == 2
    assert json.loads(calls[1][1])["serial_no"] == 3


def test_on_write_hook_not_called_on_refused_change(conf_file: Path) -> None:
    calls: list[bytes] = []
    w = ConfigWriter(on_write=lambda d, raw: calls.append(raw))
    with pytest.raises(errors.OpPrereqError):
        w.remove_instance("nope")
    assert calls == []


def test_raising_hook_does_not_undo_write(conf_file: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def hook(data: ConfigData, raw: bytes) -> None:
        calls.append(data.serial_no)
        raise RuntimeError("replication failed")

    w = ConfigWriter(on_write=hook)
    inst, disks = new_instance(w.data, "inst1.example.com")
    w.add_instance(inst, disks)  # does not raise
    assert calls == [2]
    loaded = load_config_file()
    assert loaded.serial_no == 2
    assert loaded.instance_by_name("inst1.example.com") is not None
    assert w.data.instance_by_name("inst1.example.com") is not None
    assert "hook failed" in caplog.text
    w.save()
    assert calls == [2, 3]


# --- crash safety -------------------------------------------------------------------

def test_crash_during_rename_keeps_old_config(conf_file: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    hook_calls: list[bytes] = []
    w = ConfigWriter(on_write=lambda d, raw: hook_calls.append(raw))
    w.save()
    before = conf_file.read_bytes()
    real_replace = os.replace

    def crash(src: Any, dst: Any) -> None:
        raise OSError(5, "simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    inst, disks = new_instance(w.data, "inst1.example.com")
    with pytest.raises(OSError):
        w.add_instance(inst, disks)
    monkeypatch.setattr(os, "replace", real_replace)

    # the old file is intact and parseable, no temp file is left, the hook did not run
    assert conf_file.read_bytes() == before
    loaded = load_config_file()
    assert loaded.serial_no == 2
    assert loaded.instance_by_name("inst1.example.com") is None
    assert [f.name for f in conf_file.parent.iterdir() if "config.data" in f.name] == [
        "config.data"]
    assert len(hook_calls) == 1
    # the writer can still write afterwards
    w.save()
    assert load_config_file().serial_no > 2


def test_crash_during_data_write_keeps_old_config(conf_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    w = ConfigWriter()
    before = conf_file.read_bytes()

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        w.save()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert conf_file.read_bytes() == before
    assert load_config_file().serial_no == 1
    assert sorted(f.name for f in conf_file.parent.iterdir()) == ["config.data"]


def test_concurrent_writers_serialised(conf_file: Path) -> None:
    w = ConfigWriter()
    n = 8
    errs: list[BaseException] = []

    def add(i: int) -> None:
        try:
            inst, disks = new_instance(w.data, f"inst{i}.example.com")
            w.add_instance(inst, disks)
        except BaseException as err:  # noqa: BLE001
            errs.append(err)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errs == []
    loaded = load_config_file()
    assert loaded.serial_no == 1 + n
    assert len(loaded.instances) == n
    assert len(loaded.disks) == 2 * n
