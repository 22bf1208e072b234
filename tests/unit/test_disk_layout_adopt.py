"""Where new disks go (file directories, blockdev logical ids) and Ganeti's
adoption argument rules, master side."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnt import constants as C
from gnt import errors
from gnt.cmdlib import disk_adopt, disk_layout
from gnt.objects import Cluster
from gnt.opcodes.instance import OpInstanceCreate

pytestmark = pytest.mark.unit

CL = Cluster(cluster_name="c", master_node="m", master_ip="192.0.2.1",
             file_storage_dir="/srv/ganeti/file-storage",
             shared_file_storage_dir="/srv/ganeti/shared-file-storage")
BASE = "/srv/ganeti/file-storage"


@pytest.mark.parametrize("requested,expected", [
    (None, f"{BASE}/i1"),
    ("", f"{BASE}/i1"),
    ("sub", f"{BASE}/sub/i1"),
    ("sub/", f"{BASE}/sub/i1"),
    ("a/b", f"{BASE}/a/b/i1"),
    ("./a//b", f"{BASE}/a/b/i1"),
    (f"{BASE}/abs", f"{BASE}/abs/i1"),
    (BASE, f"{BASE}/i1"),
])
def test_file_dir_accepts_paths_below_the_cluster_dir(requested: str | None,
                                                      expected: str) -> None:
    assert disk_layout.file_dir(CL, C.DT_FILE, "i1", requested) == expected


def test_file_dir_of_sharedfile_uses_the_shared_dir() -> None:
    assert disk_layout.file_dir(CL, C.DT_SHARED_FILE, "i1", "x") == \
        "/srv/ganeti/shared-file-storage/x/i1"


@pytest.mark.parametrize("requested,word", [
    ("..", "may not contain '..'"),
    ("../shared-file-storage", "may not contain '..'"),
    ("a/../../x", "may not contain '..'"),
    (f"{BASE}/../x", "may not contain '..'"),
    ("/etc", "is not below"),
    (f"{BASE}x/y", "is not below"),
    ("/srv/ganeti/shared-file-storage", "is not below"),
    ("   ", "Invalid file storage directory"),
])
def test_file_dir_refuses_escapes(requested: str, word: str) -> None:
    with pytest.raises(errors.OpPrereqError) as exc:
        disk_layout.file_dir(CL, C.DT_FILE, "i1", requested)
    assert word in str(exc.value) and exc.value.ecode == errors.ECODE_INVAL


def test_file_dir_needs_a_cluster_dir() -> None:
    cl = CL.model_copy(update={"file_storage_dir": ""})
    with pytest.raises(errors.OpPrereqError, match="storage dir for 'file'"):
        disk_layout.file_dir(cl, C.DT_FILE, "i1", None)


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "/", "srv", "ganeti",
                                 "file-storage"]), max_size=8).map("/".join))
def test_file_dir_never_leaves_the_cluster_dir(requested: str) -> None:
    try:
        got = disk_layout.file_dir(CL, C.DT_FILE, "i1", requested)
    except errors.OpPrereqError:
        return
    assert got.startswith(BASE + "/") and got.endswith("/i1") and "/../" not in got


def test_logical_ids() -> None:
    def lid(template: str, **kw: Any) -> list[Any]:
        return disk_layout.logical_id(disk_layout.NewDisk(
            template=template, index=1, uuid="u", instance="i1", cluster=CL, **kw))
    assert lid(C.DT_FILE) == ["loop", f"{BASE}/i1/u.file.disk1"]
    assert lid(C.DT_FILE, file_driver="blktap2", file_storage_dir="x") == \
        ["blktap2", f"{BASE}/x/i1/u.file.disk1"]
    assert lid(C.DT_BLOCK, params={"adopt": "/dev/disk/by-id/x"}) == \
        ["manual", "/dev/disk/by-id/x"]
    assert lid(C.DT_DISKLESS) == []


def op(template: str, disks: list[dict[str, Any]], **kw: Any) -> OpInstanceCreate:
    return OpInstanceCreate(instance_name="i1", disk_template=template, disks=disks, **kw)


def test_adoption_rules() -> None:
    assert disk_adopt.adoption_requested(op(C.DT_FILE, [{"size": 1}])) is False
    assert disk_adopt.adoption_requested(op(C.DT_BLOCK, [{"adopt": "/dev/disk/x"}])) is True
    cases = [
        (op(C.DT_BLOCK, [{"size": 1}]), "Disk template blockdev requires disk adoption"),
        (op(C.DT_BLOCK, [{"adopt": "/a"}, {"size": 1}]), "Either all disks are adopted"),
        (op(C.DT_FILE, [{"adopt": "/a"}]), "not supported for the 'file' disk template"),
        (op(C.DT_BLOCK, [{"adopt": "/a"}], iallocator="hail"), "with an iallocator"),
        (op(C.DT_BLOCK, [{"adopt": "/a"}], mode="import"), "for instance import"),
    ]
    for o, word in cases:
        with pytest.raises(errors.OpPrereqError, match=word):
            disk_adopt.adoption_requested(o)


def test_parse_adopted_disk() -> None:
    assert disk_adopt.parse_adopted_disk(0, {"adopt": "/dev/disk/by-id//x/", "size": 5}) == \
        {"size": 0, "mode": "rw", "name": None, "adopt": "/dev/disk/by-id/x"}
    assert disk_adopt.parse_adopted_disk(1, {"adopt": "/d", "mode": "ro", "name": "n"})[
        "mode"] == "ro"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"adopt": ""}, "needs the device"), ({"adopt": "/d", "mode": "x"}, "invalid mode"),
        ({"adopt": "/d", "spindles": 1}, "spindles")]
    for d, word in bad:
        with pytest.raises(errors.OpPrereqError, match=word):
            disk_adopt.parse_adopted_disk(0, d)
