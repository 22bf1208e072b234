"""Allocation on dedicated node groups (Ganeti's ``Dedicated.hs``).

When every node of the groups an allocation may use has exclusive
storage (or no allocatable group is left), hail does not use the cluster
score: it minimises the *lost allocations*.  For each min spec of the
group's policy (biggest disk first) a minimal "test instance" is
defined; a node's allocation vector counts how many of each still fit.
Placing an instance costs the drop of that vector on its node(s); ties
are broken by the smaller remaining free disk.  No capacity (global N+1)
checks are made.

Public API::

    is_dedicated(st, group_name) -> bool
    allocate(st, inst, count, group_name, opts) -> DedSolution
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gnt.htools import nodeops
from gnt.htools.iallocate import (
    AllocError,
    AllocOptions,
    _code_modes,
    _policy_codes,
    fail_reasons,
    gen_alloc_nodes,
    has_required_networks,
)
from gnt.htools.model import Instance
from gnt.htools.state import ClusterState, add_instance, excl_vector, instance_attrs
from gnt.htools.types import AllocPolicy, DiskTemplate, InstanceStatus, IPolicy

Metric = tuple[tuple[int, ...], int]


@dataclass
class DedSolution:
    """An allocation solution under the lost-allocations metric."""

    failures: Counter = field(default_factory=Counter)
    allocs: int = 0
    nodes: tuple[int, ...] | None = None
    metric: Metric | None = None
    state: ClusterState | None = None
    log: list[str] = field(default_factory=list)


def is_dedicated(st: ClusterState, group_name: str | None) -> bool:
    """Ganeti's ``isDedicated`` for an allocation (in ``group_name`` or anywhere)."""
    if group_name is None:
        groups = {g.idx for g in st.cdata.groups if g.alloc_policy != AllocPolicy.UNALLOCABLE}
    else:
        groups = {g.idx for g in st.cdata.groups if g.name == group_name}
    return all(n.excl_storage or n.group not in groups for n in st.cdata.nodes)


def test_instances(pol: IPolicy) -> list[Instance]:
    """Minimal instances of each min spec, biggest disk first."""
    mins = sorted((mm.min for mm in pol.minmax), key=lambda s: -s.disk_size)
    return [Instance(name="minimalspecinstance", mem=s.mem_size, dsk=s.disk_size,
                     vcpus=s.cpu_count, status=InstanceStatus.RUNNING, auto_balance=False,
                     pnode=-1, snode=-1, template=DiskTemplate.PLAIN, spindle_use=s.spindle_use,
                     spindles=0) for s in mins]


def _rows_after(row: dict, attrs: dict, ks: np.ndarray) -> dict:
    """Node rows after adding the test instance k times (k in ``ks``), strict adds."""
    local, excl = bool(attrs["local"]), bool(np.asarray(row["excl"]))
    out = {key: np.broadcast_to(np.asarray(v), ks.shape).copy() for key, v in row.items()}
    mem = int(attrs["mem"]) if bool(attrs["uses_mem"]) else 0
    dsk = int(attrs["dsk"]) if local else 0
    vc = int(attrs["vcpus"]) if bool(attrs["online"]) else 0
    su = float(attrs["su"]) if local and not excl else 0.0
    out["i_mem"] = out["i_mem"] + ks * mem
    out["f_dsk"] = out["f_dsk"] - ks * dsk
    out["u_cpu"] = out["u_cpu"] + ks * vc
    out["u_cpu_forth"] = out["u_cpu_forth"] + ks * vc
    out["inst_sp"] = out["inst_sp"] + ks * su
    out["inst_sp_forth"] = out["inst_sp_forth"] + ks * su
    out["f_mem_forth"] = out["f_mem_forth"] - ks * int(attrs["mem"])
    out["f_dsk_forth"] = out["f_dsk_forth"] - ks * dsk
    out["n_pri"] = out["n_pri"] + ks
    free = nodeops.unalloc(out, out["i_mem"])
    out["fail_n1"] = np.where(ks == 0, out["fail_n1"], free <= out["r_mem"])
    return out


def fit_count(row: dict, tinst: Instance) -> int:
    """How many times ``tinst`` can be added as primary (strict checks) to ``row``."""
    attrs = instance_attrs(tinst)
    zero = np.zeros(1, dtype=np.int64)
    start, size = 0, 64
    while start < (1 << 24):
        ks = np.arange(start, start + size, dtype=np.int64)
        rows = _rows_after(row, attrs, ks)
        _, codes = nodeops.add_pri(rows, attrs, True, zero, zero)
        bad = np.flatnonzero(np.broadcast_to(codes, ks.shape) > 0)
        if len(bad):
            return int(ks[bad[0]])
        start += size
        size *= 2
    return start


def alloc_vector(row: dict, tests: list[Instance]) -> tuple[int, ...]:
    return tuple(fit_count(row, t) for t in tests)


def _conf(st: ClusterState, inst: Instance, nodes: np.ndarray) -> np.ndarray:
    """Per node: how many of the instance's exclusion tags it already has."""
    excl = excl_vector(st, inst.excl_tags)
    if not excl.any():
        return np.zeros(len(nodes), dtype=np.int64)
    return (st.ptags[nodes][:, excl] >= 1).sum(axis=1)


def _scalar_row(rows: dict, k: int | tuple) -> dict:
    return {key: np.asarray(v)[k] for key, v in rows.items()}


def _policy(st: ClusterState, node: int) -> IPolicy:
    return st.cdata.groups[int(st.group[node])].ipolicy if st.cdata.groups else \
        st.cdata.ipolicy


def _better(a: Metric | None, b: Metric) -> bool:
    """Ganeti's ``bestAllocElement``: the new one wins unless the old is smaller."""
    return a is None or not a < b


def find_allocation(st: ClusterState, inst: Instance, gdx: int, count: int,
                    opts: AllocOptions) -> DedSolution:
    """Dedicated allocation inside group ``gdx`` (raises AllocError)."""
    grp = st.cdata.groups[gdx]
    if not has_required_networks(st, gdx, inst):
        raise AllocError(f"The group {grp.name} is not connected to a network required "
                         f"by instance {inst.name}")
    cands = gen_alloc_nodes(st, st.group_nodes(gdx), count, opts)
    attrs = instance_attrs(inst)
    force = opts.ignore_soft_errors
    sol = DedSolution()
    best: Metric | None = None
    if count == 1:
        if not cands:
            raise AllocError("No online nodes")
        nodes = np.asarray(cands, dtype=np.int64)
        rows = st.rows(nodes)
        pol = _policy_codes(st, inst, nodes)
        new, codes = nodeops.add_pri(rows, attrs, not force, _conf(st, inst, nodes),
                                     np.zeros(len(nodes), dtype=np.int64))
        codes = np.where(pol > 0, pol, np.broadcast_to(codes, (len(nodes),)))
        sol.failures = _code_modes(codes)
        for k in np.flatnonzero(codes == 0).tolist():
            tests = test_instances(_policy(st, int(nodes[k])))
            before = alloc_vector(_scalar_row(rows, k), tests)
            after_row = _scalar_row(new, k)
            after = alloc_vector(after_row, tests)
            metric = (tuple(b - a for b, a in zip(before, after)), int(after_row["f_dsk"]))
            sol.allocs += 1
            if _better(best, metric):
                best, sol.nodes = metric, (int(nodes[k]),)
    else:
        if not cands:
            raise AllocError("Not enough online nodes")
        codes_all: list[int] = []
        for p, ss in cands:  # type: ignore[misc]
            tests = test_instances(_policy(st, p))
            prow = st.rows(np.array([p]))
            pcode = int(_policy_codes(st, inst, np.array([p]))[0])
            new_p, fp_codes = nodeops.add_pri(prow, attrs, not force,
                                              _conf(st, inst, np.array([p])),
                                              np.zeros(1, dtype=np.int64))
            fp = int(np.asarray(fp_codes).ravel()[0])
            before_p = alloc_vector(_scalar_row(prow, 0), tests)
            after_p = alloc_vector(_scalar_row(new_p, 0), tests)
            lost_p = [b - a for b, a in zip(before_p, after_p)]
            dsk_p = int(np.asarray(new_p["f_dsk"]).ravel()[0])
            for s in ss:
                if pcode or fp:
                    codes_all.append(pcode or fp)
                    continue
                srow = st.rows(np.array([s]))
                new_s, fs_codes = nodeops.add_sec(srow, attrs, True,
                                                  np.array([st.peers[s, p]]))
                fs = int(np.asarray(fs_codes).ravel()[0])
                if fs:
                    codes_all.append(fs)
                    continue
                lost_s = [b - a for b, a in zip(alloc_vector(_scalar_row(srow, 0), tests),
                                                alloc_vector(_scalar_row(new_s, 0), tests))]
                metric = (tuple(x + y for x, y in zip(lost_p, lost_s)),
                          dsk_p + int(np.asarray(new_s["f_dsk"]).ravel()[0]))
                sol.allocs += 1
                if _better(best, metric):
                    best, sol.nodes = metric, (p, s)
        sol.failures = _code_modes(np.array(codes_all, dtype=np.int64))
    sol.metric = best
    if sol.nodes is not None:
        p = sol.nodes[0]
        s = sol.nodes[1] if len(sol.nodes) > 1 else -1
        sol.state = add_instance(st, inst, p, s)
    sol.log = [_group_prefix(st, gdx) + describe(st, sol)]
    return sol


def _group_prefix(st: ClusterState, gdx: int) -> str:
    g = st.cdata.groups[gdx]
    return f"Group {g.name} ({g.alloc_policy.value}): "


def show_metric(m: Metric) -> str:
    """Haskell ``show`` of the metric, e.g. ``([0,1],4096)``."""
    return "([" + ",".join(str(x) for x in m[0]) + "]," + str(m[1]) + ")"


def describe(st: ClusterState, sol: DedSolution) -> str:
    nfail = sum(sol.failures.values())
    if sol.nodes is None or sol.metric is None:
        reasons = fail_reasons(sol.failures) if nfail else "unknown reasons"
        return "No valid allocation solutions, failure reasons: " + reasons
    names = "/".join(st.cdata.nodes[k].name for k in sol.nodes)
    return (f"score: {show_metric(sol.metric)}, successes {sol.allocs}, failures {nfail} "
            f"({fail_reasons(sol.failures)}) for node(s) {names}")


def allocate(st: ClusterState, inst: Instance, count: int, group_name: str | None,
             opts: AllocOptions) -> DedSolution:
    """A dedicated ``allocate``: solution with its log (raises AllocError)."""
    if group_name is not None:
        hits = [g.idx for g in st.cdata.groups if group_name in (g.name, g.uuid)]
        if len(hits) != 1:
            raise AllocError(f"Wrong number of elems found with name {group_name}")
        return find_allocation(st, inst, hits[0], count, opts)
    results: list[tuple[int, DedSolution | None]] = []
    msgs: list[str] = []
    for g in sorted({int(x) for x in st.group}):
        name = st.cdata.groups[g].name
        try:
            sol = find_allocation(st, inst, g, count, opts)
        except AllocError as err:
            msgs.append(f"Group {name}: error {err}")
            results.append((g, None))
            continue
        msgs.extend(sol.log)
        results.append((g, sol))
    good = [(g, s) for g, s in reversed(results) if s is not None and s.nodes is not None
            and st.cdata.groups[g].alloc_policy != AllocPolicy.UNALLOCABLE]
    good.sort(key=lambda gs: (st.cdata.groups[gs[0]].alloc_policy.rank, gs[1].metric))
    if not good:
        raise AllocError(", ".join(msgs))
    gdx, sol = good[0]
    sol.log = [f"Selected group: {st.cdata.groups[gdx].name}"] + msgs
    return sol
