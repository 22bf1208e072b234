"""Ganeti's own RAPI client (Debian's ``python3-ganeti-rapi``,
``ganeti.rapi.client.GanetiRapiClient``, over pycurl) against gnt-rapi on a
real two-node gnt cluster with the fake hypervisor (the second node for
migration and failover of a sharedfile instance).

The client package lives in the system's ``dist-packages``; that directory
is put on ``sys.path`` only while the client is imported.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from gnt.rapi.devserver import RapiDaemon
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.compat

DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def _import_client() -> ModuleType:
    added = DIST_PACKAGES not in sys.path
    if added:
        sys.path.append(DIST_PACKAGES)
    try:
        return importlib.import_module("ganeti.rapi.client")
    except ImportError as err:
        pytest.skip(f"python3-ganeti-rapi is not installed ({err}); "
                    "apt-get install python3-ganeti-rapi")
    finally:
        if added:
            sys.path.remove(DIST_PACKAGES)


@pytest.fixture(scope="module")
def rapi_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any,
                                                                            TestCluster]]:
    module = _import_client()
    cluster = TestCluster(tmp_path_factory.mktemp("rapicompat"), nodes=["node1", "node2"])
    daemon = RapiDaemon(cluster)
    try:
        cluster.init("--enabled-hypervisors", "fake", "--enabled-disk-templates",
                     "file,sharedfile,diskless")
        cluster.add_node("node2")
        daemon.write_users("rclient secret write\n")
        daemon.start()
        client = module.GanetiRapiClient(daemon.address, port=daemon.port,
                                         username="rclient", password="secret")
        yield module, client, cluster
    finally:
        daemon.stop()
        cluster.destroy()


def wait(client: Any, job_id: Any) -> dict[str, Any]:
    """Follow a job the way the client's users do: WaitForJobChange until it
    ends, then its status; also checks WaitForJobCompletion agrees."""
    prev, serial = None, None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        change = client.WaitForJobChange(job_id, ["status"], prev, serial)
        if change is None:
            continue
        prev = change["job_info"]
        for entry in change["log_entries"]:
            serial = entry[0]
        if prev[0] in ("success", "error", "canceled"):
            break
    job = client.GetJobStatus(job_id)
    assert client.WaitForJobCompletion(job_id, period=0, retries=1) is \
        (job["status"] == "success")
    return job


def ok(client: Any, job_id: Any) -> dict[str, Any]:
    job = wait(client, job_id)
    assert job["status"] == "success", job["opresult"]
    return job


def test_ganeti_rapi_client(rapi_client: tuple[Any, Any, TestCluster]) -> None:
    module, c, cluster = rapi_client
    master = cluster.master

    assert c.GetVersion() == 2
    assert set(c.GetFeatures()) == {"instance-create-reqv1", "instance-reinstall-reqv1",
                                    "node-migrate-reqv1", "node-evac-res1"}
    info = c.GetInfo()
    assert info["name"] == "cluster.gnt.test" and info["master"] == master
    assert "image+raw" in c.GetOperatingSystems()

    # nodes and groups
    node2 = cluster.fqdn("node2")
    assert sorted(c.GetNodes()) == sorted([master, node2])
    node = next(n for n in c.GetNodes(bulk=True) if n["name"] == master)
    assert node["mtotal"] > 0
    assert c.GetNode(master)["pip"] == node["pip"]
    assert c.GetNodeRole(master) == "master"
    try:
        groups = c.GetGroups()
    except module.GanetiApiError as err:
        assert err.code == 501  # the master has no group query yet
    else:
        assert groups == ["default"]
        assert sorted(c.GetGroup("default")["node_list"]) == sorted([master, node2])

    # create (request format version 1), with a size given with its unit
    job_id = c.CreateInstance("create", "inst1", "file", [{"size": "64M"}], [],
                              os="image+raw", hypervisor="fake", pnode=master,
                              beparams={"maxmem": 128}, reason="compat test")
    job = ok(c, job_id)
    assert job["ops"][0]["OP_ID"] == "OP_INSTANCE_CREATE"
    assert job["ops"][0]["reason"][0][:2] == ["gnt:user", "compat test"]
    assert c.GetInstances() == ["inst1.gnt.test"]
    inst = c.GetInstance("inst1")
    assert inst["status"] == "running" and inst["disk.sizes"] == [64]
    assert inst["beparams"]["memory"] == 128

    ok(c, c.ShutdownInstance("inst1", timeout=0))
    assert c.GetInstance("inst1")["status"] == "ADMIN_down"
    ok(c, c.StartupInstance("inst1"))
    assert c.GetInstance("inst1")["status"] == "running"
    ok(c, c.RebootInstance("inst1", reboot_type="hard"))
    assert c.GetInstance("inst1")["oper_state"] is True
    console = c.GetInstanceConsole("inst1")
    assert console["instance"] == "inst1.gnt.test" and console["kind"] == "msg"

    # modify
    ok(c, c.ModifyInstance("inst1", beparams={"vcpus": 1}))
    assert c.GetInstance("inst1")["beparams"]["vcpus"] == 1

    # migrate, fail over and node-migrate a sharedfile instance between the nodes
    ok(c, c.CreateInstance("create", "inst2", "sharedfile", [{"size": 32}], [],
                           os="image+raw", hypervisor="fake", pnode=master,
                           beparams={"maxmem": 64}, name_check=False, ip_check=False))
    ok(c, c.MigrateInstance("inst2", mode="live", target_node=node2))
    assert c.GetInstance("inst2")["pnode"] == node2
    job = ok(c, c.MigrateNode(node2, mode="live", target_node=master))
    for submitted, sub_id in job["opresult"][0]["jobs"]:
        assert submitted
        ok(c, sub_id)
    assert c.GetInstance("inst2")["pnode"] == master
    ok(c, c.FailoverInstance("inst2", target_node=node2))
    inst2 = c.GetInstance("inst2")
    assert inst2["pnode"] == node2 and inst2["oper_state"] is True
    ok(c, c.GrowInstanceDisk("inst2", 0, 16))
    assert c.GetInstance("inst2")["disk.sizes"] == [48]
    ok(c, c.DeleteInstance("inst2"))

    # tags
    ok(c, c.AddInstanceTags("inst1", ["web", "prod"]))
    assert sorted(c.GetInstanceTags("inst1")) == ["prod", "web"]
    ok(c, c.DeleteInstanceTags("inst1", ["prod"]))
    assert c.GetInstanceTags("inst1") == ["web"]
    ok(c, c.AddClusterTags(["cluster-tag"]))
    assert "cluster-tag" in c.GetClusterTags()

    # generic query with a filter
    result = c.Query("instance", ["name", "status"], ["=", "status", "running"])
    assert result["data"] == [[[0, "inst1.gnt.test"], [0, "running"]]]
    assert c.Query("instance", ["name"], ["=", "status", "ADMIN_down"])["data"] == []
    fields = c.QueryFields("instance", ["name", "oper_ram"])["fields"]
    assert [f["name"] for f in fields] == ["name", "oper_ram"]

    # instance information is a job
    job = ok(c, c.GetInstanceInfo("inst1", static=True))
    assert "inst1.gnt.test" in job["opresult"][0]

    # jobs
    assert job_id in c.GetJobs()
    bulk = {j["id"]: j for j in c.GetJobs(bulk=True)}
    assert bulk[job_id]["summary"] == ["INSTANCE_CREATE(inst1)"]
    status = c.GetJobStatus(job_id)
    assert status["status"] == "success" and status["opstatus"] == ["success"]

    # failures reach the client as Ganeti reports them
    failed = wait(c, c.StartupInstance("nosuch"))
    assert failed["status"] == "error"
    assert failed["opresult"][0][1][1] == "unknown_entity"
    with pytest.raises(module.GanetiApiError) as exc:
        c.GetInstance("nosuch")
    assert exc.value.code == 404
    with pytest.raises(module.GanetiApiError) as exc:
        module.GanetiRapiClient(c._base_url.split("//")[1].split(":")[0],
                                port=int(c._base_url.rsplit(":", 1)[1]),
                                username="rclient", password="wrong").GetInfo()
    assert exc.value.code == 401

    ok(c, c.DeleteInstance("inst1"))
    assert c.GetInstances() == []
