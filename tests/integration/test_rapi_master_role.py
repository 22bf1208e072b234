"""gnt-rapi as part of the master role, on a real two-node cluster.

Real processes on two 127.x addresses (each node its own root): RAPI comes
up with ``gnt-cluster init`` on the master only, follows
``gnt-daemon-util stop-master``/``start-master``, picks up a renewed RAPI
certificate without a restart, and moves with ``gnt-cluster
master-failover`` (answers on the new master, gone from the old one).

The same cluster (fake hypervisor, sharedfile and diskless) runs the RAPI
resources that need two nodes or whose opcodes arrived late: instance
modify, migrate, failover, grow-disk, activate/deactivate/recreate-disks,
rename, reinstall, tags; node migrate and evacuate; and checks which
resources still answer 501.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gnt.crypto.x509 import generate_self_signed
from gnt.rapi.devserver import RapiDaemon
from tests.support.cluster import TestCluster, wait_for

pytestmark = pytest.mark.integration

PORT = 5080
USERS = "admin adminpw write\n"
JSON = {"Content-Type": "application/json"}
FINAL = ("success", "error", "canceled")


def _served_fingerprint(address: str, port: int = PORT) -> str | None:
    """SHA-256 of the certificate a new TLS connection gets; None if refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((address, port), timeout=5) as raw, \
                ctx.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    except (ConnectionRefusedError, ConnectionResetError):
        return None
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def _file_fingerprint(pem_file: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem_file.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _answers(daemon: RapiDaemon) -> bool:
    """Whether RAPI on the daemon's node serves ``/2/info`` with this cluster's name."""
    if _served_fingerprint(daemon.address) is None:
        return False
    with daemon.client() as client:
        r = client.get("/2/info")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == f"cluster.{daemon.cluster.domain}"
    return True


def _refused(address: str) -> bool:
    return _served_fingerprint(address) is None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("rapimaster"), nodes=["node1", "node2"],
                    instances=["inst1"])
    try:
        c.up("--enabled-hypervisors", "fake", "--enabled-disk-templates",
             "sharedfile,diskless")
        yield c
    finally:
        c.destroy()


def test_init_starts_rapi_on_the_master_only(cluster: TestCluster) -> None:
    c = cluster
    assert _answers(RapiDaemon(c, node="node1"))
    assert _refused(c.address("node2"))
    assert c.run("gnt-daemon-util", "check", "ganeti-rapi", node="node1").code == 0
    assert c.run("gnt-daemon-util", "check", "ganeti-rapi", node="node2").code == 1
    # not the master: refuses to start
    res = c.run("gnt-rapi", node="node2")
    assert res.code != 0 and "not the master" in res.err, res.err


def test_stop_master_and_start_master(cluster: TestCluster) -> None:
    c = cluster
    c.ok("gnt-daemon-util", "stop-master", node="node1")
    for daemon in ("ganeti-masterd", "ganeti-rapi"):
        assert c.run("gnt-daemon-util", "check", daemon, node="node1").code == 1
    assert _refused(c.address("node1"))
    assert c.run("gnt-daemon-util", "check", "ganeti-noded", node="node1").code == 0
    c.ok("gnt-daemon-util", "start-master", node="node1")
    assert _answers(RapiDaemon(c, node="node1"))
    assert c.run("gnt-cluster", "master-ping").code == 0
    # start-master on a node that is not the master fails and starts nothing
    res = c.run("gnt-daemon-util", "start-master", node="node2")
    assert res.code != 0 and "not the master" in res.err, res.err
    assert c.run("gnt-daemon-util", "check", "ganeti-rapi", node="node2").code == 1


def test_renewed_rapi_certificate_served_without_restart(cluster: TestCluster,
                                                         tmp_path: Path) -> None:
    c = cluster
    daemon = RapiDaemon(c, node="node1")
    pid = daemon.pid()
    before = _served_fingerprint(daemon.address)
    assert before == _file_fingerprint(daemon.cert_file)
    c.ok("gnt-cluster", "renew-crypto", "--new-rapi-certificate", "-f")
    renewed = _file_fingerprint(daemon.cert_file)
    assert renewed != before
    # every node got the new file (a future master serves it too)
    assert _file_fingerprint(RapiDaemon(c, node="node2").cert_file) == renewed
    assert _served_fingerprint(daemon.address) == renewed
    assert _answers(daemon)  # the client trusts the new file: the handshake verifies
    # a certificate of the administrator's choosing
    own = tmp_path / "own-rapi.pem"
    own.write_bytes(generate_self_signed("rapi.example.test").pem())
    c.ok("gnt-cluster", "renew-crypto", "--rapi-certificate", str(own), "-f")
    assert _served_fingerprint(daemon.address) == _file_fingerprint(own)
    assert daemon.pid() == pid  # the same process all along


def test_sighup_reloads_and_a_broken_file_keeps_the_old_certificate(
        cluster: TestCluster) -> None:
    c = cluster
    daemon = RapiDaemon(c, node="node1")
    good = daemon.cert_file.read_bytes()
    served = _served_fingerprint(daemon.address)
    try:
        daemon.cert_file.write_text("not a certificate\n")
        assert _served_fingerprint(daemon.address) == served
        pid = daemon.pid()
        assert pid is not None
        os.kill(pid, signal.SIGHUP)
        assert _served_fingerprint(daemon.address) == served
        assert daemon.running()
    finally:
        daemon.cert_file.write_bytes(good)
    assert _served_fingerprint(daemon.address) == _file_fingerprint(daemon.cert_file)
    log = daemon.log_file.read_text()
    assert "Keeping the previous" in log


# ------------------------------------------------ resources needing two nodes
def _wait_job(daemon: RapiDaemon, job_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with daemon.client() as anon:
        while time.monotonic() < deadline:
            job = anon.get(f"/2/jobs/{job_id}").json()
            if job["status"] in FINAL:
                return job
            time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def _ok(daemon: RapiDaemon, response: Any) -> dict[str, Any]:
    """The job a write answered with, once it succeeded (and the jobs it submitted)."""
    assert response.status_code == 200, response.text
    job = _wait_job(daemon, response.json())
    assert job["status"] == "success", job["opresult"]
    for result in job["opresult"]:
        # node migrate/evacuate answer {"jobs": [[True, job id], ...]}
        if isinstance(result, dict) and "jobs" in result:
            for submitted, sub_id in result["jobs"]:
                assert submitted, sub_id
                sub = _wait_job(daemon, sub_id)
                assert sub["status"] == "success", sub["opresult"]
    return job


def _admin(daemon: RapiDaemon) -> Any:
    """A client for user ``admin``, once the daemon has read the users file."""
    daemon.write_users(USERS)
    client = daemon.client("admin", "adminpw", headers=JSON)
    # the daemon re-reads the file at most once a second
    wait_for(lambda: client.get("/2/query/instance", params={"fields": "name"}).status_code
             == 200, timeout=10)
    return client


def _inst(daemon: RapiDaemon, name: str) -> dict[str, Any]:
    with daemon.client() as anon:
        r = anon.get(f"/2/instances/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def test_instance_and_node_operations(cluster: TestCluster) -> None:
    c = cluster
    d = RapiDaemon(c, node="node1")
    node1, node2 = c.fqdn("node1"), c.fqdn("node2")
    with contextlib.closing(_admin(d)) as a:
        _ok(d, a.post("/2/instances", json={
            "__version__": 1, "mode": "create", "name": "inst1", "os": "image+raw",
            "disk_template": "sharedfile", "disks": [{"size": "32M"}], "nics": [],
            "pnode": node1, "hypervisor": "fake", "beparams": {"maxmem": 128, "vcpus": 2},
            "ip_check": False, "name_check": False}))
        inst = _inst(d, "inst1")
        assert inst["pnode"] == node1 and inst["status"] == "running"

        # modify (Ganeti's alias custom_beparams for beparams)
        _ok(d, a.put("/2/instances/inst1/modify", json={"custom_beparams": {"vcpus": 1}}))
        assert _inst(d, "inst1")["beparams"]["vcpus"] == 1
        _ok(d, a.put("/2/instances/inst1/modify", json={"beparams": {"maxmem": 96, "minmem": 96}}))
        assert _inst(d, "inst1")["beparams"]["maxmem"] == 96

        # migrate there, fail over back: the fake guest follows, still running
        _ok(d, a.put("/2/instances/inst1/migrate", json={"target_node": node2}))
        inst = _inst(d, "inst1")
        assert inst["pnode"] == node2 and inst["oper_state"] is True
        _ok(d, a.put("/2/instances/inst1/failover", json={"target_node": node1}))
        inst = _inst(d, "inst1")
        assert inst["pnode"] == node1 and inst["oper_state"] is True

        # node migrate (request version 1 body), then node evacuate back
        _ok(d, a.post(f"/2/nodes/{node1}/migrate", json={"mode": "live",
                                                         "target_node": node2}))
        assert _inst(d, "inst1")["pnode"] == node2
        # (primary instances move only by an iallocator's choice: hail picks node1)
        _ok(d, a.post(f"/2/nodes/{node2}/evacuate", json={"mode": "primary-only",
                                                          "iallocator": "hail"}))
        assert _inst(d, "inst1")["pnode"] == node1

        # disks
        _ok(d, a.post("/2/instances/inst1/disk/0/grow", json={"amount": 16}))
        assert _inst(d, "inst1")["disk.sizes"] == [48]
        _ok(d, a.put("/2/instances/inst1/shutdown", json={"timeout": 0}))
        _ok(d, a.put("/2/instances/inst1/deactivate-disks"))
        _ok(d, a.put("/2/instances/inst1/activate-disks"))
        (disk_file,) = [f for f in (c.root / "shared").rglob("*disk0") if "inst1" in str(f)]
        disk_file.unlink()  # lost: recreate-disks makes it again
        _ok(d, a.post("/2/instances/inst1/recreate-disks", json={}))
        assert disk_file.exists() and disk_file.stat().st_size == 48 * 1024 * 1024
        assert _inst(d, "inst1")["disk.sizes"] == [48]

        # reinstall (stays down: start=false), rename, tags
        _ok(d, a.post("/2/instances/inst1/reinstall", json={"os": "image+raw",
                                                             "start": False}))
        assert _inst(d, "inst1")["status"] == "ADMIN_down"
        _ok(d, a.put("/2/instances/inst1/rename", json={
            "new_name": "inst1-renamed", "ip_check": False, "name_check": False}))
        assert _inst(d, "inst1-renamed")["name"] == "inst1-renamed"
        _ok(d, a.put("/2/instances/inst1-renamed/tags", params={"tag": ["web", "prod"]}))
        with d.client() as anon:
            assert sorted(anon.get("/2/instances/inst1-renamed/tags").json()) == [
                "prod", "web"]
            assert "image+raw" in anon.get("/2/os").json()
        _ok(d, a.delete("/2/instances/inst1-renamed"))


def test_resources_still_answering_501(cluster: TestCluster) -> None:
    """The OpenAPI document tags what this master cannot serve yet; the resources
    whose opcodes exist now are not among them, and one tagged resource
    really answers 501."""
    c = cluster
    d = RapiDaemon(c, node=c.master_node)
    with d.client() as anon:
        doc = anon.get("/openapi.json").json()
    missing = sorted(f"{method.upper()} {path}" for path, ops in doc["paths"].items()
                     for method, op in ops.items() if "not-implemented" in op["tags"])
    print("RAPI resources answering 501:", json.dumps(missing, indent=1))
    for needed in ("PUT /2/instances/{instance_name}/modify",
                   "PUT /2/instances/{instance_name}/migrate",
                   "PUT /2/instances/{instance_name}/failover",
                   "PUT /2/instances/{instance_name}/rename",
                   "POST /2/instances/{instance_name}/reinstall",
                   "POST /2/instances/{instance_name}/disk/{disk_index}/grow",
                   "PUT /2/instances/{instance_name}/activate-disks",
                   "PUT /2/instances/{instance_name}/deactivate-disks",
                   "POST /2/instances/{instance_name}/recreate-disks",
                   "PUT /2/instances/{instance_name}/tags",
                   "POST /2/nodes/{node_name}/migrate",
                   "POST /2/nodes/{node_name}/evacuate",
                   "GET /2/os"):
        assert needed not in missing, needed
    if "POST /2/nodes/{node_name}/powercycle" in missing:
        with contextlib.closing(_admin(d)) as a:
            r = a.post(f"/2/nodes/{c.master}/powercycle", json={})
        assert r.status_code == 501 and "OP_NODE_POWERCYCLE" in r.text, r.text


def test_master_failover_moves_rapi(cluster: TestCluster) -> None:
    c = cluster
    old, new = RapiDaemon(c, node="node1"), RapiDaemon(c, node="node2")
    assert _answers(old)
    # the users file is edited on the master and copied by redist-conf (Ganeti's way)
    old.write_users(USERS)
    c.ok("gnt-cluster", "redist-conf")
    c.ok("gnt-cluster", "master-failover", node="node2")
    c.master_node = "node2"
    assert _answers(new)
    with contextlib.closing(new.client("admin", "adminpw", headers=JSON)) as admin:
        wait_for(lambda: admin.get("/2/query/instance", params={"fields": "name"}
                                   ).status_code == 200, timeout=10)
    wait_for(lambda: not old.running(), timeout=15)
    assert _refused(c.address("node1"))
    assert "ganeti-rapi stopped" in old.log_file.read_text()
    # the old master's RAPI does not come back
    res = c.run("gnt-rapi", node="node1")
    assert res.code != 0 and "not the master" in res.err, res.err
    # and back: the master role moves again
    c.ok("gnt-cluster", "master-failover", node="node1")
    c.master_node = "node1"
    assert _answers(old)
    wait_for(lambda: not new.running(), timeout=15)
    assert _refused(c.address("node2"))
