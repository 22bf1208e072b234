"""``gnt-instance add -t file`` with ``--file-storage-dir`` and ``--file-driver`` on
a real cluster: the directory stays below the cluster's file storage directory
(no ``..`` escapes), the node refuses directories outside its allowed paths,
the driver is recorded (Ganeti's loop/blktap/blktap2) and ignored by KVM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import paths
from gnt.hypervisor.base import InstanceSpec
from gnt.hypervisor.kvm import cmdline
from gnt.noded.procs.instance import assemble_disks
from gnt.storage.base import BlockDevSpec
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _files(c: TestCluster) -> list[str]:
    base = c.root / "srv"
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()
                  and "os" not in p.relative_to(base).parts[:2])


def _add(c: TestCluster, name: str, *extra: str) -> tuple[int, str]:
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=8M", "--no-install",
                "--no-nics", *extra, name)
    return res.code, res.err


def test_file_storage_dir_and_driver(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    code, err = _add(c, "inst1", "--file-storage-dir", "web/tier1", "--file-driver", "blktap")
    assert code == 0, err
    disk = next(iter(_config(c)["disks"].values()))
    assert disk["logical_id"][0] == "blktap"
    assert disk["logical_id"][1].startswith("/srv/ganeti/file-storage/web/tier1/inst1.gnt.test/")
    c.ok("gnt-instance", "startup", "inst1")
    assert "blktap" in c.ok("gnt-instance", "info", "inst1")
    code, err = _add(c, "inst2", "--file-storage-dir", "/srv/ganeti/file-storage/abs",
                     "--file-driver", "blktap2")
    assert code == 0, err
    before = (_config(c)["serial_no"], _files(c))
    for bad, word in [
        ("../shared-file-storage", "may not contain '..'"),
        ("web/../../../etc", "may not contain '..'"),
        ("/srv/ganeti/shared-file-storage", "is not below the cluster's file storage"),
        ("/etc", "is not below the cluster's file storage"),
    ]:
        code, err = _add(c, "inst3", "--file-storage-dir", bad)
        assert code != 0 and word in err, (bad, err)
        assert (_config(c)["serial_no"], _files(c)) == before
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=8M", "--no-install",
                "--file-driver", "qcow", "inst3")
    assert res.code != 0 and "qcow" in res.err
    c.ok("gnt-instance", "remove", "-f", "inst1")
    assert not (c.root / "srv/ganeti/file-storage/web/tier1/inst1.gnt.test").exists()


def test_node_refuses_directories_it_does_not_allow(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-cluster", "modify", "--file-storage-dir", "/srv/elsewhere")
    before = _config(c)["serial_no"]
    code, err = _add(c, "inst1")
    assert code != 0
    assert "/srv/elsewhere/inst1.gnt.test" in err and "not acceptable for file storage" in err
    assert _config(c)["serial_no"] == before and _config(c)["instances"] == {}
    assert not (c.root / "srv/elsewhere").exists()
    # once the node lists it in file-storage-paths, the directory is used
    allowed = c.root / "etc/ganeti/file-storage-paths"
    allowed.write_text(allowed.read_text() + "/srv/elsewhere\n")
    code, err = _add(c, "inst1")
    assert code == 0, err
    assert list((c.root / "srv/elsewhere/inst1.gnt.test").iterdir())


def test_kvm_ignores_the_file_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in Ganeti, the drivers matter to Xen only: KVM opens the file itself."""
    monkeypatch.setenv(paths.ENV_ROOT, str(tmp_path))
    p = paths.get()
    p.file_storage_paths_file.parent.mkdir(parents=True)
    p.file_storage_paths_file.write_text("/srv/ganeti/file-storage\n")
    disk = tmp_path / "srv/ganeti/file-storage/i1/d0"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"\0" * 4096)
    spec = InstanceSpec(name="i1", uuid="abcdef12-3456-7890-abcd-ef1234567890",
                        hypervisor="kvm", hvparams={"kvm_path": "/usr/bin/qemu-system-x86_64"},
                        beparams={"maxmem": 128, "vcpus": 1})
    ctx = cmdline.LaunchContext(accel="tcg", pidfile="/p", qmp="/q", monitor="/m",
                                serial="/s")
    argvs = []
    for driver in C.FILE_DRIVERS:
        b = BlockDevSpec(uuid="d0", dev_type=C.DT_FILE, size=0,
                         logical_id=[driver, "/srv/ganeti/file-storage/i1/d0"])
        argvs.append(cmdline.build(assemble_disks(spec, [b.model_dump(mode="json")]), ctx))
    assert argvs[0] == argvs[1] == argvs[2]
    assert f"file={disk},format=raw" in " ".join(argvs[0])
