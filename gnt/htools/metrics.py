"""The cluster score, computed exactly as Ganeti 3.0's ``Cluster/Metrics.hs``.

The score is ``sum(weight * statistic)`` over the components below, in
this order.  Each statistic is the population standard deviation ("cv")
or the sum of one per-node value over the online nodes of the group
(over the offline nodes for the two ``offline_*`` counts), plus the
location-exclusion count over the whole group.

Public API::

    COMPONENTS: list of (name, weight, kind, online)
    node_values(state, nodes) -> ndarray (K, len(nodes))
    component_values(state, nodes) -> list[float]     # K statistics
    score(state, nodes) -> float                      # exact, Ganeti's float order
    optimal_score(state, nodes) -> float              # Ganeti's optimalCVScore
    stats_table(state, nodes, prefix) -> str          # the -v -v -v table
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gnt.htools.fmt import hs_fixed, print_table

if TYPE_CHECKING:
    from gnt.htools.state import ClusterState

STD, SUM, MAP = "std", "sum", "map"

#: (name, weight, statistic kind, computed over online nodes?)
COMPONENTS: list[tuple[str, float, str, bool]] = [
    ("free_mem_cv", 0.5, STD, True),
    ("free_disk_cv", 0.5, STD, True),
    ("n1_cnt", 1.0, SUM, True),
    ("reserved_mem_cv", 1.0, STD, True),
    ("offline_all_cnt", 4.0, SUM, False),
    ("offline_pri_cnt", 16.0, SUM, False),
    ("vcpu_ratio_cv", 0.5, STD, True),
    ("cpu_load_cv", 1.0, STD, True),
    ("mem_load_cv", 1.0, STD, True),
    ("disk_load_cv", 1.0, STD, True),
    ("net_load_cv", 1.0, STD, True),
    ("pri_tags_score", 2.0, SUM, True),
    ("spindles_cv", 0.5, STD, True),
    ("free_mem_cv_forth", 0.5, STD, True),
    ("free_disk_cv_forth", 0.5, STD, True),
    ("vcpu_ratio_cv_forth", 0.5, STD, True),
    ("spindles_cv_forth", 0.5, STD, True),
    ("location_score", 1.0, SUM, True),
    ("location_exclusion_score", 1.0, MAP, True),
    ("reserved_mem_rtotal", 0.25, SUM, True),
]
NAMES = [c[0] for c in COMPONENTS]
WEIGHTS = np.array([c[1] for c in COMPONENTS])
IDX = {name: k for k, name in enumerate(NAMES)}
LOC_EXCL = IDX["location_exclusion_score"]
STD_IDX = [k for k, c in enumerate(COMPONENTS) if c[2] == STD]
SUM_IDX = [k for k, c in enumerate(COMPONENTS) if c[2] == SUM and c[3]]
OFF_IDX = [k for k, c in enumerate(COMPONENTS) if not c[3]]


# Divisions by zero and NaNs are expected here (empty nodes, no online node) and
# follow IEEE like Ganeti's Doubles; numpy's warnings about them are off in
# htools processes (``errstate`` contexts in the hot loops cost too much).
np.seterr(divide="ignore", invalid="ignore")


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.true_divide(a, b)


def _unalloc(r):
    return r["t_mem_int"] - r["n_mem"] - r["i_mem"] - np.maximum(0, r["x_mem"])


def _pdsk(r, f_dsk: str, f_sp: str):
    t_dsk, t_sp = r["t_dsk"], r["t_sp"]
    return np.where(r["excl"], np.where(t_sp == 0, 1.0, _div(r[f_sp], t_sp)),
                    np.where(t_dsk == 0, 1.0, _div(r[f_dsk], t_dsk)))


def _n1(r):
    return np.where(r["fail_n1"], r["n_pri"] + r["n_sec"], 0).astype(float)


#: Per-node value of each component: (dynamic fields it depends on, function).
COMP_FUNCS = [
    (("i_mem",), lambda r: _div(_unalloc(r), r["t_mem"])),
    (("f_dsk", "f_sp"), lambda r: _pdsk(r, "f_dsk", "f_sp")),
    (("fail_n1", "n_pri", "n_sec"), _n1),
    (("r_mem",), lambda r: _div(r["r_mem"], r["t_mem"])),
    (("n_pri", "n_sec"), lambda r: (r["n_pri"] + r["n_sec"]).astype(float)),
    (("n_pri",), lambda r: r["n_pri"].astype(float)),
    (("u_cpu",), lambda r: _div(_div(r["u_cpu"], r["t_cpu"]), r["speed"])),
    (("ld_c",), lambda r: r["ld_c"] * 1.0),
    (("ld_m",), lambda r: r["ld_m"] * 1.0),
    (("ld_d",), lambda r: r["ld_d"] * 1.0),
    (("ld_n",), lambda r: r["ld_n"] * 1.0),
    (("ptag_conf",), lambda r: r["ptag_conf"].astype(float)),
    (("inst_sp",), lambda r: _div(r["inst_sp"], r["hi_sp"])),
    (("f_mem_forth",), lambda r: _div(r["f_mem_forth"], r["t_mem"])),
    (("f_dsk_forth", "f_sp_forth"), lambda r: _pdsk(r, "f_dsk_forth", "f_sp_forth")),
    (("u_cpu_forth",), lambda r: _div(_div(r["u_cpu_forth"], r["t_cpu"]), r["speed"])),
    (("inst_sp_forth",), lambda r: _div(r["inst_sp_forth"], r["hi_sp"])),
    (("loc_score",), lambda r: r["loc_score"].astype(float)),
    ((), lambda r: np.zeros(np.shape(r["i_mem"]))),
    (("r_mem",), lambda r: _div(r["r_mem"], r["t_mem"])),
]


def values_from_rows(r: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Per-node values of every component from node rows (broadcastable arrays).

    ``r`` holds the dynamic node fields (see :data:`gnt.htools.state.DYN_FIELDS`)
    and the static ones; the map component gets zeros (it is not per-node).
    """
    return [fn(r) for _, fn in COMP_FUNCS]


def stack(vals: list, shape: tuple[int, ...]) -> np.ndarray:
    """The arrays ``vals`` broadcast to ``shape`` and stacked: a new float array
    of shape ``(len(vals),) + shape``."""
    out = np.empty((len(vals),) + tuple(shape))
    for k, v in enumerate(vals):
        out[k] = v
    return out


def node_values(state: ClusterState, nodes: np.ndarray) -> np.ndarray:
    """Component values for the given node indices, shape (K, len(nodes))."""
    return stack(values_from_rows(state.rows(nodes)), (len(nodes),))


def _seq_sum(xs: list[float]) -> float:
    total = 0.0
    for x in xs:
        total += x
    return total


def _std(xs: list[float]) -> float:
    n = float(len(xs))
    s = _seq_sum(xs)
    mean = s / n if n else math.nan
    nvar = 0.0
    for x in xs:
        d = x - mean
        nvar += d * d
    var = nvar / n if n else math.nan
    return math.nan if math.isnan(var) else math.sqrt(var)


def component_values(state: ClusterState, nodes: np.ndarray) -> list[float]:
    """The K statistics for the node set, summed in Ganeti's order; none at all
    (so a score of 0) when no node of the set is online, as in Ganeti."""
    nodes = np.asarray(nodes, dtype=np.int64)
    vals = node_values(state, nodes)
    off = state.offline[nodes]
    on_idx = np.flatnonzero(~off)
    if not len(on_idx):
        return []
    comps = components_exact(vals[:, on_idx], vals[:, np.flatnonzero(off)],
                             float(state.loc_excl_value(nodes[on_idx])))
    return comps.tolist()


def components_exact(on: np.ndarray, off: np.ndarray, map_val: np.ndarray | float
                     ) -> np.ndarray:
    """The K statistics from per-node values, in Ganeti's float order.

    ``on`` (K, ..., n_on) are the values of the online nodes and ``off``
    (K, ..., n_off) those of the offline ones, in node order; the middle
    axes (e.g. candidates) are vectorised over.  ``map_val`` is the
    location-exclusion statistic (broadcast).  Returns (K, ...) floats:
    population standard deviations (NaN without online nodes) and
    left-to-right sums, exactly as Ganeti's ``Statistics`` compute them.
    """
    out = np.empty(on.shape[:-1])
    out[STD_IDX] = _std_cols(on[STD_IDX])
    out[SUM_IDX] = _seq_sum_cols(on[SUM_IDX])
    out[OFF_IDX] = _seq_sum_cols(off[OFF_IDX])
    out[LOC_EXCL] = map_val
    return out


def score_from_components(comps: list[float]) -> float:
    return _seq_sum([c * w for c, w in zip(comps, WEIGHTS.tolist())])


def scores_from_components(comps: np.ndarray) -> np.ndarray:
    """``score_from_components`` vectorised: comps (K, ...) -> scores (...)."""
    return _seq_sum_cols(np.moveaxis(comps * WEIGHTS.reshape((-1,) + (1,) * (comps.ndim - 1)),
                                     0, -1))


def score(state: ClusterState, nodes: np.ndarray) -> float:
    """The exact cluster score of a node set (Ganeti's ``compCV``)."""
    return score_from_components(component_values(state, nodes))


def optimal_score(state: ClusterState, nodes: np.ndarray) -> float:
    """Lower bound of the reserved-memory term (Ganeti's ``optimalCVScore``)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(nodes) <= 1:
        return 0.0
    mems = state.t_mem[nodes].tolist()
    total = _seq_sum(mems)
    less_one = total - max(mems)
    if not less_one > 0:
        return 0.0
    drbd = float(state.peers[nodes].sum())
    return 0.25 * (drbd / less_one - drbd / total)


def stats_table(comps: list[float], prefix: str) -> str:
    header = ["Field", "Value", "Weight"]
    rows = [[name, hs_fixed(val, 8), "x" + hs_fixed(w, 2)]
            for (name, w, _, _), val in zip(COMPONENTS, comps)]
    return print_table(prefix, header, rows, [False, True, True])


# -- exact scores of candidate placements (Ganeti's float order) -------------

def _seq_sum_cols(x: np.ndarray) -> np.ndarray:
    """Left-to-right sum over the last axis, vectorised over the others
    (``cumsum`` adds sequentially, unlike ``sum``'s pairwise summation)."""
    if not x.shape[-1]:
        return np.zeros(x.shape[:-1])
    return np.cumsum(x, axis=-1)[..., -1]


def _std_cols(x: np.ndarray) -> np.ndarray:
    """Population standard deviation over the last axis, Ganeti's summation order."""
    n = float(x.shape[-1])
    if not n:
        return np.full(x.shape[:-1], np.nan)
    mean = _seq_sum_cols(x) / n
    d = x - mean[..., None]
    return np.sqrt(_seq_sum_cols(d * d) / n)


def map_add_delta(st: ClusterState, nodes: np.ndarray, excl: np.ndarray,
                  targets: np.ndarray) -> np.ndarray:
    """Change of the location-exclusion statistic when an instance with
    exclusion tags ``excl`` becomes primary on each of ``targets``."""
    if not st.lx.size or not excl.any():
        return np.zeros(len(targets), dtype=np.int64)
    on = np.asarray(nodes)[~st.offline[nodes]]
    present = (st.lx[on].sum(axis=0) >= 1).astype(np.int64)      # (L, E)
    return st.n_loc[targets].astype(np.int64) @ (present @ excl.astype(np.int64))


Change = tuple[np.ndarray, "np.ndarray | Sequence[np.ndarray]"]


def scores_replaced(st: ClusterState, nodes: np.ndarray, changes: Sequence[Change],
                    map_delta: np.ndarray) -> np.ndarray:
    """Exact scores (Ganeti's ``compCV``) of the node set ``nodes`` for C candidates.

    Each change is ``(node indices (C,), component values: K arrays (C,))``:
    for candidate ``c`` node ``idx[c]`` takes values ``vals[k][c]`` (changes
    of nodes outside ``nodes`` are ignored; later changes win).  The
    location-exclusion statistic changes by ``map_delta[c]``.  Returns the
    C scores, summed in Ganeti's order.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    off = st.offline[nodes]
    ncand = len(np.asarray(map_delta).reshape(-1)) if not changes else len(changes[0][0])
    pos_of = np.full(st.n_nodes, -1, dtype=np.int64)
    pos_of[nodes] = np.arange(len(nodes))
    placed = [(pos_of[np.asarray(idx, dtype=np.int64)],
               stack(list(cvals), (ncand,)))
              for idx, cvals in changes]
    base_map = float(st.loc_excl_value(nodes[~off]))
    return scores_with_changes(node_values(st, nodes), off, placed,
                               base_map + np.broadcast_to(np.asarray(map_delta, dtype=float),
                                                          (ncand,)))


def scores_with_changes(vals: np.ndarray, off: np.ndarray,
                        placed: list[tuple[np.ndarray, np.ndarray]],
                        map_vals: np.ndarray) -> np.ndarray:
    """Exact scores of C candidates that change some nodes' values.

    ``vals`` (K, N) are the current values of the N nodes of the set (in
    order), ``off`` (N,) their offline flags; each entry of ``placed`` is
    ``(positions (C,), values (K, C))``: candidate ``c`` gives the node at
    position ``positions[c]`` (-1: outside the set, ignored) the values
    ``values[:, c]``, later entries winning.  ``map_vals`` (C,) is each
    candidate's location-exclusion statistic.  Returns the C scores.
    """
    ncand = len(map_vals)
    if off.all():       # no statistics without an online node: score 0
        return np.zeros(ncand)
    x = np.repeat(vals[:, None, :], ncand, axis=1)           # (K, C, N)
    rows = np.arange(ncand)
    for pos, cvals in placed:
        keep = pos >= 0
        x[:, rows[keep], pos[keep]] = cvals[:, keep]
    comps = components_exact(x[:, :, ~off], x[:, :, off], map_vals)
    return scores_from_components(comps)


class Statistics:
    """Ganeti's cluster statistics with their incremental update (``Statistics.hs``).

    Std-dev components keep (count, sum, variance); sums keep the sum; the
    location-exclusion map keeps its integer value.  Updates replace one
    node's values by others with exactly Ganeti's float operations, so
    scores computed this way equal Ganeti's bit for bit.
    """

    def __init__(self, st: ClusterState, nodes: np.ndarray) -> None:
        nodes = np.asarray(nodes, dtype=np.int64)
        vals = node_values(st, nodes)
        off = st.offline[nodes]
        self.n = float((~off).sum())
        self.s: list[np.ndarray | float] = []
        self.var: list[np.ndarray | float] = []
        for k, (_, _, kind, online) in enumerate(COMPONENTS):
            sel = vals[k, ~off] if online else vals[k, off]
            xs = sel.tolist()
            if kind == STD:
                s = _seq_sum(xs)
                mean = s / self.n if self.n else math.nan
                nvar = 0.0
                for x in xs:
                    d = x - mean
                    nvar += d * d
                self.s.append(s)
                self.var.append(nvar / self.n if self.n else math.nan)
            elif kind == SUM:
                self.s.append(_seq_sum(xs))
                self.var.append(0.0)
            else:
                on = nodes[~off]
                self.s.append(float(st.loc_excl_value(on)))
                self.var.append(0.0)

    def updated(self, old: list[np.ndarray], new: list[np.ndarray],
                map_delta: np.ndarray | float) -> Statistics:
        """Statistics after an online node's values change from ``old`` to ``new``."""
        out = Statistics.__new__(Statistics)
        out.n = self.n
        out.s, out.var = [], []
        n = self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, (_, _, kind, online) in enumerate(COMPONENTS):
                s, var = self.s[k], self.var[k]
                if kind == MAP:
                    out.s.append(s + map_delta)
                    out.var.append(var)
                    continue
                if not online:
                    out.s.append(s)
                    out.var.append(var)
                    continue
                x, y = old[k], new[k]
                ds = y - x
                if kind == SUM:
                    out.s.append(s + ds)
                    out.var.append(var)
                    continue
                dss = y * y - x * x
                dnnvar = (n * dss - 2 * s * ds) - ds * ds
                v = var + dnnvar / (n * n)
                out.s.append(s + ds)
                out.var.append(np.where(0 <= v, v, 0.0))
        return out

    def score(self) -> np.ndarray | float:
        """``compCVfromStats``: the weighted sum in component order."""
        total: np.ndarray | float = 0.0
        for k, (_, w, kind, _) in enumerate(COMPONENTS):
            val = np.sqrt(self.var[k]) if kind == STD else self.s[k]
            total = total + w * val
        return total
