"""Hooks on real clusters (fake hypervisor): real node daemons run real scripts.

Recorder scripts dump their environment into ``<node root>/hook-records`` so
the tests can check which hooks ran where, in which phase, with which
variables.  ``GNT_HOOKS_TIMEOUT`` is set for the daemons so a hanging hook is
killed after two seconds.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt import constants as C
from gnt.hooks import runner
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

HOOK_TIMEOUT = 2
RECORDER = "50-record"


class Hooks:
    """Install hook scripts on the nodes of a cluster and read what they recorded."""

    def __init__(self, c: TestCluster) -> None:
        self.c = c

    def base(self, node: str) -> Path:
        return self.c.node_root(node) / "etc/ganeti/hooks"

    def records_dir(self, node: str) -> Path:
        return self.c.node_root(node) / "hook-records"

    def install(self, hpath: str, phase: str, name: str, body: str,
                nodes: list[str] | None = None) -> None:
        for node in nodes or self.c.nodes:
            d = self.base(node) / f"{hpath}-{phase}.d"
            d.mkdir(parents=True, exist_ok=True)
            p = d / name
            p.write_text("#!/bin/sh\n" + body + "\n")
            p.chmod(0o755)

    def record(self, *hpaths: str) -> None:
        """A recorder in both phases of each hooks path, on every node."""
        for node in self.c.nodes:
            out = self.records_dir(node)
            # the shell's initial environment: /bin/sh drops names like NODE_TAGS_a.b
            body = (f"mkdir -p {out}\n"
                    f"tr '\\0' '\\n' < /proc/$$/environ"
                    f" > {out}/$GANETI_HOOKS_PATH-$GANETI_HOOKS_PHASE.$(date +%s%N).$$")
            for hpath in hpaths:
                for phase in C.HOOKS_PHASES:
                    self.install(hpath, phase, RECORDER, body, [node])

    def runs(self, hpath: str, phase: str, node: str | None = None) -> list[dict[str, str]]:
        """Recorded environments of ``<hpath>-<phase>`` on ``node`` (default: the
        master), oldest first."""
        d = self.records_dir(node or self.c.master)
        files = sorted(d.glob(f"{hpath}-{phase}.*"), key=lambda p: int(p.name.split(".")[1]))
        return [dict(ln.split("=", 1) for ln in f.read_text().splitlines() if "=" in ln)
                for f in files]

    def one(self, hpath: str, phase: str, node: str | None = None) -> dict[str, str]:
        runs = self.runs(hpath, phase, node)
        assert len(runs) == 1, f"{hpath}-{phase}: {len(runs)} runs"
        return runs[0]

    def reset(self) -> None:
        for node in self.c.nodes:
            shutil.rmtree(self.base(node), ignore_errors=True)
            shutil.rmtree(self.records_dir(node), ignore_errors=True)


def _make_cluster(root: Path, nodes: list[str]) -> Iterator[TestCluster]:
    """A cluster initialised on the first of ``nodes`` (the others not joined)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(runner.ENV_TIMEOUT, str(HOOK_TIMEOUT))  # inherited by the daemons
        c = TestCluster(root, nodes=nodes)
        try:
            c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
                   "file,diskless")
            yield c
        finally:
            c.destroy()


@pytest.fixture(scope="module")
def one_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    yield from _make_cluster(tmp_path_factory.mktemp("hooks1"), ["node1"])


@pytest.fixture
def hk(one_node: TestCluster) -> Iterator[Hooks]:
    h = Hooks(one_node)
    h.reset()
    yield h
    h.reset()


def _serial(c: TestCluster) -> int:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())["serial_no"]


def _common(env: dict[str, str], c: TestCluster, hpath: str, phase: str, op: str,
            htype: str | None) -> None:
    """The variables every hook gets, and nothing from the daemon's environment."""
    assert env["GANETI_HOOKS_VERSION"] == "2"
    assert env["GANETI_HOOKS_PHASE"] == phase
    assert env["GANETI_HOOKS_PATH"] == hpath
    assert env["GANETI_OP_CODE"] == op
    assert env.get("GANETI_OBJECT_TYPE") == htype
    assert env["GANETI_CLUSTER"] == "cluster.gnt.test"
    assert env["GANETI_MASTER"] == "node1.gnt.test"
    assert env["GANETI_DATA_DIR"] == str(c.root.resolve() / "var/lib/ganeti")
    assert env["PATH"] == C.HOOKS_PATH
    assert set(env) - {"PATH", "PWD"} == {k for k in env if k.startswith("GANETI_")}


def test_instance_lifecycle_hooks(hk: Hooks) -> None:
    c = hk.c
    hk.record("instance-add", "instance-start", "instance-stop", "instance-reboot",
              "instance-remove", "global", "config-update")
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "-o", "image+raw",
         "-B", "maxmem=256,vcpus=2", "--net", "0:mac=aa:00:00:12:34:56", "inst1")

    pre = hk.one("instance-add", "pre")
    _common(pre, c, "instance-add", "pre", "OP_INSTANCE_CREATE", "INSTANCE")
    expected = {
        "GANETI_ADD_MODE": "create",
        "GANETI_OP_TARGET": "inst1.gnt.test",
        "GANETI_INSTANCE_NAME": "inst1.gnt.test",
        "GANETI_INSTANCE_PRIMARY": "node1.gnt.test",
        "GANETI_INSTANCE_SECONDARIES": "",
        "GANETI_INSTANCE_OS_TYPE": "image+raw",
        "GANETI_INSTANCE_STATUS": "True",        # Ganeti passes the start flag here
        "GANETI_INSTANCE_MAXMEM": "256",
        "GANETI_INSTANCE_MEMORY": "256",
        "GANETI_INSTANCE_VCPUS": "2",
        "GANETI_INSTANCE_DISK_TEMPLATE": "file",
        "GANETI_INSTANCE_HYPERVISOR": "fake",
        "GANETI_INSTANCE_DISK_COUNT": "1",
        "GANETI_INSTANCE_DISK0_SIZE": "64",
        "GANETI_INSTANCE_DISK0_MODE": "rw",
        "GANETI_INSTANCE_NIC_COUNT": "1",
        "GANETI_INSTANCE_NIC0_MAC": "aa:00:00:12:34:56",
        "GANETI_INSTANCE_NIC0_IP": "",
        "GANETI_INSTANCE_BE_maxmem": "256",
        "GANETI_INSTANCE_BE_vcpus": "2",
    }
    assert {k: pre.get(k) for k in expected} == expected
    assert not any(k.startswith("GANETI_POST_") for k in pre)
    post = hk.one("instance-add", "post")
    _common(post, c, "instance-add", "post", "OP_INSTANCE_CREATE", "INSTANCE")
    assert post["GANETI_POST_INSTANCE_NAME"] == "inst1.gnt.test"
    assert post["GANETI_INSTANCE_NAME"] == "inst1.gnt.test"     # pre values too
    assert post["GANETI_POST_INSTANCE_DISK0_UUID"] == pre["GANETI_INSTANCE_DISK0_UUID"]

    gpre, gpost = hk.runs("global", "pre")[-1], hk.runs("global", "post")[-1]
    _common(gpre, c, "global", "pre", "OP_INSTANCE_CREATE", "INSTANCE")
    assert gpre["GANETI_IS_MASTER"] == "master"
    assert gpre["GANETI_JOB_ID"].isdigit()
    assert gpre["GANETI_INSTANCE_NAME"] == "inst1.gnt.test"
    _common(gpost, c, "global", "post", "OP_INSTANCE_CREATE", None)
    assert gpost["GANETI_POST_STATUS"] == "success"
    assert gpost["GANETI_JOB_ID"] == gpre["GANETI_JOB_ID"]
    cfgup = hk.runs("config-update", "post")
    assert cfgup and cfgup[-1]["GANETI_OP_CODE"] == "OP_INSTANCE_CREATE"

    c.ok("gnt-instance", "shutdown", "inst1")
    pre, post = hk.one("instance-stop", "pre"), hk.one("instance-stop", "post")
    _common(pre, c, "instance-stop", "pre", "OP_INSTANCE_SHUTDOWN", "INSTANCE")
    assert pre["GANETI_INSTANCE_STATUS"] == "up" and pre["GANETI_TIMEOUT"] == "120"
    assert post["GANETI_INSTANCE_STATUS"] == "up"
    assert post["GANETI_POST_INSTANCE_STATUS"] == "down"

    c.ok("gnt-instance", "startup", "inst1")
    pre, post = hk.one("instance-start", "pre"), hk.one("instance-start", "post")
    assert pre["GANETI_FORCE"] == "False" and pre["GANETI_INSTANCE_STATUS"] == "down"
    assert post["GANETI_POST_INSTANCE_STATUS"] == "up"

    c.ok("gnt-instance", "reboot", "--type", "full", "inst1")
    pre = hk.one("instance-reboot", "pre")
    assert (pre["GANETI_REBOOT_TYPE"], pre["GANETI_IGNORE_SECONDARIES"]) == ("full", "False")
    hk.one("instance-reboot", "post")

    c.ok("gnt-instance", "remove", "-f", "inst1")
    pre, post = hk.one("instance-remove", "pre"), hk.one("instance-remove", "post")
    _common(post, c, "instance-remove", "post", "OP_INSTANCE_REMOVE", "INSTANCE")
    assert pre["GANETI_SHUTDOWN_TIMEOUT"] == "120"
    assert post["GANETI_POST_INSTANCE_NAME"] == "inst1.gnt.test"
    assert post["GANETI_POST_INSTANCE_DISK_COUNT"] == "1"     # kept from before removal


def test_group_and_cluster_hooks(hk: Hooks) -> None:
    c = hk.c
    hk.record("group-add", "group-modify", "group-rename", "group-remove", "cluster-modify",
              "cluster-verify")
    c.ok("gnt-group", "add", "g2")
    env = hk.one("group-add", "pre")
    _common(env, c, "group-add", "pre", "OP_GROUP_ADD", "GROUP")
    assert env["GANETI_GROUP_NAME"] == "g2"
    assert hk.one("group-add", "post")["GANETI_POST_GROUP_NAME"] == "g2"
    c.ok("gnt-group", "modify", "--alloc-policy", "unallocable", "g2")
    assert hk.one("group-modify", "pre")["GANETI_NEW_ALLOC_POLICY"] == "unallocable"
    c.ok("gnt-group", "rename", "g2", "g3")
    env = hk.one("group-rename", "post")
    assert (env["GANETI_OLD_NAME"], env["GANETI_NEW_NAME"]) == ("g2", "g3")
    c.ok("gnt-group", "remove", "g3")
    assert hk.one("group-remove", "post")["GANETI_GROUP_NAME"] == "g3"

    c.ok("gnt-cluster", "modify", "--candidate-pool-size", "7")
    env = hk.one("cluster-modify", "pre")
    _common(env, c, "cluster-modify", "pre", "OP_CLUSTER_SET_PARAMS", "CLUSTER")
    assert env["GANETI_OP_TARGET"] == "cluster.gnt.test"
    assert env["GANETI_NEW_VG_NAME"] == "None"
    hk.one("cluster-modify", "post")

    c.ok("gnt-cluster", "verify")
    assert hk.runs("cluster-verify", "pre") == []            # cluster-verify: post only
    env = hk.one("cluster-verify", "post")
    _common(env, c, "cluster-verify", "post", "OP_CLUSTER_VERIFY_GROUP", "CLUSTER")
    assert "GANETI_POST_CLUSTER_TAGS" in env and "GANETI_NODE_TAGS_node1.gnt.test" in env


def test_failing_pre_hook_aborts_and_changes_nothing(hk: Hooks) -> None:
    c = hk.c
    hk.record("instance-add", "global")
    hk.install("instance-add", "pre", "10-deny",
               "echo \"denied: $GANETI_INSTANCE_NAME not in the CMDB\"; exit 1")
    serial = _serial(c)
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=64M", "-o",
                "image+raw", "--no-nics", "inst2")
    assert res.code != 0
    err = res.out + res.err
    assert "node1.gnt.test" in err
    assert "instance-add-pre.d/10-deny" in err
    assert "denied: inst2.gnt.test not in the CMDB" in err
    assert _serial(c) == serial
    assert c.ok("gnt-instance", "list", "--no-headers", "-o", "name").strip() == ""
    assert not list((c.root / "srv/ganeti/file-storage").glob("inst2*"))
    assert hk.runs("instance-add", "post") == []
    assert hk.runs("global", "post")[-1]["GANETI_POST_STATUS"] == "error"


def test_failing_post_hook_is_reported_and_the_job_succeeds(hk: Hooks) -> None:
    c = hk.c
    hk.install("group-add", "post", "60-broken", "echo post hook is broken >&2; exit 2")
    res = c.run("gnt-group", "add", "g5")
    assert res.code == 0, res.err
    out = res.out + res.err
    assert "script group-add-post.d/60-broken failed" in out
    assert "post hook is broken" in out
    assert "g5" in c.ok("gnt-group", "list", "--no-headers", "-o", "name").split()
    c.ok("gnt-group", "remove", "g5")


def test_hanging_pre_hook_is_killed_and_fails_the_opcode(hk: Hooks) -> None:
    c = hk.c
    hk.install("group-add", "pre", "10-hang", "echo checking; sleep 60")
    t0 = time.monotonic()
    res = c.run("gnt-group", "add", "g6")
    elapsed = time.monotonic() - t0
    assert res.code != 0
    assert f"timed out after {HOOK_TIMEOUT} seconds" in res.out + res.err
    assert "checking" in res.out + res.err
    assert elapsed < HOOK_TIMEOUT + runner.KILL_GRACE + 15
    assert "g6" not in c.ok("gnt-group", "list", "--no-headers", "-o", "name").split()


def test_cluster_verify_shows_failing_post_hooks(hk: Hooks) -> None:
    c = hk.c
    hk.install("cluster-verify", "post", "50-check", "echo disk check failed; echo line 2; exit 1")
    res = c.run("gnt-cluster", "verify")
    assert res.code != 0
    out = res.out + res.err
    assert "Script cluster-verify-post.d/50-check failed, output:" in out
    assert "      disk check failed" in out and "      line 2" in out


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    yield from _make_cluster(tmp_path_factory.mktemp("hooks2"), ["node1", "node2"])


def test_node_add_modify_remove_hooks(two_nodes: TestCluster) -> None:
    c = two_nodes
    hk = Hooks(c)
    hk.record("node-add", "node-modify", "node-remove")

    c.add_node("node2")
    pre = hk.one("node-add", "pre", "node1")
    _common(pre, c, "node-add", "pre", "OP_NODE_ADD", "NODE")
    assert pre["GANETI_NODE_NAME"] == "node2.gnt.test"
    assert pre["GANETI_NODE_PIP"] == pre["GANETI_NODE_SIP"] == c.address("node2")
    assert pre["GANETI_MASTER_CAPABLE"] == "None"
    assert hk.runs("node-add", "pre", "node2") == []           # not yet a member
    hk.one("node-add", "post", "node1")
    assert hk.one("node-add", "post", "node2")["GANETI_POST_NODE_NAME"] == "node2.gnt.test"

    hk.record("global")
    c.ok("gnt-node", "modify", "--vm-capable", "no", "node2")
    for node in ("node1", "node2"):
        env = hk.one("node-modify", "pre", node)
        assert env["GANETI_VM_CAPABLE"] == "False" and env["GANETI_OFFLINE"] == "None"
        assert env["GANETI_OP_TARGET"] == "node2.gnt.test"
        hk.one("node-modify", "post", node)
    # global hooks: pre on the master and the LU's pre nodes, post on the master only
    assert hk.one("global", "pre", "node1")["GANETI_IS_MASTER"] == "master"
    env = hk.one("global", "pre", "node2")
    assert env["GANETI_IS_MASTER"] == "not_master"
    assert env["GANETI_OP_CODE"] == "OP_NODE_SET_PARAMS"
    assert hk.one("global", "post", "node1")["GANETI_POST_STATUS"] == "success"
    assert hk.runs("global", "post", "node2") == []

    c.ok("gnt-node", "remove", "node2")
    assert hk.one("node-remove", "pre", "node1")["GANETI_NODE_NAME"] == "node2.gnt.test"
    assert hk.runs("node-remove", "pre", "node2") == []        # all but the removed node
    hk.one("node-remove", "post", "node1")
    hk.one("node-remove", "post", "node2")                     # during exec, before it left
