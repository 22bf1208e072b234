"""Running OS scripts: the exact environment they get, logs, failures, timeouts, verify.

The test OS definitions here are real directories with shell scripts that
record what they received (their initial environment from /proc, their
arguments, working directory and stdin).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from gnt import errors, osdef
from gnt.hypervisor.base import DiskSpec, InstanceSpec, NICSpec
from gnt.osdef import runner

pytestmark = pytest.mark.unit

SCRIPTS = ("create", "import", "export", "rename", "verify")

# Records the script's own initial environment (exactly what it was given,
# nothing a shell adds), its arguments, cwd and stdin, into $DUMP/<script>.*
RECORDER = """#!/bin/sh
name=$(basename "$0")
cat /proc/$$/environ > "{dump}/$name.env"
printf '%s\\n' "$@" > "{dump}/$name.args"
pwd > "{dump}/$name.cwd"
readlink /proc/$$/fd/0 > "{dump}/$name.stdin"
"""


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    monkeypatch.setenv("GNT_ROOT", str(r))
    monkeypatch.setenv("GNT_TEST_LEAK", "must-not-reach-scripts")
    return r


@pytest.fixture()
def dump(tmp_path: Path) -> Path:
    d = tmp_path / "dump"
    d.mkdir()
    return d


def make_os(root: Path, name: str, body: str, api: str = "20\n",
            variants: str | None = "alpha\nbeta\n",
            params: str = "dhcp Use DHCP\nroot-size Size of /\n") -> Path:
    d = root / "srv/ganeti/os" / name
    d.mkdir(parents=True)
    (d / "ganeti_api_version").write_text(api)
    if variants is not None:
        (d / "variants.list").write_text(variants)
    (d / "parameters.list").write_text(params)
    for s in SCRIPTS:
        (d / s).write_text(body)
        (d / s).chmod(0o755)
    return d


def read_env(dump: Path, script: str) -> dict[str, str]:
    raw = (dump / f"{script}.env").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if item)


def spec(**kw: object) -> InstanceSpec:
    base: dict[str, object] = {
        "name": "inst1.example.com", "uuid": "11111111-2222-3333-4444-555555555555",
        "hypervisor": "kvm", "os": "rec+beta",
        "hvparams": {"kernel_path": "", "acpi": True, "disk_type": "paravirtual",
                     "nic_type": "e1000", "cpu_mask": None},
        "beparams": {"maxmem": 512, "minmem": 256, "vcpus": 2, "auto_balance": True},
        "osparams": {"dhcp": "yes", "root-size": "8G"},
        "disks": [
            DiskSpec(uuid="d0", name="root", index=0, path="/srv/ganeti/file-storage/i/d0",
                     mode="rw", size=1024, dev_type="file"),
            DiskSpec(uuid="d1", index=1, path="/dev/xenvg/d1", uri="kvm:/dev/xenvg/d1",
                     mode="ro", size=2048, dev_type="plain"),
            DiskSpec(uuid="d2", index=2, path="", uri="gluster://h/v/d2", size=10,
                     dev_type="gluster"),
        ],
        "nics": [
            NICSpec(uuid="n0", name="eth0", index=0, mac="aa:00:00:11:22:33", ip="192.0.2.10",
                    nicparams={"mode": "bridged", "link": "br0", "vlan": ".100"}),
            NICSpec(uuid="n1", index=1, mac="aa:00:00:44:55:66",
                    nicparams={"mode": "routed", "link": "", "vlan": ""}),
        ],
    }
    base.update(kw)
    return InstanceSpec(**base)  # type: ignore[arg-type]


CTX = osdef.InstanceContext(
    primary_node="node1.example.com", secondary_nodes=["node2.example.com", "node3"],
    ctime=1700000000.5, mtime=1700000100.25,
    file_drivers={"d2": "blktap2"},
    nic_networks={"n1": {"name": "net1", "uuid": "nu", "subnet": "192.0.2.0/24",
                         "gateway": None, "tags": ["a", "b"], "mac_prefix": ""}})

EXPECTED_CREATE_ENV = {
    "PATH": "/sbin:/bin:/usr/sbin:/usr/bin",
    "OS_API_VERSION": "20",
    "OS_NAME": "rec",
    "OS_VARIANT": "beta",
    "DEBUG_LEVEL": "1",
    "OSP_DHCP": "yes",
    "OSP_ROOT_SIZE": "8G",
    "INSTANCE_NAME": "inst1.example.com",
    "INSTANCE_OS": "rec+beta",
    "INSTANCE_UUID": "11111111-2222-3333-4444-555555555555",
    "INSTANCE_CTIME": "1700000000.5",
    "INSTANCE_MTIME": "1700000100.25",
    "INSTANCE_PRIMARY_NODE": "node1.example.com",
    "INSTANCE_SECONDARY_NODES": "node2.example.com node3",
    "HYPERVISOR": "kvm",
    "INSTANCE_HV_kernel_path": "",
    "INSTANCE_HV_acpi": "True",
    "INSTANCE_HV_disk_type": "paravirtual",
    "INSTANCE_HV_nic_type": "e1000",
    "INSTANCE_HV_cpu_mask": "",
    "INSTANCE_BE_maxmem": "512",
    "INSTANCE_BE_minmem": "256",
    "INSTANCE_BE_vcpus": "2",
    "INSTANCE_BE_auto_balance": "True",
    "DISK_COUNT": "3",
    "DISK_0_PATH": "/srv/ganeti/file-storage/i/d0",
    "DISK_0_ACCESS": "rw",
    "DISK_0_UUID": "d0",
    "DISK_0_NAME": "root",
    "DISK_0_SIZE": "1024",
    "DISK_0_FRONTEND_TYPE": "paravirtual",
    "DISK_0_BACKEND_TYPE": "file:loop",
    "DISK_1_PATH": "/dev/xenvg/d1",
    "DISK_1_URI": "kvm:/dev/xenvg/d1",
    "DISK_1_ACCESS": "ro",
    "DISK_1_UUID": "d1",
    "DISK_1_SIZE": "2048",
    "DISK_1_FRONTEND_TYPE": "paravirtual",
    "DISK_1_BACKEND_TYPE": "block",
    "DISK_2_URI": "gluster://h/v/d2",
    "DISK_2_ACCESS": "rw",
    "DISK_2_UUID": "d2",
    "DISK_2_SIZE": "10",
    "DISK_2_FRONTEND_TYPE": "paravirtual",
    "DISK_2_BACKEND_TYPE": "file:blktap2",
    "NIC_COUNT": "2",
    "NIC_0_MAC": "aa:00:00:11:22:33",
    "NIC_0_UUID": "n0",
    "NIC_0_NAME": "eth0",
    "NIC_0_IP": "192.0.2.10",
    "NIC_0_MODE": "bridged",
    "NIC_0_BRIDGE": "br0",
    "NIC_0_LINK": "br0",
    "NIC_0_VLAN": ".100",
    "NIC_0_FRONTEND_TYPE": "e1000",
    "NIC_1_MAC": "aa:00:00:44:55:66",
    "NIC_1_UUID": "n1",
    "NIC_1_MODE": "routed",
    "NIC_1_NETWORK_NAME": "net1",
    "NIC_1_NETWORK_UUID": "nu",
    "NIC_1_NETWORK_SUBNET": "192.0.2.0/24",
    "NIC_1_NETWORK_TAGS": "a b",
    "NIC_1_FRONTEND_TYPE": "e1000",
}


def test_create_gets_exactly_the_ganeti_environment(root: Path, dump: Path) -> None:
    osd = make_os(root, "rec", RECORDER.format(dump=dump))
    logfile = osdef.run_create("rec+beta", spec(), CTX, debug=1)
    assert read_env(dump, "create") == EXPECTED_CREATE_ENV
    assert (dump / "create.args").read_text() == "\n"  # no arguments
    assert (dump / "create.cwd").read_text().strip() == str(osd)
    assert (dump / "create.stdin").read_text().strip() == "/dev/null"
    assert logfile.parent == root / "var/log/ganeti/os"
    assert re.fullmatch(r"add-rec\+beta-inst1\.example\.com-"
                        r"\d{4}-\d\d-\d\d_\d\d_\d\d_\d\d\.log", logfile.name)
    assert logfile.exists()


def test_reinstall_default_variant_and_minimal_instance(root: Path, dump: Path) -> None:
    make_os(root, "rec", RECORDER.format(dump=dump))
    minimal = InstanceSpec(name="i2", uuid="u2", hypervisor="fake", hvparams={},
                           beparams={"maxmem": 128})
    osdef.run_create("rec", minimal, reinstall=True)
    assert read_env(dump, "create") == {
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "OS_API_VERSION": "20", "OS_NAME": "rec",
        "OS_VARIANT": "alpha", "DEBUG_LEVEL": "0", "INSTANCE_NAME": "i2",
        "INSTANCE_OS": "rec", "INSTANCE_UUID": "u2", "INSTANCE_PRIMARY_NODE": "",
        "INSTANCE_SECONDARY_NODES": "", "HYPERVISOR": "fake", "DISK_COUNT": "0",
        "NIC_COUNT": "0", "INSTANCE_BE_maxmem": "128", "INSTANCE_REINSTALL": "1"}


def test_rename_environment_and_log_name(root: Path, dump: Path) -> None:
    make_os(root, "rec", RECORDER.format(dump=dump))
    logfile = osdef.run_rename("rec+alpha", spec(name="new.example.com"), "old.example.com",
                               CTX)
    env = read_env(dump, "rename")
    assert env["OLD_INSTANCE_NAME"] == "old.example.com"
    assert env["INSTANCE_NAME"] == "new.example.com"
    assert env["OS_VARIANT"] == "alpha"
    assert "INSTANCE_REINSTALL" not in env
    assert logfile.name.startswith("rename-rec+alpha-old.example.com-new.example.com-")


def test_older_api_versions(root: Path, dump: Path) -> None:
    make_os(root, "v15", RECORDER.format(dump=dump), api="15\n10\n")
    osdef.run_create("v15+beta", spec(osparams={}))
    env = read_env(dump, "create")
    assert env["OS_API_VERSION"] == "15" and env["OS_VARIANT"] == "beta"
    (dump / "create.env").unlink()
    make_os(root, "v10", RECORDER.format(dump=dump), api="10\n")
    osdef.run_create("v10", spec(osparams={}))
    env = read_env(dump, "create")
    assert env["OS_API_VERSION"] == "10" and env["OS_VARIANT"] == ""


def test_unknown_variant_runs_nothing(root: Path, dump: Path) -> None:
    make_os(root, "rec", RECORDER.format(dump=dump))
    with pytest.raises(errors.OpPrereqError, match="allowed: alpha, beta"):
        osdef.run_create("rec+gamma", spec())
    assert not (dump / "create.env").exists()
    osdef.run_create("rec+gamma", spec(), force_variant=True)
    assert read_env(dump, "create")["OS_VARIANT"] == "gamma"


def test_missing_or_invalid_os(root: Path) -> None:
    with pytest.raises(errors.OpPrereqError, match="not found") as ei:
        osdef.run_create("absent", spec())
    assert ei.value.ecode == errors.ECODE_NOENT
    d = make_os(root, "broken", "#!/bin/sh\n")
    (d / "create").chmod(0o644)
    with pytest.raises(errors.OpPrereqError, match="not executable"):
        osdef.run_create("broken", spec())


def test_failure_reports_exit_code_tail_and_log(root: Path) -> None:
    body = "#!/bin/sh\ni=1\nwhile [ $i -le 50 ]; do echo \"line $i\"; i=$((i+1)); done\n" \
           "echo 'to stderr' >&2\nexit 3\n"
    make_os(root, "fail", body)
    with pytest.raises(errors.OpExecError) as ei:
        osdef.run_create("fail", spec(), timeout=30)
    msg = str(ei.value)
    assert "exited with exit code 3" in msg
    assert "line 50" in msg and "to stderr" in msg and "line 32" in msg
    assert "line 31\n" not in msg  # only the last 20 lines
    logpath = Path(msg.rsplit("log file: ", 1)[1])
    assert logpath.parent == root / "var/log/ganeti/os"
    text = logpath.read_text()
    assert text.startswith("line 1\n") and "to stderr" in text


def test_one_log_file_per_run(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two runs within one second get two files (a -2 suffix), each error
    # quotes its own run only
    monkeypatch.setattr(runner.time, "strftime", lambda fmt: "2024-01-01_00_00_00")
    make_os(root, "echo", "#!/bin/sh\necho \"run for [$INSTANCE_REINSTALL]\"\n"
                          "[ -z \"$INSTANCE_REINSTALL\" ]\n")
    logfile = osdef.run_create("echo", spec())
    assert logfile.name == "add-echo-inst1.example.com-2024-01-01_00_00_00.log"
    with pytest.raises(errors.OpExecError) as ei:
        osdef.run_create("echo", spec(), reinstall=True)
    second = logfile.with_name("add-echo-inst1.example.com-2024-01-01_00_00_00-2.log")
    assert f"log file: {second}" in str(ei.value)
    assert "run for [1]" in str(ei.value) and "run for []" not in str(ei.value)
    assert logfile.read_text() == "run for []\n"
    assert second.read_text() == "run for [1]\n"
    third = osdef.run_rename("echo", spec(), "old")
    assert third.name == "rename-echo-old-inst1.example.com-2024-01-01_00_00_00.log"


def test_log_names_replace_slashes(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner.time, "strftime", lambda fmt: "2024-01-01_00_00_00")
    assert runner.log_file_name("export", "a/b", "i", "disk0") == \
        root / "var/log/ganeti/os/export-a_b-i-disk0-2024-01-01_00_00_00.log"


def test_log_dir_not_writable(root: Path) -> None:
    make_os(root, "ok", "#!/bin/sh\n")
    (root / "var/log/ganeti").mkdir(parents=True)
    (root / "var/log/ganeti/os").write_text("a file, not a directory")
    with pytest.raises(errors.OpExecError, match="Cannot create the OS log file"):
        osdef.run_create("ok", spec())


def test_signal_is_reported(root: Path) -> None:
    make_os(root, "kill", "#!/bin/sh\nkill -9 $$\n")
    with pytest.raises(errors.OpExecError, match="killed by signal SIGKILL"):
        osdef.run_create("kill", spec())


def test_timeout_kills_the_process_group(root: Path, dump: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "KILL_GRACE", 0.5)
    body = f"#!/bin/sh\ntrap '' TERM\nsleep 60 &\necho $! > {dump}/child\nsleep 60\n"
    make_os(root, "slow", body)
    start = time.monotonic()
    with pytest.raises(errors.OpExecError, match="timed out after 0.3 seconds"):
        osdef.run_create("slow", spec(), timeout=0.3)
    assert time.monotonic() - start < 10
    child = int((dump / "child").read_text())
    for _ in range(50):  # the background sleep got the KILL too
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("child of the timed-out script still alive")


def test_verify_parameters(root: Path, dump: Path) -> None:
    make_os(root, "rec", RECORDER.format(dump=dump))
    assert osdef.run_verify_parameters("rec+beta", {"dhcp": "no", "root-size": "2G"})
    assert (dump / "verify.args").read_text() == "parameters\n"
    assert read_env(dump, "verify") == {
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "OS_API_VERSION": "20", "OS_NAME": "rec",
        "OS_VARIANT": "beta", "DEBUG_LEVEL": "0", "OSP_DHCP": "no", "OSP_ROOT_SIZE": "2G"}


def test_verify_rejections(root: Path, dump: Path) -> None:
    body = "#!/bin/sh\ncase \"$OSP_DHCP\" in ''|yes|no) exit 0;; esac\n" \
           "echo \"Invalid value '$OSP_DHCP' for dhcp\" >&2\nexit 1\n"
    make_os(root, "chk", body)
    assert osdef.run_verify_parameters("chk", {"dhcp": "yes"})
    with pytest.raises(errors.OpPrereqError) as ei:
        osdef.run_verify_parameters("chk", {"dhcp": "maybe"})
    assert "Invalid value 'maybe' for dhcp" in str(ei.value)
    assert "exit code 1" in str(ei.value) and ei.value.ecode == errors.ECODE_INVAL
    # unknown names are refused before running anything
    with pytest.raises(errors.ParameterError, match="colour.*allowed: dhcp, root-size"):
        osdef.run_verify_parameters("chk", {"colour": "red"})
    with pytest.raises(errors.OpPrereqError, match="allowed: alpha, beta"):
        osdef.run_verify_parameters("chk+nope", {})


def test_verify_missing_os_and_older_api(root: Path, dump: Path) -> None:
    with pytest.raises(errors.OpPrereqError, match="Invalid OS 'absent'"):
        osdef.run_verify_parameters("absent", {})
    assert osdef.run_verify_parameters("absent", {}, required=False) is False
    # API 15: no verify script to run, nothing checked
    make_os(root, "old", RECORDER.format(dump=dump), api="15\n")
    assert osdef.run_verify_parameters("old", {"anything": "x"}) is True
    assert not (dump / "verify.env").exists()


def test_verify_timeout(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "KILL_GRACE", 0.2)
    make_os(root, "hang", "#!/bin/sh\necho checking\nsleep 60\n")
    with pytest.raises(errors.OpPrereqError, match="timed out after 0.3 seconds.*checking"):
        osdef.run_verify_parameters("hang", {}, timeout=0.3)


def test_osp_var_names() -> None:
    assert osdef.osp_var("dhcp") == "OSP_DHCP"
    assert osdef.osp_var("root-size") == "OSP_ROOT_SIZE"
    assert osdef.osp_var("Mixed_case") == "OSP_MIXED_CASE"


# --- export / import ---------------------------------------------------------

# export: record the environment and fds, announce a size, dump a disk to
# stdout and a message to stderr (the log)
EXPORTER = """#!/bin/bash
cat /proc/$$/environ > "{dump}/export.env"
readlink /proc/$$/fd/0 > "{dump}/export.stdin"
echo "exporting disk $EXPORT_INDEX" >&2
if [ -n "$EXP_SIZE_FD" ]; then echo 11 >&"$EXP_SIZE_FD"; fi
printf 'disk-data-%s\\n' "$EXPORT_INDEX"
"""

IMPORTER = """#!/bin/sh
cat /proc/$$/environ > "{dump}/import.env"
cat > "{dump}/import.data"
echo "imported disk $IMPORT_INDEX"
"""

TRANSFER_VARS = {"EXPORT_INDEX", "EXPORT_DISK_PATH", "EXPORT_DEVICE", "EXPORT_DISK_URI",
                 "EXP_SIZE_FD", "IMPORT_INDEX", "IMPORT_DISK_PATH", "IMPORT_DEVICE",
                 "IMPORT_DISK_URI"}


def _transfer_os(root: Path, dump: Path) -> Path:
    d = make_os(root, "rec", "#!/bin/sh\nexit 0\n")
    (d / "export").write_text(EXPORTER.format(dump=dump))
    (d / "import").write_text(IMPORTER.format(dump=dump))
    return d


def test_export_environment_streams_and_size(root: Path, dump: Path, tmp_path: Path) -> None:
    _transfer_os(root, dump)
    out = tmp_path / "dump.bin"
    with open(out, "wb") as f:
        res = osdef.run_export("rec+beta", spec(), 1, f.fileno(), CTX, debug=1)
    assert out.read_bytes() == b"disk-data-1\n"  # stdout only: stderr went to the log
    assert res.expected_size == 11
    assert res.log.read_text() == "exporting disk 1\n"
    assert re.fullmatch(r"export-rec\+beta-inst1\.example\.com-disk1-"
                        r"\d{4}-\d\d-\d\d_\d\d_\d\d_\d\d\.log", res.log.name)
    env = read_env(dump, "export")
    assert (dump / "export.stdin").read_text().strip() == "/dev/null"
    extra = {k: v for k, v in env.items() if k in TRANSFER_VARS}
    assert extra == {"EXPORT_INDEX": "1", "EXPORT_DISK_PATH": "/dev/xenvg/d1",
                     "EXPORT_DEVICE": "/dev/xenvg/d1", "EXPORT_DISK_URI": "kvm:/dev/xenvg/d1",
                     "EXP_SIZE_FD": extra["EXP_SIZE_FD"]}
    assert int(extra["EXP_SIZE_FD"]) > 2
    # everything else is the instance environment, as create gets it
    assert {k: v for k, v in env.items() if k not in TRANSFER_VARS} == EXPECTED_CREATE_ENV


def test_export_of_uri_only_disk_and_no_size(root: Path, dump: Path, tmp_path: Path) -> None:
    d = _transfer_os(root, dump)
    (d / "export").write_text(f"#!/bin/sh\ncat /proc/$$/environ > {dump}/export.env\n")
    with open(tmp_path / "out", "wb") as f:
        res = osdef.run_export("rec", spec(), 2, f.fileno())
    env = read_env(dump, "export")
    assert env["EXPORT_DISK_URI"] == "gluster://h/v/d2" and env["EXPORT_INDEX"] == "2"
    assert "EXPORT_DISK_PATH" not in env and "EXPORT_DEVICE" not in env
    assert res.expected_size is None


def test_import_environment_and_stdin(root: Path, dump: Path, tmp_path: Path) -> None:
    _transfer_os(root, dump)
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00\x01restored\xff" * 1000)
    with open(src, "rb") as f:
        logfile = osdef.run_import("rec+alpha", spec(), 0, f.fileno(), CTX)
    assert (dump / "import.data").read_bytes() == src.read_bytes()
    assert logfile.read_text() == "imported disk 0\n"
    assert logfile.name.startswith("import-rec+alpha-inst1.example.com-disk0-")
    env = read_env(dump, "import")
    extra = {k: v for k, v in env.items() if k in TRANSFER_VARS}
    assert extra == {"IMPORT_INDEX": "0",
                     "IMPORT_DISK_PATH": "/srv/ganeti/file-storage/i/d0",
                     "IMPORT_DEVICE": "/srv/ganeti/file-storage/i/d0"}
    assert env["OS_VARIANT"] == "alpha"


def test_transfer_failures(root: Path, dump: Path, tmp_path: Path) -> None:
    d = _transfer_os(root, dump)
    with pytest.raises(errors.OpPrereqError, match="has no disk 3 .*0 to 2"):
        osdef.run_export("rec", spec(), 3, 1)
    assert not (root / "var/log/ganeti/os").exists() or not any(
        (root / "var/log/ganeti/os").glob("export-*"))
    (d / "import").write_text("#!/bin/sh\necho 'disk full' >&2\nexit 28\n")
    with open(os.devnull, "rb") as f, pytest.raises(errors.OpExecError) as ei:
        osdef.run_import("rec", spec(), 0, f.fileno())
    assert "OS import script failed (exited with exit code 28)" in str(ei.value)
    assert "disk full" in str(ei.value)


def test_network_name_uuid_tags_always_given(root: Path, dump: Path) -> None:
    make_os(root, "rec", RECORDER.format(dump=dump))
    ctx = osdef.InstanceContext(nic_networks={"n0": {"name": "net0", "uuid": "nu0"}})
    osdef.run_create("rec", spec(), ctx)
    env = read_env(dump, "create")
    assert {k: v for k, v in env.items() if "NETWORK" in k} == {
        "NIC_0_NETWORK_NAME": "net0", "NIC_0_NETWORK_UUID": "nu0", "NIC_0_NETWORK_TAGS": ""}
