"""hroller: node graphs, colouring heuristics and reboot groups."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gnt.htools.coloring import Graph, color_dcolor, color_dsatur, color_groups, color_lf
from gnt.htools.hroller import node_graph, stats_line
from gnt.htools.state import ClusterState
from gnt.htools.text import parse_text
from tests.unit.htools.htools_fixtures import SMALL

pytestmark = pytest.mark.unit


def _valid(g: Graph, cmap: dict[int, int]) -> bool:
    return all(cmap[u] != cmap[v] for u in g.vertices for v in g.adj[u] if u != v)


def test_colourings_are_proper_and_follow_the_orders() -> None:
    # a 5-cycle with a chord: needs 3 colours
    edges = [(a, b) for a, b in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)]]
    g = Graph(0, 4, edges + [(b, a) for a, b in edges])
    for fn in (color_lf, color_dsatur, color_dcolor):
        cmap = fn(g)
        assert _valid(g, cmap) and len(set(cmap.values())) == 3
    # LF colours the highest degree first, the highest index among equals
    assert color_lf(g)[2] == 0 and color_lf(g)[0] == 1
    assert color_groups({0: 1, 1: 0, 2: 1}) == [[1], [0, 2]]
    assert g.show().startswith("array (0,4) [(0,[4,2,1]),(1,[0,2])")


def test_graph_edges_of_drbd_instances_and_shared_secondaries() -> None:
    st = ClusterState(parse_text(SMALL))
    # inst1 node1->node2, inst2 node3->node1, inst3 node3->node2 (drbd)
    g = node_graph(st, [0, 1, 2], offline_maintenance=True)
    assert sorted(g.adj[0]) == [1, 2] and sorted(g.adj[2]) == [0, 1]
    full = node_graph(st, [0, 1, 2], offline_maintenance=False)
    # node2 is secondary of primaries node1 and node3: they are linked too
    assert 2 in full.adj[0] and full.degree(0) > g.degree(0)


def test_stats_line_marks_ties_and_losses() -> None:
    line = stats_line([("LF", [[0], [1], [2]]), ("Dsatur", [[0, 1], [2]]),
                       ("Dcolor", [[0, 1], [2]])])
    assert line == "Dcolor: 2 (2,1) TIE Dsatur: 2 (2,1) LOOSE LF: 3 (1,1,1)"


def test_hroller_program(tmp_path: Path) -> None:
    data = tmp_path / "c.txt"
    data.write_text(SMALL)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gnt.htools", "hroller", "-t", str(data),
                               *args], capture_output=True, text=True, check=False)
    res = run()
    assert res.returncode == 0 and res.stdout.splitlines()[0] == "'Node Reboot Groups'"
    # every node once, the master (node3) last
    groups = [ln.split(",") for ln in res.stdout.splitlines()[1:]]
    assert sorted(n for g in groups for n in g) == ["node1", "node2", "node3"]
    assert groups[-1][-1] == "node3"
    one = run("--one-step-only", "--no-headers")
    assert one.stdout.splitlines() == groups[0]
    bad = run("-G", "nosuch")
    assert bad.returncode == 1 and "Cannot find target group." in bad.stderr
