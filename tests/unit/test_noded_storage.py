"""Node storage procedures on real files under a temporary root: space of a
storage unit, ``list-storage`` rows and the disk files (``volumes``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors
from gnt.noded.procs import storage as st
from tests.support.noderoot import file_storage_root

pytestmark = pytest.mark.unit

MIB = 1024 * 1024
FS_DIR = "/srv/ganeti/file-storage"
SHARED = "/srv/ganeti/shared-file-storage"


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return file_storage_root(tmp_path, monkeypatch, f"{FS_DIR}\n{SHARED}\n")


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def test_to_mib_rounds_up() -> None:
    assert [st.to_mib(x) for x in (0, 1, MIB, MIB + 1)] == [0, 1, 1, 2]


def test_space_of_file_units(root: Path) -> None:
    (root / FS_DIR.lstrip("/")).mkdir(parents=True)
    out = st.storage_space([[C.ST_FILE, FS_DIR], [C.ST_SHARED_FILE, SHARED],
                            [C.ST_FILE, "/elsewhere"], [C.ST_LVM_VG, "xenvg"]])
    vfs = os.statvfs(root)
    assert out[0]["type"] == C.ST_FILE and out[0]["name"] == FS_DIR
    assert out[0]["storage_size"] == st.to_mib(vfs.f_blocks * vfs.f_frsize)
    assert 0 < out[0]["storage_free"] <= out[0]["storage_size"]
    # not created yet: the filesystem it would be created on
    assert out[1]["storage_size"] == out[0]["storage_size"]
    # not allowed by file-storage-paths, or not reportable here: unknown
    assert out[2]["storage_size"] is None and out[2]["storage_free"] is None
    assert out[3] == {"type": C.ST_LVM_VG, "name": "xenvg", "storage_size": None,
                      "storage_free": None}


def test_list_and_volumes(root: Path) -> None:
    base = root / FS_DIR.lstrip("/")
    sparse(base / "inst1/u1.file.disk0", 64 * MIB)
    sparse(base / "inst1/u2.file.disk1", 3 * MIB + 5)
    sparse(base / "inst2/u3.file.disk0", 10 * MIB)
    os.symlink(base / "inst2/u3.file.disk0", base / "link")  # not followed nor counted
    rows = st.storage_list(C.ST_FILE, [FS_DIR, SHARED], None,
                           ["name", "used", "allocatable", "size", "free"])
    assert [r[0] for r in rows] == [FS_DIR, SHARED]
    assert rows[0][1:3] == [64 + 4 + 10, True]  # apparent sizes, each rounded up
    assert rows[1][1] == 0
    assert st.storage_list(C.ST_FILE, [FS_DIR, SHARED], SHARED, ["name"]) == [[SHARED]]
    vols = st.node_volumes([FS_DIR + "/", SHARED])
    assert vols == [
        {"dev": f"{FS_DIR}/inst1/u1.file.disk0", "vg": FS_DIR, "name": "inst1/u1.file.disk0",
         "size": 64},
        {"dev": f"{FS_DIR}/inst1/u2.file.disk1", "vg": FS_DIR, "name": "inst1/u2.file.disk1",
         "size": 4},
        {"dev": f"{FS_DIR}/inst2/u3.file.disk0", "vg": FS_DIR, "name": "inst2/u3.file.disk0",
         "size": 10},
    ]


def test_refusals(root: Path) -> None:
    with pytest.raises(errors.ParameterError, match="not supported"):
        st.storage_list(C.ST_LVM_VG, ["xenvg"], None, ["name"])
    with pytest.raises(errors.ParameterError, match="Unknown storage field 'bogus'"):
        st.storage_list(C.ST_FILE, [FS_DIR], None, ["name", "bogus"])
    with pytest.raises(errors.BlockDeviceError, match="not acceptable"):
        st.storage_list(C.ST_FILE, ["/srv/other"], None, ["name"])
    with pytest.raises(errors.BlockDeviceError, match="forbidden"):
        st.node_volumes(["/etc"])
