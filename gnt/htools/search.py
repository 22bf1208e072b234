"""Vectorised move search: score every (instance, move, target) at once.

:class:`Scorer` keeps, for the nodes of one group, the per-node component
values and the aggregates of every statistic (count, sum and variance of
the standard-deviation components, totals of the sums).  A candidate
changes at most three nodes, so its score follows from the aggregates
and the changed nodes' values in O(1) per candidate:
``var' = var + dQ/n - (2*S*dS + dS^2)/n^2`` with ``dS``/``dQ`` the
change of the sum / sum of squares.  :meth:`Scorer.best_moves` evaluates
a batch of instances against all target nodes for every allowed move
kind in Ganeti's candidate order and returns each instance's best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnt.htools import metrics
from gnt.htools.metrics import COMP_FUNCS, COMPONENTS, MAP, STD, SUM
from gnt.htools.moves import DRBD_KINDS, Batch, MoveOptions, allowed_kinds, transition
from gnt.htools.state import ClusterState
from gnt.htools.types import Move, MoveKind

_STD_K = [k for k, c in enumerate(COMPONENTS) if c[2] == STD]
_SUM_ON_K = [k for k, c in enumerate(COMPONENTS) if c[2] == SUM and c[3]]
_SUM_OFF_K = [k for k, c in enumerate(COMPONENTS) if c[2] == SUM and not c[3]]
_MAP_K = [k for k, c in enumerate(COMPONENTS) if c[2] == MAP]
_KIND_SLOT = {MoveKind.REPLACE_SECONDARY: 0, MoveKind.FAILOVER_TO_ANY: 0,
              MoveKind.REPLACE_AND_FAILOVER: 1, MoveKind.REPLACE_PRIMARY: 2,
              MoveKind.FAILOVER_AND_REPLACE: 3}
#: Up to this many nodes, scores are summed exactly in Ganeti's order.
EXACT_NODES = 120
#: Candidates closer than this (relative) to the best are re-scored exactly.
TIE_TOL = 1e-9
_SLOT_KINDS = [MoveKind.REPLACE_SECONDARY, MoveKind.REPLACE_AND_FAILOVER,
               MoveKind.REPLACE_PRIMARY, MoveKind.FAILOVER_AND_REPLACE]


@dataclass
class Candidate:
    """The best move found for one instance and the (estimated) score after it."""

    inst: int
    move: Move
    score: float
    alternatives: list[tuple[Move, float]] | None = None


class Scorer:
    """Aggregates of the cluster statistics over one group's nodes."""

    def __init__(self, st: ClusterState, nodes: np.ndarray) -> None:
        self.st = st
        self.nodes = np.asarray(nodes, dtype=np.int64)
        self.in_group = np.zeros(st.n_nodes, dtype=bool)
        self.in_group[self.nodes] = True
        self.refresh()

    def refresh(self, changed: list[int] | None = None) -> None:
        """Recompute per-node values and aggregates from the state.

        With ``changed`` (node indices touched by a move) only those nodes'
        values are recomputed.  The score is computed exactly (Ganeti's
        summation order) for groups up to :data:`EXACT_NODES` nodes, and
        from the numpy aggregates above that.
        """
        st = self.st
        self.online = self.in_group & ~st.offline
        self.offline_g = self.in_group & st.offline
        if changed is None:
            allv = metrics.values_from_rows(st.rows(np.arange(st.n_nodes)))
            self.vals = [np.array(np.broadcast_to(v, (st.n_nodes,)), dtype=float)
                         for v in allv]
        else:
            idx = np.asarray(changed, dtype=np.int64)
            for k, v in enumerate(metrics.values_from_rows(st.rows(idx))):
                self.vals[k][idx] = v
        on = np.flatnonzero(self.online)
        self.n_on = float(len(on))
        self.agg_s = np.zeros(len(COMPONENTS))
        self.agg_var = np.zeros(len(COMPONENTS))
        self.totals = np.zeros(len(COMPONENTS))
        comps = [0.0] * len(COMPONENTS)
        for k in _STD_K:
            x = self.vals[k][on]
            s = x.sum()
            self.agg_s[k] = s
            self.agg_var[k] = ((x - s / self.n_on) ** 2).sum() / self.n_on if len(on) else 0
            comps[k] = float(np.sqrt(self.agg_var[k])) if len(on) else float("nan")
        for k in _SUM_ON_K:
            self.totals[k] = comps[k] = float(self.vals[k][on].sum())
        for k in _SUM_OFF_K:
            self.totals[k] = comps[k] = float(self.vals[k][self.offline_g].sum())
        for k in _MAP_K:
            self.totals[k] = comps[k] = st.loc_excl_value(on)
        if len(self.nodes) <= EXACT_NODES:
            comps = metrics.component_values(st, self.nodes)
        self.comps = comps
        self.score = metrics.score_from_components(comps)

    # ------------------------------------------------------------- scoring
    def _candidate_scores(self, roles: dict, lxd: np.ndarray,
                          shape: tuple[int, int]) -> np.ndarray:
        nk = len(COMPONENTS)
        d_s: list[np.ndarray | float] = [0.0] * nk
        d_q: list[np.ndarray | float] = [0.0] * nk
        for nodes, row, base in roles.values():
            on = self.online[nodes]
            off = self.offline_g[nodes]
            for k, (deps, fn) in enumerate(COMP_FUNCS):
                if k in _MAP_K or not deps:
                    continue
                if all(row[f] is base[f] for f in deps):
                    continue
                mask = off if k in _SUM_OFF_K else on
                with np.errstate(invalid="ignore", divide="ignore"):
                    new = np.where(mask, fn(row), 0.0)
                old = np.where(mask, self.vals[k][nodes], 0.0)
                diff = new - old
                d_s[k] = d_s[k] + diff
                if k in _STD_K:
                    d_q[k] = d_q[k] + diff * (new + old)
        total = np.zeros(shape)
        n = self.n_on
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, (_, w, kind, _) in enumerate(COMPONENTS):
                if kind == STD:
                    ds, dq = d_s[k], d_q[k]
                    if isinstance(ds, float):
                        val = np.sqrt(self.agg_var[k])
                    else:
                        var = (self.agg_var[k] + dq / n
                               - (2.0 * self.agg_s[k] * ds + ds * ds) / (n * n))
                        val = np.sqrt(np.maximum(var, 0.0))
                elif kind == SUM:
                    val = self.totals[k] + d_s[k]
                else:
                    val = self.totals[k] + lxd
                total = total + w * val
        return np.broadcast_to(total, shape)

    def evaluate(self, b: Batch, kind: MoveKind, targets: np.ndarray,
                 opts: MoveOptions) -> np.ndarray:
        """Scores (B, T) of one move kind for a batch; +inf where refused."""
        nt = 1 if kind == MoveKind.FAILOVER else len(targets)
        shape = (len(b.idx), nt)
        roles, failed, lxd = transition(self.st, b, kind, targets, opts, self.online)
        scores = np.array(self._candidate_scores(roles, lxd, shape), dtype=float)
        scores[np.broadcast_to(failed, shape)] = np.inf
        return scores

    def best_moves(self, insts: np.ndarray, targets: np.ndarray,
                   opts: MoveOptions) -> list[Candidate | None]:
        """Each instance's best move (Ganeti's candidate order breaks ties)."""
        st = self.st
        insts = np.asarray(insts, dtype=np.int64)
        if not len(insts):
            return []
        b = Batch(st, insts)
        nt = len(targets)
        combined = np.full((len(insts), 1 + 4 * nt), np.inf)
        target_set = np.zeros(st.n_nodes, dtype=bool)
        target_set[targets] = True
        use_sec = np.where(b.s >= 0, target_set[np.where(b.s >= 0, b.s, 0)], False) \
            & opts.instance_moves
        allowed: dict[MoveKind, np.ndarray] = {k: np.zeros(len(insts), bool)
                                               for k in list(MoveKind)}
        for r, i in enumerate(insts):
            fo, kinds = allowed_kinds(int(st.i_mirror[i]), bool(use_sec[r]),
                                      bool(st.offline[b.p[r]]), opts)
            allowed[MoveKind.FAILOVER][r] = fo and st.i_mirror[i] == 1
            for k in kinds:
                allowed[k][r] = True
        same = (targets[None, :] == b.p[:, None]) | (targets[None, :] == b.s[:, None])
        for kind, mask in allowed.items():
            if not mask.any():
                continue
            rows = np.flatnonzero(mask)
            sub = Batch(st, insts[rows]) if len(rows) != len(insts) else b
            sc = self.evaluate(sub, kind, targets, opts)
            if kind == MoveKind.FAILOVER:
                combined[rows, 0] = sc[:, 0]
            else:
                sc[same[rows]] = np.inf
                slot = _KIND_SLOT[kind]
                combined[rows[:, None], 1 + slot + 4 * np.arange(nt)[None, :]] = sc
        best_col = np.argmin(combined, axis=1)
        row_min = combined[np.arange(len(insts)), best_col]
        tol = TIE_TOL * np.maximum(1.0, np.abs(row_min))
        finite = np.isfinite(row_min)
        if finite.any():
            bmin = row_min[finite].min()
            finite &= row_min <= bmin + TIE_TOL * max(1.0, abs(bmin))
        near_rows, near_cols = np.nonzero((combined <= (row_min + tol)[:, None])
                                          & finite[:, None])
        near: dict[int, list[int]] = {}
        for r, c in zip(near_rows.tolist(), near_cols.tolist()):
            near.setdefault(r, []).append(c)

        def decode(i: int, c: int) -> Move:
            if c == 0:
                return Move(MoveKind.FAILOVER)
            t, slot = divmod(c - 1, 4)
            kind = _SLOT_KINDS[slot]
            if st.i_mirror[i] == 2:
                kind = MoveKind.FAILOVER_TO_ANY
            return Move(kind, int(targets[t]))

        out: list[Candidate | None] = []
        for r, i in enumerate(insts):
            c = int(best_col[r])
            val = float(combined[r, c])
            if not np.isfinite(val):
                out.append(None)
                continue
            alts = [(decode(int(i), cc), float(combined[r, cc])) for cc in near.get(r, [])]
            out.append(Candidate(int(i), decode(int(i), c), val,
                                 alts if len(alts) > 1 else None))
        return out


__all__ = ["DRBD_KINDS", "Candidate", "Scorer", "allowed_kinds"]
