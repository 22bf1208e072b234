"""Node-side replica handling that keeps config pushes, resyncs and verify cheap,
on real files under a temporary root: ssconf writes only change what
changed, the config serial is read from both file layouts, job queue
replicas are compared by digest, and ``node_verify`` answers every check in
one call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import paths
from gnt.config import load_config_file, ssconf, write_config_file
from gnt.noded.procs import basic, replica
from gnt.noded.procs.verify import node_verify
from gnt.objects import Cluster, ConfigData, Instance, Node, NodeGroup
from tests.support.noderoot import file_storage_root

pytestmark = pytest.mark.unit

FS_DIR = "/srv/ganeti/file-storage"


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return file_storage_root(tmp_path, monkeypatch, f"{FS_DIR}\n")


def test_ssconf_write_changes_only_what_changed(root: Path) -> None:
    p = paths.get()
    basic.write_ssconf_files({"cluster_name": "c1", "instance_list": "a", "old_key": "x"})
    before = {k: p.ssconf_file(k).stat().st_ino for k in ("cluster_name", "instance_list")}
    basic.write_ssconf_files({"cluster_name": "c1", "instance_list": "a\nb"})
    # the unchanged file is the same file (not rewritten); the changed one is new
    assert p.ssconf_file("cluster_name").stat().st_ino == before["cluster_name"]
    assert p.ssconf_file("instance_list").stat().st_ino != before["instance_list"]
    assert ssconf.read("instance_list") == "a\nb"
    assert not p.ssconf_file("old_key").exists()  # keys no longer sent are removed
    # a file damaged by hand (content or mode) is repaired by the next push
    f = p.ssconf_file("cluster_name")
    f.chmod(0o644)
    f.write_text("wrong")
    basic.write_ssconf_files({"cluster_name": "c1", "instance_list": "a\nb"})
    assert f.read_text() == "c1" and f.stat().st_mode & 0o777 == basic.SSCONF_FILE_MODE


def test_config_serial_of_written_and_older_files(root: Path) -> None:
    """The top-level serial, not one of the nested objects' (which have their own)."""
    grp = NodeGroup(name="default", serial_no=70)
    node = Node(name="n1.example.com", primary_ip="192.0.2.1", secondary_ip="192.0.2.1",
                group=grp.uuid, serial_no=80)
    inst = Instance(name="i1", primary_node=node.uuid, os="x", hypervisor=C.HT_FAKE,
                    disk_template=C.DT_DISKLESS, serial_no=90)
    cluster = Cluster(cluster_name="c.example.com", master_node=node.uuid,
                      master_ip="192.0.2.254", enabled_hypervisors=[C.HT_FAKE], serial_no=60)
    data = ConfigData(cluster=cluster, nodes={node.uuid: node}, nodegroups={grp.uuid: grp},
                      instances={inst.uuid: inst}, serial_no=42)
    raw = write_config_file(data)
    assert raw.count(b"\n") == 1  # one line, as Ganeti writes it
    assert replica.local_config_serial() == 42
    assert load_config_file() == data
    f = paths.get().cluster_conf_file
    for layout in ({"sort_keys": True, "indent": 1}, {"sort_keys": True}):  # older writers
        f.write_text(json.dumps(json.loads(raw), **layout) + "\n")  # type: ignore[arg-type]
        assert replica.local_config_serial() == 42


def test_job_replicas_compared_by_digest(root: Path) -> None:
    texts = {1: '{"id":1}', 2: '{"id":2,"ops":[]}'}
    assert replica.jobqueue_update([[j, t] for j, t in texts.items()], 2) == 2
    digests = replica.jobqueue_digests()
    assert digests == {str(j): replica.job_digest(t) for j, t in texts.items()}
    replica.jobqueue_update([[2, '{"id":2,"ops":[1]}']], None)
    assert replica.jobqueue_digests()["2"] != digests["2"]
    assert replica.jobqueue_digests()["1"] == digests["1"]


def test_node_verify_answers_every_check(root: Path) -> None:
    basic.write_ssconf_files({"cluster_name": "c1", "master_node": "n1\n"})
    vol = root / FS_DIR.lstrip("/") / "inst1/disk0"
    vol.parent.mkdir(parents=True)
    vol.write_bytes(b"x")
    out = node_verify({"version": None, "replica": None, "instances": [C.HT_FAKE],
                       "volumes": [FS_DIR, "/etc"]})
    assert out["version"] == [True, C.PROTOCOL_VERSION]
    ok, state = out["replica"]
    assert ok and state["config_serial"] is None
    assert state["ssconf_digests"] == {"cluster_name": ssconf.digest("c1"),
                                       "master_node": ssconf.digest("n1")}
    assert out["instances"] == [True, {}]
    ok, vols = out["volumes"][FS_DIR]
    assert ok and [v["dev"] for v in vols] == [f"{FS_DIR}/inst1/disk0"]
    # a directory the node refuses fails alone, the other answers stand
    ok, msg = out["volumes"]["/etc"]
    assert not ok and "/etc" in msg
    assert node_verify({}) == {}
