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

Cost savers that keep the scores bit-identical: deltas are kept only for
the components a move kind changes (in their broadcast shape); all kinds
of a batch are scored in one pass over a (B, 1 + 4T) matrix; components
that cannot change (no exclusion tags, no locations) are constants; and
components that provably hold the same per-node values during a balance
(equal load columns, ``*_forth`` statistics without forthcoming
instances, the reserved-memory cv and total) are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnt.htools import metrics
from gnt.htools.metrics import COMP_FUNCS, COMPONENTS, MAP, STD, SUM
from gnt.htools.moves import DRBD_KINDS, Batch, MoveOptions, allowed_kinds, transition
from gnt.htools.state import DYN_FIELDS, ClusterState
from gnt.htools.types import Move, MoveKind

_STD_K = [k for k, c in enumerate(COMPONENTS) if c[2] == STD]
_SUM_ON_K = [k for k, c in enumerate(COMPONENTS) if c[2] == SUM and c[3]]
_SUM_OFF_K = [k for k, c in enumerate(COMPONENTS) if c[2] == SUM and not c[3]]
_MAP_K = [k for k, c in enumerate(COMPONENTS) if c[2] == MAP]
_STD_SET, _SUM_OFF_SET = set(_STD_K), set(_SUM_OFF_K)
_STD_KA, _SUM_ON_KA, _SUM_OFF_KA = (np.array(x, dtype=np.int64)
                                    for x in (_STD_K, _SUM_ON_K, _SUM_OFF_K))
_PTAGS, _LOC = metrics.IDX["pri_tags_score"], metrics.IDX["location_score"]
_LD_C, _LD_M, _LD_N, _DSK, _DSK_F, _CPU, _CPU_F, _SP, _SP_F, _RMEM, _RTOTAL = (
    metrics.IDX[n] for n in (
        "cpu_load_cv", "mem_load_cv", "net_load_cv", "free_disk_cv", "free_disk_cv_forth",
        "vcpu_ratio_cv", "vcpu_ratio_cv_forth", "spindles_cv", "spindles_cv_forth",
        "reserved_mem_cv", "reserved_mem_rtotal"))
_KIND_SLOT = {MoveKind.REPLACE_SECONDARY: 0, MoveKind.FAILOVER_TO_ANY: 0,
              MoveKind.REPLACE_AND_FAILOVER: 1, MoveKind.REPLACE_PRIMARY: 2,
              MoveKind.FAILOVER_AND_REPLACE: 3}
#: Up to this many nodes, scores are summed exactly in Ganeti's order.
EXACT_NODES = 120
#: Candidates closer than this (relative) to the best are re-scored exactly.
TIE_TOL = 1e-9
_SLOT_KINDS = [MoveKind.REPLACE_SECONDARY, MoveKind.REPLACE_AND_FAILOVER,
               MoveKind.REPLACE_PRIMARY, MoveKind.FAILOVER_AND_REPLACE]


_DYN = frozenset(DYN_FIELDS)


def _values(st: ClusterState, idx: np.ndarray) -> np.ndarray:
    """(K, len(idx)) component values of the given nodes."""
    return metrics.stack(metrics.values_from_rows(st.rows(idx)), (len(idx),))


@dataclass
class Candidate:
    """The best move found for one instance and the (estimated) score after it."""

    inst: int
    move: Move
    score: float
    alternatives: list[tuple[Move, float]] | None = None


class Scorer:
    """Aggregates of the cluster statistics over one group's nodes."""

    def __init__(self, st: ClusterState, nodes: np.ndarray, *,
                 alias_moves: bool = False) -> None:
        """``alias_moves``: every candidate moves an instance of ``st`` (nothing
        is added), so node fields that are equal stay equal and components
        computed from them can be computed once."""
        self.st = st
        self.alias_moves = alias_moves
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
            #: (K, N) every node's component values
            self.vals = _values(st, np.arange(st.n_nodes))
            self.pos_of = np.full(st.n_nodes, -1, dtype=np.int64)
            self.pos_of[self.nodes] = np.arange(len(self.nodes))
        else:
            idx = np.asarray(changed, dtype=np.int64)
            self.vals[:, idx] = _values(st, idx)
        on = np.flatnonzero(self.online)
        n = len(on)
        self.n_on = float(n)
        K = len(COMPONENTS)
        self.agg_s = np.zeros(K)
        self.agg_var = np.zeros(K)
        self.totals = np.zeros(K)
        comps_a = np.zeros(K)
        if n:
            x = self.vals[np.ix_(_STD_KA, on)]
            s = x.sum(axis=1)
            self.agg_s[_STD_K] = s
            self.agg_var[_STD_K] = ((x - (s / self.n_on)[:, None]) ** 2).sum(axis=1) / self.n_on
            comps_a[_STD_K] = np.sqrt(self.agg_var[_STD_K])
        else:
            comps_a[_STD_K] = np.nan
        self.totals[_SUM_ON_K] = self.vals[np.ix_(_SUM_ON_KA, on)].sum(axis=1)
        self.totals[_SUM_OFF_K] = self.vals[np.ix_(_SUM_OFF_KA,
                                                   np.flatnonzero(self.offline_g))].sum(axis=1)
        self.totals[_MAP_K] = st.loc_excl_value(on)
        comps_a[_SUM_ON_K + _SUM_OFF_K + _MAP_K] = self.totals[_SUM_ON_K + _SUM_OFF_K + _MAP_K]
        if len(self.nodes) <= EXACT_NODES:
            gv = self.vals[:, self.nodes]
            off = st.offline[self.nodes]
            comps_a = metrics.components_exact(gv[:, ~off], gv[:, off], self.totals[_MAP_K[0]])
        comps = comps_a.tolist() if n else []   # no online node: no statistics
        self.comps = comps
        self.score = metrics.score_from_components(comps)
        # each component's value for candidates that leave it unchanged
        cv = self.totals.copy()
        cv[_STD_K] = np.sqrt(np.maximum(self.agg_var[_STD_K], 0.0)) if n else np.nan
        self.const_val: list[np.float64] = list(cv)
        if changed is None:
            self._set_active()

    def _set_active(self) -> None:
        """The components candidates may change, and identical ones (aliases)."""
        st = self.st
        static = set(_MAP_K)
        if not st.i_excl.shape[1]:
            static.add(_PTAGS)             # no exclusion tags: no conflicts
        if not st.n_loc.shape[1] and not st.i_dsrd_cnt.any():
            static.add(_LOC)               # no locations: location score stays 0
        self.alias: dict[int, int] = {}
        if self.alias_moves:
            eq = lambda a, b: np.array_equal(getattr(st, a), getattr(st, b))
            u = st.i_util
            no_forth = not st.i_forth.any()
            for k, k0, same in (
                    (_LD_M, _LD_C, eq("ld_m", "ld_c") and np.array_equal(u[:, 0], u[:, 1])),
                    (_LD_N, _LD_C, eq("ld_n", "ld_c") and np.array_equal(u[:, 0], u[:, 3])),
                    (_DSK_F, _DSK, no_forth and eq("f_dsk_forth", "f_dsk")
                     and eq("f_sp_forth", "f_sp")),
                    (_CPU_F, _CPU, no_forth and eq("u_cpu_forth", "u_cpu")),
                    (_SP_F, _SP, no_forth and eq("inst_sp_forth", "inst_sp"))):
                if same:
                    self.alias[k] = k0
        self.active = [k for k, (deps, _) in enumerate(COMP_FUNCS)
                       if deps and k not in static and k not in self.alias
                       and k != _RTOTAL]

    # ------------------------------------------------------------- exact scores
    def exact_scores(self, cands: list[tuple[int, Move]], opts: MoveOptions
                     ) -> list[float | None]:
        """Exact (Ganeti-order) group scores after each move (instance, move),
        as ``metrics.score`` would compute them once the move is applied
        with ``moves.apply_move``; None where the move is refused.  The
        state is not changed: the moved nodes' new rows are computed for
        all candidates of a kind at once (paired targets)."""
        st = self.st
        out: list[float | None] = [None] * len(cands)
        by_kind: dict[MoveKind, list[int]] = {}
        for j, (_, mv) in enumerate(cands):
            by_kind.setdefault(mv.kind, []).append(j)
        gvals = self.vals[:, self.nodes]
        off = st.offline[self.nodes]
        base_map = self.totals[_MAP_K[0]]
        for kind, js in by_kind.items():
            insts = np.array([cands[j][0] for j in js], dtype=np.int64)
            tgt = np.array([[max(cands[j][1].target, 0)] for j in js], dtype=np.int64)
            roles, failed, lxd = transition(st, Batch(st, insts), kind, tgt, opts, self.online)
            c = len(js)
            placed = []
            for nodes, row, _ in roles.values():
                new = {k: (np.asarray(v, dtype=getattr(st, k).dtype) if k in _DYN else v)
                       for k, v in row.items()}
                vals = metrics.stack(metrics.values_from_rows(new), (c, 1))[:, :, 0]
                placed.append((self.pos_of[np.broadcast_to(nodes, (c, 1))[:, 0]], vals))
            scores = metrics.scores_with_changes(
                gvals, off, placed, base_map + np.broadcast_to(lxd, (c, 1))[:, 0])
            bad = np.broadcast_to(failed, (c, 1))[:, 0]
            for j, sc, f in zip(js, scores.tolist(), bad.tolist()):
                out[j] = None if f else sc
        return out

    # ------------------------------------------------------------- scoring
    def deltas(self, roles: dict, shape: tuple[int, ...], memo: dict | None = None
               ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Per changed component, the change of the sum (``d_s``) and of the sum
        of squares (``d_q``, std-dev components only) of the candidates: arrays
        broadcastable to ``shape``; components absent are unchanged.

        ``memo``: a dict shared by calls whose roles may share node arrays
        and row fields (the move kinds of one batch): a component's change
        on a role is computed once per identical (nodes, fields) objects."""
        d_s: dict[int, np.ndarray] = {}
        d_q: dict[int, np.ndarray] = {}
        for nodes, row, base in roles.values():
            on = self.online[nodes]
            all_on = bool(on.all())
            off = self.offline_g[nodes]
            any_off = bool(off.any())
            changed = {f for f, v in row.items() if v is not base[f]}
            for k in self.active:
                deps, fn = COMP_FUNCS[k]
                if changed.isdisjoint(deps):
                    continue
                if not any_off and k in _SUM_OFF_SET:
                    continue  # adds zeros
                fields = [row[f] for f in deps]
                key = (k, id(nodes), *map(id, fields))
                hit = memo.get(key) if memo is not None else None
                if hit is not None:
                    diff, sq = hit[0], hit[1]
                else:
                    if k in _SUM_OFF_SET:
                        mask, full = off, False
                    else:
                        mask, full = on, all_on
                    if full:
                        new = fn(row)
                        old = self.vals[k][nodes]
                    else:
                        new = np.where(mask, fn(row), 0.0)
                        old = np.where(mask, self.vals[k][nodes], 0.0)
                    diff = new - old
                    sq = diff * (new + old) if k in _STD_SET else None
                    if memo is not None:  # (the objects are kept alive with their ids)
                        memo[key] = (diff, sq, nodes, fields)
                d_s[k] = d_s[k] + diff if k in d_s else diff
                if sq is not None:
                    d_q[k] = d_q[k] + sq if k in d_q else sq
        # the reserved-memory total sums the same per-node values as the cv
        if _RMEM in d_s:
            d_s[_RTOTAL] = d_s[_RMEM]
        return d_s, d_q

    def scores_from(self, d_s: dict[int, np.ndarray], d_q: dict[int, np.ndarray],
                    lxd: np.ndarray | int, shape: tuple[int, ...]) -> np.ndarray:
        """Estimated scores (a new array of ``shape``) of candidates from their
        deltas and the aggregates (see :meth:`deltas`).  The terms of the
        unchanged components are added as one constant (the estimate may
        differ from the exact score in the last bits; callers decide
        near-ties exactly)."""
        total: np.ndarray | float = 0.0
        const = 0.0
        n = self.n_on
        # (numpy division: no online node gives inf/NaN, as Ganeti's Doubles)
        inv_n, inv_n2 = np.float64(1.0) / n, np.float64(1.0) / (n * n)
        vals: dict[int, np.ndarray | np.float64] = {}
        for k, (_, w, kind, _) in enumerate(COMPONENTS):
            val: np.ndarray | np.float64
            if k in self.alias:
                val = vals[self.alias[k]]
            elif kind == MAP:
                val = self.totals[k] + lxd
            elif k not in d_s:
                val = self.const_val[k]
            elif kind == STD:
                ds, dq = d_s[k], d_q[k]
                # var + dQ/n - (2*S*dS + dS^2)/n^2
                var = ds * inv_n2
                var += 2.0 * self.agg_s[k] * inv_n2
                var *= ds
                np.subtract(dq * inv_n, var, out=var)
                var += self.agg_var[k]
                np.maximum(var, 0.0, out=var)
                val = np.sqrt(var, out=var)
            else:
                val = self.totals[k] + d_s[k]
            vals[k] = val
            if isinstance(val, np.ndarray) and val.ndim:
                total = total + w * val
            else:
                const += w * float(val)
        out = np.empty(shape)
        np.add(total, const, out=out)
        return out

    def _candidate_scores(self, roles: dict, lxd: np.ndarray,
                          shape: tuple[int, int]) -> np.ndarray:
        d_s, d_q = self.deltas(roles, shape)
        return self.scores_from(d_s, d_q, lxd, shape)

    def evaluate(self, b: Batch, kind: MoveKind, targets: np.ndarray,
                 opts: MoveOptions) -> np.ndarray:
        """Scores (B, T) of one move kind for a batch; +inf where refused."""
        nt = 1 if kind == MoveKind.FAILOVER else len(targets)
        shape = (len(b.idx), nt)
        roles, failed, lxd = transition(self.st, b, kind, targets, opts, self.online)
        scores = np.array(self._candidate_scores(roles, lxd, shape), dtype=float)
        scores[np.broadcast_to(failed, shape)] = np.inf
        return scores

    def allowed_kinds(self, insts: np.ndarray, targets: np.ndarray, opts: MoveOptions
                      ) -> tuple[dict[MoveKind, np.ndarray], np.ndarray]:
        """Per move kind, which instances may make it (``moves.allowed_kinds``,
        vectorised); and (B, T): target is a node of the instance already."""
        st = self.st
        p, s = st.i_pnode[insts], st.i_snode[insts]
        target_set = np.zeros(st.n_nodes, dtype=bool)
        target_set[targets] = True
        use_sec = np.where(s >= 0, target_set[np.where(s >= 0, s, 0)], False) \
            & opts.instance_moves
        mirror = st.i_mirror[insts]
        drbd = mirror == 1
        rs = drbd & opts.disk_moves
        raf = rs & opts.instance_moves & ~(opts.restricted_migration & ~st.offline[p])
        allowed = {k: np.zeros(len(insts), bool) for k in list(MoveKind)}
        allowed[MoveKind.FAILOVER] = drbd & use_sec
        allowed[MoveKind.FAILOVER_TO_ANY] = (mirror == 2) & opts.instance_moves
        allowed[MoveKind.REPLACE_SECONDARY] = rs
        allowed[MoveKind.REPLACE_AND_FAILOVER] = raf
        allowed[MoveKind.FAILOVER_AND_REPLACE] = raf & use_sec
        allowed[MoveKind.REPLACE_PRIMARY] = raf & use_sec & (not opts.restricted_migration)
        same = (targets[None, :] == p[:, None]) | (targets[None, :] == s[:, None])
        return allowed, same

    def best_moves(self, insts: np.ndarray, targets: np.ndarray,
                   opts: MoveOptions, near_only: bool = False) -> list[Candidate | None]:
        """Each instance's best move (Ganeti's candidate order breaks ties);
        with ``near_only``, None for instances not tied with the overall best.

        Every allowed kind's deltas go into one (B, 1 + 4T) matrix (column 0
        the failover, then ``1 + slot + 4 * t`` per target ``t``), scored in
        one pass."""
        st = self.st
        insts = np.asarray(insts, dtype=np.int64)
        if not len(insts):
            return []
        b = Batch(st, insts)
        nb, nt = len(insts), len(targets)
        shape = (nb, 1 + 4 * nt)
        combined = np.full(shape, np.inf)
        allowed, same = self.allowed_kinds(insts, targets, opts)
        memo: dict = {}   # the parts common to the kinds, for the whole batch
        dmemo: dict = {}  # their score deltas
        for kind, mask in allowed.items():
            if not mask.any():
                continue
            full = bool(mask.all())
            rows: slice | np.ndarray = slice(None) if full else np.flatnonzero(mask)
            sub = b if full else Batch(st, insts[rows])
            cols = slice(0, 1) if kind == MoveKind.FAILOVER else \
                slice(1 + _KIND_SLOT[kind], shape[1], 4)
            kshape = (len(sub.idx), 1 if kind == MoveKind.FAILOVER else nt)
            roles, failed, lxd = transition(st, sub, kind, targets, opts, self.online,
                                            memo if full else None)
            d_s, d_q = self.deltas(roles, kshape, dmemo if full else None)
            scores = self.scores_from(d_s, d_q, lxd, kshape)
            f = np.broadcast_to(failed, kshape)
            if kind != MoveKind.FAILOVER:
                f = f | same[rows]
            scores[f] = np.inf
            combined[rows, cols] = scores
        return candidates_from(st, insts, targets, combined, near_only)


def candidates_from(st: ClusterState, insts: np.ndarray, targets: np.ndarray,
                    combined: np.ndarray, near_only: bool = False) -> list[Candidate | None]:
    """Each instance's best candidate from the score matrix (B, 1 + 4T): column 0
    is the failover, then the four DRBD move kinds per target; near-ties of the
    overall best are listed as alternatives (decided exactly by the caller)."""
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
    keep = finite.tolist() if near_only else None
    for r, i in enumerate(insts.tolist()):
        c = int(best_col[r])
        val = float(combined[r, c])
        if not np.isfinite(val) or (keep is not None and not keep[r]):
            out.append(None)
            continue
        alts = [(decode(int(i), cc), float(combined[r, cc])) for cc in near.get(r, [])]
        out.append(Candidate(int(i), decode(int(i), c), val,
                             alts if len(alts) > 1 else None))
    return out


__all__ = ["DRBD_KINDS", "Candidate", "Scorer", "allowed_kinds", "candidates_from"]
