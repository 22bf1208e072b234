"""The hbal algorithm: repeated greedy best-move search (Ganeti's ``tryBalance``).

Each round picks the move (over all movable instances, all move kinds,
all target nodes) that lowers the cluster score most, exactly like
Ganeti.  For small clusters every round evaluates every candidate (the
same greedy sequence as Ganeti, up to floating-point ties, which are
decided by exact scores).  For large clusters a lazy variant keeps each
instance's best candidate and its gain when last evaluated, and each
round re-evaluates instances in the order of those gains until the best
fresh gain beats every remaining cached one; when that finds nothing it
goes on through all instances, so the run ends in a state where no
single move improves the score, as Ganeti's does (the sequence of moves
may differ from Ganeti's).

Public API::

    BalanceOptions (dataclass)
    balance(state, group_nodes, opts, on_move=None) -> BalanceResult
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gnt.htools import metrics
from gnt.htools.moves import MoveOptions, apply_move, new_nodes
from gnt.htools.search import TIE_TOL, Candidate, Scorer
from gnt.htools.state import DYN_FIELDS, ClusterState
from gnt.htools.types import Move, MoveKind, Placement

#: Below this many (instance x target) pairs, every round is a full search.
FULL_SEARCH_LIMIT = 50_000
LAZY_BATCH = 24
#: The first lazy chunk (chunks then double up to LAZY_BATCH).
LAZY_FIRST = 12
CHUNK_ELEMS = 200_000
#: How much of the lazy order is sorted first (see ``smallest_first``).
LAZY_HEAD = 4 * LAZY_BATCH


def smallest_first(keys: np.ndarray, m: int) -> np.ndarray:
    """The positions of the ``m`` smallest keys in ascending order, ties by
    position: the first ``m`` of ``np.argsort(keys, kind="stable")`` (all of
    it when the head cannot be told apart cheaply, e.g. with NaNs)."""
    n = len(keys)
    if m >= n:
        return np.argsort(keys, kind="stable")
    thr = np.partition(keys, m - 1)[m - 1]
    sel = np.flatnonzero(keys <= thr)
    if len(sel) < m:    # NaN threshold
        return np.argsort(keys, kind="stable")
    return sel[np.argsort(keys[sel], kind="stable")][:m]


@dataclass
class BalanceOptions:
    """hbal's algorithm options (defaults as in Ganeti)."""

    max_rounds: int = -1                 # -l
    min_score: float = 1e-9              # -e
    min_gain: float = 0.01               # -g
    min_gain_limit: float = 0.1          # --min-gain-limit
    moves: MoveOptions = field(default_factory=MoveOptions)
    full_search_limit: int = FULL_SEARCH_LIMIT


@dataclass
class BalanceResult:
    initial_score: float
    final_score: float
    placements: list[Placement]
    optimal_score: float


class _Snapshot:
    """Saved node rows and instance fields, to undo a tentative move."""

    def __init__(self, st: ClusterState, nodes: list[int], inst: int) -> None:
        self.nodes = nodes
        self.inst = inst
        self.rows = {k: getattr(st, k)[nodes].copy() for k in DYN_FIELDS}
        self.peers = st.peers[nodes].copy()
        self.ptags = st.ptags[nodes].copy()
        self.lx = st.lx[nodes].copy()
        self.ifields = (st.i_pnode[inst], st.i_snode[inst], st.i_loc[inst])

    def restore(self, st: ClusterState) -> None:
        for k, v in self.rows.items():
            getattr(st, k)[self.nodes] = v
        st.peers[self.nodes] = self.peers
        st.ptags[self.nodes] = self.ptags
        st.lx[self.nodes] = self.lx
        st.i_pnode[self.inst], st.i_snode[self.inst], st.i_loc[self.inst] = self.ifields


def movable_instances(st: ClusterState, nodes: np.ndarray, opts: MoveOptions) -> np.ndarray:
    """Instances of the group hbal may move (movable, auto-balanced, evac filter)."""
    insts = st.group_instances(nodes)
    if not len(insts):
        return insts
    keep = st.i_movable[insts] & st.i_auto[insts]
    if opts.evac_mode:
        off = st.offline
        p = st.i_pnode[insts]
        s = st.i_snode[insts]
        on_off = off[p] | (np.where(st.i_has_sec[insts] & (s >= 0), off[np.maximum(s, 0)],
                                    False))
        keep &= on_off
    return insts[keep]


class Balancer:
    """Runs the greedy rounds; see the module docstring."""

    def __init__(self, st: ClusterState, nodes: np.ndarray, opts: BalanceOptions) -> None:
        self.st = st
        self.nodes = np.asarray(nodes, dtype=np.int64)
        self.opts = opts
        self.scorer = Scorer(st, self.nodes, alias_moves=True)
        self.insts = movable_instances(st, self.nodes, opts.moves)
        self.cache: dict[int, Candidate | None] = {}
        #: instances whose move turned out not to apply, in the current step
        self.skip: set[int] = set()
        #: lazy-search rank per instance: the (negative) gain of its cached best
        #: move when it was evaluated; -inf never evaluated, +inf no move
        self.rank = np.full(len(st.cdata.instances), -np.inf)

    @property
    def targets(self) -> np.ndarray:
        return self.nodes[~self.st.offline[self.nodes]]

    def _evaluate(self, insts: np.ndarray) -> list[Candidate | None]:
        targets = self.targets
        per = max(1, CHUNK_ELEMS // (1 + 4 * len(targets)))
        out: list[Candidate | None] = []
        for k in range(0, len(insts), per):
            out.extend(self.scorer.best_moves(insts[k:k + per], targets, self.opts.moves))
        cur = self.scorer.score
        for i, c in zip(insts.tolist(), out):
            self.cache[i] = c
            self.rank[i] = np.inf if c is None else c.score - cur
        return out

    def _accepts(self, cur: float, new: float) -> bool:
        o = self.opts
        return new < cur and (cur > o.min_gain_limit or cur - new >= o.min_gain)

    def _full_best(self) -> Candidate | None:
        if len(self.insts) * len(self.targets) <= self.opts.full_search_limit:
            # every round is a full search: only the best and its ties matter
            cands = self.scorer.best_moves(self.insts, self.targets, self.opts.moves,
                                           near_only=True)
            return self._pick(cands)
        return self._pick(self._evaluate(self.insts))

    def _pick(self, cands: list[Candidate | None]) -> Candidate | None:
        """The best candidate; near-ties are decided by exact (Ganeti-order) scores."""
        valid = [c for c in cands if c is not None and c.inst not in self.skip]
        if not valid:
            return None
        best = min(c.score for c in valid)
        tol = TIE_TOL * max(1.0, abs(best))
        ties = [(c.inst, mv, sc) for c in sorted(valid, key=lambda c: c.inst)
                for mv, sc in (c.alternatives or [(c.move, c.score)]) if sc <= best + tol]
        if len(ties) == 1:
            return Candidate(ties[0][0], ties[0][1], ties[0][2])
        exact = self.scorer.exact_scores([(inst, mv) for inst, mv, _ in ties],
                                         self.opts.moves)
        winner: Candidate | None = None
        for (inst, mv, _), sc in zip(ties, exact):
            if sc is not None and (winner is None or sc < winner.score):
                winner = Candidate(inst, mv, sc)
        return winner

    def _lazy_best(self, exhaustive: bool = False) -> Candidate | None:
        """Lazy greedy: instances are re-evaluated in the order of the gain their
        best move had when last evaluated (never evaluated first), until the
        best fresh gain beats every remaining cached one.  ``exhaustive``
        (after that found no improving move): go on, in growing chunks, until
        an improving move is found or every instance has been evaluated."""
        cur = self.scorer.score
        keys = self.rank[self.insts]
        ninst = len(keys)
        # only the head of the order is usually needed: sort all of it only
        # when the search gets past that head
        perm = smallest_first(keys, LAZY_HEAD)
        best: Candidate | None = None
        seen: list[Candidate | None] = []
        pos = 0
        size = LAZY_FIRST
        limit = max(LAZY_BATCH, CHUNK_ELEMS // (1 + 4 * len(self.targets))) \
            if exhaustive else LAZY_BATCH
        while pos < ninst:
            if pos + size > len(perm) and len(perm) < ninst:
                perm = np.argsort(keys, kind="stable")
            chunk = self.insts[perm[pos:pos + size]]
            pos += len(chunk)
            size = min(2 * size, limit)
            seen.extend(self._evaluate(chunk))
            best = self._pick(seen)
            if pos >= ninst:
                break
            if pos >= len(perm):
                perm = np.argsort(keys, kind="stable")
            nxt = float(keys[perm[pos]])
            if best is not None and best.score - cur <= nxt and \
                    (not exhaustive or best.score < cur):
                break
            if nxt >= 0 and not exhaustive:
                break
        return best

    def _fallback(self) -> Candidate | None:
        """The search after the first one found nothing acceptable."""
        if len(self.insts) * len(self.targets) <= self.opts.full_search_limit:
            return self._full_best()
        return self._lazy_best(exhaustive=True)

    def step(self) -> Placement | None:
        """Find and apply one move; None when no acceptable move exists."""
        cur = self.scorer.score
        eps = 1e-12 * max(1.0, abs(cur))
        self.skip.clear()
        if self.opts.moves.evac_mode:
            self.insts = movable_instances(self.st, self.nodes, self.opts.moves)
        full = len(self.insts) * len(self.targets) <= self.opts.full_search_limit \
            or not self.cache
        tried_full = full
        cand = self._full_best() if full else self._lazy_best()
        while True:
            # a candidate within rounding noise of the current score is
            # decided by its exact score (Ganeti accepts a 1-ulp gain)
            near = cand is not None and abs(cand.score - cur) <= eps
            if cand is None or not (near or (cand.score < cur
                                             and self._accepts(cur, cand.score))):
                if tried_full:
                    return None
                tried_full = True
                cand = self._fallback()
                continue
            placement = self._apply(cand, cur)
            if placement is not None:
                return placement
            if near:
                if tried_full:
                    return None
                tried_full = True
                cand = self._fallback()
                continue
            # numerical noise: drop the instance for this step and retry
            self.skip.add(cand.inst)
            self.cache[cand.inst] = None
            self.rank[cand.inst] = np.inf
            cand = self._fallback() if tried_full else self._lazy_best()
            tried_full = True

    def _apply(self, cand: Candidate, cur: float) -> Placement | None:
        st = self.st
        i = cand.inst
        p, s = int(st.i_pnode[i]), int(st.i_snode[i])
        touched = sorted({x for x in (p, s, cand.move.target) if x >= 0})
        snap = _Snapshot(st, touched, i)
        if not apply_move(st, i, cand.move, self.opts.moves, self.scorer.online):
            return None
        self.scorer.refresh(touched)
        new_score = self.scorer.score
        if not (new_score < cur and self._accepts(cur, new_score)):
            snap.restore(st)
            self.scorer.refresh(touched)
            return None
        self.cache.pop(i, None)
        self.rank[i] = -np.inf
        np_, ns = new_nodes(cand.move.kind, np.array(p), np.array(s),
                            np.array(cand.move.target))
        return Placement(i, int(np_), int(ns), cand.move, self.scorer.score,
                         {"old_pri": p, "old_sec": s})

    def run(self, on_move: Callable[[Placement, int], None] | None = None) -> BalanceResult:
        st, opts = self.st, self.opts
        ini = self.scorer.score
        opt_cv = metrics.optimal_score(st, self.nodes)
        min_score = opt_cv + opts.min_score
        placements: list[Placement] = []
        while (opts.max_rounds < 0 or len(placements) < opts.max_rounds) \
                and self.scorer.score > min_score:
            plc = self.step()
            if plc is None:
                break
            placements.append(plc)
            if on_move is not None:
                on_move(plc, len(placements))
        return BalanceResult(ini, self.scorer.score, placements, opt_cv)


def balance(st: ClusterState, nodes: np.ndarray, opts: BalanceOptions,
            on_move: Callable[[Placement, int], None] | None = None) -> BalanceResult:
    """Balance the group made of ``nodes``; moves are applied to ``st``."""
    return Balancer(st, nodes, opts).run(on_move)


__all__ = [
    "BalanceOptions",
    "BalanceResult",
    "Move",
    "MoveKind",
    "balance",
    "movable_instances",
]
