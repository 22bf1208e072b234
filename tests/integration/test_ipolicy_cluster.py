"""Instance policy on a real one-node cluster (fake hypervisor): ``gnt-cluster
init/modify --ipolicy-*`` and ``info``, group policies over the cluster's,
refusals of ``gnt-instance add`` with Ganeti's message, ``--ignore-ipolicy``,
and the warning when a policy change leaves instances outside it."""

from __future__ import annotations

import json

import pytest

from gnt.devcluster import TEST_IPOLICY_BOUNDS
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

GANETI_BOUNDS = ("min:memory-size=128,cpu-count=1,disk-count=1,disk-size=1024,nic-count=1,"
                 "spindle-use=1/max:memory-size=32768,cpu-count=8,disk-count=16,"
                 "disk-size=1048576,nic-count=8,spindle-use=12")


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _policy_block(info: str) -> str:
    return info[info.index("Instance policy - limits for instances:"):]


def test_policy_refuses_add_unless_ignored(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    # the test cluster starts with relaxed bounds (init --ipolicy-bounds-specs)
    assert "min/0:" in _policy_block(c.ok("gnt-cluster", "info"))
    assert _config(c)["cluster"]["ipolicy"]["minmax"][0]["min"]["nic-count"] == 0
    assert TEST_IPOLICY_BOUNDS.startswith("min:")
    c.ok("gnt-cluster", "modify", "--ipolicy-bounds-specs", GANETI_BOUNDS)
    group = next(iter(_config(c)["nodegroups"]))
    serial = _config(c)["serial_no"]
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--no-nics",
                "--no-install", "inst1")
    assert res.code != 0
    assert (f"Instance allocation to group {group} (default) violates policy: nic-count "
            "value 0 is not in range [1, 8], disk-size/0 value 64 is not in range [1024, "
            "1048576]") in res.err
    assert "wrong_input" in res.err
    assert _config(c)["serial_no"] == serial and _config(c)["instances"] == {}
    files = c.root / "srv/ganeti/file-storage"
    assert not [p for p in files.rglob("*") if p.is_file()]
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--no-nics",
         "--no-install", "--ignore-ipolicy", "inst1")
    res = c.run("gnt-cluster", "verify", "--error-codes")  # a warning, not an error
    assert res.code == 0, res.out
    assert ("WARNING:EINSTANCEPOLICY:instance:inst1.gnt.test:nic-count value 0 is not in "
            "range [1, 8], disk-size/0 value 64 is not in range [1024, 1048576]") in res.out
    # a diskless instance: the disk count is not checked, the NIC count is
    res = c.run("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-nics", "inst2")
    assert "violates policy: nic-count value 0 is not in range [1, 8]" in res.err
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "inst2")
    # a second pair of bounds admits small instances
    c.ok("gnt-cluster", "modify", "--ipolicy-bounds-specs",
         GANETI_BOUNDS + "//" + TEST_IPOLICY_BOUNDS)
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--no-nics",
         "--no-install", "inst3")


def test_group_policy_and_change_warnings(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--no-nics",
         "--no-install", "-B", "vcpus=4", "inst1")
    res = c.run("gnt-group", "modify", "--ipolicy-disk-templates", "diskless", "default")
    assert res.code == 0, res.err
    assert "After the ipolicy change the following instances violate them: " \
        "inst1.gnt.test" in res.out + res.err
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--no-nics",
                "--no-install", "inst2")
    assert "Disk template file is not allowed (allowed templates: diskless)" in res.err
    c.ok("gnt-group", "modify", "--ipolicy-disk-templates", "default", "default")
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "--no-nics",
         "--no-install", "inst2")
    res = c.run("gnt-cluster", "modify", "--ipolicy-bounds-specs",
                TEST_IPOLICY_BOUNDS.replace("cpu-count=1024", "cpu-count=2"))
    assert res.code == 0, res.err
    assert "following instances violate them: inst1.gnt.test" in res.out + res.err
    assert "inst2" not in res.out + res.err


def test_cluster_policy_options_and_info(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    c.ok("gnt-cluster", "modify", "--ipolicy-std-specs", "memory-size=256,cpu-count=2",
         "--ipolicy-vcpu-ratio", "2.5", "--ipolicy-spindle-ratio", "16",
         "--ipolicy-disk-templates", "file,diskless")
    pol = _config(c)["cluster"]["ipolicy"]
    assert pol["std"]["memory-size"] == 256 and pol["std"]["cpu-count"] == 2
    assert pol["vcpu-ratio"] == 2.5 and pol["spindle-ratio"] == 16.0
    assert pol["disk-templates"] == ["file", "diskless"]
    block = _policy_block(c.ok("gnt-cluster", "info"))
    lines = [ln.rstrip() for ln in block.splitlines()]
    assert lines[:3] == ["Instance policy - limits for instances:", "  bounds specs:",
                         "    - max/0:"]
    assert "      min/0:" in lines and "  std:" in lines
    assert "    memory-size: 256" in lines
    assert "  allowed disk templates: file, diskless" in lines
    assert "  vcpu-ratio: 2.5" in lines and "  spindle-ratio: 16.0" in lines
    serial = _config(c)["serial_no"]
    for args, word in [
        (["--ipolicy-std-specs", "memory-size=2T"], "Invalid std specifications"),
        (["--ipolicy-vcpu-ratio", "default"], "Can't unset ipolicy attribute 'vcpu-ratio'"),
        (["--ipolicy-disk-templates", "floppy"], "floppy"),
        (["--ipolicy-bounds-specs", "min:memory-size=128/max:memory-size=256"],
         "lacks parameters"),
    ]:
        res = c.run("gnt-cluster", "modify", *args)
        assert res.code != 0 and word in res.err, (args, res.err)
    assert _config(c)["serial_no"] == serial


def test_init_with_ganeti_default_policy(cluster_root) -> None:  # type: ignore[no-untyped-def]
    c = TestCluster(cluster_root, relaxed_ipolicy=False)
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless",
               "--ipolicy-vcpu-ratio", "3")
        pol = _config(c)["cluster"]["ipolicy"]
        assert pol["minmax"][0]["min"]["disk-size"] == 1024 and pol["vcpu-ratio"] == 3.0
        res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=1G",
                    "--no-install", "inst1")
        assert res.code == 0, res.err
        res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=1G",
                    "--no-install", "-B", "maxmem=64", "inst2")
        assert "memory-size value 64 is not in range [128, 32768]" in res.err
    finally:
        c.destroy()
