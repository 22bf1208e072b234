"""The ``ext`` disk template (gnt.storage.ext) against real providers: the
reference ``gnt-file`` provider shipped in the repo and small broken ones.

Each test gets its own GNT_ROOT with ``srv/ganeti/extstorage/gnt-file``
linked to the repo's provider, as test clusters have it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors, storage
from gnt.storage.base import BlockDevSpec
from gnt.storage.ext import ExtStorageDevice, sanitize_metadata

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PROVIDER = REPO / "extstorage" / "gnt-file"
MIB = 1024 * 1024


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    r = tmp_path / "root"
    es = r / "srv/ganeti/extstorage"
    es.mkdir(parents=True)
    (es / "gnt-file").symlink_to(PROVIDER)
    monkeypatch.setenv("GNT_ROOT", str(r))
    return r


def spec(size: int = 8, provider: str = "gnt-file", vol: str = "u1.ext.disk0",
         **params: str) -> BlockDevSpec:
    return BlockDevSpec(uuid="u1", dev_type=C.DT_EXT, logical_id=[provider, vol], size=size,
                        name="data", params={"provider": provider, **params})


def vol_dir(root: Path) -> Path:
    return root / "srv/ganeti/shared-file-storage/gnt-file"


def make_provider(root: Path, name: str, **bodies: str) -> None:
    d = root / "srv/ganeti/extstorage" / name
    d.mkdir()
    for s in C.ES_SCRIPTS_REQUIRED:
        (d / s).write_text(bodies.get(s, f'#!/bin/sh\nexec "{PROVIDER}/{s}" "$@"\n'))
        (d / s).chmod(0o755)
    (d / "parameters.list").write_text("dir Directory\n")


def test_registered_template() -> None:
    assert isinstance(storage.get(C.DT_EXT), ExtStorageDevice)
    assert C.DT_EXT in storage.implemented() and C.DT_EXT in C.DTS_IMPLEMENTED


def test_lifecycle_with_reference_provider(root: Path) -> None:
    dev = ExtStorageDevice()
    s = spec()
    info = dev.create(s)
    f = vol_dir(root) / "u1.ext.disk0"
    assert info.path == str(f) and info.uri is None and info.size == 8
    assert f.stat().st_size == 8 * MIB and f.stat().st_blocks == 0  # sparse
    with pytest.raises(errors.BlockDeviceError, match="already exists"):
        dev.create(s)
    assert f.exists()  # a refused create never removes the volume it found

    # assemble/shutdown are idempotent (shared storage: any node, any number of times)
    assert dev.assemble(s) == dev.assemble(s) == info
    dev.shutdown(s)
    dev.shutdown(s)
    assert dev.find(s) == info

    dev.grow(s, 4)
    assert f.stat().st_size == 12 * MIB
    dev.grow(s.model_copy(update={"size": 12}), 0)
    with pytest.raises(errors.BlockDeviceError, match="Cannot shrink"):
        dev.grow(s, -1)

    dev.setinfo(s, "originstname+inst1.example.com")
    assert (f.parent / "u1.ext.disk0.meta").read_text() == "originstname+inst1.example.com\n"
    dev.verify(s)
    assert dev.snapshot(s) == ["gnt-file", "u1.ext.disk0.snap"]
    assert (f.parent / "u1.ext.disk0.snap").stat().st_size == 12 * MIB
    dev.open(s, exclusive=False)  # optional scripts the provider lacks: no-ops
    dev.close(s)

    dev.remove(s)
    assert not f.exists() and not (f.parent / "u1.ext.disk0.meta").exists()
    dev.remove(s)  # removing a missing volume is fine with this provider
    assert dev.find(s) is None
    with pytest.raises(errors.BlockDeviceError, match="(?s)attach script failed.*not found"):
        dev.assemble(s)


def test_dir_parameter_and_log_files(root: Path, tmp_path: Path) -> None:
    dev = ExtStorageDevice()
    s = spec(dir="/elsewhere/vols")
    info = dev.create(s)
    assert info.path == str(root / "elsewhere/vols/u1.ext.disk0")
    logs = sorted(p.name.split("-gnt-file-")[0]
                  for p in (root / "var/log/ganeti/extstorage").iterdir())
    assert logs == ["create"]
    with pytest.raises(errors.BlockDeviceError, match="must be an absolute path"):
        dev.create(spec(dir="relative", vol="u2.ext.disk0"))


def test_userspace_access_returns_kvm_uri(root: Path) -> None:
    dev = ExtStorageDevice()
    s = spec(access=C.DISK_USERSPACE)
    info = dev.create(s)
    assert info.uri == f"file:{info.path}"
    assert dev.assemble(s).uri == f"file:{info.path}"
    if shutil.which("qemu-img"):  # QEMU really opens that URI
        out = subprocess.run(["qemu-img", "info", "--output=json", info.uri],
                             capture_output=True, text=True, check=True)
        assert '"virtual-size": 8388608' in out.stdout
    with pytest.raises(errors.BlockDeviceError, match="Invalid access mode"):
        dev.assemble(spec(access="sideways"))


def test_userspace_without_uri_and_uri_only_provider(root: Path) -> None:
    make_provider(root, "pathonly", attach='#!/bin/sh\n"' + str(PROVIDER) + '/attach" | head -1\n')
    make_provider(root, "urionly", attach="#!/bin/sh\necho\necho kvm:nbd:localhost:10809\n")
    dev = ExtStorageDevice()
    dev.create(spec(provider="pathonly"))
    with pytest.raises(errors.BlockDeviceError,
                       match="Userspace access is not supported by the 'pathonly'"):
        dev.assemble(spec(provider="pathonly", access=C.DISK_USERSPACE))
    info = dev.assemble(spec(provider="urionly", access=C.DISK_USERSPACE))
    assert info.path == "" and info.uri == "nbd:localhost:10809" and info.size == 8
    with pytest.raises(errors.BlockDeviceError, match="gives no local block device"):
        dev.assemble(spec(provider="urionly"))


def test_failing_create_is_reported_and_trusted(root: Path) -> None:
    make_provider(root, "bad", create='#!/bin/sh\necho "backend exploded" >&2\nexit 7\n')
    with pytest.raises(errors.BlockDeviceError) as ei:
        ExtStorageDevice().create(spec(provider="bad"))
    msg = str(ei.value)
    assert "provider 'bad': create script failed for volume 'u1.ext.disk0'" in msg
    assert "exit code 7" in msg and "backend exploded" in msg and "log file:" in msg
    assert not vol_dir(root).exists()
    # a create that fails after making the volume: gnt does not remove what it
    # did not see created (it may be a volume the create refused to overwrite)
    body = f'#!/bin/sh\n"{PROVIDER}/create"\nexit 7\n'
    make_provider(root, "half", create=body)
    with pytest.raises(errors.BlockDeviceError, match="exit code 7"):
        ExtStorageDevice().create(spec(provider="half"))
    assert [p.name for p in vol_dir(root).iterdir()] == ["u1.ext.disk0"]


def test_garbage_attach_after_create_leaves_nothing(root: Path) -> None:
    make_provider(root, "junk", attach="#!/bin/sh\necho 'Attached volume successfully!'\n")
    with pytest.raises(errors.BlockDeviceError) as ei:
        ExtStorageDevice().create(spec(provider="junk"))
    msg = str(ei.value)
    assert "printed unusable output" in msg and "not an absolute path" in msg
    assert "Attached volume successfully!" in msg and "new volume was removed again" in msg
    assert list(vol_dir(root).iterdir()) == []


def test_undo_failure_is_reported(root: Path) -> None:
    make_provider(root, "sticky", attach="#!/bin/sh\nexit 1\n",
                  remove="#!/bin/sh\necho 'remove refused' >&2\nexit 2\n")
    with pytest.raises(errors.BlockDeviceError,
                       match="(?s)attach script failed.*removing the partial volume failed "
                             "too.*remove refused"):
        ExtStorageDevice().create(spec(provider="sticky"))


def test_missing_provider_and_bad_logical_id(root: Path) -> None:
    dev = ExtStorageDevice()
    with pytest.raises(errors.BlockDeviceError, match="'nosuch' is not usable"):
        dev.create(spec(provider="nosuch"))
    with pytest.raises(errors.BlockDeviceError, match="not usable"):
        dev.find(spec(provider="nosuch"))
    for lid in (["gnt-file"], ["gnt-file", ""], ["gnt-file", "a/b"], ["../x", "v"]):
        bad = spec().model_copy(update={"logical_id": lid})
        with pytest.raises(errors.BlockDeviceError, match="Invalid"):
            dev.assemble(bad)
    with pytest.raises(errors.BlockDeviceError, match="exclusive storage"):
        dev.create(spec(), excl_stor=True)
    with pytest.raises(errors.BlockDeviceError, match="Invalid size"):
        dev.create(spec(size=0))


def test_scripts_see_disk_identity(root: Path, tmp_path: Path) -> None:
    rec = tmp_path / "env"
    make_provider(root, "rec", setinfo=f'#!/bin/sh\nenv > "{rec}"\n')
    ExtStorageDevice().setinfo(spec(provider="rec", dir="/d"), "originstname+a b/c")
    env = dict(line.split("=", 1) for line in rec.read_text().splitlines() if "=" in line)
    assert env["VOL_NAME"] == "u1.ext.disk0" and env["VOL_UUID"] == "u1"
    assert env["VOL_CNAME"] == "data" and env["VOL_METADATA"] == "originstname+a_b_c"
    assert env["EXTP_PROVIDER"] == "rec" and env["EXTP_DIR"] == "/d"
    assert env["EXTP_ACCESS"] == C.DISK_KERNELSPACE  # filled with the ext default
    assert env["GNT_ROOT"] == str(root)


def test_sanitize_metadata() -> None:
    assert sanitize_metadata("originstname+web-1.example.com") == \
        "originstname+web-1.example.com"
    assert sanitize_metadata("-a b/c") == "_a_b_c"
    assert len(sanitize_metadata("x" * 300)) == 128


def test_reference_scripts_usage(root: Path) -> None:
    for s in C.ES_SCRIPTS_REQUIRED + ("snapshot",):
        res = subprocess.run([str(PROVIDER / s), "--help"], capture_output=True, text=True,
                             check=False)
        assert res.returncode == 0 and "usage" in res.stdout, s
        res = subprocess.run([str(PROVIDER / s), "bogus", "args"], capture_output=True,
                             text=True, check=False)
        assert res.returncode == 1 and "usage" in res.stderr, s


def test_reference_grow_refuses_bad_sizes(root: Path) -> None:
    dev = ExtStorageDevice()
    s = spec()
    dev.create(s)
    env = {**os.environ, "GNT_ROOT": str(root), "VOL_NAME": "u1.ext.disk0",
           "VOL_SIZE": "8", "VOL_NEW_SIZE": "4"}
    res = subprocess.run([str(PROVIDER / "grow")], env=env, capture_output=True, text=True,
                         check=False)
    assert res.returncode == 1 and "is not above" in res.stderr
    res = subprocess.run([str(PROVIDER / "create")], env={**env, "VOL_SIZE": "1x"},
                         capture_output=True, text=True, check=False)
    assert res.returncode == 1 and "not a positive number" in res.stderr


def test_two_nodes_share_a_volume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two node roots seeing one shared directory, as in a test cluster
    shared = tmp_path / "shared"
    shared.mkdir()
    roots = []
    for n in ("a", "b"):
        r = tmp_path / n
        (r / "srv/ganeti/extstorage").mkdir(parents=True)
        (r / "srv/ganeti/extstorage/gnt-file").symlink_to(PROVIDER)
        (r / "srv/ganeti/shared-file-storage").symlink_to(shared)
        roots.append(r)
    dev, s = ExtStorageDevice(), spec()
    monkeypatch.setenv("GNT_ROOT", str(roots[0]))
    dev.create(s)
    on_a = dev.assemble(s)
    monkeypatch.setenv("GNT_ROOT", str(roots[1]))
    on_b = dev.assemble(s)  # the migration target attaches while the source still has it
    assert os.path.samefile(on_a.path, on_b.path) and on_a.path != on_b.path
    monkeypatch.setenv("GNT_ROOT", str(roots[0]))
    dev.shutdown(s)  # the source lets go; the target keeps its volume
    monkeypatch.setenv("GNT_ROOT", str(roots[1]))
    assert dev.find(s) == on_b
    dev.remove(s)
    assert list((shared / "gnt-file").iterdir()) == []


@pytest.mark.parametrize("access", [C.DISK_KERNELSPACE, C.DISK_USERSPACE])
def test_kvm_gets_uri_only_with_userspace_access(root: Path, access: str) -> None:
    from gnt.hypervisor.base import InstanceSpec
    from gnt.hypervisor.kvm import cmdline
    from gnt.noded.procs.instance import assemble_disks

    s = spec(access=access)
    path = ExtStorageDevice().create(s).path
    inst = InstanceSpec(name="i1", uuid="abcdef12-0000", hypervisor="kvm",
                        hvparams={"kvm_path": "/usr/bin/qemu-system-x86_64"},
                        beparams={"maxmem": 128, "vcpus": 1})
    filled = assemble_disks(inst, [s.model_dump(mode="json")])  # what instance_start does
    argv = cmdline.build(filled, cmdline.LaunchContext(accel="tcg", pidfile="/p", qmp="/q",
                                                       monitor="/m"))
    drive = argv[argv.index("-drive") + 1]
    src = f"file:{path}" if access == C.DISK_USERSPACE else path
    assert drive.startswith(f"file={src},format=raw"), drive
