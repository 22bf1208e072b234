"""The fake hypervisor: state files under the root, restarts, node info, speed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from gnt import errors, hypervisor
from gnt.hypervisor import fake
from gnt.hypervisor.base import InstanceSpec

pytestmark = pytest.mark.unit


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    return tmp_path


def spec(name: str = "inst1", maxmem: int = 512, vcpus: int = 2,
         runtime_memory: int | None = None) -> InstanceSpec:
    return InstanceSpec(name=name, uuid=f"uuid-{name}", hypervisor="fake",
                        hvparams={"migration_mode": "live"},
                        beparams={"maxmem": maxmem, "minmem": 128, "vcpus": vcpus},
                        runtime_memory=runtime_memory)


def test_registry_and_parameters() -> None:
    assert isinstance(hypervisor.get("fake"), fake.FakeHypervisor)
    assert fake.HYPERVISOR_CLASS is fake.FakeHypervisor
    assert hypervisor.defaults_for("fake") == {"migration_mode": "live"}
    assert hypervisor.check_parameters("fake", {"migration_mode": "non-live"}) == \
        {"migration_mode": "non-live"}
    with pytest.raises(errors.ParameterError, match="allowed: live, non-live"):
        hypervisor.check_parameters("fake", {"migration_mode": "teleport"})
    with pytest.raises(errors.ParameterError):
        hypervisor.check_parameters("fake", {"kernel_path": "/boot/vmlinuz"})


def test_start_list_info_stop(root: Path) -> None:
    hv = fake.FakeHypervisor()
    assert hv.list_instances() == []
    hv.start_instance(spec("b", maxmem=512, vcpus=2))
    hv.start_instance(spec("a", maxmem=1024, vcpus=4, runtime_memory=768))
    assert hv.list_instances() == ["a", "b"]
    state = json.loads((root / "var/run/ganeti/fake-hypervisor/a.json").read_text())
    assert state["memory"] == 768 and state["vcpus"] == 4 and state["uuid"] == "uuid-a"
    info = hv.get_instance_info("b")
    assert info is not None
    assert (info.name, info.state, info.memory, info.vcpus) == ("b", "running", 512, 2)
    assert info.uptime is not None and 0 <= info.uptime < 60
    assert [i.name for i in hv.get_all_instances_info()] == ["a", "b"]
    hv.stop_instance("b")
    assert hv.list_instances() == ["a"] and hv.get_instance_info("b") is None
    hv.stop_instance("b")  # not running: fine
    hv.stop_instance("never-started", force=True)
    # no temp files left behind
    assert sorted(os.listdir(root / "var/run/ganeti/fake-hypervisor")) == ["a.json"]


def test_start_twice_fails(root: Path) -> None:
    hv = fake.FakeHypervisor()
    hv.start_instance(spec())
    with pytest.raises(errors.HypervisorError, match="inst1: already running") as ei:
        hv.start_instance(spec(maxmem=2048))
    assert ei.value.ecode == errors.ECODE_STATE
    assert hv.get_instance_info("inst1").memory == 512  # type: ignore[union-attr]


def test_concurrent_starts_one_wins(root: Path) -> None:
    hv = fake.FakeHypervisor()
    for round_ in range(10):
        name = f"race{round_}"
        barrier = threading.Barrier(4)
        outcome: list[str] = []

        def start(name: str = name, barrier: threading.Barrier = barrier,
                  outcome: list[str] = outcome) -> None:
            barrier.wait()
            try:
                hv.start_instance(spec(name))
                outcome.append("ok")
            except errors.HypervisorError:
                outcome.append("refused")

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcome) == ["ok", "refused", "refused", "refused"]


def test_state_survives_a_new_driver(root: Path) -> None:
    fake.FakeHypervisor().start_instance(spec("kept", maxmem=256))
    again = fake.FakeHypervisor()  # as after a node daemon restart
    assert again.list_instances() == ["kept"]
    assert again.get_instance_info("kept").memory == 256  # type: ignore[union-attr]


def test_roots_are_separate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hv = hypervisor.get("fake")  # one driver per process, paths follow GNT_ROOT
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "node1"))
    hv.start_instance(spec("on-node1"))
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "node2"))
    assert hv.list_instances() == []
    hv.start_instance(spec("on-node1"))  # a different node: allowed
    assert hv.list_instances() == ["on-node1"]


def test_reboot_and_console(root: Path) -> None:
    hv = fake.FakeHypervisor()
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv.reboot_instance(spec())
    hv.start_instance(spec())
    hv.reboot_instance(spec())
    assert hv.list_instances() == ["inst1"]
    cons = hv.get_console(spec(), "node1")
    assert cons.kind == "msg" and cons.instance == "inst1"
    assert cons.message == "Console not available for fake hypervisor"


def test_invalid_names(root: Path) -> None:
    hv = fake.FakeHypervisor()
    for bad in ("", "../escape", ".hidden", "a/b"):
        with pytest.raises(errors.HypervisorError, match="Invalid instance name"):
            hv.start_instance(spec(bad))
    assert not (root / "var/run/escape.json").exists()


MEMINFO = """MemTotal:        8192000 kB
MemFree:         1024000 kB
MemAvailable:    5000000 kB
Buffers:          102400 kB
Cached:          2048000 kB
SwapCached:            0 kB
Active:          3072000 kB
Inactive:        1000000 kB
"""
CPUINFO = "".join(f"processor\t: {i}\nmodel name\t: X\n\n" for i in range(6))


def test_parse_proc_files() -> None:
    assert fake.parse_meminfo(MEMINFO) == {
        "memory_total": 8000, "memory_free": 1000 + 100 + 2000, "memory_dom0": 3000}
    assert fake.count_cpus(CPUINFO) == 6
    with pytest.raises(errors.HypervisorError):
        fake.parse_meminfo("MemTotal: lots kB\n")


def test_node_info_subtracts_fake_instances(root: Path, tmp_path: Path) -> None:
    (tmp_path / "meminfo").write_text(MEMINFO)
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    hv = fake.FakeHypervisor()
    hv.MEMINFO, hv.CPUINFO = str(tmp_path / "meminfo"), str(tmp_path / "cpuinfo")
    info = hv.get_node_info()
    assert (info.memory_total, info.memory_free, info.memory_dom0) == (8000, 3100, 3000)
    assert (info.cpu_total, info.cpu_dom0, info.cpu_nodes, info.cpu_sockets) == (6, 6, 1, 1)
    hv.start_instance(spec("x", maxmem=1000))
    hv.start_instance(spec("y", maxmem=512, runtime_memory=100))
    assert hv.get_node_info().memory_free == 3100 - 1100
    hv.start_instance(spec("huge", maxmem=100000))
    assert hv.get_node_info().memory_free == 0  # never negative


def test_node_info_from_this_host(root: Path) -> None:
    info = fake.FakeHypervisor().get_node_info()
    assert info.memory_total > 0 and 0 <= info.memory_free <= info.memory_total
    assert info.cpu_total >= 1 and info.hv_version == "fake"


def test_verify(root: Path) -> None:
    hv = fake.FakeHypervisor()
    assert hv.verify() == []
    assert (root / "var/run/ganeti/fake-hypervisor").is_dir()


def test_many_instances(root: Path) -> None:
    hv = fake.FakeHypervisor()
    n = 300
    for i in range(n):
        hv.start_instance(spec(f"i{i}"))
    assert len(hv.list_instances()) == n
    hv.get_node_info()
    for i in range(n):
        hv.stop_instance(f"i{i}")
    assert hv.list_instances() == []
