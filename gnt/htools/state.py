"""Dynamic cluster state in numpy arrays (one entry per node / instance).

:class:`ClusterState` is built from a :class:`~gnt.htools.model.ClusterData`
with the same bookkeeping as Ganeti's loader (``mergeData``/``checkData``):
instance memory in use, unaccounted memory (``x_mem``), the N+1 peer
map, reserved memory, exclusion-tag counts, location scores.  Moves and
allocations change it through :mod:`gnt.htools.nodeops` (vectorised node
operations), so the search and the actual application of a move share
one implementation.

Node fields (arrays of length N; memory/disk in MiB):
  static:  t_mem, t_mem_int, n_mem, x_mem, f_mem, t_dsk, lo_dsk, t_cpu, speed,
           l_cpu (vcpu ratio limit), hi_cpu, t_sp, hi_sp, excl, offline, group
  dynamic: see :data:`DYN_FIELDS`
Instance fields (arrays of length M): mem, dsk, vcpus, su, spn, pnode, snode, ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gnt.htools import tags as htags
from gnt.htools.model import ClusterData, Instance
from gnt.htools.types import NO_SECONDARY, MirrorType

DYN_FIELDS = [
    "i_mem", "r_mem", "f_dsk", "u_cpu", "inst_sp", "f_sp", "fail_n1", "n_pri", "n_sec",
    "ld_c", "ld_m", "ld_d", "ld_n", "loc_score", "ptag_conf",
    "f_mem_forth", "f_dsk_forth", "u_cpu_forth", "inst_sp_forth", "f_sp_forth",
]
STATIC_FIELDS = [
    "t_mem", "t_mem_int", "n_mem", "x_mem", "t_dsk", "lo_dsk", "t_cpu", "speed", "l_cpu",
    "t_sp", "hi_sp", "excl", "offline",
]
MIRROR_CODE = {MirrorType.NONE: 0, MirrorType.INTERNAL: 1, MirrorType.EXTERNAL: 2}


class ClusterState:
    """Numpy-backed node/instance state for the algorithms (see module doc)."""

    def __init__(self, cdata: ClusterData, *, offline_nodes: list[str] | None = None,
                 max_cpu: float | None = None, min_disk: float | None = None,
                 exclusion_prefixes: list[str] | None = None,
                 util: dict[str, tuple[float, float, float, float]] | None = None) -> None:
        self.cdata = cdata
        nodes, insts = cdata.nodes, cdata.instances
        ctags = cdata.cluster_tags
        n, m = len(nodes), len(insts)
        self.n_nodes, self.n_insts = n, m
        f = np.array
        # -- static node data
        self.t_mem = f([x.t_mem for x in nodes], dtype=float)
        self.t_mem_int = np.trunc(self.t_mem).astype(np.int64)
        self.n_mem = f([x.n_mem for x in nodes], dtype=np.int64)
        self.f_mem = f([x.f_mem for x in nodes], dtype=np.int64)
        self.t_dsk = f([x.t_dsk for x in nodes], dtype=float)
        self.t_cpu = f([x.t_cpu for x in nodes], dtype=float)
        self.speed = f([x.cpu_speed for x in nodes], dtype=float)
        self.t_sp = f([x.spindles for x in nodes], dtype=np.int64)
        self.excl = f([x.excl_storage for x in nodes], dtype=bool)
        offline_set = set(offline_nodes or [])
        self.offline = f([x.offline or x.name in offline_set or x.alias in offline_set
                          for x in nodes], dtype=bool)
        self.group = f([x.group for x in nodes], dtype=np.int64)
        pols = [cdata.groups[x.group].ipolicy if cdata.groups else cdata.ipolicy
                for x in nodes]
        vr = [p.vcpu_ratio if max_cpu is None else max_cpu for p in pols]
        self.l_cpu = f(vr, dtype=float)
        self.hi_cpu = np.floor(self.l_cpu * self.t_cpu).astype(np.int64)
        self.hi_sp = f([p.spindle_ratio for p in pols], dtype=float) * self.t_sp
        mdsk = 0.0 if min_disk is None else min_disk
        self.lo_dsk = np.floor(mdsk * self.t_dsk).astype(np.int64)
        # -- instances
        if util:
            for inst in insts:
                if inst.name in util:
                    inst.util.cpu, inst.util.mem, inst.util.dsk, inst.util.net = util[inst.name]
        prefixes = htags.exclusion_prefixes(ctags, exclusion_prefixes)
        for inst in insts:
            inst.excl_tags = htags.exclusion_tags(prefixes, inst.tags)
            inst.dsrd_loc_tags = htags.desired_locations(ctags, inst.tags)
        self._init_instances(insts)
        self._init_tags(cdata)
        self._init_nodes(cdata)

    # ------------------------------------------------------------------ init
    def _init_instances(self, insts: list[Instance]) -> None:
        f = np.array
        self.i_mem_sz = f([i.mem for i in insts], dtype=np.int64)
        self.i_dsk = f([i.dsk for i in insts], dtype=np.int64)
        self.i_vcpus = f([i.vcpus for i in insts], dtype=np.int64)
        self.i_su = f([i.spindle_use for i in insts], dtype=np.int64)
        self.i_spn = f([-1 if i.spindles is None else i.spindles for i in insts],
                       dtype=np.int64)
        self.i_pnode = f([i.pnode for i in insts], dtype=np.int64)
        self.i_snode = f([i.snode for i in insts], dtype=np.int64)
        self.i_uses_mem = f([i.uses_memory for i in insts], dtype=bool)
        self.i_uses_sec_mem = f([i.uses_sec_mem for i in insts], dtype=bool)
        self.i_local = f([i.uses_local_storage for i in insts], dtype=bool)
        self.i_online = f([not i.is_offline for i in insts], dtype=bool)
        self.i_running = f([i.is_running for i in insts], dtype=bool)
        self.i_has_sec = f([i.has_secondary for i in insts], dtype=bool)
        self.i_forth = f([i.forthcoming for i in insts], dtype=bool)
        self.i_auto = f([i.auto_balance for i in insts], dtype=bool)
        self.i_mirror = f([MIRROR_CODE[i.mirror] for i in insts], dtype=np.int64)
        self.i_util = f([i.util.as_tuple() for i in insts], dtype=float).reshape(-1, 4)
        self.i_loc = np.zeros(len(insts), dtype=np.int64)

    def _init_tags(self, cdata: ClusterData) -> None:
        ctags = cdata.cluster_tags
        insts, nodes = cdata.instances, cdata.nodes
        # exclusion tags vocabulary
        etags = sorted({t for i in insts for t in i.excl_tags})
        self.excl_vocab = {t: k for k, t in enumerate(etags)}
        self.i_excl = np.zeros((len(insts), len(etags)), dtype=bool)
        for i in insts:
            for t in i.excl_tags:
                self.i_excl[i.idx, self.excl_vocab[t]] = True
        # location tags
        nlocs = [htags.locations(ctags, n.tags) for n in nodes]
        ltags = sorted({t for s in nlocs for t in s})
        self.loc_vocab = {t: k for k, t in enumerate(ltags)}
        self.n_loc = np.zeros((len(nodes), len(ltags)), dtype=bool)
        for k, s in enumerate(nlocs):
            for t in s:
                self.n_loc[k, self.loc_vocab[t]] = True
        self.loc_common = (self.n_loc.astype(np.int64) @ self.n_loc.T.astype(np.int64))
        self.i_dsrd = np.zeros((len(insts), len(ltags)), dtype=bool)
        self.i_dsrd_cnt = np.array([len(i.dsrd_loc_tags) for i in insts], dtype=np.int64)
        for i in insts:
            for t in i.dsrd_loc_tags:
                if t in self.loc_vocab:
                    self.i_dsrd[i.idx, self.loc_vocab[t]] = True
        # migration restrictions: mig_ok[src, dst]
        migs = [htags.migration_tags(ctags, n.tags) for n in nodes]
        if any(migs):
            rmigs = [htags.recv_migration_tags(ctags, n.tags) for n in nodes]
            self.mig_ok: np.ndarray | None = np.array(
                [[a <= b for b in rmigs] for a in migs], dtype=bool)
        else:
            self.mig_ok = None

    def _init_nodes(self, cdata: ClusterData) -> None:
        n, m = self.n_nodes, self.n_insts
        real = ~self.i_forth
        p, s = self.i_pnode, self.i_snode
        has_s = s != NO_SECONDARY
        z = lambda dt=np.int64: np.zeros(n, dtype=dt)
        self.i_mem = z()
        np.add.at(self.i_mem, p[real & self.i_uses_mem], self.i_mem_sz[real & self.i_uses_mem])
        self.x_mem = self.t_mem_int - self.n_mem - self.i_mem - self.f_mem
        self.f_dsk = np.array([x.f_dsk for x in cdata.nodes], dtype=np.int64)
        self.f_sp = np.array([x.free_spindles for x in cdata.nodes], dtype=np.int64)
        ncpu = np.array([x.n_cpu for x in cdata.nodes], dtype=np.int64)
        on = self.i_online
        self.u_cpu = ncpu.copy()
        np.add.at(self.u_cpu, p[real & on], self.i_vcpus[real & on])
        self.u_cpu_forth = ncpu.copy()
        np.add.at(self.u_cpu_forth, p[on], self.i_vcpus[on])
        self.n_pri = z()
        np.add.at(self.n_pri, p[real], 1)
        self.n_sec = z()
        np.add.at(self.n_sec, s[real & has_s], 1)
        loads = np.zeros((n, 4))
        np.add.at(loads, p[real], self.i_util[real])
        np.add.at(loads[:, 2], s[real & has_s], self.i_util[real & has_s, 2])
        self.ld_c, self.ld_m, self.ld_d, self.ld_n = (loads[:, k].copy() for k in range(4))
        # spindles (instance spindle use, non-exclusive storage nodes)
        loc = self.i_local
        self.inst_sp = np.zeros(n)
        np.add.at(self.inst_sp, p[real & loc], self.i_su[real & loc])
        np.add.at(self.inst_sp, s[real & loc & has_s], self.i_su[real & loc & has_s])
        self.inst_sp_forth = np.zeros(n)
        np.add.at(self.inst_sp_forth, p[loc], self.i_su[loc])
        np.add.at(self.inst_sp_forth, s[loc & has_s], self.i_su[loc & has_s])
        self.inst_sp[self.excl] = 0.0
        self.inst_sp_forth[self.excl] = 0.0
        # forthcoming free memory/disk/spindles
        self.f_mem_forth = self.f_mem.copy()
        nomem = ~self.i_uses_mem
        np.add.at(self.f_mem_forth, p[nomem], -self.i_mem_sz[nomem])
        self.f_dsk_forth = self.f_dsk.copy()
        fl = self.i_forth & loc
        np.add.at(self.f_dsk_forth, p[fl], -self.i_dsk[fl])
        np.add.at(self.f_dsk_forth, s[fl & has_s], -self.i_dsk[fl & has_s])
        self.f_sp_forth = self.f_sp.copy()
        # forthcoming instances take their spindles on exclusive-storage nodes
        # (unknown spindles leave -1), in load order as Ganeti's loader does
        for i in np.flatnonzero(self.i_forth).tolist():
            for node in (int(p[i]), int(s[i])):
                if node != NO_SECONDARY and self.excl[node]:
                    spn = int(self.i_spn[i])
                    self.f_sp_forth[node] = -1 if spn < 0 else self.f_sp_forth[node] - spn
        # peers: peers[sec, pri] = memory to reserve on sec for pri's failure
        self.peers = np.zeros((n, n), dtype=np.int64)
        sel = real & has_s & self.i_uses_sec_mem
        np.add.at(self.peers, (s[sel], p[sel]), self.i_mem_sz[sel])
        self.r_mem = self.peers.max(axis=1) if n else z()
        self.fail_n1 = self.f_mem < self.r_mem
        # exclusion tags per node (primaries, incl. forthcoming)
        self.ptags = np.zeros((n, self.i_excl.shape[1]), dtype=np.int64)
        np.add.at(self.ptags, p, self.i_excl.astype(np.int64))
        self.ptag_conf = (self.ptags.sum(axis=1) - (self.ptags > 0).sum(axis=1)).astype(np.int64)
        # location scores
        insts = cdata.instances
        for obj in insts:
            self.i_loc[obj.idx] = (self.inst_loc_score(obj.pnode, obj.snode)
                                   if obj.has_secondary else 0)
        self.loc_score = z()
        dsrd = self.dsrd_score(np.arange(m), p)
        np.add.at(self.loc_score, p[real], (self.i_loc + dsrd)[real])
        # (location, exclusion) pair counts per node, for the map statistic
        self.lx = np.zeros((n, self.n_loc.shape[1], self.i_excl.shape[1]), dtype=np.int64)
        if self.lx.size:
            for obj in insts:
                if not obj.forthcoming and self.i_excl[obj.idx].any():
                    self.lx[obj.pnode] += np.outer(self.n_loc[obj.pnode], self.i_excl[obj.idx])
        # split instances (primary and secondary in different groups) do not move
        for obj in insts:
            if obj.snode != NO_SECONDARY and self.group[obj.pnode] != self.group[obj.snode]:
                obj.movable = False
            if obj.has_secondary and obj.snode == NO_SECONDARY:
                obj.movable = False
        self.i_movable = np.array([obj.movable for obj in insts], dtype=bool)
        # list-order keys: Ganeti keeps a node's primaries/secondaries in lists
        # that new entries are prepended to; ordering by descending key gives
        # that order (loading prepends in index order)
        #: which node's record each node slot holds (hroller's bookkeeping)
        self.slot_of = np.arange(n, dtype=np.int64)
        self.i_pkey = np.arange(m, dtype=np.int64)
        self.i_skey = np.arange(m, dtype=np.int64)
        self.list_clock = m

    # --------------------------------------------------------------- helpers
    def inst_loc_score(self, pnode: int, snode: int) -> int:
        if snode == NO_SECONDARY or not self.loc_common.size:
            return 0
        return int(self.loc_common[pnode, snode])

    def dsrd_score(self, insts: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Unsatisfied desired locations of instances if their primary were ``nodes``."""
        if not self.i_dsrd.shape[1]:
            return self.i_dsrd_cnt[insts] * (np.ones_like(nodes) if np.ndim(nodes) else 1)
        sat = (self.i_dsrd[insts] & self.n_loc[nodes]).sum(axis=-1)
        return self.i_dsrd_cnt[insts] - sat

    def rows(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Static and dynamic fields of the given nodes (fancy-indexed copies)."""
        out = {k: getattr(self, k)[idx] for k in DYN_FIELDS}
        out.update({k: getattr(self, k)[idx] for k in STATIC_FIELDS})
        return out

    def write_row(self, node: int, row: Mapping[str, Any]) -> None:
        for k in DYN_FIELDS:
            getattr(self, k)[node] = row[k]

    def unalloc_mem(self, idx: Any = slice(None)) -> np.ndarray:
        """Ganeti's ``unallocatedMem``: state-of-record free memory less missing memory."""
        return (self.t_mem_int[idx] - self.n_mem[idx] - self.i_mem[idx]
                - np.maximum(0, self.x_mem[idx]))

    def avail_mem(self, idx: Any = slice(None)) -> np.ndarray:
        return np.maximum(0, self.unalloc_mem(idx) - self.r_mem[idx])

    def avail_disk(self, idx: Any = slice(None)) -> np.ndarray:
        f, lo = self.f_dsk[idx], self.lo_dsk[idx]
        return np.where(f < lo, 0, f - lo)

    def avail_cpu(self, idx: Any = slice(None)) -> np.ndarray:
        u, hi = self.u_cpu[idx], self.hi_cpu[idx]
        return np.where(hi >= u, hi - u, 0)

    def loc_excl_value(self, online_nodes: np.ndarray) -> int:
        """The location-exclusion statistic over the given (online) nodes."""
        if not self.lx.size or not len(online_nodes):
            return 0
        c = self.lx[online_nodes].sum(axis=0)
        return int(c.sum() - (c > 0).sum())

    def peer_max_excluding(self, nodes: np.ndarray, col: np.ndarray,
                           newval: np.ndarray) -> np.ndarray:
        """max(peers[node, :]) with column ``col`` replaced by ``newval`` (row-wise)."""
        rows = self.peers[nodes].copy()
        rows[np.arange(len(nodes)), col] = newval
        return rows.max(axis=1) if rows.shape[1] else np.zeros(len(nodes), dtype=np.int64)

    def node_pri(self, node: int) -> np.ndarray:
        return np.flatnonzero((self.i_pnode == node) & ~self.i_forth)

    def plist(self, node: int) -> list[int]:
        """The node's (real) primaries in Ganeti's list order (newest first)."""
        idx = self.node_pri(node)
        return idx[np.argsort(-self.i_pkey[idx], kind="stable")].tolist()

    def slist(self, node: int) -> list[int]:
        """The node's (real) secondaries in Ganeti's list order (newest first)."""
        idx = self.node_sec(node)
        return idx[np.argsort(-self.i_skey[idx], kind="stable")].tolist()

    def touch_lists(self, inst: int, primary: bool, secondary: bool) -> None:
        """Record that ``inst`` was (re)added to its primary/secondary's list."""
        if primary:
            self.list_clock += 1
            self.i_pkey[inst] = self.list_clock
        if secondary:
            self.list_clock += 1
            self.i_skey[inst] = self.list_clock

    def node_sec(self, node: int) -> np.ndarray:
        return np.flatnonzero((self.i_snode == node) & ~self.i_forth)

    def group_nodes(self, gdx: int | None) -> np.ndarray:
        if gdx is None:
            return np.arange(self.n_nodes)
        return np.flatnonzero(self.group == gdx)

    def group_instances(self, nodes: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.n_nodes, dtype=bool)
        mask[nodes] = True
        return np.flatnonzero(mask[self.i_pnode]) if self.n_insts else np.zeros(0, np.int64)

    def sync_to_model(self) -> None:
        """Write instance placements back to the :class:`ClusterData` objects."""
        for inst in self.cdata.instances:
            inst.pnode = int(self.i_pnode[inst.idx])
            inst.snode = int(self.i_snode[inst.idx])

    def missing_mem_warnings(self) -> list[str]:
        """Ganeti's ``checkData`` warnings (nodes missing memory or disk)."""
        out = []
        dsk_used = np.zeros(self.n_nodes, dtype=np.int64)
        real = ~self.i_forth
        np.add.at(dsk_used, self.i_pnode[real], self.i_dsk[real])
        has_s = (self.i_snode != NO_SECONDARY) & real
        np.add.at(dsk_used, self.i_snode[has_s], self.i_dsk[has_s])
        for k, node in enumerate(self.cdata.nodes):
            delta_mem = int(self.x_mem[k])
            delta_dsk = math.trunc(node.t_dsk) - node.f_dsk - int(dsk_used[k])
            if delta_mem > 512 or delta_dsk > 1024:
                out.append(f"node {node.name} is missing {delta_mem} MB ram "
                           f"and {delta_dsk // 1024} GB disk")
        return out


def copy_state(st: ClusterState) -> ClusterState:
    """An independent copy (arrays copied; the model objects are shared)."""
    new = ClusterState.__new__(ClusterState)
    for k, v in vars(st).items():
        setattr(new, k, v.copy() if isinstance(v, np.ndarray) else v)
    return new


def instance_attrs(inst: Instance) -> dict:
    """The node-operation attributes of an instance object (0-d arrays; see nodeops)."""
    a = np.asarray
    return {"mem": a(inst.mem, dtype=np.int64), "dsk": a(inst.dsk, dtype=np.int64),
            "vcpus": a(inst.vcpus, dtype=np.int64), "su": a(inst.spindle_use, dtype=np.int64),
            "spn": a(-1 if inst.spindles is None else inst.spindles, dtype=np.int64),
            "uses_mem": a(inst.uses_memory), "uses_sec_mem": a(inst.uses_sec_mem),
            "local": a(inst.uses_local_storage), "online": a(not inst.is_offline),
            "has_sec": a(inst.has_secondary), "forth": a(inst.forthcoming),
            "util": tuple(a(x, dtype=float) for x in inst.util.as_tuple())}


def stored_attrs(st: ClusterState, i: int) -> dict:
    """The node-operation attributes of instance ``i`` of the state (0-d arrays)."""
    return {"mem": st.i_mem_sz[i], "dsk": st.i_dsk[i], "vcpus": st.i_vcpus[i],
            "su": st.i_su[i], "spn": st.i_spn[i], "uses_mem": st.i_uses_mem[i],
            "uses_sec_mem": st.i_uses_sec_mem[i], "local": st.i_local[i],
            "online": st.i_online[i], "has_sec": st.i_has_sec[i], "forth": st.i_forth[i],
            "util": tuple(st.i_util[i, k] for k in range(4))}


def excl_vector(st: ClusterState, tags: list[str]) -> np.ndarray:
    """Boolean vector over the state's exclusion-tag vocabulary (unknown tags dropped)."""
    out = np.zeros(len(st.excl_vocab), dtype=bool)
    for t in tags:
        if t in st.excl_vocab:
            out[st.excl_vocab[t]] = True
    return out


def dsrd_vector(st: ClusterState, locs: frozenset[str]) -> np.ndarray:
    """Boolean vector over the location vocabulary for desired locations."""
    out = np.zeros(len(st.loc_vocab), dtype=bool)
    for t in locs:
        if t in st.loc_vocab:
            out[st.loc_vocab[t]] = True
    return out


def prepare_new_instance(st: ClusterState, inst: Instance,
                         exclusion_prefixes: list[str] | None = None) -> None:
    """Fill ``inst.excl_tags``/``dsrd_loc_tags`` from its tags and the cluster tags."""
    ctags = st.cdata.cluster_tags
    prefixes = htags.exclusion_prefixes(ctags, exclusion_prefixes)
    inst.excl_tags = htags.exclusion_tags(prefixes, inst.tags)
    inst.dsrd_loc_tags = htags.desired_locations(ctags, inst.tags)


def _grow_vocab(st: ClusterState, tags: list[str]) -> None:
    new = [t for t in dict.fromkeys(tags) if t not in st.excl_vocab]
    if not new:
        return
    st.excl_vocab = dict(st.excl_vocab)   # copies share the dict
    for t in new:
        st.excl_vocab[t] = len(st.excl_vocab)
    k = len(new)
    st.i_excl = np.hstack([st.i_excl, np.zeros((st.n_insts, k), dtype=bool)])
    st.ptags = np.hstack([st.ptags, np.zeros((st.n_nodes, k), dtype=np.int64)])
    st.lx = np.concatenate([st.lx, np.zeros(st.lx.shape[:2] + (k,), dtype=np.int64)], axis=2)


def add_instance(st: ClusterState, inst: Instance, pnode: int, snode: int,
                 strict: bool = False, record: bool = True,
                 replace_at: int | None = None) -> ClusterState:
    """A new state with ``inst`` placed on ``pnode``/``snode`` (-1: none).

    The node rows are updated with the same operations as an allocation
    (add primary, add secondary, peers, tags, locations); ``inst`` is
    copied into the new state's model (its ``idx`` becomes the new
    index).  ``st`` is left untouched.  ``strict`` only matters for the
    node fields computed by the soft checks (none are stored).  With
    ``record`` false only the nodes change (the instance is not added to
    the instance arrays), as Ganeti's capacity check sees an existing
    instance allocated again.  With ``replace_at`` the new instance's
    record takes the place of instance ``replace_at`` (whose resources stay
    on its nodes), as happens in Ganeti's capacity check of an allocation
    inside one node group when the new instance's index collides.
    """
    from dataclasses import replace

    from gnt.htools import nodeops

    if not record:
        return _add_resources(st, inst, pnode, snode)
    if replace_at is not None:
        new = _add_resources(st, inst, pnode, snode)
        _overwrite_record(new, replace_at, inst, pnode, snode)
        return new
    new = copy_state(st)
    obj = replace(inst, pnode=pnode, snode=snode, idx=st.n_insts)
    new.cdata = replace(st.cdata, instances=list(st.cdata.instances) + [obj])
    _grow_vocab(new, obj.excl_tags)
    i = new.n_insts
    new.n_insts += 1
    app = np.append
    new.i_mem_sz = app(new.i_mem_sz, obj.mem)
    new.i_dsk = app(new.i_dsk, obj.dsk)
    new.i_vcpus = app(new.i_vcpus, obj.vcpus)
    new.i_su = app(new.i_su, obj.spindle_use)
    new.i_spn = app(new.i_spn, -1 if obj.spindles is None else obj.spindles)
    new.i_pnode = app(new.i_pnode, pnode)
    new.i_snode = app(new.i_snode, snode)
    new.i_uses_mem = app(new.i_uses_mem, obj.uses_memory)
    new.i_uses_sec_mem = app(new.i_uses_sec_mem, obj.uses_sec_mem)
    new.i_local = app(new.i_local, obj.uses_local_storage)
    new.i_online = app(new.i_online, not obj.is_offline)
    new.i_running = app(new.i_running, obj.is_running)
    new.i_has_sec = app(new.i_has_sec, obj.has_secondary)
    new.i_forth = app(new.i_forth, obj.forthcoming)
    new.i_auto = app(new.i_auto, obj.auto_balance)
    new.i_mirror = app(new.i_mirror, MIRROR_CODE[obj.mirror])
    new.i_util = np.vstack([new.i_util, np.array(obj.util.as_tuple(), dtype=float)])
    excl = excl_vector(new, obj.excl_tags)
    new.i_excl = np.vstack([new.i_excl, excl[None, :]])
    new.i_dsrd = np.vstack([new.i_dsrd, dsrd_vector(new, obj.dsrd_loc_tags)[None, :]])
    new.i_dsrd_cnt = app(new.i_dsrd_cnt, len(obj.dsrd_loc_tags))
    new.i_movable = app(new.i_movable, obj.movable)
    new.i_pkey = app(new.i_pkey, 0)
    new.i_skey = app(new.i_skey, 0)
    has_s = snode != NO_SECONDARY and obj.has_secondary
    new.i_loc = app(new.i_loc, new.inst_loc_score(pnode, snode) if has_s else 0)
    new.touch_lists(i, True, has_s)
    attrs = stored_attrs(new, i)
    x = excl.astype(np.int64)
    rp = new.rows(np.array([pnode]))
    conf = int((new.ptags[pnode][excl] >= 1).sum()) if excl.any() else 0
    loc = int(new.i_loc[i] + new.dsrd_score(np.array([i]), np.array([pnode]))[0])
    row_p, _ = nodeops.add_pri(rp, attrs, strict, np.array([conf]), np.array([loc]))
    if has_s:
        rs = new.rows(np.array([snode]))
        row_s, _ = nodeops.add_sec(rs, attrs, strict, np.array([new.peers[snode, pnode]]))
        new.write_row(snode, {k: np.asarray(v).ravel()[0] for k, v in row_s.items()})
        if obj.uses_sec_mem and not obj.forthcoming:
            new.peers[snode, pnode] += obj.mem
    new.write_row(pnode, {k: np.asarray(v).ravel()[0] for k, v in row_p.items()})
    new.ptags[pnode] += x
    if new.lx.size and x.any() and not obj.forthcoming:
        new.lx[pnode] += np.outer(new.n_loc[pnode], x)
    return new


def _add_resources(st: ClusterState, inst: Instance, pnode: int, snode: int) -> ClusterState:
    """Copy of ``st`` with ``inst``'s resources on ``pnode``/``snode`` only."""
    from gnt.htools import nodeops

    new = copy_state(st)
    attrs = instance_attrs(inst)
    excl = excl_vector(new, inst.excl_tags)
    has_s = snode != NO_SECONDARY and inst.has_secondary
    inst_loc = new.inst_loc_score(pnode, snode) if has_s else 0
    dsrd = dsrd_vector(new, inst.dsrd_loc_tags)
    loc = inst_loc + len(inst.dsrd_loc_tags) - int((dsrd & new.n_loc[pnode]).sum())
    conf = int((new.ptags[pnode][excl] >= 1).sum()) if excl.any() else 0
    row_p, _ = nodeops.add_pri(new.rows(np.array([pnode])), attrs, False, np.array([conf]),
                               np.array([loc]))
    if has_s:
        row_s, _ = nodeops.add_sec(new.rows(np.array([snode])), attrs, False,
                                   np.array([new.peers[snode, pnode]]))
        new.write_row(snode, {k: np.asarray(v).ravel()[0] for k, v in row_s.items()})
        if inst.uses_sec_mem and not inst.forthcoming:
            new.peers[snode, pnode] += inst.mem
    new.write_row(pnode, {k: np.asarray(v).ravel()[0] for k, v in row_p.items()})
    x = excl.astype(np.int64)
    new.ptags[pnode] += x
    if new.lx.size and x.any():
        new.lx[pnode] += np.outer(new.n_loc[pnode], x)
    return new


def _overwrite_record(st: ClusterState, k: int, inst: Instance, pnode: int, snode: int) -> None:
    """Make instance record ``k`` describe ``inst`` on ``pnode``/``snode`` (in place)."""
    from dataclasses import replace

    obj = replace(inst, pnode=pnode, snode=snode, idx=k)
    insts = list(st.cdata.instances)
    insts[k] = obj
    st.cdata = replace(st.cdata, instances=insts)
    has_s = snode != NO_SECONDARY and obj.has_secondary
    for name, val in (("i_mem_sz", obj.mem), ("i_dsk", obj.dsk), ("i_vcpus", obj.vcpus),
                      ("i_su", obj.spindle_use),
                      ("i_spn", -1 if obj.spindles is None else obj.spindles),
                      ("i_pnode", pnode), ("i_snode", snode),
                      ("i_uses_mem", obj.uses_memory), ("i_uses_sec_mem", obj.uses_sec_mem),
                      ("i_local", obj.uses_local_storage), ("i_online", not obj.is_offline),
                      ("i_running", obj.is_running), ("i_has_sec", obj.has_secondary),
                      ("i_forth", obj.forthcoming), ("i_auto", obj.auto_balance),
                      ("i_mirror", MIRROR_CODE[obj.mirror]),
                      ("i_dsrd_cnt", len(obj.dsrd_loc_tags)),
                      ("i_movable", obj.movable),
                      ("i_loc", st.inst_loc_score(pnode, snode) if has_s else 0)):
        getattr(st, name)[k] = val
    st.i_util[k] = obj.util.as_tuple()
    st.i_excl[k] = excl_vector(st, obj.excl_tags)
    st.i_dsrd[k] = dsrd_vector(st, obj.dsrd_loc_tags)
    st.touch_lists(k, True, has_s)
