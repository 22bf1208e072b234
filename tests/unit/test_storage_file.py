"""The storage registry, the ``file`` template (real sparse files) and ``diskless``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gnt import errors, storage
from gnt.storage import file as filestorage
from gnt.storage.base import BlockDevSpec
from tests.support.noderoot import file_storage_root

pytestmark = pytest.mark.unit

MIB = 1024 * 1024
FS_DIR = "/srv/ganeti/file-storage"


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return file_storage_root(tmp_path, monkeypatch, f"# allowed\n\n{FS_DIR}\n/srv/ganeti/other/\n")


def disk(path: str = f"{FS_DIR}/inst1/u0.file.disk0", size: int = 64,
         driver: str = "loop", uuid: str = "u0") -> BlockDevSpec:
    return BlockDevSpec(uuid=uuid, dev_type="file", logical_id=[driver, path], size=size)


def test_registry() -> None:
    drv = storage.get("file")
    assert drv is storage.get("file") and drv.dev_type == "file"
    assert isinstance(drv, filestorage.FileStorage)
    assert storage.get("diskless").dev_type == "diskless"
    impl = storage.implemented()
    assert {"diskless", "file", "sharedfile"} <= set(impl) and list(impl) == sorted(impl)
    assert storage.get("sharedfile").dev_type == "sharedfile"
    with pytest.raises(errors.BlockDeviceError, match="Unsupported disk template 'drbd'; "
                                                     f"implemented: {', '.join(impl)}") as ei:
        storage.get("drbd")
    assert ei.value.ecode == errors.ECODE_INVAL
    with pytest.raises(errors.BlockDeviceError, match="Unknown disk template 'floppy'"):
        storage.get("floppy")


def test_create_makes_a_sparse_file_of_the_size(root: Path) -> None:
    drv = storage.get("file")
    info = drv.create(disk(size=256))
    local = root / "srv/ganeti/file-storage/inst1/u0.file.disk0"
    assert info.path == str(local) and info.size == 256 and info.uri is None
    st = local.stat()
    assert st.st_size == 256 * MIB
    assert st.st_blocks * 512 < MIB  # sparse: nothing allocated
    assert st.st_mode & 0o777 == 0o600
    with open(local, "rb") as f:
        assert f.read(4096) == b"\0" * 4096


def test_create_refuses_existing_and_bad_sizes(root: Path) -> None:
    drv = storage.get("file")
    drv.create(disk())
    local = root / "srv/ganeti/file-storage/inst1/u0.file.disk0"
    local.write_bytes(b"data")
    with pytest.raises(errors.BlockDeviceError, match="already existing") as ei:
        drv.create(disk())
    assert ei.value.ecode == errors.ECODE_EXISTS
    assert local.read_bytes() == b"data"  # untouched
    for size in (0, -5, 17 * 1024 * 1024 * 1024):
        with pytest.raises(errors.BlockDeviceError, match="Invalid size"):
            drv.create(disk(path=f"{FS_DIR}/inst1/other", size=size))
    assert not (root / "srv/ganeti/file-storage/inst1/other").exists()


@pytest.mark.parametrize("path, why", [
    ("/srv/elsewhere/x.disk0", ("not acceptable for file storage; allowed directories: "
                               f"{FS_DIR}, /srv/ganeti/other/")),
    (FS_DIR, "not acceptable"),  # the storage dir itself is not a disk path
    (f"{FS_DIR}/../../../etc/passwd", "forbidden prefix"),
    ("/usr/lib/x", "forbidden prefix"),
    ("relative/x", "must be absolute"),
])
def test_paths_outside_the_allowed_dirs_are_refused(root: Path, path: str, why: str) -> None:
    drv = storage.get("file")
    with pytest.raises(errors.BlockDeviceError, match=why):
        drv.create(disk(path=path))
    for op in (drv.assemble, drv.find, drv.remove):
        with pytest.raises(errors.BlockDeviceError):
            op(disk(path=path))


def test_missing_paths_file_refuses_everything(root: Path) -> None:
    (root / "etc/ganeti/file-storage-paths").unlink()
    with pytest.raises(errors.BlockDeviceError, match="file-storage-paths is missing or empty"):
        storage.get("file").create(disk())


def test_bad_logical_id(root: Path) -> None:
    drv = storage.get("file")
    with pytest.raises(errors.BlockDeviceError, match="Invalid file driver 'nbd'.*loop"):
        drv.create(disk(driver="nbd"))
    bad = BlockDevSpec(uuid="u", dev_type="file", logical_id=["loop"], size=1)
    with pytest.raises(errors.BlockDeviceError, match=r"want \[file_driver, path\]"):
        drv.create(bad)


def test_assemble_find_shutdown(root: Path) -> None:
    drv = storage.get("file")
    with pytest.raises(errors.BlockDeviceError, match="does not exist"):
        drv.assemble(disk())
    assert drv.find(disk()) is None
    drv.create(disk(size=32))
    info = drv.assemble(disk(size=32))
    assert info.path == str(root / "srv/ganeti/file-storage/inst1/u0.file.disk0")
    assert info.size == 32
    assert drv.find(disk(size=32)) == info
    drv.shutdown(disk())
    drv.shutdown(disk())
    assert drv.assemble(disk(size=32)) == info
    with pytest.raises(errors.BlockDeviceError, match="has 32 MiB, less than the 48 MiB"):
        drv.assemble(disk(size=48))


def test_grow(root: Path) -> None:
    drv = storage.get("file")
    drv.create(disk(size=10))
    local = Path(drv.assemble(disk(size=10)).path)
    with open(local, "r+b") as f:
        f.write(b"keep")
    drv.grow(disk(size=10), 30)
    assert local.stat().st_size == 40 * MIB
    assert local.stat().st_blocks * 512 < MIB
    assert local.read_bytes()[:4] == b"keep"
    drv.grow(disk(size=40), 0)
    assert drv.find(disk(size=40)).size == 40  # type: ignore[union-attr]
    with pytest.raises(errors.BlockDeviceError, match="Cannot shrink"):
        drv.grow(disk(size=40), -1)
    assert local.stat().st_size == 40 * MIB
    with pytest.raises(errors.BlockDeviceError, match="does not exist"):
        drv.grow(disk(path=f"{FS_DIR}/inst1/missing"), 1)


def test_remove_is_idempotent_and_cleans_the_instance_dir(root: Path) -> None:
    drv = storage.get("file")
    d0 = disk(path=f"{FS_DIR}/inst1/u0.file.disk0", uuid="u0")
    d1 = disk(path=f"{FS_DIR}/inst1/u1.file.disk1", uuid="u1")
    drv.create(d0)
    drv.create(d1)
    inst_dir = root / "srv/ganeti/file-storage/inst1"
    drv.remove(d0)
    assert not (inst_dir / "u0.file.disk0").exists() and inst_dir.is_dir()
    drv.remove(d0)  # again: fine
    drv.remove(d1)
    assert not inst_dir.exists()
    assert (root / "srv/ganeti/file-storage").is_dir()
    drv.remove(d1)
    # a disk directly in an allowed dir: the allowed dir itself stays
    top = disk(path=f"{FS_DIR}/lonely.disk0")
    drv.create(top)
    drv.remove(top)
    assert (root / "srv/ganeti/file-storage").is_dir()


def test_path_checks() -> None:
    allowed = ["/srv/ganeti/file-storage", "relative/ignored"]
    filestorage.check_path_acceptance("/srv/ganeti/file-storage/a/b", allowed=allowed)
    with pytest.raises(errors.BlockDeviceError, match="not acceptable"):
        filestorage.check_path_acceptance("/srv/ganeti/file-storage", allowed=allowed)
    filestorage.check_path_acceptance("/srv/ganeti/file-storage/", exact_match_ok=True,
                                      allowed=allowed)
    with pytest.raises(errors.BlockDeviceError, match="not acceptable"):
        filestorage.check_path_acceptance("/srv/ganeti/file-storage-2/x", allowed=allowed)
    with pytest.raises(errors.BlockDeviceError, match="not acceptable"):
        filestorage.check_path_acceptance("/x/relative/ignored/y", allowed=allowed)
    assert filestorage.wrong_paths(["/srv/ok", "/bin", "/usr/local/lib64/x", "rel",
                                    "/etc/", "/srv/../root/x", "/binaries"]) == \
        ["/bin", "/etc", "/root/x", "/usr/local/lib64/x", "rel"]


def test_check_storage_dir(root: Path) -> None:
    assert "not existing" in str(filestorage.check_storage_dir(FS_DIR))
    (root / "srv/ganeti/file-storage").mkdir(parents=True)
    assert filestorage.check_storage_dir(FS_DIR) is None
    assert filestorage.check_storage_dir(FS_DIR + "/sub") is not None  # does not exist
    assert "not acceptable" in str(filestorage.check_storage_dir("/srv/nope"))
    assert "forbidden" in str(filestorage.check_storage_dir("/etc/ganeti"))


def test_space_info(root: Path) -> None:
    (root / "srv/ganeti/file-storage").mkdir(parents=True)
    info = filestorage.space_info(FS_DIR)
    st = os.statvfs(root)
    assert info["storage_size"] == st.f_frsize * st.f_blocks // MIB
    assert 0 <= info["storage_free"] <= info["storage_size"]
    with pytest.raises(errors.BlockDeviceError):
        filestorage.space_info("/srv/absent")


def test_diskless(root: Path) -> None:
    drv = storage.get("diskless")
    spec = BlockDevSpec(uuid="x", dev_type="diskless", size=1)
    for op in (drv.create, drv.assemble):
        with pytest.raises(errors.BlockDeviceError, match="diskless template has no disks"):
            op(spec)
    with pytest.raises(errors.BlockDeviceError):
        drv.grow(spec, 1)
    assert drv.find(spec) is None
    drv.remove(spec)
    drv.shutdown(spec)
