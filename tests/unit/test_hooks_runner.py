"""The node-side hooks runner on real scripts in a temporary hooks directory."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from gnt import constants as C
from gnt import errors
from gnt.hooks import runner

pytestmark = pytest.mark.unit


def script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(mode)
    return p


def by_name(results: list[runner.ScriptResult]) -> dict[str, runner.ScriptResult]:
    return {r.name: r for r in results}


def test_order_is_string_order_and_every_script_runs(tmp_path: Path) -> None:
    d, log = tmp_path / "d", tmp_path / "log"
    for name in ("20-c", "02-a", "10-b", "B", "a"):
        script(d, name, f"echo {name} >> {log}")
    results = runner.run_parts(d, {}, timeout=10)
    assert [r.name for r in results] == ["02-a", "10-b", "20-c", "B", "a"]
    assert log.read_text().split() == ["02-a", "10-b", "20-c", "B", "a"]
    assert all(r.status == C.HKR_SUCCESS for r in results)


def test_name_filter_nonexecutable_directories_and_hidden(tmp_path: Path) -> None:
    d, log = tmp_path / "d", tmp_path / "log"
    script(d, "ok_name-1", f"echo ran >> {log}")
    script(d, "check.sh", f"echo dotted >> {log}")       # extension: not run-parts' regex
    script(d, "with space", f"echo space >> {log}")
    script(d, "plain", f"echo plain >> {log}", mode=0o644)  # not executable
    script(d, ".hidden", f"echo hidden >> {log}")
    (d / "subdir").mkdir()
    (d / "subdir").chmod(0o755)
    res = by_name(runner.run_parts(d, {}, timeout=10))
    assert log.read_text().split() == ["ran"]
    assert res["ok_name-1"].status == C.HKR_SUCCESS
    for skipped in ("check.sh", "with space", "plain", "subdir"):
        assert res[skipped].status == C.HKR_SKIP and res[skipped].output == ""
    assert ".hidden" not in res
    assert runner.has_runnable_scripts(d)


def test_has_runnable_scripts(tmp_path: Path) -> None:
    d = tmp_path / "d"
    assert not runner.has_runnable_scripts(d)            # missing
    d.mkdir()
    assert not runner.has_runnable_scripts(d)            # empty
    script(d, "x.sh", "true")
    script(d, "noexec", "true", mode=0o644)
    assert not runner.has_runnable_scripts(d)
    script(d, "yes", "true")
    assert runner.has_runnable_scripts(d)


def test_output_exit_codes_and_signals(tmp_path: Path) -> None:
    d = tmp_path / "d"
    script(d, "10-out", "echo to-stdout; echo to-stderr >&2; echo")
    script(d, "20-fail", "echo failing; exit 3")
    script(d, "30-silent-fail", "exit 1")
    script(d, "40-signal", "kill -TERM $$")
    res = by_name(runner.run_parts(d, {"PATH": C.HOOKS_PATH}, timeout=10))
    assert res["10-out"].status == C.HKR_SUCCESS
    assert res["10-out"].output == "to-stdout\nto-stderr"
    assert res["20-fail"].status == C.HKR_FAIL
    assert res["20-fail"].output == "failing\n(hook script exited with exit code 3)"
    assert res["30-silent-fail"].output == "(hook script exited with exit code 1)"
    assert res["40-signal"].status == C.HKR_FAIL
    assert f"terminated by signal {int(signal.SIGTERM)}" in res["40-signal"].output


def test_environment_is_exactly_the_given_one(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOULD_NOT_LEAK", "1")
    d, out = tmp_path / "d", tmp_path / "env"
    script(d, "env", f"/usr/bin/env > {out}; pwd >> {out}; cat >> {out}")
    res = runner.run_parts(d, {"GANETI_X": "a b", "PATH": C.HOOKS_PATH}, timeout=10)
    assert res[0].status == C.HKR_SUCCESS, res[0].output
    lines = out.read_text().splitlines()
    env = dict(ln.split("=", 1) for ln in lines[:-1] if "=" in ln)
    env.pop("PWD", None)  # exported by /bin/sh itself
    assert env == {"GANETI_X": "a b", "PATH": C.HOOKS_PATH}
    assert lines[-1] == "/"          # cwd /, and stdin (/dev/null) gave nothing to cat


def test_timeout_kills_the_script_and_its_children(tmp_path: Path) -> None:
    d, pidfile = tmp_path / "d", tmp_path / "child.pid"
    script(d, "10-hang", f"echo started; sleep 60 & echo $! > {pidfile}; wait")
    script(d, "20-after", "echo after")
    t0 = time.monotonic()
    res = by_name(runner.run_parts(d, {"PATH": C.HOOKS_PATH}, timeout=0.5))
    assert time.monotonic() - t0 < runner.KILL_GRACE + 5
    hang = res["10-hang"]
    assert hang.status == C.HKR_FAIL
    assert hang.output.startswith("started\n")
    assert "timed out after 0.5 seconds" in hang.output
    assert res["20-after"].status == C.HKR_SUCCESS   # the next script still runs
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists(), "the hook's child survived"


def test_script_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    d = tmp_path / "d"
    script(d, "stubborn", "trap '' TERM; while :; do sleep 0.1; done")
    t0 = time.monotonic()
    res = runner.run_parts(d, {"PATH": C.HOOKS_PATH}, timeout=0.3)
    assert res[0].status == C.HKR_FAIL and "timed out" in res[0].output
    assert time.monotonic() - t0 < runner.KILL_GRACE + 3


def test_background_child_holding_output_does_not_block(tmp_path: Path) -> None:
    d, pidfile = tmp_path / "d", tmp_path / "bg.pid"
    script(d, "daemonize", f"sleep 30 & echo $! > {pidfile}; echo done")
    t0 = time.monotonic()
    try:
        res = runner.run_parts(d, {"PATH": C.HOOKS_PATH}, timeout=20)
        assert time.monotonic() - t0 < 5
        assert res[0].status == C.HKR_SUCCESS and res[0].output == "done"
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_unexecutable_script_fails_with_a_reason(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    p = d / "noshebang"
    p.write_bytes(b"\x7fELF-not-really")
    p.chmod(0o755)
    res = runner.run_parts(d, {}, timeout=5)
    assert res[0].status == C.HKR_FAIL
    assert res[0].output.startswith("Hook script execution error: cannot run")


def test_huge_output_is_truncated(tmp_path: Path) -> None:
    d = tmp_path / "d"
    script(d, "chatty", "yes x | head -c 200000")
    res = runner.run_parts(d, {"PATH": C.HOOKS_PATH}, timeout=10)
    assert res[0].status == C.HKR_SUCCESS
    assert len(res[0].output) < runner.MAX_OUTPUT + 100
    assert res[0].output.endswith("[... output truncated]")


def test_run_hooks_uses_the_root_and_adds_path_and_data_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    d = tmp_path / "etc/ganeti/hooks/instance-start-pre.d"
    out = tmp_path / "seen"
    script(d, "10-rec", f"echo \"$GANETI_DATA_DIR|$PATH|$GANETI_OP_CODE\" > {out}")
    res = runner.run_hooks("instance-start", "pre", {"GANETI_OP_CODE": "OP_X",
                                                     "PATH": "/evil"})
    assert res == [("instance-start-pre.d/10-rec", C.HKR_SUCCESS, "")]
    assert out.read_text().strip() == \
        f"{tmp_path.resolve()}/var/lib/ganeti|{C.HOOKS_PATH}|OP_X"
    assert runner.run_hooks("instance-start", "post", {}) == []   # no directory


@pytest.mark.parametrize("hpath,phase", [("../etc", "pre"), ("a/b", "pre"), (".x", "post"),
                                         ("instance-add", "during"), ("", "pre")])
def test_bad_hpath_or_phase(hpath: str, phase: str) -> None:
    with pytest.raises(errors.ParameterError):
        runner.hooks_dir(hpath, phase)


def test_script_timeout_setting(monkeypatch: pytest.MonkeyPatch,
                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(runner.ENV_TIMEOUT, raising=False)
    assert runner.script_timeout() == C.HOOKS_SCRIPT_TIMEOUT
    monkeypatch.setenv(runner.ENV_TIMEOUT, "2.5")
    assert runner.script_timeout() == 2.5
    for bad in ("0", "-1", "soon"):   # a bad setting must not disable the hooks
        monkeypatch.setenv(runner.ENV_TIMEOUT, bad)
        caplog.clear()
        assert runner.script_timeout() == C.HOOKS_SCRIPT_TIMEOUT
        assert runner.ENV_TIMEOUT in caplog.text
