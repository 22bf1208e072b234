"""Global N+1 redundancy: could every node be evacuated (Ganeti's ``GlobalN1``)?

A node can be evacuated when, one after the other,

1. every DRBD instance with its primary on the node fails over to its
   secondary (soft errors ignored),
2. every other movable instance (shared storage, diskless) fails over to
   the node of its group giving the best group score,
3. every non-movable instance (plain, file), biggest memory first, can be
   re-created on the node of the group giving the best cluster score
   (instance policy checked, soft errors ignored).

A cluster (node list) is redundant when all its nodes, offline ones
included, can be evacuated.  Step 1 is decided for all nodes at once
with numpy (the checks that can fail are hard ones, so the order of the
failovers does not matter); steps 2 and 3 simulate the moves on a copy
of the state.  Scores are Ganeti's, exactly (ties go to the later node,
as in Ganeti).

Public API::

    drbd_failover_ok(st, nodes) -> bool array over ``nodes``
    can_evacuate(st, node, nodes) -> bool
    redundant(st, nodes) -> bool
"""

from __future__ import annotations

import numpy as np

from gnt.htools import metrics, nodeops
from gnt.htools.moves import Batch, MoveOptions, apply_move, transition
from gnt.htools.policy import instance_policy_failure
from gnt.htools.state import ClusterState, copy_state, stored_attrs
from gnt.htools.types import NO_SECONDARY, Move, MoveKind

FORCE = MoveOptions(ignore_soft_errors=True, evac_mode=True)


def drbd_failover_ok(st: ClusterState, nodes: np.ndarray) -> np.ndarray:
    """Per node of ``nodes``: can all its DRBD primaries fail over (hard checks)?"""
    n = st.n_nodes
    sel = st.i_has_sec & ~st.i_forth
    p, s = st.i_pnode[sel], st.i_snode[sel]
    bad = np.zeros(n, dtype=bool)
    np.logical_or.at(bad, p[s == NO_SECONDARY], True)
    ok = s != NO_SECONDARY
    p, s = p[ok], s[ok]
    mem = np.where(st.i_uses_mem[sel][ok], st.i_mem_sz[sel][ok], 0)
    unknown_sp = st.i_spn[sel][ok] < 0
    cnt = np.zeros((n, n), dtype=np.int64)
    np.add.at(cnt, (p, s), 1)
    msum = np.zeros((n, n), dtype=np.int64)
    np.add.at(msum, (p, s), mem)
    unk = np.zeros((n, n), dtype=bool)
    np.logical_or.at(unk, (p, s), unknown_sp)
    free = st.unalloc_mem()
    fail = ((free[None, :] - msum <= 0) | (st.f_dsk[None, :] <= 0)
            | (st.excl[None, :] & (unk | (st.f_sp[None, :] < 0))))
    if st.mig_ok is not None:
        fail |= ~st.mig_ok
    pair_bad = (cnt > 0) & fail
    has = cnt.sum(axis=1) > 0
    unk_any = unk.any(axis=1)
    node_bad = has & ((~st.offline & (st.f_dsk <= 0))
                      | (st.excl & (unk_any | (st.f_sp < 0))))
    verdict = ~(bad | pair_bad.any(axis=1) | node_bad)
    return verdict[np.asarray(nodes, dtype=np.int64)]


def _best(scores: np.ndarray, ok: np.ndarray) -> int | None:
    """Index of the lowest score among ``ok``; the later one wins ties."""
    best = None
    for k in np.flatnonzero(ok).tolist():
        if best is None or not scores[best] < scores[k]:
            best = k
    return best


def _evac_shared(st: ClusterState, inst: int, escape: np.ndarray,
                 group_nodes: np.ndarray) -> bool:
    """Fail an externally mirrored instance over to the best escape node."""
    if not len(escape):
        return False
    b = Batch(st, np.array([inst], dtype=np.int64))
    online = np.zeros(st.n_nodes, dtype=bool)
    online[group_nodes] = True
    online &= ~st.offline
    roles, failed, lxd = transition(st, b, MoveKind.FAILOVER_TO_ANY, escape, FORCE, online)
    ok = ~np.broadcast_to(failed, (1, len(escape)))[0]
    if not ok.any():
        return False
    pnode = int(b.p[0])
    nt = len(escape)
    _, prow, _ = roles["P"]
    _, trow, _ = roles["T"]
    pvals = metrics.stack(metrics.values_from_rows(prow), (nt,))
    tvals = metrics.stack(metrics.values_from_rows(trow), (nt,))
    scores = metrics.scores_replaced(st, group_nodes,
                                     [(np.full(nt, pnode), pvals), (escape, tvals)],
                                     np.broadcast_to(lxd, (1, nt))[0])
    k = _best(scores, ok)
    if k is None:
        return False
    return apply_move(st, inst, Move(MoveKind.FAILOVER_TO_ANY, int(escape[k])), FORCE,
                      online, check=False)


def place_copy(st: ClusterState, inst: int, node: int, strict: bool = False) -> None:
    """Add instance ``inst``'s resources to ``node`` as a primary (in place)."""
    attrs = stored_attrs(st, inst)
    excl = st.i_excl[inst]
    conf = int((st.ptags[node][excl] >= 1).sum()) if excl.any() else 0
    loc = int(st.dsrd_score(np.array([inst]), np.array([node]))[0])
    row, _ = nodeops.add_pri(st.rows(np.array([node])), attrs, strict, np.array([conf]),
                             np.array([loc]))
    st.write_row(node, {k: np.asarray(v).ravel()[0] for k, v in row.items()})
    x = excl.astype(np.int64)
    st.ptags[node] += x
    if st.lx.size and x.any():
        st.lx[node] += np.outer(st.n_loc[node], x)


def _recreate(st: ClusterState, inst: int, escape: np.ndarray, nodes: np.ndarray) -> bool:
    """Re-create a non-movable instance on the best escape node (soft errors ignored)."""
    if not len(escape):
        return False
    obj = st.cdata.instances[inst]
    attrs = stored_attrs(st, inst)
    rows = st.rows(escape)
    excl = st.i_excl[inst]
    conf = (st.ptags[escape][:, excl] >= 1).sum(axis=1) if excl.any() else \
        np.zeros(len(escape), dtype=np.int64)
    loc = st.dsrd_score(np.full(len(escape), inst), escape)
    new, codes = nodeops.add_pri(rows, attrs, False, conf, loc)
    ok = np.broadcast_to(codes, (len(escape),)) == 0
    for k, t in enumerate(escape.tolist()):
        gpol = st.cdata.groups[int(st.group[t])].ipolicy if st.cdata.groups else \
            st.cdata.ipolicy
        if instance_policy_failure(obj, gpol, bool(st.excl[t])) is not None:
            ok[k] = False
    if not ok.any():
        return False
    nodes = np.asarray(nodes, dtype=np.int64)
    vals = metrics.stack(metrics.values_from_rows(new), (len(escape),))
    scores = metrics.scores_replaced(st, nodes, [(escape, vals)],
                                     metrics.map_add_delta(st, nodes, excl, escape))
    best = _best(scores, ok)
    if best is None:
        return False
    place_copy(st, inst, int(escape[best]))
    return True


def _one_node_takes_all(st: ClusterState, others: list[int], escape: np.ndarray,
                        online: np.ndarray) -> bool:
    """Sufficient condition for steps 2 and 3: one online escape node can hold
    all of ``others`` at once (hard checks, instance policy).  Every one of
    them then always has that node left, whatever the earlier choices (the
    checks only get easier with less added), so the exact simulation would
    succeed too."""
    if st.mig_ok is not None or not len(escape):
        return False
    idx = np.asarray(others, dtype=np.int64)
    if st.i_forth[idx].any():
        return False
    cand = escape[online[escape]]
    if not len(cand):
        return False
    local = st.i_local[idx]
    spn = st.i_spn[idx][local]
    a = np.asarray
    agg = {"mem": a(int(np.where(st.i_uses_mem[idx], st.i_mem_sz[idx], 0).sum())),
           "dsk": a(int(np.where(local, st.i_dsk[idx], 0).sum())),
           "vcpus": a(int(st.i_vcpus[idx].sum())),
           "su": a(int(np.where(local, st.i_su[idx], 0).sum())),
           "spn": a(-1 if (spn < 0).any() else int(spn.sum())),
           "uses_mem": a(True), "uses_sec_mem": a(False), "local": a(bool(local.any())),
           "online": a(True), "has_sec": a(False), "forth": a(False),
           "util": tuple(a(0.0) for _ in range(4))}
    zero = np.zeros(len(cand), dtype=np.int64)
    _, codes = nodeops.add_pri(st.rows(cand), agg, False, zero, zero)
    ok = np.broadcast_to(codes, (len(cand),)) == 0
    fixed = [st.cdata.instances[i] for i in others if st.i_mirror[i] == 0]
    if fixed:
        for k, t in enumerate(cand.tolist()):
            if not ok[k]:
                continue
            gpol = st.cdata.groups[int(st.group[t])].ipolicy if st.cdata.groups else \
                st.cdata.ipolicy
            if any(instance_policy_failure(o, gpol, bool(st.excl[t])) is not None
                   for o in fixed):
                ok[k] = False
    return bool(ok.any())


def _cannot_fit(st: ClusterState, others: list[int], escape: np.ndarray) -> bool:
    """Necessary condition for steps 2 and 3, negated: the escape nodes have
    no room for the memory (or local disk) of ``others``, in any order.

    Every placement must leave its node some free memory (disk), a hard
    check, so a node with ``R`` MiB free can take instances needing ``s``
    MiB or more at most ``(R - 1) // s`` times; if, for some size ``s``,
    the escape nodes together cannot take the instances of ``others`` of
    at least that size, no order of placements can.  (Forthcoming
    instances use neither.)"""
    if not len(escape):
        return True
    idx = np.asarray(others, dtype=np.int64)
    real = ~st.i_forth[idx]
    mem = np.where(real & st.i_uses_mem[idx], st.i_mem_sz[idx], 0)
    if _no_room(mem, np.maximum(0, st.unalloc_mem(escape) - 1)):
        return True
    dsk = np.where(real & st.i_local[idx], st.i_dsk[idx], 0)
    return bool(dsk.any()) and _no_room(dsk, np.maximum(0, st.f_dsk[escape] - 1))


def _no_room(need: np.ndarray, room: np.ndarray) -> bool:
    """Whether items of sizes ``need`` cannot be spread over bins of ``room``
    (for some size: more items at least that big than the bins can hold)."""
    sizes = np.unique(need[need > 0])
    if not len(sizes):
        return False
    if int(need.sum()) > int(room.sum()):
        return True
    fits = (room[None, :] // sizes[:, None]).sum(axis=1)            # per size
    count = (need[None, :] >= sizes[:, None]).sum(axis=1)
    return bool((count > fits).any())


def _always_fits(st: ClusterState, shared: list[int], fixed: list[int],
                 escape: np.ndarray, online: np.ndarray) -> bool:
    """Sufficient condition for steps 2 and 3 when memory is the only hard
    check that can fail (no local storage, no migration restrictions, the
    instance policy met everywhere): whatever the earlier choices, some
    online escape node still has room for each instance in turn.

    The free memory of the online escape nodes only shrinks by what is
    placed on them, and the roomiest node has at least the average: if the
    average room left before each instance (assuming all earlier ones
    landed on online nodes) exceeds what it needs, it always fits."""
    if st.mig_ok is not None:
        return False
    cand = escape[online[escape]]
    if not len(cand):
        return False
    order = np.asarray(shared + fixed, dtype=np.int64)
    order = order[~st.i_forth[order]]     # forthcoming instances always fit
    if st.i_local[order].any():
        return False
    if fixed:
        for t in cand.tolist():
            gpol = st.cdata.groups[int(st.group[t])].ipolicy if st.cdata.groups else \
                st.cdata.ipolicy
            if any(instance_policy_failure(st.cdata.instances[i], gpol,
                                           bool(st.excl[t])) is not None for i in fixed):
                return False
    need = np.where(st.i_uses_mem[order], st.i_mem_sz[order], 0)
    room = int(st.unalloc_mem(cand).sum())
    # before instance k the online nodes keep at least room - sum(need[:k]);
    # a node can take it if its room exceeds need[k]
    before = room - np.concatenate(([0], np.cumsum(need)[:-1]))
    return bool((before >= len(cand) * (need + 1)).all())


def can_evacuate(st: ClusterState, node: int, nodes: np.ndarray,
                 drbd_ok: bool | None = None) -> bool:
    """Whether ``node`` can be evacuated; ``nodes`` is the node list considered."""
    nodes = np.asarray(nodes, dtype=np.int64)
    if drbd_ok is None:
        drbd_ok = bool(drbd_failover_ok(st, np.array([node]))[0])
    if not drbd_ok:
        return False
    pri = st.plist(node)
    others = [i for i in pri if not st.i_has_sec[i]]
    if not others:
        return True
    online = np.zeros(st.n_nodes, dtype=bool)
    online[nodes] = True
    online &= ~st.offline
    grp = int(st.group[node])
    group_nodes = nodes[st.group[nodes] == grp]
    escape = group_nodes[group_nodes != node]
    if len(others) == len(pri) and _one_node_takes_all(st, others, escape, online):
        return True     # no DRBD failovers first: decided on the state itself
    # (the DRBD failovers only take room on the escape nodes)
    if _cannot_fit(st, others, escape):
        return False
    work = copy_state(st)
    for i in pri:
        if st.i_has_sec[i] and not apply_move(work, i, Move(MoveKind.FAILOVER), FORCE,
                                               online):
            return False
    if len(others) < len(pri):
        if _one_node_takes_all(work, others, escape, online):
            return True
        if _cannot_fit(work, others, escape):
            return False
    shared = [i for i in others if st.i_mirror[i] != 0]
    fixed = sorted((i for i in others if st.i_mirror[i] == 0),
                   key=lambda i: -int(st.i_mem_sz[i]))
    if _always_fits(work, shared, fixed, escape, online):
        return True
    for i in shared:
        if not _evac_shared(work, i, escape, group_nodes):
            return False
    for i in fixed:
        if not _recreate(work, i, escape, nodes):
            return False
    return True


def unevacuable(st: ClusterState, nodes: np.ndarray, first: list[int] | tuple = (),
                check: np.ndarray | None = None) -> int | None:
    """A node of ``check`` (default: ``nodes``) that cannot be evacuated (-1:
    a DRBD failover is impossible somewhere), or None when every node can
    (:func:`redundant`); ``nodes`` is the node list the evacuations use.

    The answer does not depend on the order the nodes are tried in, so the
    likeliest failures go first: the nodes of ``first`` (e.g. the one that
    failed for a similar state), then the nodes whose non-DRBD instances
    need the largest share of the other nodes' free memory."""
    nodes = np.asarray(nodes, dtype=np.int64)
    check = nodes if check is None else np.asarray(check, dtype=np.int64)
    verdict = drbd_failover_ok(st, check)
    if not verdict.all():
        return -1
    has_other = np.zeros(st.n_nodes, dtype=bool)
    sel = ~st.i_has_sec & ~st.i_forth
    has_other[st.i_pnode[sel]] = True
    todo = check[has_other[check]]
    if len(todo) > 1:
        need = np.zeros(st.n_nodes)
        np.add.at(need, st.i_pnode[sel],
                  np.where(st.i_uses_mem[sel], st.i_mem_sz[sel], 0))
        free = np.maximum(st.unalloc_mem(), 0).astype(float)
        gfree = np.zeros(int(st.group.max()) + 1)
        np.add.at(gfree, st.group[nodes], free[nodes])
        room = gfree[st.group[todo]] - free[todo]
        tight = need[todo] / np.maximum(room, 1.0)
        early = np.isin(todo, np.asarray(first, dtype=np.int64))
        todo = todo[np.lexsort((-tight, ~early))]
    for k in todo.tolist():
        if not can_evacuate(st, k, nodes, drbd_ok=True):
            return k
    return None


def redundant(st: ClusterState, nodes: np.ndarray, first: list[int] | tuple = (),
              check: np.ndarray | None = None) -> bool:
    """Ganeti's ``redundant``: every node of ``check`` (default: ``nodes``) can
    be evacuated within the node list ``nodes`` (``first``: see
    :func:`unevacuable`)."""
    return unevacuable(st, nodes, first, check) is None


def capacity_nodes(st: ClusterState, nodes: np.ndarray, ignore_groups: frozenset[int]
                   | set[int] = frozenset(), accept_existing: bool = False) -> np.ndarray:
    """The nodes of ``nodes`` whose evacuation a capacity check verifies: not
    in ``ignore_groups``, and online when existing errors are accepted."""
    nodes = np.asarray(nodes, dtype=np.int64)
    keep = ~np.isin(st.group[nodes], list(ignore_groups))
    if accept_existing:
        keep &= ~st.offline[nodes]
    return nodes[keep]
