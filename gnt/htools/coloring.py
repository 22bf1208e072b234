"""Node graphs and greedy graph colouring for hroller (Ganeti's ``Graph.hs``).

Vertices are node indices from the smallest to the largest index of the
selected nodes (nodes in between that were not selected are isolated
vertices).  Adjacency lists keep Ganeti's order and multiplicity
(duplicate edges and self loops count in the degree), because the
colouring heuristics break ties on them:

* LF: largest degree first (equal degrees: higher index first);
* DSatur: most distinct neighbour colours, then degree;
* Dcolor: most coloured neighbours, then degree;

the dynamic orders take the highest index among equals.  Each vertex
gets the smallest colour none of its neighbours has.

Public API::

    Graph(lo, hi, edges)                 # adjacency as Ganeti's buildG
    color_lf(g), color_dsatur(g), color_dcolor(g) -> dict vertex -> colour
    color_groups(coloring) -> list of vertex lists, by colour
"""

from __future__ import annotations

from collections.abc import Callable


class Graph:
    """A directed multigraph on vertices ``lo..hi`` (Ganeti's ``buildG``)."""

    def __init__(self, lo: int, hi: int, edges: list[tuple[int, int]]) -> None:
        self.lo, self.hi = lo, hi
        self.adj: dict[int, list[int]] = {v: [] for v in range(lo, hi + 1)}
        for u, v in edges:
            self.adj[u].insert(0, v)

    @property
    def vertices(self) -> list[int]:
        return list(range(self.lo, self.hi + 1))

    def degree(self, v: int) -> int:
        return len(self.adj[v])

    def show(self) -> str:
        """Haskell's ``show`` of the adjacency array."""
        body = ",".join(f"({v},[{','.join(str(x) for x in self.adj[v])}])"
                        for v in self.vertices)
        return f"array ({self.lo},{self.hi}) [{body}]"


def _color_of(g: Graph, cmap: dict[int, int], v: int) -> int:
    used = {cmap[n] for n in g.adj[v] if n in cmap}
    c = 0
    while c in used:
        c += 1
    return c


def color_lf(g: Graph) -> dict[int, int]:
    """Largest degree first."""
    asc = sorted(g.vertices, key=g.degree)          # stable: equal degrees by index
    cmap: dict[int, int] = {}
    for v in reversed(asc):
        cmap[v] = _color_of(g, cmap, v)
    return cmap


def _dynamic(g: Graph, key: Callable[[dict[int, int], int], tuple[int, int]]
             ) -> dict[int, int]:
    cmap: dict[int, int] = {}
    remaining = g.vertices
    while remaining:
        best = remaining[0]
        best_key = key(cmap, best)
        for v in remaining[1:]:
            k = key(cmap, v)
            if not k < best_key:      # the later one wins ties
                best, best_key = v, k
        cmap[best] = _color_of(g, cmap, best)
        remaining.remove(best)
    return cmap


def color_dsatur(g: Graph) -> dict[int, int]:
    """Highest saturation (distinct neighbour colours), then degree."""
    return _dynamic(g, lambda cmap, v: (len({cmap[n] for n in g.adj[v] if n in cmap}),
                                        g.degree(v)))


def color_dcolor(g: Graph) -> dict[int, int]:
    """Most coloured neighbours (with multiplicity), then degree."""
    return _dynamic(g, lambda cmap, v: (sum(1 for n in g.adj[v] if n in cmap), g.degree(v)))


def color_groups(cmap: dict[int, int]) -> list[list[int]]:
    """Vertices of each colour (ascending), colours in ascending order."""
    out: dict[int, list[int]] = {}
    for v in sorted(cmap):
        out.setdefault(cmap[v], []).append(v)
    return [out[c] for c in sorted(out)]


ALGORITHMS: list[tuple[str, Callable[[Graph], dict[int, int]]]] = [
    ("LF", color_lf), ("Dsatur", color_dsatur), ("Dcolor", color_dcolor)]
