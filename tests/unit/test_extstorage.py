"""The ExtStorage interface: provider discovery and validation, the scripts'
exact environment, logs, failures, timeouts and ``attach`` output parsing.

Providers here are real directories with shell scripts; the recording
script dumps its own initial environment from /proc (exactly what it was
given), its arguments, cwd and stdin.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors
from gnt.extstorage import attach, diskparams, provider, query, runner
from gnt.extstorage.environment import extp_var, volume_env

pytestmark = pytest.mark.unit

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


def make_provider(base: Path, name: str, scripts: dict[str, str | None] | None = None,
                  params: str | None = "dir Where volumes go\nfromsnap Snapshot to clone\n",
                  default: str = "#!/bin/sh\nexit 0\n") -> Path:
    """A provider directory with every required script (``default`` body)
    plus ``scripts`` (name -> body; None removes the script)."""
    d = base / name
    d.mkdir(parents=True)
    bodies: dict[str, str | None] = {s: default for s in C.ES_SCRIPTS_REQUIRED}
    bodies.update(scripts or {})
    for s, body in bodies.items():
        if body is None:
            continue
        (d / s).write_text(body)
        (d / s).chmod(0o755)
    if params is not None:
        (d / "parameters.list").write_text(params)
    return d


def es_base(root: Path) -> Path:
    return root / "srv/ganeti/extstorage"


def read_env(path: Path) -> dict[str, str]:
    items = [x for x in path.read_bytes().split(b"\0") if x]
    return dict(x.decode().split("=", 1) for x in items)


# --- discovery and validation ---

def test_valid_provider_found_in_search_path(root: Path) -> None:
    d = make_provider(es_base(root), "pvdr1", {"open": "#!/bin/sh\n"})
    p = provider.get("pvdr1")
    assert p.valid and p.path == str(d)
    assert set(p.scripts) == set(C.ES_SCRIPTS_REQUIRED) | {"open"}
    assert p.script("close") is None and p.script("snapshot") is None
    assert p.parameters == [("dir", "Where volumes go"), ("fromsnap", "Snapshot to clone")]
    assert p.parameter_names == ["dir", "fromsnap"]


@pytest.mark.parametrize(("change", "expect"), [
    ({"grow": None}, "File 'grow' under path"),
    ({"verify": None}, "'verify'"),
])
def test_missing_required_script_invalid(root: Path, change: dict[str, str | None],
                                         expect: str) -> None:
    make_provider(es_base(root), "p", change)
    p = provider.find("p")
    assert not p.valid and expect in p.diagnose and "missing" in p.diagnose
    with pytest.raises(errors.BlockDeviceError, match="not usable on this node"):
        p.require_valid()


def test_not_executable_and_not_regular(root: Path) -> None:
    d = make_provider(es_base(root), "p")
    (d / "attach").chmod(0o644)
    (d / "detach").unlink()
    (d / "detach").mkdir()
    p = provider.find("p")
    assert p.diagnose == f"File 'attach' under path '{d}' is not executable"
    (d / "attach").chmod(0o755)
    assert provider.find("p").diagnose == f"File 'detach' under path '{d}' is not a regular file"


def test_missing_parameters_list_invalid(root: Path) -> None:
    make_provider(es_base(root), "p", params=None)
    p = provider.find("p")
    assert not p.valid and "parameters.list" in p.diagnose


def test_optional_script_present_but_broken_is_invalid(root: Path) -> None:
    d = make_provider(es_base(root), "p", {"snapshot": "#!/bin/sh\n"})
    (d / "snapshot").chmod(0o600)
    assert "not executable" in provider.find("p").diagnose


def test_parameters_list_blank_lines_and_tabs(root: Path) -> None:
    make_provider(es_base(root), "p", params="\n a\tfirst one \n\nb\nc  spaced  out\n")
    assert provider.find("p").parameters == [("a", "first one"), ("b", ""),
                                             ("c", "spaced  out")]


def test_unknown_provider_and_bad_names(root: Path) -> None:
    p = provider.find("nosuch")
    assert not p.valid and "not found in search path" in p.diagnose
    with pytest.raises(errors.BlockDeviceError, match="nosuch"):
        provider.get("nosuch")
    for bad in ("", "../etc", "a/b", ".hidden", "-x"):
        with pytest.raises(errors.BlockDeviceError, match="Invalid ExtStorage provider name"):
            provider.find(bad)


def test_diagnose_lists_shadowed_and_invalid(tmp_path: Path, root: Path) -> None:
    first, second = tmp_path / "s1", tmp_path / "s2"
    make_provider(first, "dup")
    make_provider(second, "dup", params=None)
    make_provider(second, "other")
    (second / "not-a-dir").write_text("x")
    found = provider.diagnose([first, second, tmp_path / "missing"])
    assert [(p.name, p.path, p.valid) for p in found] == [
        ("dup", str(first / "dup"), True), ("dup", str(second / "dup"), False),
        ("other", str(second / "other"), True)]
    assert provider.find("dup", [first, second]).path == str(first / "dup")


def test_symlinked_provider(tmp_path: Path, root: Path) -> None:
    real = make_provider(tmp_path / "elsewhere", "real")
    es_base(root).mkdir(parents=True)
    (es_base(root) / "linked").symlink_to(real)
    p = provider.get("linked")
    assert p.name == "linked" and p.valid


# --- environment ---

def test_volume_env_shape(root: Path) -> None:
    env = volume_env("u.ext.disk0", {"provider": "p", "access": "kernelspace",
                                     "fromSnap": "s1", "n": 3, "none": None},
                     size=1024, new_size=2048, metadata="originstname+i1", cname="data",
                     uuid="u-1", snap_name="u.snap", snap_size=1024, exclusive=False)
    assert env == {
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "LC_ALL": "C", "GNT_ROOT": str(root),
        "VOL_NAME": "u.ext.disk0", "EXTP_PROVIDER": "p", "EXTP_ACCESS": "kernelspace",
        "EXTP_FROMSNAP": "s1", "EXTP_N": "3", "EXTP_NONE": "",
        "VOL_SIZE": "1024", "VOL_NEW_SIZE": "2048", "VOL_METADATA": "originstname+i1",
        "VOL_CNAME": "data", "VOL_UUID": "u-1", "VOL_SNAPSHOT_NAME": "u.snap",
        "VOL_SNAPSHOT_SIZE": "1024", "VOL_OPEN_EXCLUSIVE": "False"}
    assert set(volume_env("v", {})) == {"PATH", "LC_ALL", "GNT_ROOT", "VOL_NAME"}
    assert extp_var("nas-ip") == "EXTP_NAS-IP"  # Ganeti only upper-cases


def test_script_gets_exactly_its_environment(root: Path, dump: Path) -> None:
    make_provider(es_base(root), "rec", {"grow": RECORDER.format(dump=dump)})
    p = provider.get("rec")
    env = volume_env("vol1", {"dir": "/x"}, size=10, new_size=20, uuid="u")
    assert runner.run_action(p, C.ES_ACTION_GROW, "vol1", env) == ""
    assert read_env(dump / "grow.env") == env  # nothing leaked from our environment
    assert (dump / "grow.args").read_text() == "\n"
    assert (dump / "grow.cwd").read_text().strip() == p.path
    assert (dump / "grow.stdin").read_text().strip() == "/dev/null"


def test_verify_gets_its_checks_as_arguments(root: Path, dump: Path) -> None:
    make_provider(es_base(root), "rec", {"verify": RECORDER.format(dump=dump)})
    runner.run_action(provider.get("rec"), C.ES_ACTION_VERIFY, "v", volume_env("v", {}),
                      ["parameters"])
    assert (dump / "verify.args").read_text() == "parameters\n"


# --- runner: logs, failures, timeouts ---

def test_logged_action_writes_ganeti_log_file(root: Path) -> None:
    make_provider(es_base(root), "p", {"create": "#!/bin/sh\necho out; echo err >&2\n"})
    runner.run_action(provider.get("p"), C.ES_ACTION_CREATE, "vol/1", volume_env("v", {}))
    logs = list((root / "var/log/ganeti/extstorage").iterdir())
    assert len(logs) == 1
    assert logs[0].name.startswith("create-p-vol_1-") and logs[0].name.endswith(".log")
    assert logs[0].read_text() == "out\nerr\n"


def test_failing_script_error_has_status_tail_and_log(root: Path) -> None:
    body = "#!/bin/sh\nfor i in $(seq 1 30); do echo line$i; done\necho 'no space' >&2\nexit 3\n"
    make_provider(es_base(root), "p", {"create": body})
    with pytest.raises(errors.BlockDeviceError) as ei:
        runner.run_action(provider.get("p"), C.ES_ACTION_CREATE, "vol1", volume_env("v", {}))
    msg = str(ei.value)
    assert "provider 'p': create script failed for volume 'vol1'" in msg
    assert "exited with exit code 3" in msg and "no space" in msg
    assert "line30" in msg and "line5\n" not in msg  # only the last lines
    assert "log file: " + str(root / "var/log/ganeti/extstorage") in msg
    assert ei.value.ecode == errors.ECODE_ENVIRON


def test_attach_not_logged_stdout_returned_stderr_in_error(root: Path) -> None:
    make_provider(es_base(root), "p", {"attach": "#!/bin/sh\necho /dev/null\necho note >&2\n"})
    p = provider.get("p")
    assert runner.run_action(p, C.ES_ACTION_ATTACH, "v", volume_env("v", {})) == "/dev/null\n"
    assert not (root / "var/log/ganeti/extstorage").exists()
    make_provider(es_base(root), "q", {"attach": "#!/bin/sh\necho 'lun gone' >&2\nexit 1\n"})
    with pytest.raises(errors.BlockDeviceError, match="(?s)attach script failed.*lun gone"):
        runner.run_action(provider.get("q"), C.ES_ACTION_ATTACH, "v", volume_env("v", {}))


def test_timeout_kills_process_group(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "KILL_GRACE", 0.5)
    body = "#!/bin/sh\ntrap '' TERM\nsleep 30 &\necho $! > \"$EXTP_PIDFILE\"\nwait\n"
    make_provider(es_base(root), "p", {"detach": body})
    pidfile = root / "child.pid"
    start = time.monotonic()
    with pytest.raises(errors.BlockDeviceError, match="timed out after 0.5 seconds"):
        runner.run_action(provider.get("p"), C.ES_ACTION_DETACH, "v",
                          volume_env("v", {"pidfile": str(pidfile)}), timeout=0.5)
    assert time.monotonic() - start < 10
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(child)  # the whole group was killed, not just the script


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_absent_optional_script_skipped_required_refused(root: Path) -> None:
    make_provider(es_base(root), "p")
    p = provider.get("p")
    assert runner.run_action(p, C.ES_ACTION_OPEN, "v", volume_env("v", {})) is None
    broken = p.model_copy(update={"scripts": {}})
    with pytest.raises(errors.BlockDeviceError, match="has no 'create' script"):
        runner.run_action(broken, C.ES_ACTION_CREATE, "v", volume_env("v", {}))


def test_script_that_cannot_start(root: Path) -> None:
    make_provider(es_base(root), "p", {"remove": "#!/nonexistent/interpreter\n"})
    with pytest.raises(errors.BlockDeviceError, match="could not be started"):
        runner.run_action(provider.get("p"), C.ES_ACTION_REMOVE, "v", volume_env("v", {}))


def test_invalid_provider_refused_before_running(root: Path, dump: Path) -> None:
    make_provider(es_base(root), "p", {"create": RECORDER.format(dump=dump)}, params=None)
    with pytest.raises(errors.BlockDeviceError, match="parameters.list"):
        runner.run_action(provider.find("p"), C.ES_ACTION_CREATE, "v", volume_env("v", {}))
    assert not (dump / "create.env").exists()


# --- attach output ---

def test_parse_path_and_uris(tmp_path: Path) -> None:
    f = tmp_path / "vol"
    f.write_bytes(b"")
    info = attach.parse("p", "v", f"{f}\nkvm:file:{f}\nxen:phy:{f}\n\n")
    assert info.path == str(f)
    assert info.uri_for("kvm") == f"file:{f}" and info.uri_for("KVM") == f"file:{f}"
    assert info.uri_for("fake") is None


def test_parse_userspace_only_and_junk_lines(tmp_path: Path) -> None:
    info = attach.parse("p", "v", "\nkvm:rbd:pool/img\nsome chatter\n")
    assert info.path == "" and info.uris == ["kvm:rbd:pool/img"]


@pytest.mark.parametrize(("output", "why"), [
    ("", "neither a device path nor a userspace URI"),
    ("\n\n", "neither a device path nor a userspace URI"),
    ("Volume attached OK\n", "is not an absolute path"),
    ("/nonexistent/dev/x\n", "cannot stat"),
    ("/tmp\n", "neither a block device nor a regular file"),
])
def test_parse_garbage(output: str, why: str) -> None:
    with pytest.raises(errors.BlockDeviceError) as ei:
        attach.parse("prov", "vol", output)
    assert why in str(ei.value) and "prov" in str(ei.value) and "vol" in str(ei.value)
    assert repr(output) in str(ei.value)


def test_device_size(tmp_path: Path) -> None:
    f = tmp_path / "vol"
    f.write_bytes(b"")
    os.truncate(f, 5 * 1024 * 1024 + 3)
    assert attach.device_size(str(f)) == 5
    assert attach.device_size(str(tmp_path / "nope")) is None


# --- master side: disk dicts, access, declared parameters ---

GENERIC = {"size", "mode", "name", "vg", "metavg", "spindles", "provider", "adopt", "access"}


def test_parse_disk_ext() -> None:
    out = diskparams.parse_disk("ext", 0, {"size": "1G", "mode": "rw", "provider": "pv",
                                           "access": "userspace", "dir": "/d", "n": 3},
                                GENERIC)
    assert out == {"provider": "pv", "params": {"provider": "pv", "access": "userspace",
                                                "dir": "/d", "n": "3"}}
    assert diskparams.provider_params(out["params"]) == {"dir": "/d", "n": "3"}
    assert diskparams.parse_disk("file", 0, {"size": "1G"}, GENERIC) == {}


@pytest.mark.parametrize(("template", "disk", "match"), [
    ("ext", {"size": 1}, "missing provider"),
    ("file", {"size": 1, "provider": "pv"}, "only valid for the ext disk template"),
    ("ext", {"size": 1, "provider": "../x"}, "Invalid ExtStorage provider name"),
    ("ext", {"size": 1, "provider": "pv", "access": "both"}, "invalid access mode"),
    ("ext", {"size": 1, "provider": "pv", "bad key": "v"}, "invalid ExtStorage parameter"),
    ("ext", {"size": 1, "provider": "pv", "k": [1]}, "single value"),
])
def test_parse_disk_errors(template: str, disk: dict, match: str) -> None:
    with pytest.raises(errors.OpPrereqError, match=match) as ei:
        diskparams.parse_disk(template, 0, disk, GENERIC)
    assert ei.value.ecode == errors.ECODE_INVAL


def test_check_access() -> None:
    diskparams.check_access("fake", "ext", None)
    diskparams.check_access("fake", "ext", "kernelspace")
    diskparams.check_access("kvm", "ext", "userspace")
    with pytest.raises(errors.OpPrereqError, match=r"hypervisor \(fake\) cannot be used"):
        diskparams.check_access("fake", "ext", "userspace")


def test_check_declared(root: Path) -> None:
    make_provider(es_base(root), "p")
    p = provider.get("p")
    diskparams.check_declared(p, {"provider": "p", "access": "userspace", "dir": "/x"})
    with pytest.raises(errors.OpPrereqError, match="does not support the parameter.*dri"):
        diskparams.check_declared(p, {"provider": "p", "dri": "/x"})


# --- master side: cluster-wide provider status ---

def _diag(name: str, ok: bool, params: list[list[str]], path: str = "/es") -> dict:
    return {"name": name, "path": f"{path}/{name}", "status": ok,
            "message": "" if ok else "broken", "parameters": params}


def test_collect_node_and_group_status() -> None:
    diagnoses = {
        "n1": [_diag("a", True, [["x", "X"], ["y", "Y"]]), _diag("b", True, [])],
        "n2": [_diag("a", True, [["y", "Y"], ["z", "Z"]]), _diag("a", False, [], "/alt")],
        "n3": [_diag("b", False, [])],
    }
    groups = {"g1": ["n1", "n2"], "g2": ["n3"], "empty": [], "gone": ["n9"]}
    a, b = query.collect(diagnoses, groups)
    assert a.name == "a" and b.name == "b"
    assert a.node_status["n2"] == [["/es/a", True, "", [["y", "Y"], ["z", "Z"]]],
                                   ["/alt/a", False, "broken", []]]
    assert a.node_status["n3"] == []
    assert a.nodegroup_status == {"g1": True, "g2": False, "empty": True, "gone": True}
    assert a.parameters == [["y", "Y"]]
    assert b.nodegroup_status == {"g1": False, "g2": False, "empty": True, "gone": True}
    assert b.parameters == []
    assert query.collect({}, groups) == []
