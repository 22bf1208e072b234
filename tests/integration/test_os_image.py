"""The ``image`` OS definition shipped in os/image, run for real on file disks.

The OS is linked into a temporary root's /srv/ganeti/os as set-up does, disks
are real sparse files made by the ``file`` storage driver, images are real
raw and qcow2 files (qemu-img), and the scripts run through gnt.osdef.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gnt import errors, osdef, storage
from gnt.hypervisor.base import DiskSpec, InstanceSpec
from gnt.storage.base import BlockDevSpec

pytestmark = pytest.mark.integration

REPO_OS = Path(__file__).resolve().parents[2] / "os" / "image"
MIB = 1024 * 1024
DISK_MIB = 8
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                    reason="qemu-img (Debian qemu-utils) not installed")


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    r = tmp_path / "root"
    (r / "srv/ganeti/os").mkdir(parents=True)
    os.symlink(REPO_OS, r / "srv/ganeti/os/image")
    (r / "etc/ganeti").mkdir(parents=True)
    (r / "etc/ganeti/file-storage-paths").write_text("/srv/ganeti/file-storage\n")
    monkeypatch.setenv("GNT_ROOT", str(r))
    return r


def make_disk(name: str = "inst1", idx: int = 0, size: int = DISK_MIB) -> DiskSpec:
    bspec = BlockDevSpec(uuid=f"{name}-d{idx}", dev_type="file", size=size,
                         logical_id=["loop", f"/srv/ganeti/file-storage/{name}/d{idx}"])
    info = storage.get("file").create(bspec)
    return DiskSpec(uuid=bspec.uuid, index=idx, path=info.path, size=size, dev_type="file")


def inst(disks: list[DiskSpec], os_name: str = "image+raw", **osparams: str) -> InstanceSpec:
    return InstanceSpec(name="inst1.example.com", uuid="uuid-1", hypervisor="kvm", os=os_name,
                        hvparams={}, beparams={"maxmem": 128, "vcpus": 1},
                        osparams=osparams, disks=disks)


@pytest.fixture()
def raw_image(tmp_path: Path) -> tuple[Path, bytes]:
    # data, a zero hole, data, and a tail that is not a whole block
    data = os.urandom(MIB) + b"\0" * (2 * MIB) + os.urandom(MIB) + b"tail" * 300
    p = tmp_path / "image.raw"
    p.write_bytes(data)
    return p, data


def read_disk(d: DiskSpec) -> bytes:
    return Path(d.path).read_bytes()


def dirty(d: DiskSpec) -> None:
    Path(d.path).write_bytes(b"\xff" * (d.size * MIB))


def test_diagnose_shows_the_image_os(root: Path) -> None:
    osd = osdef.find("image")
    assert osd.valid, osd.diagnose
    assert osd.api_versions == [20] and osd.variants == ["raw", "qcow2"]
    assert osd.parameter_names == ["image"] and osd.trusted
    assert [o.name for o in osdef.diagnose()] == ["image"]


def test_raw_image_written_exactly_over_old_data(root: Path,
                                                 raw_image: tuple[Path, bytes]) -> None:
    img, data = raw_image
    d0 = make_disk()
    dirty(d0)  # a reinstall over a used disk: no old byte may survive in the image's holes
    logfile = osdef.run_create("image+raw", inst([d0], image=str(img)), reinstall=True)
    content = read_disk(d0)
    assert len(content) == DISK_MIB * MIB  # the file keeps its size
    assert content[:len(data)] == data
    assert content[len(data):] == b"\0" * (len(content) - len(data))
    assert Path(d0.path).stat().st_blocks * 512 < 5 * MIB  # zero ranges left sparse
    assert "writing raw image" in logfile.read_text()


def test_default_variant_is_raw(root: Path, raw_image: tuple[Path, bytes]) -> None:
    img, data = raw_image
    d0 = make_disk()
    osdef.run_create("image", inst([d0], os_name="image", image=str(img)))
    assert read_disk(d0)[:len(data)] == data


@needs_qemu_img
def test_qcow2_image(root: Path, raw_image: tuple[Path, bytes], tmp_path: Path) -> None:
    img, data = raw_image
    qcow = tmp_path / "image.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(img), str(qcow)],
                   check=True)
    d0 = make_disk()
    dirty(d0)
    osdef.run_create("image+qcow2", inst([d0], image=str(qcow)))
    content = read_disk(d0)
    assert len(content) == DISK_MIB * MIB
    assert content[:len(data)] == data
    assert content[len(data):].count(0) == len(content) - len(data)


@needs_qemu_img
def test_qcow2_with_backing_file_is_refused(root: Path, raw_image: tuple[Path, bytes],
                                            tmp_path: Path) -> None:
    img, _ = raw_image
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", str(img),
                    str(overlay)], check=True, capture_output=True)
    d0 = make_disk()
    with pytest.raises(errors.OpExecError, match="has a backing file"):
        osdef.run_create("image+qcow2", inst([d0], image=str(overlay)))
    with pytest.raises(errors.OpPrereqError, match="has a backing file"):
        osdef.run_verify_parameters("image+qcow2", {"image": str(overlay)})
    assert read_disk(d0) == b"\0" * (DISK_MIB * MIB)


def test_no_image_leaves_the_disk_blank(root: Path) -> None:
    d0 = make_disk()
    logfile = osdef.run_create("image+raw", inst([d0]))
    assert "leaving disk 0" in logfile.read_text() and "blank" in logfile.read_text()
    assert read_disk(d0) == b"\0" * (DISK_MIB * MIB)


def test_image_larger_than_disk_is_refused(root: Path, raw_image: tuple[Path, bytes]) -> None:
    img, _ = raw_image
    d0 = make_disk(size=2)
    with pytest.raises(errors.OpExecError) as ei:
        osdef.run_create("image+raw", inst([d0], image=str(img)))
    assert "more than disk 0 has (2097152 bytes)" in str(ei.value)
    assert "exit code 1" in str(ei.value) and "log file:" in str(ei.value)
    assert read_disk(d0) == b"\0" * (2 * MIB)


def test_missing_image_and_no_disk(root: Path, tmp_path: Path) -> None:
    d0 = make_disk()
    with pytest.raises(errors.OpExecError, match="does not exist"):
        osdef.run_create("image+raw", inst([d0], image=str(tmp_path / "absent.img")))
    with pytest.raises(errors.OpExecError, match="has no disks"):
        osdef.run_create("image+raw", inst([]))


def test_only_disk_0_is_written(root: Path, raw_image: tuple[Path, bytes]) -> None:
    img, data = raw_image
    d0, d1 = make_disk(idx=0), make_disk(idx=1)
    dirty(d1)
    osdef.run_create("image+raw", inst([d0, d1], image=str(img)))
    assert read_disk(d0)[:len(data)] == data
    assert read_disk(d1) == b"\xff" * (DISK_MIB * MIB)


def test_verify(root: Path, raw_image: tuple[Path, bytes], tmp_path: Path) -> None:
    img, _ = raw_image
    assert osdef.run_verify_parameters("image+raw", {"image": str(img)})
    assert osdef.run_verify_parameters("image+raw", {})
    assert osdef.run_verify_parameters("image+raw", {"image": ""})
    with pytest.raises(errors.OpPrereqError, match="does not exist"):
        osdef.run_verify_parameters("image+raw", {"image": str(tmp_path / "nope")})
    with pytest.raises(errors.OpPrereqError, match="must be an absolute path"):
        osdef.run_verify_parameters("image+raw", {"image": "image.raw"})
    with pytest.raises(errors.OpPrereqError, match="not a regular file or a block device"):
        osdef.run_verify_parameters("image+raw", {"image": str(tmp_path)})
    with pytest.raises(errors.ParameterError, match="allowed: image"):
        osdef.run_verify_parameters("image+raw", {"image-size": "1"})
    with pytest.raises(errors.OpPrereqError, match="allowed: raw, qcow2"):
        osdef.run_verify_parameters("image+vmdk", {})


@needs_qemu_img
def test_verify_qcow2_variant_checks_the_format(root: Path,
                                                raw_image: tuple[Path, bytes]) -> None:
    img, _ = raw_image
    with pytest.raises(errors.OpPrereqError, match="not a valid qcow2 image"):
        osdef.run_verify_parameters("image+qcow2", {"image": str(img)})


def test_rename(root: Path) -> None:
    d0 = make_disk()
    logfile = osdef.run_rename("image+raw", inst([d0]), "old.example.com")
    assert "old.example.com renamed to inst1.example.com" in logfile.read_text()


def _script_env(spec: InstanceSpec, extra: dict[str, str]) -> dict[str, str]:
    osd = osdef.get("image")
    env = osdef.instance_env(osd, "image+raw", spec)
    env.update(extra)
    return env


def test_export_then_import_round_trip(root: Path, raw_image: tuple[Path, bytes],
                                       tmp_path: Path) -> None:
    img, data = raw_image
    d0 = make_disk()
    osdef.run_create("image+raw", inst([d0], image=str(img)))
    osd = osdef.get("image")
    size_r, size_w = os.pipe()
    env = _script_env(inst([d0]), {"EXPORT_INDEX": "0", "EXPORT_DISK_PATH": d0.path,
                                              "EXPORT_DEVICE": d0.path,
                                              "EXP_SIZE_FD": str(size_w)})
    dump = tmp_path / "disk0.dump"
    with open(dump, "wb") as out:
        res = subprocess.run([osd.script("export")], env=env, cwd=osd.path, stdout=out,
                             stderr=subprocess.PIPE, pass_fds=(size_w,), check=False)
    os.close(size_w)
    assert res.returncode == 0, res.stderr
    assert os.read(size_r, 100) == f"{DISK_MIB * MIB}\n".encode()
    os.close(size_r)
    assert dump.read_bytes() == read_disk(d0)

    target = make_disk("inst2")
    dirty(target)
    env = _script_env(inst([target]), {"IMPORT_INDEX": "0",
                                                  "IMPORT_DISK_PATH": target.path,
                                                  "IMPORT_DEVICE": target.path})
    with open(dump, "rb") as src:
        res = subprocess.run([osd.script("import")], env=env, cwd=osd.path, stdin=src,
                             capture_output=True, check=False)
    assert res.returncode == 0, res.stderr
    assert read_disk(target) == read_disk(d0)
    assert read_disk(target)[:len(data)] == data


def test_import_larger_than_disk_fails_and_keeps_size(root: Path) -> None:
    target = make_disk(size=1)
    osd = osdef.get("image")
    env = _script_env(inst([target]), {"IMPORT_INDEX": "0",
                                                  "IMPORT_DISK_PATH": target.path})
    res = subprocess.run([osd.script("import")], env=env, cwd=osd.path,
                         input=b"x" * (2 * MIB), capture_output=True, check=False)
    assert res.returncode != 0
    assert b"larger than the disk" in res.stderr
    assert Path(target.path).stat().st_size == MIB


@pytest.mark.parametrize("script", ["create", "import", "export", "rename", "verify"])
def test_scripts_print_usage(root: Path, script: str) -> None:
    osd = osdef.get("image")
    res = subprocess.run([osd.script(script), "--help"], env={"PATH": "/bin:/usr/bin"},
                         capture_output=True, check=False)
    assert res.returncode == 0 and b"usage:" in res.stdout
    if script != "verify":
        res = subprocess.run([osd.script(script), "bogus"], env={"PATH": "/bin:/usr/bin"},
                             capture_output=True, check=False)
        assert res.returncode == 1 and b"usage:" in res.stderr
