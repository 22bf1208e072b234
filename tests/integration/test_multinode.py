"""Multi-node clusters on this machine: join, roles, replication, verify, failover.

Every node is a real ``gnt-noded`` on its own 127.x address with its own
root; nodes join through the SSH-less token path.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster, wait_for

pytestmark = pytest.mark.integration

NODES = ["node1", "node2", "node3", "node4"]


def _serial(c: TestCluster, node: str) -> int | None:
    f = c.node_root(node) / "var/lib/ganeti/config.data"
    return json.loads(f.read_text())["serial_no"] if f.exists() else None


def _roles(c: TestCluster) -> dict[str, str]:
    out = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,role")
    return {c.short(name): role for name, role in (ln.split("|") for ln in out.split())}


def _ssconf(c: TestCluster, node: str, key: str) -> str:
    return (c.node_root(node) / f"var/lib/ganeti/ssconf_{key}").read_text().strip()


def _add_instance(c: TestCluster, name: str, node: str) -> None:
    c.ok("gnt-instance", "add", "-t", "diskless", "--no-install", "-o", "image+raw",
         "--no-name-check", "--no-ip-check", "-n", c.fqdn(node), "--no-start", name)


def _submit(c: TestCluster, *argv: str) -> str:
    """Submit a job with --submit; returns its id."""
    res = c.run(*argv, "--submit").check()
    return (res.out + res.err).split()[-1]


def _masterd_pid(c: TestCluster, node: str) -> int:
    return int((c.node_root(node) / "var/run/ganeti/ganeti-masterd.pid").read_text().split()[0])


def _noded_pid(c: TestCluster, node: str) -> int:
    return int((c.node_root(node) / "var/run/ganeti/ganeti-noded.pid").read_text().split()[0])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("multinode"), nodes=list(NODES),
                    instances=[f"inst{i}" for i in range(1, 6)])
    try:
        c.up("--enabled-hypervisors", "fake", "--enabled-disk-templates",
             "diskless,file,sharedfile", "-C", "3")
        yield c
    finally:
        c.destroy()


def test_join_gives_roles_and_replicas(cluster: TestCluster) -> None:
    c = cluster
    assert _roles(c) == {"node1": "M", "node2": "C", "node3": "C", "node4": "R"}
    master_serial = _serial(c, "node1")
    # candidates hold the config; the regular node only ssconf
    assert _serial(c, "node2") == _serial(c, "node3") == master_serial
    assert _serial(c, "node4") is None
    for n in NODES:
        assert _ssconf(c, n, "master_node") == c.fqdn("node1")
        assert _ssconf(c, n, "node_list").split() == [c.fqdn(x) for x in NODES]
    # a job's file reaches the candidates before the job is reported done
    job_id = _submit(c, "gnt-debug", "delay", "0")
    wait_for(lambda: "success" in c.ok("gnt-job", "list", "--no-headers", job_id))
    for n in ("node2", "node3"):
        job = c.node_root(n) / f"var/lib/ganeti/queue/job-{job_id}"
        assert json.loads(job.read_text())["ops"][0]["status"] == "success"
    assert not (c.node_root("node4") / f"var/lib/ganeti/queue/job-{job_id}").exists()


def test_readd_of_an_intact_node(cluster: TestCluster) -> None:
    """``--readd`` of a node that still has the cluster: its files again, same roles."""
    c = cluster
    secret = c.node_root("node4") / "var/lib/ganeti/cluster-domain-secret"
    secret.unlink()
    out = c.ok("gnt-node", "add", "--readd", c.fqdn("node4"))
    assert "already has this cluster's certificate" in out
    assert secret.read_bytes() == (c.root / "var/lib/ganeti/cluster-domain-secret").read_bytes()
    assert _roles(c) == {"node1": "M", "node2": "C", "node3": "C", "node4": "R"}


def test_bad_node_adds_change_nothing(cluster: TestCluster) -> None:
    c = cluster
    before = _serial(c, "node1")
    res = c.run("gnt-node", "add", "--join-token", "x" * 43, c.fqdn("node2"))
    assert res.code != 0 and "already in the cluster" in res.err
    # a name that resolves but has no node daemon
    res = c.run("gnt-node", "add", "--join-token", "x" * 43, "inst5")
    assert res.code != 0 and "gnt-noded --join-token-file" in res.err, res.err
    # no token and no SSH
    res = c.run("gnt-node", "add", "inst5")
    assert res.code != 0 and "SSH" in res.err, res.err
    # a token that is too short
    res = c.run("gnt-node", "add", "--join-token", "short", "inst5")
    assert res.code != 0 and "16 characters" in res.err
    assert _serial(c, "node1") == before
    assert sorted(_roles(c)) == NODES


def test_wrong_token_is_refused_and_the_node_stays_joinable(tmp_path: Path) -> None:
    c = TestCluster(tmp_path / "c", nodes=["node1", "node2"], instances=[])
    try:
        c.init("--enabled-hypervisors", "fake")
        token = c.start_join_mode("node2")
        res = c.run("gnt-node", "add", "--join-token", "y" * 43, c.fqdn("node2"))
        assert res.code != 0 and "does not hold this join token" in res.err, res.err
        assert "node2" not in c.ok("gnt-node", "list", "--no-headers", "-o", "name")
        assert not (c.node_root("node2") / "var/lib/ganeti/server.pem").exists()
        c.ok("gnt-node", "add", "--join-token", token, c.fqdn("node2"))
        assert _roles(c) == {"node1": "M", "node2": "C"}
        # a node of this cluster cannot be put in join mode again
        res = c.run("gnt-noded", "--join-token", "z" * 43, "-p", "1999", node="node2")
        assert res.code != 0 and "already belongs to a cluster" in res.err
    finally:
        c.destroy()


def test_roles_and_auto_promotion(cluster: TestCluster) -> None:
    c = cluster
    res = c.run("gnt-node", "modify", "-C", "no", c.fqdn("node3"))
    assert res.code != 0 and "auto-promote" in res.err, res.err
    assert _roles(c)["node3"] == "C"
    c.ok("gnt-node", "modify", "-C", "no", "--auto-promote", c.fqdn("node3"))
    assert _roles(c) == {"node1": "M", "node2": "C", "node3": "R", "node4": "C"}
    # the promoted node got the config and the job queue at once
    assert _serial(c, "node4") == _serial(c, "node1")
    assert any((c.node_root("node4") / "var/lib/ganeti/queue").glob("job-*"))
    # the master's role only changes by failover
    res = c.run("gnt-node", "modify", "-O", "yes", c.fqdn("node1"))
    assert res.code != 0 and "master failover" in res.err
    res = c.run("gnt-node", "modify", "-C", "yes", "-D", "yes", c.fqdn("node3"))
    assert res.code != 0 and "Only one of" in res.err
    # drained and back
    c.ok("gnt-node", "modify", "-D", "yes", c.fqdn("node3"))
    assert _roles(c)["node3"] == "D"
    c.ok("gnt-node", "modify", "-D", "no", c.fqdn("node3"))
    assert _roles(c)["node3"] == "R"


def test_remove_refusals_and_remove(cluster: TestCluster, tmp_path: Path) -> None:
    c = cluster
    res = c.run("gnt-node", "remove", c.fqdn("node1"))
    assert res.code != 0 and "master" in res.err
    _add_instance(c, "inst1", "node3")
    res = c.run("gnt-node", "remove", c.fqdn("node3"))
    assert res.code != 0 and "inst1" in res.err
    c.ok("gnt-instance", "remove", "-f", "inst1")


def test_candidate_down_is_marked_and_resynchronised(cluster: TestCluster) -> None:
    c = cluster
    roles = _roles(c)
    cand = next(n for n in ("node2", "node4") if roles[n] == "C")
    os.kill(_noded_pid(c, cand), signal.SIGKILL)
    _add_instance(c, "inst2", "node1")  # a config write while the candidate is down
    assert _serial(c, cand) < _serial(c, "node1")
    res = c.run("gnt-cluster", "verify", "--error-codes")
    assert res.code != 0
    assert f"ENODERPC:node:{c.fqdn(cand)}" in res.out, res.out
    c.ok("gnt-noded", node=cand)
    wait_for(lambda: _serial(c, cand) == _serial(c, "node1"), timeout=30)
    wait_for(lambda: c.run("gnt-cluster", "verify").code == 0, timeout=30)
    c.ok("gnt-instance", "remove", "-f", "inst2")


def test_verify_finds_injected_faults(cluster: TestCluster) -> None:
    c = cluster
    assert c.run("gnt-cluster", "verify").code == 0
    # an orphan: a running fake instance the config does not know
    fake_dir = c.node_root("node4") / "var/run/ganeti/fake-hypervisor"
    _add_instance(c, "inst3", "node4")
    c.ok("gnt-instance", "start", "inst3")
    # the new instance list reaches the regular nodes by a background push
    # (held back up to a second); each push rewrites the files that differ,
    # so the fault is injected after it
    wait_for(lambda: "inst3" in _ssconf(c, "node3", "instance_list"), timeout=30)
    state = json.loads((fake_dir / "inst3.json").read_text())
    state["name"] = "ghost"
    (fake_dir / "ghost.json").write_text(json.dumps(state))
    ssconf = c.node_root("node3") / "var/lib/ganeti/ssconf_master_node"
    os.chmod(ssconf, 0o644)
    ssconf.write_text("someone.else\n")
    try:
        res = c.run("gnt-cluster", "verify", "--error-codes")
        assert res.code != 0
        assert f"ENODEFILECHECK:node:{c.fqdn('node3')}:ssconf file(s) differ" in res.out, \
            res.out
        assert "ssconf_master_node" in res.out
        assert f"ENODEORPHANINSTANCE:node:{c.fqdn('node4')}:instance ghost" in res.out
    finally:  # the later tests share this cluster
        (fake_dir / "ghost.json").unlink()
        c.ok("gnt-cluster", "redist-conf")
    assert _ssconf(c, "node3", "master_node") == c.fqdn("node1")
    c.ok("gnt-instance", "remove", "-f", "inst3")
    assert c.run("gnt-cluster", "verify").code == 0


def test_master_failover_after_kill(tmp_path: Path) -> None:
    c = TestCluster(tmp_path / "c", nodes=["node1", "node2", "node3"],
                    instances=["inst1", "inst2"])
    try:
        c.up("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless")
        _add_instance(c, "inst1", "node3")
        c.ok("gnt-cluster", "queue", "drain")
        assert c.ok("gnt-cluster", "queue", "info").strip() == "The drain flag is set"
        c.ok("gnt-cluster", "queue", "undrain")
        long_job = _submit(c, "gnt-debug", "delay", "60")
        quick = [_submit(c, "gnt-debug", "delay", "0") for _ in range(5)]
        wait_for(lambda: "running" in c.ok("gnt-job", "list", "--no-headers", long_job))
        os.kill(_masterd_pid(c, "node1"), signal.SIGKILL)
        assert c.run("gnt-cluster", "master-ping").code != 0
        # a regular node cannot take over; a candidate can
        c.ok("gnt-cluster", "master-failover", node="node2")
        c.master_node = "node2"
        assert c.run("gnt-cluster", "master-ping").code == 0
        for n in ("node1", "node2", "node3"):
            assert c.ok("gnt-cluster", "getmaster", node=n).strip() == c.fqdn("node2")
        jobs = c.ok("gnt-job", "list", "--no-headers", "-o", "id,status")
        status = dict(line.split() for line in jobs.splitlines())
        assert status[long_job] == "error"
        for j in quick:
            assert status[j] == "success"
        assert "inst1" in c.ok("gnt-instance", "list", "--no-headers", "-o", "name")
        # the old master does not come back as master
        res = c.run("gnt-daemon-util", "start", "ganeti-masterd", node="node1")
        assert res.code != 0 and "not the master" in res.err, res.err
        # the new master writes on; the old one follows as a candidate
        _add_instance(c, "inst2", "node1")
        assert _serial(c, "node1") == _serial(c, "node2")
        res = c.run("gnt-cluster", "master-failover", node="node2")
        assert res.code != 0 and "already the master" in res.err
    finally:
        c.destroy()


def test_verify_runs_post_hooks_where_there_are_scripts(cluster: TestCluster) -> None:
    """The cluster-verify post hooks run on the nodes that have scripts (node3
    here, whose script fails: ENODEHOOKS for it alone); the hooks section is
    printed either way, as Ganeti prints it."""
    c = cluster
    res = c.run("gnt-cluster", "verify", "--error-codes")
    assert res.code == 0 and "* Hooks Results" in res.out, res.out
    d = c.node_root("node3") / "etc/ganeti/hooks/cluster-verify-post.d"
    d.mkdir(parents=True)
    script = d / "50-check"
    script.write_text("#!/bin/sh\necho \"fsck wanted on $GANETI_OP_CODE\"\nexit 1\n")
    script.chmod(0o755)
    try:
        res = c.run("gnt-cluster", "verify", "--error-codes")
        assert res.code != 0
        hooks = [ln for ln in res.out.splitlines() if "ENODEHOOKS" in ln]
        assert len(hooks) == 1 and f":node:{c.fqdn('node3')}:" in hooks[0], res.out
        assert "Script cluster-verify-post.d/50-check failed, output:" in res.out
        assert "fsck wanted on OP_CLUSTER_VERIFY_GROUP" in res.out
    finally:
        script.unlink()
    assert c.run("gnt-cluster", "verify").code == 0


def test_renew_crypto_without_downtime(cluster: TestCluster, tmp_path: Path) -> None:
    from gnt.rpc.client import RpcClient

    c = cluster
    data = c.node_root("node1") / "var/lib/ganeti"
    old_pem = (data / "server.pem").read_bytes()
    old_hmac = (data / "hmac.key").read_text()
    (tmp_path / "old.pem").write_bytes(old_pem)
    _add_instance(c, "inst4", "node2")
    c.ok("gnt-instance", "start", "inst4")
    c.ok("gnt-cluster", "renew-crypto", "-f", "--new-cluster-certificate",
         "--new-confd-hmac-key", "--new-rapi-certificate")
    new_pem = (data / "server.pem").read_bytes()
    assert new_pem != old_pem and (data / "hmac.key").read_text() != old_hmac
    for n in NODES:
        d = c.node_root(n) / "var/lib/ganeti"
        assert (d / "server.pem").read_bytes() == new_pem
        assert not (d / "server-rollover.pem").exists()
    # the cluster works on with the new certificate, the instance never stopped
    assert c.run("gnt-cluster", "verify").code == 0
    out = c.ok("gnt-instance", "list", "--no-headers", "-o", "name,status", "inst4")
    assert out.split() == ["inst4", "running"]
    # the old certificate no longer opens any node daemon
    with RpcClient(cert_file=tmp_path / "old.pem") as old:
        res = old.call(c.address("node2"), "version", [], timeout=5)
    assert res.fail_msg
    c.ok("gnt-instance", "remove", "-f", "inst4")
