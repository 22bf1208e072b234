"""Placing new instances the way hail does (Ganeti's ``tryAlloc`` family).

* :func:`try_alloc`: the best node (one-node templates) or node pair
  (DRBD) among candidates, with Ganeti's checks and exact scores:
  single nodes are scored by recomputing the cluster score, pairs by
  Ganeti's incremental statistics (the same float operations, so equal
  scores and ties come out as in Ganeti; ties go to the later candidate).
  With capacity checks on, candidates are tried best first until one
  keeps the cluster globally N+1 redundant; the rejected ones count as
  ``FailN1``.
* :func:`alloc_in_group` / :func:`alloc_multi_group`: allocation in a
  named group, or in the best group (preferred before last-resort, then
  score), with Ganeti's log messages.
* :func:`alloc_list`: several instances one after the other.

Sizes are MiB.  All functions leave the given state unchanged; a
successful solution carries the state after the allocation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gnt.htools import metrics, nodeops
from gnt.htools.errors import HtoolsError
from gnt.htools.fmt import hs_fixed
from gnt.htools.globaln1 import capacity_nodes, drbd_failover_ok, unevacuable
from gnt.htools.model import Instance
from gnt.htools.policy import instance_policy_failure
from gnt.htools.state import (
    ClusterState,
    add_instance,
    dsrd_vector,
    excl_vector,
    instance_attrs,
)
from gnt.htools.types import AllocPolicy, FailMode

#: Order of the failure modes in messages (Ganeti's ``[minBound..maxBound]``).
FAIL_ORDER = [FailMode.MEM, FailMode.DISK, FailMode.CPU, FailMode.N1, FailMode.TAGS,
              FailMode.MIG, FailMode.DISKCOUNT, FailMode.SPINDLES, FailMode.INTERNAL]


class AllocError(HtoolsError):
    """An allocation request cannot even be attempted (message as Ganeti's)."""


@dataclass
class AllocOptions:
    """hail's algorithm options."""

    ignore_soft_errors: bool = False
    capacity: bool = True
    restrict_nodes: list[str] | None = None
    #: groups whose nodes the capacity check does not verify (hspace
    #: ``--independent-groups``: the groups not redundant to begin with)
    capacity_ignore_groups: frozenset[int] = frozenset()
    #: the capacity check skips offline nodes (hspace ``--accept-existing-errors``)
    accept_existing: bool = False


@dataclass
class AllocSolution:
    """Ganeti's ``AllocSolution``: failures, successes, the best placement, log."""

    failures: Counter = field(default_factory=Counter)
    allocs: int = 0
    nodes: tuple[int, ...] | None = None
    score: float = 0.0
    state: ClusterState | None = None
    log: list[str] = field(default_factory=list)

    @property
    def nfail(self) -> int:
        return sum(self.failures.values())


def fail_reasons(failures: Counter) -> str:
    """``FailMem: 3, FailN1: 1`` (Ganeti's order, non-zero counts only)."""
    return ", ".join(f"{m.value}: {failures[m]}" for m in FAIL_ORDER if failures.get(m))


def describe(st: ClusterState, sol: AllocSolution) -> str:
    """Ganeti's ``describeSolution`` line for one solution."""
    if sol.nodes is None:
        reasons = fail_reasons(sol.failures) if sol.nfail else "unknown reasons"
        return "No valid allocation solutions, failure reasons: " + reasons
    names = "/".join(st.cdata.nodes[k].name for k in sol.nodes)
    return (f"score: {hs_fixed(sol.score, 8)}, successes {sol.allocs}, failures "
            f"{sol.nfail} ({fail_reasons(sol.failures)}) for node(s) {names}")


def _code_modes(codes: np.ndarray) -> Counter:
    out: Counter = Counter()
    vals, counts = np.unique(codes[codes > 0], return_counts=True)
    for v, c in zip(vals.tolist(), counts.tolist()):
        out[nodeops.FAIL_MODES[v - 1]] += c
    return out


_POLICY_CODE = {m: k + 1 for k, m in enumerate(nodeops.FAIL_MODES)}


def _policy_codes(st: ClusterState, inst: Instance, nodes: np.ndarray) -> np.ndarray:
    out = np.zeros(len(nodes), dtype=np.int8)
    cache: dict[tuple[int, bool], int] = {}
    for k, node in enumerate(nodes.tolist()):
        key = (int(st.group[node]), bool(st.excl[node]))
        if key not in cache:
            pol = st.cdata.groups[key[0]].ipolicy if st.cdata.groups else st.cdata.ipolicy
            fail = instance_policy_failure(inst, pol, key[1])
            cache[key] = 0 if fail is None else _POLICY_CODE[fail]
        out[k] = cache[key]
    return out


#: Per placement (primary, secondary), the node whose evacuation failed when it
#: was last checked: tried first next time (the check is a yes/no question,
#: so the order only saves time).
_FAIL_HINTS: dict[tuple[int, int], int] = {}


def _redundant(st: ClusterState, nodes: np.ndarray, check: np.ndarray,
               where: tuple[int, int]) -> bool:
    hint = _FAIL_HINTS.get(where)
    bad = unevacuable(st, nodes, () if hint is None else (hint,), check)
    if bad is None:
        return True
    if len(_FAIL_HINTS) > 4096:
        _FAIL_HINTS.clear()
    _FAIL_HINTS[where] = bad
    return False


class _Capacity:
    """The global N+1 predicate of one allocation attempt."""

    def __init__(self, st: ClusterState, inst: Instance, score_nodes: np.ndarray,
                 enabled: bool, existing: bool = False, replace: int | None = None,
                 opts: AllocOptions | None = None) -> None:
        self.st, self.inst, self.nodes = st, inst, score_nodes
        self.check_nodes = score_nodes if opts is None else capacity_nodes(
            st, score_nodes, opts.capacity_ignore_groups, opts.accept_existing)
        #: the instance's record (and placement) becomes ``inst`` (allocate-secondary)
        self.replace = replace
        self.enabled = enabled
        self.existing = existing
        # Ganeti gives the new instance the index "number of instances on these
        # nodes"; inside one group that may be the index of one of the group's
        # instances, whose record the new one then replaces for the check
        self.collide: int | None = None
        if enabled and len(score_nodes) < st.n_nodes:
            on = np.zeros(st.n_nodes, dtype=bool)
            on[score_nodes] = True
            k = int(on[st.i_pnode].sum())
            if k < st.n_insts and on[st.i_pnode[k]]:
                self.collide = k
        # adding an instance only uses resources: a node that cannot fail its
        # DRBD instances over now never will, so every candidate fails (unless
        # the index collision above hides an instance from the check, or the
        # instance's own record is replaced)
        self.hopeless = bool(enabled and self.collide is None and replace is None
                             and not existing
                             and not drbd_failover_ok(st, self.check_nodes).all())

    def check(self, pnode: int, snode: int) -> ClusterState | None:
        """The state after the allocation if it passes the check, else None."""
        if self.hopeless:
            return None
        where = (pnode, snode)
        if self.replace is not None:
            new = add_instance(self.st, self.inst, pnode, snode, replace_at=self.replace)
            return new if not self.enabled or self._ok(new, where) else None
        if self.collide is not None and not self.existing:
            check = add_instance(self.st, self.inst, pnode, snode, replace_at=self.collide)
            if not self._ok(check, where):
                return None
            return add_instance(self.st, self.inst, pnode, snode)
        new = add_instance(self.st, self.inst, pnode, snode, record=not self.existing)
        if self.enabled and not self._ok(new, where):
            return None
        return new

    def _ok(self, st: ClusterState, where: tuple[int, int]) -> bool:
        return _redundant(st, self.nodes, self.check_nodes, where)


def _choose(scores: list[tuple[float, int, int, int]], cap: _Capacity
            ) -> tuple[tuple[float, int, int, int] | None, ClusterState | None, int]:
    """Best candidate passing the capacity check: (candidate, state, dropped)."""
    dropped = 0
    for cand in sorted(scores, key=lambda c: (c[0], -c[1])):
        state = cap.check(cand[2], cand[3])
        if state is not None:
            return cand, state, dropped
        dropped += 1
    return None, None, dropped


def try_alloc_single(st: ClusterState, inst: Instance, cands: list[int],
                     score_nodes: np.ndarray, opts: AllocOptions,
                     existing: bool = False) -> AllocSolution:
    """``tryAlloc`` for one-node placements among ``cands`` (online nodes)."""
    if not cands:
        raise AllocError("No online nodes")
    nodes = np.asarray(cands, dtype=np.int64)
    attrs = instance_attrs(inst)
    excl = excl_vector(st, inst.excl_tags)
    dsrd = dsrd_vector(st, inst.dsrd_loc_tags)
    conf = (st.ptags[nodes][:, excl] >= 1).sum(axis=1) if excl.any() else \
        np.zeros(len(nodes), dtype=np.int64)
    loc = len(inst.dsrd_loc_tags) - (st.n_loc[nodes][:, dsrd].sum(axis=1) if dsrd.any()
                                     else 0)
    new, codes = nodeops.add_pri(st.rows(nodes), attrs, not opts.ignore_soft_errors,
                                 conf, np.broadcast_to(loc, (len(nodes),)))
    codes = np.where(_policy_codes(st, inst, nodes) > 0, _policy_codes(st, inst, nodes),
                     np.broadcast_to(codes, (len(nodes),)))
    ok = codes == 0
    sol = AllocSolution(failures=_code_modes(codes))
    cands_ok: list[tuple[float, int, int, int]] = []
    if ok.any():
        sel = np.flatnonzero(ok)
        vals = metrics.stack(metrics.values_from_rows(new), (len(nodes),))[:, sel]
        score_nodes = np.asarray(score_nodes, dtype=np.int64)
        scores = metrics.scores_replaced(st, score_nodes, [(nodes[sel], vals)],
                                         metrics.map_add_delta(st, score_nodes, excl,
                                                               nodes[sel]))
        cands_ok = [(float(scores[j]), int(k), int(nodes[k]), -1)
                    for j, k in enumerate(sel.tolist())]
    cap = _Capacity(st, inst, score_nodes, opts.capacity, existing, opts=opts)
    best, state, dropped = _choose(cands_ok, cap)
    sol.failures[FailMode.N1] += dropped
    sol.allocs = len(cands_ok) - dropped
    if best is not None:
        sol.nodes, sol.score, sol.state = (best[2],), best[0], state
    return sol


def try_alloc_pair(st: ClusterState, inst: Instance, pairs: list[tuple[int, list[int]]],
                   score_nodes: np.ndarray, opts: AllocOptions,
                   existing: bool = False, replace: int | None = None) -> AllocSolution:
    """``tryAlloc`` for (primary, secondary) placements.

    ``replace``: index of an existing instance whose record ``inst`` replaces
    (its resources must already be off ``st``'s nodes), for allocate-secondary.
    """
    if not pairs:
        raise AllocError("Not enough online nodes")
    score_nodes = np.asarray(score_nodes, dtype=np.int64)
    prim = np.array([p for p, _ in pairs], dtype=np.int64)
    secs = sorted({s for _, ss in pairs for s in ss})
    sarr = np.array(secs, dtype=np.int64)
    spos = {s: k for k, s in enumerate(secs)}
    valid = np.zeros((len(prim), len(sarr)), dtype=bool)
    order = np.zeros((len(prim), len(sarr)), dtype=np.int64)
    for r, (_, ss) in enumerate(pairs):
        for j, s in enumerate(ss):
            valid[r, spos[s]] = True
            order[r, spos[s]] = j
    attrs = instance_attrs(inst)
    excl = excl_vector(st, inst.excl_tags)
    dsrd = dsrd_vector(st, inst.dsrd_loc_tags)
    pcol = prim[:, None]
    srow = sarr[None, :]
    conf = ((st.ptags[prim][:, excl] >= 1).sum(axis=1) if excl.any()
            else np.zeros(len(prim), dtype=np.int64))[:, None]
    dsrd_p = len(inst.dsrd_loc_tags) - (st.n_loc[prim][:, dsrd].sum(axis=1) if dsrd.any()
                                        else np.zeros(len(prim), dtype=np.int64))
    inst_loc = (st.loc_common[pcol, srow] if st.loc_common.size
                else np.zeros(valid.shape, dtype=np.int64))
    rp = {k: v[:, None] for k, v in st.rows(prim).items()}
    rs = {k: v[None, :] for k, v in st.rows(sarr).items()}
    new_p, fp = nodeops.add_pri(rp, attrs, not opts.ignore_soft_errors, conf,
                                inst_loc + dsrd_p[:, None])
    new_s, fs = nodeops.add_sec(rs, attrs, True, st.peers[srow, pcol])
    pol = _policy_codes(st, inst, prim)[:, None]
    shape = valid.shape
    codes = np.where(pol > 0, pol, np.where(np.broadcast_to(fp, shape) > 0, fp,
                                            np.broadcast_to(fs, shape)))
    codes = np.where(valid, codes, 0)
    ok = valid & (codes == 0)
    sol = AllocSolution(failures=_code_modes(codes))
    stats = metrics.Statistics(st, score_nodes)
    old_p = [np.broadcast_to(v, (len(prim),))[:, None]
             for v in metrics.values_from_rows(st.rows(prim))]
    old_s = [np.broadcast_to(v, (len(sarr),))[None, :]
             for v in metrics.values_from_rows(st.rows(sarr))]
    nv_p = [np.broadcast_to(v, shape) for v in metrics.values_from_rows(new_p)]
    nv_s = [np.broadcast_to(v, shape) for v in metrics.values_from_rows(new_s)]
    mdelta = metrics.map_add_delta(st, score_nodes, excl, prim)[:, None]
    scores = np.broadcast_to(
        stats.updated(old_p, nv_p, mdelta).updated(old_s, nv_s, 0).score(), shape)
    cap = _Capacity(st, inst, score_nodes, opts.capacity, existing, replace, opts)
    best: tuple[float, int, int, int] | None = None
    best_state = None
    for r in range(len(prim)):
        row = [(float(scores[r, c]), int(order[r, c]), int(prim[r]), int(sarr[c]))
               for c in np.flatnonzero(ok[r]).tolist()]
        cand, state, dropped = _choose(row, cap)
        sol.failures[FailMode.N1] += dropped
        sol.allocs += len(row) - dropped
        if cand is not None and (best is None or not best[0] < cand[0]):
            best, best_state = cand, state
    if best is not None:
        sol.nodes, sol.score, sol.state = (best[2], best[3]), best[0], best_state
    return sol


def gen_alloc_nodes(st: ClusterState, group_nodes: np.ndarray, count: int,
                    opts: AllocOptions) -> list[int] | list[tuple[int, list[int]]]:
    """Ganeti's ``genAllocNodes``: online (restricted) singles or pairs of a node set."""
    names = set(opts.restrict_nodes) if opts.restrict_nodes is not None else None
    nodes = [int(k) for k in group_nodes if not st.offline[k]
             and (names is None or st.cdata.nodes[k].name in names)]
    if count == 1:
        return nodes
    if count == 2:
        pairs = [(p, [s for s in nodes if s != p and st.group[s] == st.group[p]])
                 for p in nodes]
        return [(p, ss) for p, ss in pairs if ss]
    raise AllocError("Unsupported number of nodes, only one or two  supported")


def try_alloc(st: ClusterState, inst: Instance, group_nodes: np.ndarray, count: int,
              score_nodes: np.ndarray, opts: AllocOptions,
              existing: bool = False) -> AllocSolution:
    """Generate the candidates of ``group_nodes`` and allocate (annotated solution).

    ``existing``: ``inst`` is already placed (group change); the capacity
    check then adds its resources without moving it, as Ganeti does.
    """
    cands = gen_alloc_nodes(st, group_nodes, count, opts)
    if count == 1:
        sol = try_alloc_single(st, inst, cands, score_nodes, opts,  # type: ignore[arg-type]
                               existing)
    else:
        sol = try_alloc_pair(st, inst, cands, score_nodes, opts,  # type: ignore[arg-type]
                             existing)
    sol.log = [describe(st, sol)]
    return sol


def _group_prefix(st: ClusterState, gdx: int) -> str:
    g = st.cdata.groups[gdx]
    return f"Group {g.name} ({g.alloc_policy.value}): "


def has_required_networks(st: ClusterState, gdx: int, inst: Instance) -> bool:
    nets = st.cdata.groups[gdx].networks
    return all(n is None or n in nets for n in inst.nic_networks)


def alloc_in_group(st: ClusterState, inst: Instance, gdx: int, count: int,
                   opts: AllocOptions) -> AllocSolution:
    """Ganeti's ``tryGroupAlloc``: allocate inside one group (scores over the group)."""
    grp = st.cdata.groups[gdx]
    if not has_required_networks(st, gdx, inst):
        raise AllocError(f"The group {grp.name} is not connected to a network required "
                         f"by instance {inst.name}")
    nodes = st.group_nodes(gdx)
    sol = try_alloc(st, inst, nodes, count, nodes, opts)
    sol.log = [_group_prefix(st, gdx) + line for line in sol.log]
    return sol


def alloc_multi_group(st: ClusterState, inst: Instance, count: int, opts: AllocOptions,
                      allowed: list[int] | None = None, existing: int | None = None
                      ) -> tuple[int, AllocSolution, list[str]]:
    """Ganeti's ``findBestAllocGroup``: (group, solution, messages); raises AllocError."""
    used = sorted({int(g) for g in st.group})
    groups = [g for g in used if allowed is None or g in allowed]
    msgs = []
    valid = []
    for g in groups:
        if has_required_networks(st, g, inst):
            valid.append(g)
        else:
            msgs.append(f"group {st.cdata.groups[g].name} is not connected to a network "
                        f"required by instance {inst.name}")
    all_nodes = np.arange(st.n_nodes)
    results: list[tuple[int, AllocSolution | None]] = []
    for g in valid:
        try:
            sol = try_alloc(st, inst, st.group_nodes(g), count, all_nodes, opts,
                            existing is not None)
        except AllocError as err:
            msgs.append(f"Group {st.cdata.groups[g].name}: error {err}")
            results.append((g, None))
            continue
        msgs.extend(_group_prefix(st, g) + line for line in sol.log)
        results.append((g, sol))
    good = [(g, s) for g, s in reversed(results) if s is not None and s.nodes is not None
            and st.cdata.groups[g].alloc_policy != AllocPolicy.UNALLOCABLE]
    good.sort(key=lambda gs: (st.cdata.groups[gs[0]].alloc_policy.rank, gs[1].score))
    if not good:
        if not groups:
            from gnt.htools.hsshow import show_group, show_list
            shown = "Nothing" if allowed is None else \
                "Just " + show_list([str(g) for g in allowed])
            raise AllocError(f"no groups for evacuation: allowed groups was {shown}, "
                             f"all groups: "
                             f"{show_list([show_group(st.cdata.groups[g]) for g in used])}")
        raise AllocError(", ".join(msgs))
    gdx, sol = good[0]
    return gdx, sol, msgs


def allocate(st: ClusterState, inst: Instance, count: int, group_name: str | None,
             opts: AllocOptions) -> AllocSolution:
    """An ``allocate`` request: the solution with its complete log (raises AllocError)."""
    if group_name is None:
        gdx, sol, msgs = alloc_multi_group(st, inst, count, opts)
        sol.log = [f"Selected group: {st.cdata.groups[gdx].name}"] + msgs
        return sol
    hits = [g.idx for g in st.cdata.groups if group_name in (g.name, g.uuid)]
    if len(hits) != 1:
        raise AllocError(f"Wrong number of elems found with name {group_name}")
    return alloc_in_group(st, inst, hits[0], count, opts)


@dataclass
class MultiResult:
    """Result of :func:`alloc_list`: per instance its solution, and the final state."""

    solutions: list[tuple[Instance, AllocSolution]]
    state: ClusterState


def alloc_list(st: ClusterState, requests: list[tuple[Instance, int, str | None]],
               opts: AllocOptions,
               prepare: Callable[[ClusterState, Instance], None] | None = None
               ) -> MultiResult:
    """Allocate instances one after the other (Ganeti's ``allocList``)."""
    out = []
    for inst, count, group_name in requests:
        if prepare is not None:
            prepare(st, inst)
        sol = allocate(st, inst, count, group_name, opts)
        if sol.state is not None:
            st = sol.state
        out.append((inst, sol))
    return MultiResult(out, st)
