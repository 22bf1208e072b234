"""The master-side iallocator framework: lookup, running, answer checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gnt import errors
from gnt.iallocator import ALLOWED_OPCODES, parse_answer
from gnt.iallocator.input import disk_space_total
from gnt.iallocator.lookup import find_iallocator, param_args, run_iallocator

pytestmark = pytest.mark.unit


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    (tmp_path / "var/run/ganeti").mkdir(parents=True)
    return tmp_path


def _install(root: Path, name: str, body: str) -> Path:
    d = root / "usr/lib/ganeti/iallocators"
    d.mkdir(parents=True, exist_ok=True)
    script = d / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_lookup_search_path_then_builtin_hail(root: Path) -> None:
    assert find_iallocator("hail") == [sys.executable, "-m", "gnt.htools", "hail"]
    script = _install(root, "hail", "exit 0\n")
    assert find_iallocator("hail") == [str(script)]    # a plug-in in the path wins
    with pytest.raises(errors.OpPrereqError, match="Can't find iallocator 'other'"):
        find_iallocator("other")
    for bad in ("../x", "a/b", ""):
        with pytest.raises(errors.OpPrereqError, match="Invalid iallocator name"):
            find_iallocator(bad)


def test_run_passes_params_and_the_request_file(root: Path) -> None:
    _install(root, "echoer", 'echo "$@"; cat "$2"\n')
    out = run_iallocator("echoer", '{"x": 1}', {"opt": "v"}, 10)
    args, data = out.split("\n", 1)
    assert args.startswith("--opt=v ") and data == '{"x": 1}'
    assert not list((root / "var/run/ganeti").glob("gnt-iallocator-*"))   # cleaned up
    assert param_args({"b": True, "a": 1, "c": False}) == ["--a=1", "--b"]


def test_run_failures_quote_the_program(root: Path) -> None:
    _install(root, "broken", 'echo "something is wrong" >&2; exit 3\n')
    with pytest.raises(errors.OpExecError, match="status 3, output: something is wrong"):
        run_iallocator("broken", "{}", {}, 10)
    _install(root, "slow", "sleep 5\n")
    with pytest.raises(errors.OpExecError, match="did not answer within 0.5 seconds"):
        run_iallocator("slow", "{}", {}, 0.5)


def test_builtin_hail_runs(root: Path) -> None:
    from gnt.htools.iallocator import cluster_to_json
    from gnt.htools.text import parse_text
    from tests.unit.htools.htools_fixtures import SMALL

    doc = cluster_to_json(parse_text(SMALL), {
        "type": "allocate", "name": "x", "disk_template": "plain", "memory": 128, "vcpus": 1,
        "disks": [{"size": 1024, "mode": "rw"}], "disk_space_total": 1024, "nics": [],
        "tags": [], "spindle_use": 1, "os": "d", "required_nodes": 1})
    ans = parse_answer("hail", run_iallocator("hail", json.dumps(doc), {}, 60))
    assert ans.success and len(ans.result) == 1


@pytest.mark.parametrize("text, message", [
    ("not json", "not JSON"),
    ("[1]", "not a JSON object"),
    ('{"success": true, "info": "x"}', "key 'result' missing"),
    ('{"success": "yes", "info": "x", "result": []}', "'success' must be a boolean"),
])
def test_parse_answer_rejects_nonsense(text: str, message: str) -> None:
    with pytest.raises(errors.OpExecError, match=message):
        parse_answer("a", text)


def test_parse_answer_accepts_old_nodes_key_and_sizes() -> None:
    ans = parse_answer("a", '{"success": true, "info": "ok", "nodes": ["n1"]}')
    assert ans.result == ["n1"]
    assert disk_space_total("drbd", [1024, 2048]) == 1024 + 2048 + 2 * 128
    assert disk_space_total("plain", [10, 20]) == 30 and disk_space_total("diskless", []) == 0
    assert "OP_INSTANCE_MIGRATE" in ALLOWED_OPCODES
