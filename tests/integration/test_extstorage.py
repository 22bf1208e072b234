"""The ``ext`` disk template and ``gnt-storage`` on a real one-node cluster
(fake hypervisor), through the CLI.

Volumes come from the reference provider ``gnt-file`` (linked into every
node root by the test cluster; its volumes are files in the cluster's
shared directory) and from broken providers written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt import constants as C
from tests.support.cluster import REPO, TestCluster

pytestmark = pytest.mark.integration

PROVIDER = REPO / "extstorage" / "gnt-file"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    """One node, fake hypervisor, the ext template enabled (shared by this module)."""
    c = TestCluster(tmp_path_factory.mktemp("extroot"))
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "ext,file,diskless")
        yield c
    finally:
        c.destroy()


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _volumes(c: TestCluster) -> list[str]:
    d = c.root / "shared" / "gnt-file"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def _provider(c: TestCluster, name: str, **bodies: str) -> None:
    """A provider in the node's search path: the reference scripts except ``bodies``."""
    d = c.node_root(c.master) / "srv/ganeti/extstorage" / name
    d.mkdir()
    for s in C.ES_SCRIPTS_REQUIRED:
        (d / s).write_text(bodies.get(s, f'#!/bin/sh\nexec "{PROVIDER}/{s}" "$@"\n'))
        (d / s).chmod(0o755)
    (d / "parameters.list").write_text((PROVIDER / "parameters.list").read_text())


def test_ext_instance_lifecycle(cluster: TestCluster, tmp_path: Path) -> None:
    c = cluster
    image = tmp_path / "disk.img"
    image.write_bytes(b"GNT-EXT-IMAGE" + b"\0" * 4083)
    out = c.ok("gnt-instance", "add", "-t", "ext", "--disk", "0:size=64M,provider=gnt-file",
               "-o", "image+raw", "-O", f"image={image}", "--no-nics", "inst1")
    assert "starting instance" in out
    cfg = _config(c)
    (inst,) = cfg["instances"].values()
    (disk,) = cfg["disks"].values()
    assert inst["disk_template"] == "ext" and inst["admin_state"] == "up"
    assert disk["logical_id"] == ["gnt-file", f"{disk['uuid']}.ext.disk0"]
    assert disk["params"] == {"provider": "gnt-file"}
    vol = c.root / "shared/gnt-file" / disk["logical_id"][1]
    assert vol.stat().st_size == 64 * 1024 * 1024
    assert vol.read_bytes()[:13] == b"GNT-EXT-IMAGE"  # the OS wrote through the ext path
    assert (vol.parent / (vol.name + ".meta")).read_text() == "originstname+inst1.gnt.test\n"
    logs = {p.name.split("-")[0] for p in (c.root / "var/log/ganeti/extstorage").iterdir()}
    assert logs == {"create", "setinfo"}

    c.ok("gnt-instance", "shutdown", "inst1")
    c.ok("gnt-instance", "startup", "inst1")
    status = c.ok("gnt-instance", "list", "--no-headers", "-o", "status,disk_template", "inst1")
    assert status.split() == ["running", "ext"]

    c.ok("gnt-instance", "remove", "-f", "inst1")
    assert _volumes(c) == []
    assert _config(c)["instances"] == {} and _config(c)["disks"] == {}


def test_ext_params_reach_the_provider(cluster: TestCluster) -> None:
    c = cluster
    c.ok("gnt-instance", "add", "-t", "ext", "--no-install", "--no-start", "--no-nics",
         "--disk", "0:size=8M,provider=gnt-file,dir=/srv/ganeti/shared-file-storage/other",
         "--disk", "1:size=4M,provider=gnt-file", "inst2")
    disks = sorted(_config(c)["disks"].values(), key=lambda d: d["iv_name"])
    assert disks[0]["params"] == {"provider": "gnt-file",
                                  "dir": "/srv/ganeti/shared-file-storage/other"}
    assert (c.root / "shared/other" / disks[0]["logical_id"][1]).exists()
    assert _volumes(c) == [disks[1]["logical_id"][1], disks[1]["logical_id"][1] + ".meta"]
    c.ok("gnt-instance", "remove", "-f", "inst2")
    assert _volumes(c) == [] and list((c.root / "shared/other").iterdir()) == []


BAD_ADDS = [
    (["--disk", "0:size=8M"], "missing provider"),
    (["--disk", "0:size=8M,provider=nosuch"], "ExtStorage provider 'nosuch' is not usable"),
    (["--disk", "0:size=8M,provider=gnt-file,bogus=1"],
     "does not support the parameter(s) bogus; supported: dir"),
    (["--disk", "0:size=8M,provider=gnt-file,access=userspace"],
     "hypervisor (fake) cannot be used with userspace"),
    (["--disk", "0:size=8M,provider=gnt-file,access=weird"], "invalid access mode"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_ADDS)
def test_bad_ext_adds_rejected(cluster: TestCluster, extra: list[str], message: str) -> None:
    res = cluster.run("gnt-instance", "add", "-t", "ext", "--no-install", "--no-nics", *extra,
                      "inst3")
    assert res.code != 0 and message in res.err, res.err
    assert _config(cluster)["instances"] == {} and _volumes(cluster) == []


def test_failing_and_garbage_providers_leave_nothing(cluster: TestCluster) -> None:
    c = cluster
    _provider(c, "failer", create="#!/bin/sh\necho 'array offline: no LUN left' >&2\nexit 3\n")
    _provider(c, "garbage", attach="#!/bin/sh\necho 'LUN 7 mapped, have fun'\n")
    _provider(c, "flaky", attach="#!/bin/sh\necho 'iscsi login failed' >&2\nexit 1\n")
    expected = {
        "failer": ["create script failed", "exit code 3", "array offline: no LUN left"],
        "garbage": ["printed unusable output", "is not an absolute path",
                    "LUN 7 mapped, have fun"],
        "flaky": ["attach script failed", "iscsi login failed"],
    }
    for prov, messages in expected.items():
        res = c.run("gnt-instance", "add", "-t", "ext", "--no-install", "--no-nics",
                    "--disk", f"0:size=8M,provider={prov}", "inst4")
        assert res.code != 0
        for m in messages:
            assert m in res.err, (prov, res.err)
        cfg = _config(c)
        assert cfg["instances"] == {} and cfg["disks"] == {}, prov
        assert _volumes(c) == [], prov
    # a volume lost after creation: starting fails clearly, removing still works
    c.ok("gnt-instance", "add", "-t", "ext", "--no-install", "--no-start", "--no-nics",
         "--disk", "0:size=8M,provider=gnt-file", "inst4")
    (vol,) = [v for v in _volumes(c) if not v.endswith(".meta")]
    (c.root / "shared/gnt-file" / vol).unlink()
    res = c.run("gnt-instance", "startup", "inst4")
    assert res.code != 0 and f"volume {vol} not found" in res.err, res.err
    c.ok("gnt-instance", "remove", "-f", "inst4")
    assert _volumes(c) == [] and _config(c)["instances"] == {}


def test_gnt_storage_diagnose_and_info(cluster: TestCluster) -> None:
    c = cluster
    broken = c.node_root(c.master) / "srv/ganeti/extstorage/broken"
    broken.mkdir(exist_ok=True)
    out = c.ok("gnt-storage", "diagnose")
    es = c.node_root(c.master) / "srv/ganeti/extstorage"
    assert (f"Provider: gnt-file\n---\n  Node: node1.gnt.test, status: valid (path: "
            f"{es}/gnt-file) [parameters: dir]\n  --\n  For nodegroup: default --> valid\n\n"
            ) in out
    assert ("Provider: broken\n---\n  Node: node1.gnt.test, status: invalid - File 'create' "
            f"under path '{es}/broken' is missing") in out
    assert "  For nodegroup: default --> invalid\n" in out

    out = c.ok("gnt-storage", "info", "gnt-file", "broken", "nosuch")
    assert out == ("broken:\n  - Invalid for all nodegroups\n\n"
                   "gnt-file:\n  - Valid for nodegroups:\n      default\n"
                   "  - Supported parameters:\n      dir: Directory of the volume files, a "
                   "cluster path the same on every node (default "
                   "/srv/ganeti/shared-file-storage/gnt-file)\n\n"
                   "nosuch: Not Found\n\n")
    assert c.ok("gnt-storage", "info").startswith("broken:\n")


def test_verify_knows_ext_volumes_in_the_shared_directory(cluster: TestCluster) -> None:
    """gnt-file keeps its volumes below the sharedfile directory: with that
    template enabled too, verify does not call them orphans; a stray file
    beside them is one."""
    c = cluster
    c.ok("gnt-cluster", "modify", "--enabled-disk-templates", "ext,file,diskless,sharedfile")
    try:
        c.ok("gnt-instance", "add", "-t", "ext", "--no-install", "--no-start", "--no-nics",
             "--disk", "0:size=4M,provider=gnt-file", "inst4")
        assert len(_volumes(c)) == 2  # the volume and its .meta file
        res = c.run("gnt-cluster", "verify", "--error-codes")
        assert res.code == 0 and "ENODEORPHANLV" not in res.out, res.out
        (c.root / "shared/gnt-file/stray.ext.disk0").write_bytes(b"x")
        res = c.run("gnt-cluster", "verify", "--error-codes")
        orphans = [ln for ln in res.out.splitlines() if "ENODEORPHANLV" in ln]
        assert len(orphans) == 1 and orphans[0].endswith(
            "volume /srv/ganeti/shared-file-storage/gnt-file/stray.ext.disk0 is unknown"), res.out
    finally:
        (c.root / "shared/gnt-file/stray.ext.disk0").unlink(missing_ok=True)
        c.run("gnt-instance", "remove", "-f", "inst4")
        c.ok("gnt-cluster", "modify", "--enabled-disk-templates", "ext,file,diskless")


def test_inherited_userspace_access_checked_against_instances(cluster: TestCluster) -> None:
    """``access`` set at the cluster or group level reaches every ext disk
    without its own: refused while an instance's hypervisor (fake) cannot
    use it; once allowed, a new ext disk inherits it and is refused too."""
    c = cluster
    c.ok("gnt-instance", "add", "-t", "ext", "--no-install", "--no-start", "--no-nics",
         "--disk", "0:size=4M,provider=gnt-file", "inst5")
    before = _config(c)
    for argv in (["gnt-cluster", "modify", "-D", "ext:access=userspace"],
                 ["gnt-group", "modify", "-D", "ext:access=userspace", "default"]):
        res = c.run(*argv)
        assert res.code != 0, res.out
        assert ("Instance inst5.gnt.test: cannot use 'userspace' access setting with the fake"
                " hypervisor and the ext disk template") in res.err, res.err
    res = c.run("gnt-group", "modify", "-D", "ext:access=sideways", "default")
    assert res.code != 0 and "Invalid value of 'ext:access': 'sideways'" in res.err, res.err
    after = _config(c)
    assert after["cluster"]["diskparams"] == before["cluster"]["diskparams"]
    assert after["nodegroups"] == before["nodegroups"]
    c.ok("gnt-instance", "remove", "-f", "inst5")
    c.ok("gnt-group", "modify", "-D", "ext:access=userspace", "default")
    try:
        res = c.run("gnt-instance", "add", "-t", "ext", "--no-install", "--no-nics",
                    "--disk", "0:size=4M,provider=gnt-file", "inst5")
        assert res.code != 0 and "hypervisor (fake) cannot be used with userspace" in res.err
        assert _config(c)["instances"] == {} and _volumes(c) == []
        # the disk's own setting wins over the group's
        c.ok("gnt-instance", "add", "-t", "ext", "--no-install", "--no-start", "--no-nics",
             "--disk", "0:size=4M,provider=gnt-file,access=kernelspace", "inst5")
        c.ok("gnt-instance", "remove", "-f", "inst5")
    finally:
        c.ok("gnt-group", "modify", "-D", "ext:access=default", "default")
