"""gnt-rapi over HTTPS against a real one-node cluster (fake hypervisor).

Real processes: gnt-noded, gnt-masterd and two gnt-rapi daemons (one
default, one with ``--require-authentication`` and a short request
timeout), reached with an HTTP client that trusts the cluster's RAPI
certificate.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gnt.luxi.client import Client
from gnt.opcodes.test import OpTestDelay
from gnt.rapi.devserver import RapiDaemon
from gnt.rapi.users import ha1_hash
from tests.support.cluster import TestCluster, wait_for

pytestmark = pytest.mark.integration

USERS = (
    "# test users\n"
    "admin adminpw write\n"
    "reader readpw read\n"
    "plain plainpw\n"
    f"hashed {{HA1}}{ha1_hash('hashed', 'hashpw')} write\n"
    "ro ropw @readonly\n"
    "starter startpw @readonly,+instances.startup\n"
)
JSON = {"Content-Type": "application/json"}
FINAL = ("success", "error", "canceled")


class Rapi:
    """The cluster, its RAPI daemons and clients per user."""

    def __init__(self, cluster: TestCluster, daemon: RapiDaemon) -> None:
        self.cluster = cluster
        self.daemon = daemon
        self.anon = daemon.client()
        self.admin = daemon.client("admin", "adminpw", headers=JSON)
        self.reader = daemon.client("reader", "readpw", headers=JSON)

    @contextlib.contextmanager
    def restarted(self, *args: str) -> Iterator[RapiDaemon]:
        """The daemon restarted with ``args`` (one daemon per root: same pid file)."""
        self.daemon.stop()
        self.daemon.start(*args)
        try:
            yield self.daemon
        finally:
            self.daemon.stop()
            self.daemon.start()

    def luxi(self) -> Client:
        return Client(self.cluster.root / "var/run/ganeti/socket/ganeti-query")

    def job_count(self) -> int:
        with self.luxi() as cl:
            return len([r for r in cl.query_jobs(None, ["id"]) if r is not None])

    def wait_job(self, job_id: int, timeout: float = 120) -> dict[str, Any]:
        """Follow a job with /wait until it ends; returns /2/jobs/<id>."""
        prev: list[Any] | None = None
        serial: int | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.admin.request("GET", f"/2/jobs/{job_id}/wait", json={
                "fields": ["status"], "previous_job_info": prev,
                "previous_log_serial": serial})
            assert r.status_code == 200, r.text
            change = r.json()
            if change is not None:
                prev = change["job_info"]
                for entry in change["log_entries"]:
                    serial = entry[0]
                if prev[0] in FINAL:
                    break
        job = self.anon.get(f"/2/jobs/{job_id}").json()
        assert job["status"] in FINAL, job
        return job

    def ok_job(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        job_id = response.json()
        assert isinstance(job_id, int) and response.content == f"{job_id}\n".encode()
        job = self.wait_job(job_id)
        assert job["status"] == "success", job["opresult"]
        return job


@pytest.fixture(scope="module")
def rapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rapi]:
    cluster = TestCluster(tmp_path_factory.mktemp("rapiroot"))
    try:
        cluster.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
                     "file,diskless")
        daemon = RapiDaemon(cluster)
        daemon.write_users(USERS)
        daemon.start()
        yield Rapi(cluster, daemon)
    finally:
        RapiDaemon(cluster).stop()
        cluster.destroy()


def test_daemon_files_in_ganetis_places(rapi: Rapi) -> None:
    assert rapi.daemon.pid() is not None
    log = rapi.daemon.log_file.read_text()
    assert "RAPI listening on https://" in log
    assert "Read 6 RAPI user(s)" in log


def test_read_resources(rapi: Rapi) -> None:
    c = rapi.anon
    assert c.get("/").content == b"null\n"
    assert c.get("/2").json() is None
    assert c.get("/version").content == b"2\n"
    assert sorted(c.get("/2/features").json()) == sorted([
        "instance-create-reqv1", "instance-reinstall-reqv1", "node-migrate-reqv1",
        "node-evac-res1"])
    info = c.get("/2/info").json()
    assert info["name"] == "cluster.gnt.test" and info["master"] == rapi.cluster.master
    assert info["default_hypervisor"] == "fake" and isinstance(info["tags"], list)
    assert "image+raw" in c.get("/2/os").json()
    nodes = c.get("/2/nodes").json()
    assert nodes == [{"id": rapi.cluster.master, "uri": f"/2/nodes/{rapi.cluster.master}"}]
    (node,) = c.get("/2/nodes", params={"bulk": 1}).json()
    for key in ("mtotal", "mfree", "dtotal", "dfree", "ctotal", "pinst_cnt"):
        assert isinstance(node[key], int), key
    assert node["role"] == "M" and "group.uuid" in node and node["master_candidate"] is True
    single = c.get(f"/2/nodes/{rapi.cluster.master}").json()
    assert single["name"] == rapi.cluster.master and single["secondary_ip"] == single["sip"]
    assert c.get("/2/nodes/node1/role").json() == "master"
    assert c.get("/2/nodes/nosuch").status_code == 404
    jobs = c.get("/2/jobs").json()
    assert jobs and all(j["uri"] == f"/2/jobs/{j['id']}" for j in jobs)
    assert isinstance(c.get("/2/tags").json(), list)
    fields = c.get("/2/query/instance/fields", params={"fields": "name,status"}).json()
    assert [f["name"] for f in fields["fields"]] == ["name", "status"]
    doc = c.get("/openapi.json").json()
    assert "/2/instances/{instance_name}/startup" in doc["paths"]
    with rapi.luxi() as cl:
        groups_supported = _supports(cl, "group")
    groups = c.get("/2/groups")
    if groups_supported:
        assert groups.status_code == 200
        assert {"name": "default", "uri": "/2/groups/default"} in groups.json()
        (group,) = c.get("/2/groups", params={"bulk": 1}).json()
        assert group["name"] == "default" and "ipolicy" in group
    else:
        assert groups.status_code == 501 and "does not answer queries" in groups.text


def _supports(cl: Client, what: str) -> bool:
    try:
        cl.query_fields(what, ["name"])
    except Exception:  # noqa: BLE001 - any refusal means unsupported
        return False
    return True


def _status(rapi: Rapi, name: str) -> str:
    return str(rapi.anon.get(f"/2/instances/{name}").json()["status"])


def test_instance_lifecycle(rapi: Rapi) -> None:
    a = rapi.admin
    create = {"__version__": 1, "mode": "create", "name": "inst1", "os": "image+raw",
              "disk_template": "file", "disks": [{"size": "64M"}], "nics": [],
              "beparams": {"maxmem": 128, "vcpus": 2}, "hypervisor": "fake",
              "tags": ["made-by-rapi"]}
    job = rapi.ok_job(a.post("/2/instances", json=create))
    assert job["ops"][0]["OP_ID"] == "OP_INSTANCE_CREATE"
    assert job["summary"] == ["INSTANCE_CREATE(inst1)"]
    assert job["oplog"][0], "the creation job logged its steps"
    assert rapi.anon.get("/2/instances").json() == [
        {"id": "inst1.gnt.test", "uri": "/2/instances/inst1.gnt.test"}]
    (inst,) = rapi.anon.get("/2/instances", params={"bulk": 1}).json()
    assert inst["name"] == "inst1.gnt.test" and inst["status"] == "running"
    assert inst["disk.sizes"] == [64] and inst["disk_usage"] == 64
    assert inst["beparams"]["maxmem"] == 128 and inst["beparams"]["memory"] == 128
    assert inst["oper_ram"] == 128 and inst["oper_vcpus"] == 2
    assert inst["tags"] == ["made-by-rapi"] and inst["pnode"] == rapi.cluster.master

    rapi.ok_job(a.put("/2/instances/inst1/shutdown", json={"timeout": 0}))
    assert _status(rapi, "inst1") == "ADMIN_down"
    console = rapi.reader.get("/2/instances/inst1/console")
    assert console.status_code == 503
    rapi.ok_job(a.put("/2/instances/inst1/startup"))
    assert _status(rapi, "inst1") == "running"
    rapi.ok_job(a.post("/2/instances/inst1/reboot", params={"type": "hard"}))
    assert _status(rapi, "inst1") == "running"

    console = rapi.reader.get("/2/instances/inst1/console")
    assert console.status_code == 200
    assert console.json()["kind"] == "msg" and console.json()["instance"] == "inst1.gnt.test"

    info = rapi.ok_job(rapi.anon.get("/2/instances/inst1/info", params={"static": 1}))
    (result,) = info["opresult"]
    assert "inst1.gnt.test" in result

    rapi.ok_job(a.put("/2/instances/inst1/modify", json={"custom_beparams": {"vcpus": 1}}))
    assert rapi.anon.get("/2/instances/inst1").json()["beparams"]["vcpus"] == 1

    rapi.ok_job(a.put("/2/instances/inst1/tags", params={"tag": ["t1", "t2"]}))
    assert set(rapi.anon.get("/2/instances/inst1/tags").json()) >= {"t1", "t2"}
    rapi.ok_job(a.delete("/2/instances/inst1/tags", params={"tag": "t1"}))
    assert "t1" not in rapi.anon.get("/2/instances/inst1/tags").json()

    rapi.ok_job(a.delete("/2/instances/inst1"))
    assert rapi.anon.get("/2/instances").json() == []
    assert rapi.anon.get("/2/instances/inst1").status_code == 404


def test_failed_job_reports_the_error(rapi: Rapi) -> None:
    job_id = rapi.admin.put("/2/instances/nosuch/startup").json()
    job = rapi.wait_job(job_id)
    assert job["status"] == "error"
    (err,) = job["opresult"]
    assert err[0] == "OpPrereqError" and err[1][1] == "unknown_entity"


def test_query_with_filter(rapi: Rapi) -> None:
    for name in ("inst2", "inst3"):
        rapi.ok_job(rapi.admin.post("/2/instances", json={
            "__version__": 1, "mode": "create", "instance_name": name, "os_type": "image+raw",
            "disk_template": "diskless", "disks": [], "nics": [], "hypervisor": "fake", "no_install": True,
            "start": name == "inst2"}))
    try:
        r = rapi.reader.put("/2/query/instance", json={
            "fields": ["name", "status"], "qfilter": ["=", "status", "running"]})
        assert r.status_code == 200, r.text
        names = [row[0][1] for row in r.json()["data"]]
        assert names == ["inst2.gnt.test"]
        assert r.json()["data"][0][1] == [0, "running"]
        old = rapi.reader.put("/2/query/instance?fields=name", json={
            "filter": ["=", "name", "inst3"]})
        assert [row[0][1] for row in old.json()["data"]] == ["inst3.gnt.test"]
        get = rapi.reader.get("/2/query/instance", params={"fields": "name, os"})
        assert len(get.json()["data"]) == 2
        bad = rapi.reader.put("/2/query/instance", json={"fields": ["name"],
                                                         "qfilter": ["~~", "name"]})
        assert bad.status_code == 400
        assert rapi.reader.get("/2/query/nosuch?fields=name").status_code == 404
        assert rapi.reader.get("/2/query/instance").status_code == 400
    finally:
        for name in ("inst2", "inst3"):
            rapi.ok_job(rapi.admin.delete(f"/2/instances/{name}"))


def test_jobs_and_wait(rapi: Rapi) -> None:
    (job,) = [j for j in rapi.anon.get("/2/jobs", params={"bulk": 1}).json() if j["id"] == 1]
    assert set(job) == {"id", "ops", "status", "summary", "opstatus", "received_ts",
                        "start_ts", "end_ts"}
    full = rapi.anon.get("/2/jobs/1").json()
    assert set(full) == set(job) | {"oplog", "opresult"}
    # a finished job whose state the client knows: answered at once
    t0 = time.monotonic()
    r = rapi.admin.request("GET", "/2/jobs/1/wait", json={
        "fields": ["status"], "previous_job_info": [full["status"]],
        "previous_log_serial": None})
    assert r.status_code == 200 and r.json()["job_info"] == [full["status"]]
    assert time.monotonic() - t0 < 5
    assert rapi.admin.request("GET", "/2/jobs/987654/wait",
                              json={"fields": ["status"]}).status_code == 404
    assert rapi.admin.request("GET", "/2/jobs/1/wait",
                              json={"fields": "status"}).status_code == 400
    # a running job that does not change within the wait: null after ~10 s
    with rapi.luxi() as cl:
        job_id = cl.submit_job([OpTestDelay(duration=15)])
    wait_for(lambda: rapi.anon.get(f"/2/jobs/{job_id}").json()["status"] == "running", 30)
    t0 = time.monotonic()
    r = rapi.admin.request("GET", f"/2/jobs/{job_id}/wait", json={
        "fields": ["status"], "previous_job_info": ["running"], "previous_log_serial": None})
    elapsed = time.monotonic() - t0
    assert r.status_code == 200 and r.content == b"null\n"
    assert 8 < elapsed < 14
    cancel = rapi.admin.delete(f"/2/jobs/{job_id}")
    assert cancel.status_code == 200 and isinstance(cancel.json(), list)
    assert rapi.wait_job(job_id)["status"] in FINAL


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", **JSON}


def test_authentication_and_permissions(rapi: Rapi) -> None:
    c = rapi.anon
    assert c.get("/2/info").status_code == 200
    r = c.put("/2/redistribute-config")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="Ganeti Remote API"'
    assert r.json() == {"code": 401, "message": "Unauthorized",
                        "explain": "No permission -- see authorization schemes"}
    assert c.get("/2/info", headers=_basic("admin", "bad")).status_code == 401
    assert c.get("/2/info", headers=_basic("ghost", "x")).status_code == 401
    assert c.get("/2/query/instance?fields=name").status_code == 401
    assert c.get("/2/query/instance?fields=name",
                 headers=_basic("plain", "plainpw")).status_code == 403
    assert c.get("/2/query/instance?fields=name",
                 headers=_basic("reader", "readpw")).status_code == 200
    assert c.get("/2/query/instance?fields=name",
                 headers=_basic("ro", "ropw")).status_code == 200
    assert c.put("/2/redistribute-config", headers=_basic("reader", "readpw")).status_code == 403
    assert c.request("GET", "/2/jobs/1/wait", json={"fields": ["status"]},
                     headers=_basic("reader", "readpw")).status_code == 403
    before = rapi.job_count()
    assert c.put("/2/redistribute-config", headers=_basic("ro", "ropw")).status_code == 403
    assert rapi.job_count() == before
    rapi.ok_job(c.put("/2/redistribute-config", headers=_basic("hashed", "hashpw")))
    assert c.put("/2/redistribute-config", headers=_basic("hashed", "wrong")).status_code == 401
    # a role with one added permission
    assert c.put("/2/instances/nosuch/startup",
                 headers=_basic("starter", "startpw")).status_code == 200
    assert c.put("/2/instances/nosuch/shutdown",
                 headers=_basic("starter", "startpw")).status_code == 403


STRICT = ("--require-authentication", "--request-timeout", "2")


def test_require_authentication(rapi: Rapi) -> None:
    with rapi.restarted(*STRICT) as daemon:
        _check_require_authentication(daemon.client())


def _check_require_authentication(s: httpx.Client) -> None:
    assert s.get("/2/info").status_code == 401
    assert s.get("/version").status_code == 401
    assert s.get("/2/info", headers=_basic("plain", "plainpw")).status_code == 200
    assert s.get("/2/info", headers=_basic("ro", "ropw")).status_code == 200
    assert s.get("/2/info", headers=_basic("starter", "startpw")).status_code == 200
    assert s.get("/version", headers=_basic("reader", "readpw")).content == b"2\n"


def test_users_file_reloaded_on_sighup(rapi: Rapi) -> None:
    users = rapi.daemon.users_file
    original = users.read_text()
    try:
        stat = users.stat()
        users.write_text(original + "newbie newpw write\n")
        # keep the change invisible to the automatic check: only SIGHUP reloads
        os.utime(users, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.kill(rapi.daemon.pid() or 0, signal.SIGHUP)
        wait_for(lambda: rapi.anon.get("/2/info", headers=_basic("newbie", "newpw"))
                 .status_code == 200, 10)
    finally:
        users.write_text(original)
        os.kill(rapi.daemon.pid() or 0, signal.SIGHUP)
    wait_for(lambda: rapi.anon.get("/2/info", headers=_basic("newbie", "newpw"))
             .status_code == 401, 10)


BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/2/instances", {"content": b"{not json"}, 400),
    ("POST", "/2/instances", {"content": b"[]"}, 400),
    ("POST", "/2/instances", {"json": {"instance_name": "x"}}, 400),
    ("POST", "/2/instances", {"json": {"__version__": 1, "instance_name": "x", "bogus": 1}}, 400),
    ("POST", "/2/instances", {"json": {"__version__": 1, "name": "x", "instance_name": "y"}},
     400),
    ("POST", "/2/instances", {"json": {"__version__": 1, "instance_name": "x",
                                       "disks": "many"}}, 400),
    ("POST", "/2/instances", {"json": {"__version__": 1, "instance_name": "x",
                                       "start": "yes"}}, 400),
    ("POST", "/2/instances", {"content": b'{"__version__": 1}',
                              "headers": {"Content-Type": "text/plain"}}, 415),
    ("POST", "/2/instances", {"content": b"{" + b" " * (5 * 1024 * 1024) + b"}"}, 413),
    ("PUT", "/2/instances/x/shutdown", {"json": {"timeout": "soon"}}, 400),
    ("PUT", "/2/instances/x/shutdown", {"json": {"instance_name": "y"}}, 400),
    ("PUT", "/2/instances/x/startup?force=maybe", {}, 400),
    ("POST", "/2/instances/x/reboot?type=gentle", {}, 400),
    ("PUT", "/2/modify", {"json": {"compression_tools": ["gzip"]}}, 403),
    ("PUT", "/2/modify?compression_tools=gzip", {}, 403),
    ("PUT", "/2/modify", {"json": {"candidate_pool_size": "ten"}}, 400),
    ("PUT", "/2/nodes/node1/role", {"json": "emperor"}, 400),
    ("PUT", "/2/nodes/node1/role", {"json": {"role": "drained"}}, 400),
    ("DELETE", "/2/instances/x", {"json": {"ignore_failures": True}}, 400),
    ("PATCH", "/2/instances", {}, 405),
]


@pytest.mark.parametrize("method,path,kwargs,status", BAD_REQUESTS,
                         ids=[f"{m} {p} {s}" for m, p, _, s in BAD_REQUESTS])
def test_bad_input_submits_nothing(rapi: Rapi, method: str, path: str, kwargs: dict[str, Any],
                                   status: int) -> None:
    before = rapi.job_count()
    r = rapi.admin.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == status and body["message"] and body["explain"]
    assert rapi.job_count() == before


def _tls_socket(daemon: RapiDaemon) -> ssl.SSLSocket:
    raw = socket.create_connection((daemon.address, daemon.port), timeout=15)
    return daemon.ssl_context().wrap_socket(raw)


def _read_all(sock: ssl.SSLSocket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionError, ssl.SSLError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_slow_clients_get_408(rapi: Rapi) -> None:
    with rapi.restarted(*STRICT) as daemon:
        _check_slow_clients(rapi, daemon)


def _check_slow_clients(rapi: Rapi, daemon: RapiDaemon) -> None:
    before = rapi.job_count()
    auth = base64.b64encode(b"admin:adminpw").decode()
    # the request head never completes
    with _tls_socket(daemon) as s:
        s.sendall(b"PUT /2/redistribute-config HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        reply = _read_all(s)
        assert reply.startswith(b"HTTP/1.1 408 "), reply
        assert 1.5 < time.monotonic() - t0 < 8
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["code"] == 408
    # the body never completes
    with _tls_socket(daemon) as s:
        s.sendall(b"PUT /2/redistribute-config HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Basic " + auth.encode() + b"\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        reply = _read_all(s)
        assert b" 408 " in reply.split(b"\r\n", 1)[0], reply
    assert rapi.job_count() == before
    # an idle connection is simply closed; a prompt client is served
    with _tls_socket(daemon) as s:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
                  + auth.encode() + b"\r\nConnection: close\r\n\r\n")
        assert _read_all(s).endswith(b"\r\n\r\n2\n")


def test_rapi_certificate_is_the_clusters(rapi: Rapi, tmp_path: Path) -> None:
    wrong = ssl.create_default_context()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{rapi.daemon.url}/version", verify=wrong)
    assert httpx.get(f"{rapi.daemon.url}/version",
                     verify=rapi.daemon.ssl_context()).json() == 2
