"""Instance moves: which are possible, their effect on nodes, and applying them.

Moves follow Ganeti's ``Cluster/Moves.hs``: for DRBD instances failover
(f), replace secondary (r:ns), replace-and-failover (r:np f), replace
primary (f r:np f) and failover-and-replace (f r:ns); for shared storage
(sharedfile, blockdev, rbd, ext, gluster, diskless) failover to any node
(fa:np); local-only templates (plain, file) never move.

:func:`transition` computes the new node rows of the instance's primary
(role ``P``), secondary (``S``) and target (``T``) for a batch of
instances against a batch of target nodes, plus the failure mask and the
change of the location-exclusion statistic; the search scores these
rows, and :func:`apply_move` commits one of them to the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnt.htools import nodeops
from gnt.htools.state import ClusterState
from gnt.htools.types import FailMode, Move, MoveKind

#: Order of the per-target moves in Ganeti's candidate list.
DRBD_KINDS = [MoveKind.REPLACE_SECONDARY, MoveKind.REPLACE_AND_FAILOVER,
              MoveKind.REPLACE_PRIMARY, MoveKind.FAILOVER_AND_REPLACE]


@dataclass
class MoveOptions:
    """Algorithm options that restrict moves (Ganeti's ``AlgorithmOptions``)."""

    disk_moves: bool = True
    instance_moves: bool = True
    restricted_migration: bool = False
    ignore_soft_errors: bool = False
    evac_mode: bool = False


def allowed_kinds(mirror: int, use_secondary: bool, primary_offline: bool,
                  opts: MoveOptions) -> tuple[bool, list[MoveKind]]:
    """(failover allowed, per-target move kinds) for one instance.

    ``mirror`` is 0 (none), 1 (DRBD) or 2 (shared storage).
    """
    if mirror == 0:
        return False, []
    if mirror == 2:
        return False, ([MoveKind.FAILOVER_TO_ANY] if opts.instance_moves else [])
    failover = use_secondary
    if not opts.disk_moves:
        return failover, []
    if not opts.instance_moves:
        return failover, [MoveKind.REPLACE_SECONDARY]
    if opts.restricted_migration and not primary_offline:
        return failover, [MoveKind.REPLACE_SECONDARY]
    if use_secondary:
        if opts.restricted_migration:
            return failover, [MoveKind.REPLACE_SECONDARY, MoveKind.REPLACE_AND_FAILOVER,
                              MoveKind.FAILOVER_AND_REPLACE]
        return failover, list(DRBD_KINDS)
    return failover, [MoveKind.REPLACE_SECONDARY, MoveKind.REPLACE_AND_FAILOVER]


def new_nodes(kind: MoveKind, p: np.ndarray, s: np.ndarray,
              t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New (primary, secondary) of a move (broadcasting)."""
    if kind == MoveKind.FAILOVER:
        return s, p
    if kind == MoveKind.FAILOVER_TO_ANY:
        return t, s
    if kind == MoveKind.REPLACE_SECONDARY:
        return p, t
    if kind == MoveKind.REPLACE_AND_FAILOVER:
        return t, p
    if kind == MoveKind.REPLACE_PRIMARY:
        return t, s
    return s, t  # FAILOVER_AND_REPLACE


class Batch:
    """Instance attributes of a batch, shaped (B, 1) for broadcasting."""

    def __init__(self, st: ClusterState, idx: np.ndarray) -> None:
        self.idx = idx
        col = lambda a: a[idx][:, None]
        self.p = st.i_pnode[idx]
        self.s = st.i_snode[idx]
        self.attrs = {
            "mem": col(st.i_mem_sz), "dsk": col(st.i_dsk), "vcpus": col(st.i_vcpus),
            "su": col(st.i_su), "spn": col(st.i_spn), "uses_mem": col(st.i_uses_mem),
            "uses_sec_mem": col(st.i_uses_sec_mem), "local": col(st.i_local),
            "online": col(st.i_online), "has_sec": col(st.i_has_sec),
            "util": tuple(st.i_util[idx, k][:, None] for k in range(4)),
            "forth": col(st.i_forth),
        }
        self.excl = st.i_excl[idx]
        # forthcoming instances reserve no memory on their secondaries
        self.sec_mem = np.where(self.attrs["uses_sec_mem"] & ~self.attrs["forth"],
                                self.attrs["mem"], 0)


def _rows(st: ClusterState, nodes: np.ndarray, shape: tuple[int, int]) -> dict:
    r = st.rows(nodes.ravel())
    return {k: v.reshape(shape) for k, v in r.items()}


def _conf(st: ClusterState, excl: np.ndarray, nodes: np.ndarray, thresh: int) -> np.ndarray:
    """Sum over the instances' exclusion tags of [count on node >= thresh]."""
    if not excl.shape[1]:
        return np.zeros((excl.shape[0],) + nodes.shape[1:], dtype=np.int64) \
            if nodes.ndim == 2 else np.zeros(nodes.shape, dtype=np.int64)
    if nodes.ndim == 2 and nodes.shape[0] == 1:  # (1, T): every instance vs every node
        present = (st.ptags[nodes[0]] >= thresh).astype(np.int64)
        return excl.astype(np.int64) @ present.T
    present = st.ptags[nodes.ravel()] >= thresh      # (B, E)
    return (excl & present).sum(axis=1).reshape(nodes.shape)


def _loc_common(st: ClusterState, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not st.n_loc.shape[1]:    # no location tags
        return np.zeros((1,) * max(np.ndim(a), np.ndim(b)), dtype=np.int64)
    return st.loc_common[a, b]


def _dsrd(st: ClusterState, bidx: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    cnt = st.i_dsrd_cnt[bidx][:, None]
    if not st.i_dsrd.shape[1] or not cnt.any():
        return np.broadcast_to(cnt, np.broadcast_shapes(cnt.shape, nodes.shape))
    d = st.i_dsrd[bidx].astype(np.int64)               # (B, L)
    if nodes.shape[0] == 1:
        sat = d @ st.n_loc[nodes[0]].T.astype(np.int64)  # (B, T)
    else:
        sat = (d * st.n_loc[nodes.ravel()]).sum(axis=1).reshape(nodes.shape)
    return cnt - sat


def loc_excl_delta(st: ClusterState, b: Batch, new_p: np.ndarray, online: np.ndarray,
                   shape: tuple[int, int]) -> np.ndarray:
    """Change of the location-exclusion statistic if primaries move to ``new_p``."""
    out = np.zeros(shape, dtype=np.int64)
    if not st.lx.size:
        return out
    # forthcoming instances do not count in the statistic
    rows = np.flatnonzero(b.excl.any(axis=1) & ~b.attrs["forth"][:, 0])
    if not len(rows):
        return out
    counts = st.lx[np.flatnonzero(online)].sum(axis=0)           # (L, E)
    new_p = np.broadcast_to(new_p, shape)
    for r in rows:
        x = b.excl[r]
        p = b.p[r]
        c = counts.copy()
        rem = 0
        if online[p]:
            lp = st.n_loc[p]
            sub = c[np.ix_(lp, x)]
            rem = -int((sub >= 2).sum())
            c[np.ix_(lp, x)] -= 1
        present = (c[:, x] >= 1).sum(axis=1)                     # (L,)
        add = st.n_loc[new_p[r]].astype(np.int64) @ present      # (T,)
        out[r] = rem + add
    return out


def transition(st: ClusterState, b: Batch, kind: MoveKind, targets: np.ndarray,
               opts: MoveOptions, online: np.ndarray, memo: dict | None = None):
    """New rows for roles P, S, T; returns (roles, failed, loc_excl_delta).

    ``roles`` maps role name to (node index array, new row, old row); arrays are
    shaped (B, 1) or (B, T) (or broadcast to those).  ``targets`` is (T,)
    (every instance against every target) or (B, 1) (one target per
    instance, "paired").  ``online`` is the mask of online nodes in the
    group (for the location-exclusion statistic).  ``memo``: a dict shared
    by the calls for several kinds of the same batch and targets (unchanged
    state), to compute their common parts once.  ``failed`` is a bool mask
    (B, T) (B, 1 for a failover), ``loc_excl_delta`` an int array
    broadcastable to it.
    """
    return transition_codes(st, b, kind, targets, opts, online, memo, codes=False)


def _first(*codes: np.ndarray) -> np.ndarray:
    """Elementwise first non-zero code (Ganeti's check order), 0 if none."""
    out = np.zeros(np.broadcast(*codes).shape, dtype=np.int8)
    for c in reversed(codes):
        out = np.where(np.asarray(c) > 0, np.asarray(c, dtype=np.int8), out)
    return out


def _any(*masks: np.ndarray) -> np.ndarray:
    """Elementwise "any failed" of failure masks (bool) or codes."""
    out: Any = False
    for m in masks:
        out = out | (m if m.dtype == bool else m > 0)
    return out


def _memo(memo: dict | None, key: str, fn: Callable[[], Any]) -> Any:
    if memo is None:
        return fn()
    if key not in memo:
        memo[key] = fn()
    return memo[key]


def transition_codes(st: ClusterState, b: Batch, kind: MoveKind, targets: np.ndarray,
                     opts: MoveOptions, online: np.ndarray, memo: dict | None = None,
                     codes: bool = True):
    """Like :func:`transition`, with failure codes (index into ``nodeops.FAIL_MODES``
    plus one, 0 when the move is possible) in the order Ganeti checks them;
    with ``codes`` false, the failure mask instead (cheaper)."""
    nb = len(b.idx)
    # (the node arrays are shared by the kinds: equal roles are the same objects)
    if kind == MoveKind.FAILOVER:
        tt = np.zeros((1, 1), np.int64)
    elif targets.ndim == 2:     # paired: one target per instance, shape (B, 1)
        tt = targets
    else:
        tt = _memo(memo, "tt", lambda: targets[None, :])
    nt = tt.shape[1]
    p, s = _memo(memo, "ps", lambda: (b.p[:, None], b.s[:, None]))
    a = b.attrs
    force = opts.ignore_soft_errors
    off_p = st.offline[b.p][:, None]
    off_s = st.offline[np.where(b.s >= 0, b.s, 0)][:, None]
    strict_p = ~(off_p | force)
    strict_s = ~(off_s | force)
    first = _first if codes else _any
    #: without location tags every location term is zero, so rows that differ
    #: only in them are equal and computed once
    no_loc = not st.n_loc.shape[1]
    rp = _memo(memo, "rp", lambda: _rows(st, p, (nb, 1)))
    dsrd_p = _memo(memo, "dsrd_p", lambda: _dsrd(st, b.idx, p))
    loc_old = _memo(memo, "loc_old", lambda: st.i_loc[b.idx][:, None] + dsrd_p)
    rem_conf_p = _memo(memo, "conf_p", lambda: _conf(st, b.excl, p, 2))
    # (no node op mutates its input rows, so the shared ones stay valid)
    int_p = _memo(memo, "int_p", lambda: nodeops.remove_pri(rp, a, rem_conf_p, loc_old))
    conf_t = lambda: _memo(memo, "conf_t", lambda: _conf(st, b.excl, tt, 1))
    dsrd_t = lambda: _memo(memo, "dsrd_t", lambda: _dsrd(st, b.idx, tt))
    fail = np.zeros((nb, nt), dtype=np.int8) if codes else np.zeros((nb, nt), dtype=bool)
    roles: dict[str, tuple[Any, dict, dict]] = {}
    mig = st.mig_ok

    mig_code = np.int8(nodeops.FAIL_MODES.index(FailMode.MIG) + 1)

    def migr(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        if mig is None:
            return np.zeros((1, 1), np.int8 if codes else bool)
        if not codes:
            return ~mig[src, dst]
        return np.where(mig[src, dst], np.int8(0), mig_code)

    new_p, _ = new_nodes(kind, p, s, tt)
    lxd = np.zeros((1, 1), dtype=np.int64)
    if kind != MoveKind.REPLACE_SECONDARY and st.lx.size:
        lxd = loc_excl_delta(st, b, new_p, online, (nb, nt))
    if kind == MoveKind.FAILOVER_TO_ANY:
        rt = _memo(memo, "rt", lambda: _rows(st, tt, tt.shape))
        loc_new = st.i_loc[b.idx][:, None] + dsrd_t()
        new_t, f_t = nodeops.add_pri(rt, a, strict_p, conf_t(), loc_new, codes=codes)
        roles = {"P": (p, int_p, rp), "T": (tt, new_t, rt)}
        return roles, first(fail, migr(p, tt), f_t), lxd
    # internally mirrored (DRBD)
    rs = _memo(memo, "rs", lambda: _rows(st, s, (nb, 1)))

    def _int_s() -> nodeops.Row:
        peer_ps = st.peers[np.where(b.s >= 0, b.s, 0), b.p][:, None]
        rmem_s = st.peer_max_excluding(np.where(b.s >= 0, b.s, 0), b.p,
                                       (peer_ps - b.sec_mem)[:, 0])[:, None]
        return nodeops.remove_sec(rs, a, rmem_s)
    int_s = _memo(memo, "int_s", _int_s)
    conf_s = _memo(memo, "conf_s", lambda: _conf(st, b.excl, s, 1))
    dsrd_s = _memo(memo, "dsrd_s", lambda: _dsrd(st, b.idx, s))

    def s_pri() -> tuple[nodeops.Row, np.ndarray, np.ndarray]:
        """The secondary becomes primary (failover; first step of replace-primary)."""
        loc = st.i_loc[b.idx][:, None] + dsrd_s
        row, f = nodeops.add_pri(int_s, a, strict_p, conf_s, loc, codes=codes)
        return row, f, loc
    p_sec_base = lambda: _memo(memo, "p_sec_base", lambda: nodeops.add_sec_base(int_p, a))
    if kind == MoveKind.FAILOVER:
        new_pp, f1, _ = _memo(memo, "s_pri", s_pri)
        new_ss, f2 = nodeops.add_sec(int_p, a, strict_p,
                                     st.peers[b.p, np.where(b.s >= 0, b.s, 0)][:, None],
                                     ignore_disks=off_p, codes=codes, base=p_sec_base())
        roles = {"P": (p, new_ss, rp), "S": (s, new_pp, rs)}
        return roles, first(fail, migr(p, s), f1, f2), lxd
    rt = _memo(memo, "rt", lambda: _rows(st, tt, tt.shape))
    t_sec_base = lambda: _memo(memo, "t_sec_base", lambda: nodeops.add_sec_base(rt, a))

    def t_pri(strict: Any, other: np.ndarray) -> tuple[nodeops.Row, np.ndarray]:
        """The target becomes primary, ``other`` its secondary."""
        loc_new = _loc_common(st, tt, other) + dsrd_t()
        return nodeops.add_pri(rt, a, strict, conf_t(), loc_new, codes=codes)
    if kind == MoveKind.REPLACE_SECONDARY:
        loc_new = _loc_common(st, p, tt) + dsrd_p
        new_pp, f1 = nodeops.add_pri(int_p, a, False, rem_conf_p, loc_new, codes=codes)
        peer = st.peers[tt, p]                                     # (B, T)
        new_t, f2 = nodeops.add_sec(rt, a, strict_s, peer, codes=codes, base=t_sec_base())
        roles = {"P": (p, new_pp, rp), "S": (s, int_s, rs), "T": (tt, new_t, rt)}
        return roles, first(fail, f2, f1), lxd
    # replace-and-failover and replace-primary make the target primary with
    # the same row when neither strictness nor locations tell them apart
    share_t = no_loc and (force or not off_p.any())
    if kind == MoveKind.REPLACE_AND_FAILOVER:
        new_t, f1 = _memo(memo if share_t else None, "t_pri", lambda: t_pri(not force, p))
        new_pp, f2 = nodeops.add_sec(int_p, a, strict_s, st.peers[p, tt], codes=codes,
                                     base=p_sec_base())
        roles = {"P": (p, new_pp, rp), "S": (s, int_s, rs), "T": (tt, new_t, rt)}
        return roles, first(fail, migr(p, tt), f1, f2), lxd
    if kind == MoveKind.REPLACE_PRIMARY:
        tmp_s, f1, loc_tmp = _memo(memo, "s_pri", s_pri)
        tmp_s2 = _memo(memo, "s_pri_rm",
                       lambda: nodeops.remove_pri(tmp_s, a, conf_s, loc_tmp))
        if share_t:
            new_t, f2 = _memo(memo, "t_pri", lambda: t_pri(not force, p))
        else:
            new_t, f2 = t_pri(strict_p, s)
        new_ss, f3 = nodeops.add_sec(tmp_s2, a, strict_p, st.peers[s, tt], codes=codes)
        roles = {"P": (p, int_p, rp), "S": (s, new_ss, rs), "T": (tt, new_t, rt)}
        return roles, first(fail, migr(p, s), migr(s, tt), f1, f2, f3), lxd
    # FAILOVER_AND_REPLACE
    if no_loc:
        new_pp, f1, _ = _memo(memo, "s_pri", s_pri)
    else:
        loc_new = _loc_common(st, s, tt) + dsrd_s
        new_pp, f1 = nodeops.add_pri(int_s, a, strict_p, conf_s, loc_new, codes=codes)
    new_t, f2 = nodeops.add_sec(rt, a, strict_p, st.peers[tt, s], codes=codes,
                                base=t_sec_base())
    roles = {"P": (p, int_p, rp), "S": (s, new_pp, rs), "T": (tt, new_t, rt)}
    return roles, first(fail, migr(p, s), f1, f2), lxd


def apply_move(st: ClusterState, inst: int, move: Move, opts: MoveOptions,
               online: np.ndarray, check: bool = True) -> bool:
    """Apply one move to the state; returns False (state unchanged) if refused."""
    b = Batch(st, np.array([inst], dtype=np.int64))
    targets = np.array([max(move.target, 0)], dtype=np.int64)
    roles, failed, _ = transition(st, b, move.kind, targets, opts, online)
    if check and bool(np.asarray(failed).ravel()[0]):
        return False
    p, s = int(b.p[0]), int(b.s[0])
    t = int(targets[0])
    for nodes, row, _ in roles.values():
        node = int(np.asarray(nodes).ravel()[0])
        st.write_row(node, {k: np.asarray(v).ravel()[0] for k, v in row.items()})
    m = int(b.sec_mem[0, 0])
    new_p, new_s = new_nodes(move.kind, np.array(p), np.array(s), np.array(t))
    np_, ns = int(new_p), int(new_s)
    if move.kind != MoveKind.FAILOVER_TO_ANY:
        st.peers[s, p] -= m
        st.peers[ns, np_] += m
    if np_ != p:
        x = st.i_excl[inst].astype(np.int64)
        st.ptags[p] -= x
        st.ptags[np_] += x
        if st.lx.size and x.any() and not st.i_forth[inst]:
            st.lx[p] -= np.outer(st.n_loc[p], x)
            st.lx[np_] += np.outer(st.n_loc[np_], x)
    if move.kind not in (MoveKind.FAILOVER, MoveKind.FAILOVER_TO_ANY):
        st.i_loc[inst] = st.inst_loc_score(np_, ns)
    st.i_pnode[inst] = np_
    st.i_snode[inst] = ns
    st.touch_lists(inst, True, move.kind != MoveKind.FAILOVER_TO_ANY)
    return True
