"""Metrics, moves, balancing, command output, allocation and the tools' behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnt.htools import metrics
from gnt.htools.balance import BalanceOptions, balance
from gnt.htools.commands import MoveJob, describe_move, move_opcodes, split_jobs
from gnt.htools.executor import build_jobsets
from gnt.htools.fmt import hs_fixed, hs_show_double
from gnt.htools.generate import GenSpec, generate
from gnt.htools.moves import MoveOptions, apply_move
from gnt.htools.state import ClusterState, copy_state
from gnt.htools.text import parse_text, serialize_cluster
from gnt.htools.types import Move, MoveKind, Placement
from tests.unit.htools.htools_fixtures import SHARED, SMALL, SMALL_SCORE

pytestmark = pytest.mark.unit


def run_tool(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gnt.htools", tool, *args],
                          capture_output=True, text=True, check=False)


def test_score_matches_ganeti_value() -> None:
    st = ClusterState(parse_text(SMALL))
    assert hs_fixed(metrics.score(st, np.arange(3)), 8) == SMALL_SCORE


def test_haskell_number_formatting() -> None:
    assert hs_fixed(1.125, 2) == "1.12" and hs_fixed(1.135, 2) == "1.14"
    assert hs_fixed(8192.0, 0) == "8192" and hs_fixed(1.0) == "1.0"
    assert hs_show_double(4.0) == "4.0" and hs_show_double(0.01) == "1.0e-2"


def test_failover_is_refused_when_it_breaks_n_plus_one() -> None:
    st = ClusterState(parse_text(SMALL))
    online = np.ones(3, dtype=bool)
    # inst3 (ADMIN_down) back onto node3 as secondary would make node3 fail N+1
    assert not apply_move(copy_state(st), 2, Move(MoveKind.FAILOVER), MoveOptions(), online)
    assert apply_move(copy_state(st), 2, Move(MoveKind.FAILOVER),
                      MoveOptions(ignore_soft_errors=True), online)


def test_balance_lowers_score_and_keeps_consistency() -> None:
    cd = generate(GenSpec(nodes=8, instances=50, seed=3, unbalanced=True))
    st = ClusterState(cd)
    nodes = np.arange(st.n_nodes)
    before = metrics.score(st, nodes)
    res = balance(st, nodes, BalanceOptions())
    assert res.placements and res.final_score < before
    scores = [p.score for p in res.placements]
    assert all(b < a for a, b in zip([before] + scores, scores))
    assert abs(metrics.score(st, nodes) - res.final_score) < 1e-9
    # the incrementally updated state equals a fresh load of the final placement
    # (except memory: like Ganeti, the saved file keeps the reported free memory)
    st.sync_to_model()
    fresh = ClusterState(parse_text(serialize_cluster(cd)))
    for k in ("n_pri", "n_sec", "i_mem", "r_mem", "u_cpu", "peers", "ld_d"):
        assert (getattr(fresh, k) == getattr(st, k)).all(), k


def test_shared_storage_uses_failover_to_any_only() -> None:
    st = ClusterState(parse_text(SHARED))
    res = balance(st, np.arange(3), BalanceOptions())
    kinds = {p.move.kind for p in res.placements}
    assert kinds == {MoveKind.FAILOVER_TO_ANY}


def test_commands_and_jobsets() -> None:
    assert describe_move(MoveKind.REPLACE_PRIMARY, True, "i1", "n2", "n3") == (
        "f r:n2 f", ["migrate -f i1", "replace-disks -n n2 i1", "migrate -f i1"])
    assert describe_move(MoveKind.FAILOVER_TO_ANY, False, "i1", "n2", "") == (
        "fa:n2", ["failover -f -n n2 i1"])

    def job(nodes: list[int]) -> MoveJob:
        plc = Placement(0, nodes[0], nodes[1], Move(MoveKind.REPLACE_SECONDARY, nodes[1]), 0.0)
        return MoveJob(nodes, 0, plc, [])
    sets = split_jobs([job([0, 1]), job([2, 3]), job([0, 4])])
    assert [[j.nodes for j in s] for s in sets] == [[[0, 1]], [[2, 3], [0, 4]]]
    ops = move_opcodes(MoveKind.REPLACE_AND_FAILOVER, "i1", "n2")
    assert [o["OP_ID"] for o in ops] == ["OP_INSTANCE_REPLACE_DISKS", "OP_INSTANCE_MIGRATE"]
    assert ops[0]["remote_node"] == "n2" and ops[0]["mode"] == "replace_new_secondary"


def test_hbal_cli_output_and_opcodes(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text(SMALL)
    res = run_tool("hbal", "-t", str(f), "-C", "-S", str(tmp_path / "state"))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"Initial score: {SMALL_SCORE}" in out
    assert "    1. inst2 node3:node1 => node2:node1   2.33963758 a=f r:node2 f" in out
    assert "Cluster score improved from 5.19732541 to 2.33963758" in out
    assert "    gnt-instance replace-disks -n node2 inst2" in out
    balanced = parse_text((tmp_path / "state.balanced").read_text())
    assert balanced.node_name(balanced.instances[1].pnode) == "node2"
    assert "Warning: cluster has inconsistent data" in res.stderr


def test_hbal_build_jobsets_for_exec() -> None:
    cd = parse_text(SMALL)
    plc = Placement(1, 1, 0, Move(MoveKind.REPLACE_PRIMARY, 1), 2.3,
                    {"old_pri": 2, "old_sec": 0})
    jobs = build_jobsets(cd, [[MoveJob([1, 0, 2], 1, plc, [])]], reason="test")
    ops = jobs[0][0]
    assert [o["OP_ID"] for o in ops] == ["OP_INSTANCE_MIGRATE", "OP_INSTANCE_REPLACE_DISKS",
                                         "OP_INSTANCE_MIGRATE"]
    assert ops[1]["remote_node"] == "node2" and ops[0]["instance_name"] == "inst2"


def test_hcheck_and_hinfo(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text(SMALL)
    res = run_tool("hcheck", "-t", str(f), "--machine-readable")
    assert res.returncode == 0
    assert "HCHECK_INIT_GROUP_0_SCORE=5.19732541" in res.stdout
    assert res.stdout.rstrip().endswith("HCHECK_OK=1")
    info = run_tool("hinfo", "-t", str(f))
    assert f"Cluster score: {SMALL_SCORE}" in info.stdout
    assert "Cluster is N+1 happy" in info.stdout


def test_hspace_standard_alloc(tmp_path: Path) -> None:
    f = tmp_path / "g.txt"
    f.write_text(serialize_cluster(generate(GenSpec(nodes=6, instances=20, seed=4))))
    res = run_tool("hspace", "-t", str(f), "--disk-template", "drbd",
                   "--standard-alloc=10240,1024,1", "--machine-readable")
    assert res.returncode == 0, res.stderr
    kv = dict(line.split("=", 1) for line in res.stdout.splitlines())
    assert int(kv["HTS_ALLOC_INSTANCES"]) > 0
    assert int(kv["HTS_FIN_INST_CNT"]) == 20 + int(kv["HTS_ALLOC_INSTANCES"])
    assert kv["HTS_OK"] == "1"


def test_generator_is_deterministic_and_consistent() -> None:
    a = serialize_cluster(generate(GenSpec(nodes=10, instances=60, seed=9, groups=2,
                                           templates={"drbd": 2, "plain": 1, "ext": 1},
                                           offline=1, tags=True, exclusion=True,
                                           locations=True)))
    b = serialize_cluster(generate(GenSpec(nodes=10, instances=60, seed=9, groups=2,
                                           templates={"drbd": 2, "plain": 1, "ext": 1},
                                           offline=1, tags=True, exclusion=True,
                                           locations=True)))
    assert a == b
    st = ClusterState(parse_text(a))
    assert (st.x_mem == 0).all() and (st.f_dsk >= 0).all()


def test_dispatch_on_program_name_and_env(tmp_path: Path) -> None:
    f = tmp_path / "c.txt"
    f.write_text(SMALL)
    link = tmp_path / "hinfo"
    link.write_text(f"#!{sys.executable}\nimport sys\nfrom gnt.htools.main import main\n"
                    "sys.exit(main())\n")
    link.chmod(0o755)
    res = subprocess.run([str(link), "-t", str(f)], capture_output=True, text=True, check=False)
    assert "Cluster score: 5.19732541" in res.stdout
    res = subprocess.run([str(link), "-t", str(f)], capture_output=True, text=True, check=False,
                         env={"HTOOLS": "hcheck", "PATH": "/usr/bin:/bin",
                              "PYTHONPATH": str(Path(__file__).resolve().parents[3])})
    assert "Statistics for group default initially" in res.stdout
