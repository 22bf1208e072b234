"""Instance allocation (hspace): place new instances of a spec until none fits.

For every candidate node (single-node templates) or node pair (DRBD) the
new instance is added with Ganeti's checks (``allocateOnSingle``/
``allocateOnPair``) and the resulting cluster score computed; the
candidate with the lowest score wins (first in Ganeti's order on ties).
Failures are counted per reason, as Ganeti's ``collapseFailures``.
Tiered allocation shrinks the spec by the most frequent failure reason
(64 MiB memory, 256 MiB disk, 1 CPU) as Ganeti's ``tieredAlloc`` does.

:class:`ExactAllocator` (hspace) uses hail's exact machinery, with the
global N+1 capacity checks, and iterates as Ganeti's ``iterateAlloc``
does: with capacity checks on, it first places a batch of instances
without them and checks the capacity once for the batch (a first batch
sized from the free memory, then batches of 10); only when a batch
breaks global N+1 redundancy does it go on one instance at a time with
the checks.  Instances with a DRBD template are never checked
individually (their N+1 is the per-node check); the probes of the
tiered allocation's "bigger steps" are.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from gnt.htools import nodeops
from gnt.htools.model import Instance
from gnt.htools.search import Scorer
from gnt.htools.state import ClusterState
from gnt.htools.types import (
    LOCAL_STORAGE_TEMPLATES,
    NO_SECONDARY,
    UNIT_CPU,
    UNIT_DSK,
    UNIT_MEM,
    DiskTemplate,
    FailMode,
    InstanceStatus,
    IPolicy,
)


@dataclass(frozen=True)
class Spec:
    """A new instance's size: memory and disk in MiB, vCPUs, spindle use."""

    mem: int
    dsk: int
    cpu: int
    spn: int = 1

    def shrink(self, mode: FailMode) -> Spec | None:
        if mode == FailMode.MEM:
            v = self.mem - UNIT_MEM
            return None if v < UNIT_MEM else Spec(v, self.dsk, self.cpu, self.spn)
        if mode == FailMode.DISK:
            v = self.dsk - UNIT_DSK
            return None if v < UNIT_DSK else Spec(self.mem, v, self.cpu, self.spn)
        if mode == FailMode.CPU:
            v = self.cpu - UNIT_CPU
            return None if v < UNIT_CPU else Spec(self.mem, self.dsk, v, self.spn)
        return None


@dataclass
class AllocResult:
    allocated: list[tuple[Spec, int, int]] = field(default_factory=list)  # spec, pri, sec
    failures: dict[FailMode, int] = field(default_factory=dict)


def _attrs(spec: Spec, template: DiskTemplate) -> dict:
    one = np.ones((1, 1))
    local = template in LOCAL_STORAGE_TEMPLATES
    return {"mem": spec.mem * one.astype(np.int64), "dsk": spec.dsk * one.astype(np.int64),
            "vcpus": spec.cpu * one.astype(np.int64), "su": spec.spn * one.astype(np.int64),
            "spn": -one.astype(np.int64), "uses_mem": one.astype(bool),
            "uses_sec_mem": one.astype(bool), "local": one.astype(bool) & local,
            "online": one.astype(bool), "has_sec": one.astype(bool) &
            (template == DiskTemplate.DRBD), "util": (one, one, one, one)}


def policy_failure(spec: Spec, template: DiskTemplate, pol: IPolicy) -> FailMode | None:
    """Ganeti's ``instMatchesPolicy`` for a new single-disk instance."""
    fail = None
    for mm in pol.minmax:
        checks = [(spec.mem, mm.min.mem_size, mm.max.mem_size, FailMode.MEM),
                  (spec.cpu, mm.min.cpu_count, mm.max.cpu_count, FailMode.CPU),
                  (spec.dsk, mm.min.disk_size, mm.max.disk_size, FailMode.DISK),
                  (1, mm.min.disk_count, mm.max.disk_count, FailMode.DISKCOUNT),
                  (spec.spn, mm.min.spindle_use, mm.max.spindle_use, FailMode.SPINDLES)]
        bad = next((m for v, lo, hi, m in checks if not lo <= v <= hi), None)
        if bad is None:
            fail = None
            break
        fail = fail or bad
    if fail is None and template not in pol.disk_templates:
        fail = FailMode.DISK
    return fail


class Allocator:
    """Allocates instances on the nodes of one group, updating the state."""

    def __init__(self, st: ClusterState, nodes: np.ndarray, template: DiskTemplate) -> None:
        self.st = st
        self.nodes = np.asarray(nodes, dtype=np.int64)
        self.template = template
        self.scorer = Scorer(st, self.nodes)
        self.pair = template == DiskTemplate.DRBD

    def try_alloc(self, spec: Spec) -> tuple[tuple[int, int] | None, Counter]:
        """Best placement (primary, secondary or -1) and failure counts."""
        st = self.st
        online = self.nodes[~st.offline[self.nodes]]
        fails: Counter = Counter()
        if not len(online) or (self.pair and len(online) < 2):
            return None, fails
        attrs = _attrs(spec, self.template)
        pol = st.cdata.groups[int(st.group[online[0]])].ipolicy if st.cdata.groups \
            else st.cdata.ipolicy
        pfail = policy_failure(spec, self.template, pol)
        n = len(online)
        p = online[:, None]
        rp = {k: v.reshape(n, 1) for k, v in st.rows(online).items()}
        zero = np.zeros((n, 1), dtype=np.int64)
        new_p, fp = nodeops.add_pri(rp, attrs, True, zero, zero)
        if self.pair:
            s = online[None, :]
            rs = {k: v.reshape(1, n) for k, v in st.rows(online).items()}
            new_s, fs = nodeops.add_sec(rs, attrs, True, st.peers[s, p])
            codes = np.where(fp > 0, fp, fs)
            valid = p != s
            roles = {"P": (p, new_p, rp), "S": (s, new_s, rs)}
            shape = (n, n)
        else:
            codes = fp
            valid = np.ones((n, 1), dtype=bool)
            roles = {"P": (p, new_p, rp)}
            shape = (n, 1)
        codes = np.broadcast_to(codes, shape)
        valid = np.broadcast_to(valid, shape)
        if pfail is not None:
            fails[pfail] += int(valid.sum())
            return None, fails
        for code, cnt in zip(*np.unique(codes[valid & (codes > 0)], return_counts=True)):
            fails[nodeops.FAIL_MODES[int(code) - 1]] += int(cnt)
        ok = valid & (codes == 0)
        if not ok.any():
            return None, fails
        scores = np.array(self.scorer._candidate_scores(
            roles, np.zeros(shape, dtype=np.int64), shape), dtype=float)
        scores[~ok] = np.inf
        flat = int(np.argmin(scores))
        pi, si = divmod(flat, shape[1])
        return (int(online[pi]), int(online[si]) if self.pair else -1), fails

    def commit(self, spec: Spec, pri: int, sec: int) -> None:
        st = self.st
        attrs = {k: (tuple(x[0, 0] for x in v) if k == "util" else v[0, 0])
                 for k, v in _attrs(spec, self.template).items()}
        row = st.rows(np.array([pri]))
        new_p, _ = nodeops.add_pri({k: v[0] for k, v in row.items()}, attrs, True, 0, 0)
        st.write_row(pri, new_p)
        if sec >= 0:
            row = st.rows(np.array([sec]))
            new_s, _ = nodeops.add_sec({k: v[0] for k, v in row.items()}, attrs, True,
                                       st.peers[sec, pri])
            st.write_row(sec, new_s)
            st.peers[sec, pri] += spec.mem
        self.scorer.refresh([x for x in (pri, sec) if x >= 0])

    def iterate(self, spec: Spec, result: AllocResult, limit: int | None = None) -> Counter:
        """Allocate ``spec`` until it fails (or ``limit``); returns the last failures."""
        while True:
            if limit is not None and limit <= 0:
                return Counter()
            place, fails = self.try_alloc(spec)
            if place is None:
                return fails
            self.commit(spec, *place)
            result.allocated.append((spec, place[0], place[1]))
            if limit is not None:
                limit -= 1


class ExactAllocator:
    """Allocation with hail's exact machinery (:mod:`gnt.htools.iallocate`).

    Same interface as :class:`Allocator`, but candidates, scores, ties and
    the global N+1 capacity check (unless ``capacity`` is false) are
    Ganeti's ``tryAlloc``, as hspace uses it: candidates are the online
    nodes of ``nodes`` (pairs inside one group for DRBD), scores are over
    ``score_nodes`` (the whole cluster).  ``st`` is replaced, not mutated,
    on every commit.  :meth:`iterate` is Ganeti's batched ``iterateAlloc``
    (see the module docstring).
    """

    #: Batch size after the first batch (Ganeti's fixed big step).
    STEP = 10
    #: Smallest first batch.
    MIN_FIRST_STEP = 20

    def __init__(self, st: ClusterState, nodes: np.ndarray, template: DiskTemplate,
                 score_nodes: np.ndarray | None = None, capacity: bool = True,
                 ignore_groups: frozenset[int] = frozenset(),
                 accept_existing: bool = False) -> None:
        """``ignore_groups``/``accept_existing``: which nodes the capacity
        checks verify (see :class:`gnt.htools.iallocate.AllocOptions`)."""
        from gnt.htools.iallocate import AllocOptions
        self.st = st
        self.nodes = np.asarray(nodes, dtype=np.int64)
        self.score_nodes = np.arange(st.n_nodes) if score_nodes is None else \
            np.asarray(score_nodes, dtype=np.int64)
        self.template = template
        self.count = 2 if template == DiskTemplate.DRBD else 1
        self.capacity = capacity
        self.opts = AllocOptions(capacity=capacity, capacity_ignore_groups=ignore_groups,
                                 accept_existing=accept_existing)
        self._unchecked = AllocOptions(capacity=False)
        self._last: tuple[Spec, Any] | None = None
        #: results of :meth:`try_alloc` on the current state per (spec, checked):
        #: the tiered allocation tries the same specs on the same state again
        #: and again (its probes repeat what its deeper levels did when they
        #: placed nothing); forgotten when the state changes
        self._memo: dict[tuple[Spec, bool], Any] = {}
        self._memo_state: ClusterState | None = None
        #: global N+1 redundancy of the current state (a batch that placed
        #: nothing leaves the state as it was, and the tiered levels ask again)
        self._red_memo: tuple[ClusterState, bool] | None = None

    def _instance(self, spec: Spec) -> Instance:
        return Instance(name=f"new-{self.st.n_insts}", mem=spec.mem, dsk=spec.dsk,
                        vcpus=spec.cpu, status=InstanceStatus.RUNNING, auto_balance=True,
                        pnode=NO_SECONDARY, snode=NO_SECONDARY, template=self.template,
                        spindle_use=spec.spn, disks=[(spec.dsk, None)])

    def try_alloc(self, spec: Spec, capacity: bool | None = None
                  ) -> tuple[tuple[int, int] | None, Counter]:
        """Best placement and failure counts; ``capacity`` overrides the
        allocator's capacity checks for this attempt.  Raises
        :class:`gnt.htools.iallocate.AllocError` (Ganeti's message) when there
        is no candidate node (pair) at all."""
        checked = self.capacity if capacity is None else (capacity and self.capacity)
        place, fails, state = self._attempt(spec, checked)
        self._last = None if place is None else (spec, state)
        return place, Counter(fails)

    def _attempt(self, spec: Spec, checked: bool
                 ) -> tuple[tuple[int, int] | None, Counter, ClusterState | None]:
        """:meth:`try_alloc`'s (memoised) result and the state after it."""
        from gnt.htools.iallocate import try_alloc
        if self._memo_state is not self.st:
            self._memo.clear()
            self._memo_state = self.st
        hit = self._memo.get((spec, checked))
        if hit is None and checked:
            # the checks only drop candidates: without any, nothing changes
            plain = self._memo.get((spec, False))
            if plain is not None and plain[0] is None:
                hit = plain
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        sol = try_alloc(self.st, self._instance(spec), self.nodes, self.count,
                        self.score_nodes, self.opts if checked else self._unchecked)
        fails = Counter({m: c for m, c in sol.failures.items() if c})
        place = None if sol.nodes is None else \
            (sol.nodes[0], sol.nodes[1] if len(sol.nodes) > 1 else -1)
        out = (place, fails, sol.state)
        self._memo[(spec, checked)] = out
        return out

    def commit(self, spec: Spec, pri: int, sec: int) -> None:
        assert self._last is not None and self._last[0] == spec
        self.st = self._last[1]
        self._last = None

    def iterate(self, spec: Spec, result: AllocResult, limit: int | None = None) -> Counter:
        """Allocate ``spec`` until it fails or ``limit`` instances were placed
        (Ganeti's ``iterateAlloc``); returns the failures of the last attempt."""
        if not self.capacity:
            return self._steps(spec, result, limit, checked=False)
        first = True
        while True:
            step = self._first_step(spec) if first else self.STEP
            batch = step if limit is None else min(step, limit)
            rest = None if limit is None else max(0, limit - step)
            saved, done = self.st, len(result.allocated)
            fails = self._steps(spec, result, batch, checked=False)
            if self._redundant():
                if rest == 0 or len(result.allocated) == done:
                    return fails
                limit = rest
                continue
            # the batch broke global N+1 redundancy: undo it
            self.st = saved
            del result.allocated[done:]
            if first:
                first = False
                continue
            return self._steps(spec, result, limit, checked=True)

    def _steps(self, spec: Spec, result: AllocResult, limit: int | None,
               checked: bool) -> Counter:
        """One instance at a time (Ganeti's ``iterateAllocSmallStep``): each
        attempt is made first, then the limit decides whether it is kept.
        DRBD allocations are never capacity-checked here."""
        capacity = checked and self.template != DiskTemplate.DRBD
        while True:
            place, fails = self.try_alloc(spec, capacity)
            if place is None or limit == 0:
                return fails
            self.commit(spec, *place)
            result.allocated.append((spec, place[0], place[1]))
            if limit is not None:
                limit -= 1

    def _first_step(self, spec: Spec) -> int:
        """Ganeti's first batch size: how many instances of ``spec`` the nodes'
        free memory of record (as loaded: allocations do not change it) would
        hold beyond one node's worth, less one per node (at least
        :attr:`MIN_FIRST_STEP`)."""
        st = self.st
        free = int(st.f_mem.sum())
        reserved = round(float(st.t_mem.max())) if st.n_nodes else 0
        if spec.mem <= 0:
            return self.MIN_FIRST_STEP
        guess = (free - reserved) // spec.mem - st.n_nodes
        return max(guess, self.MIN_FIRST_STEP)

    def _redundant(self) -> bool:
        from gnt.htools.globaln1 import capacity_nodes, redundant
        if self._red_memo is not None and self._red_memo[0] is self.st:
            return self._red_memo[1]
        ok = redundant(self.st, self.score_nodes, check=capacity_nodes(
            self.st, self.score_nodes, self.opts.capacity_ignore_groups,
            self.opts.accept_existing))
        self._red_memo = (self.st, ok)
        return ok


class Allocating(Protocol):
    """What :func:`standard_alloc` and :func:`tiered_alloc` need."""

    def try_alloc(self, spec: Spec) -> tuple[tuple[int, int] | None, Counter]: ...

    def iterate(self, spec: Spec, result: AllocResult, limit: int | None = None) -> Counter:
        ...


def _sorted_errs(fails: Counter) -> list[FailMode]:
    order = [m for m in nodeops.FAIL_MODES]
    return sorted(order, key=lambda m: fails.get(m, 0))


def standard_alloc(alloc: Allocating, spec: Spec) -> AllocResult:
    res = AllocResult()
    res.failures = dict(alloc.iterate(spec, res))
    return res


def tiered_alloc(alloc: Allocating, spec: Spec) -> AllocResult:
    """Ganeti's ``tieredAlloc``: shrink by the most frequent failure and continue."""
    res = AllocResult()
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 100000))
    try:
        _tiered(alloc, spec, res)
    finally:
        sys.setrecursionlimit(old_limit)
    return res


def _tiered(alloc: Allocating, spec: Spec, res: AllocResult) -> None:
    fails = alloc.iterate(spec, res)
    res.failures = dict(fails)
    errs = _sorted_errs(fails)
    before = len(res.allocated)
    shrunk = spec.shrink(errs[-1])
    if shrunk is not None:
        _tiered(alloc, shrunk, res)
        if len(res.allocated) > before:
            return
    res.failures = dict(fails)
    for mode in reversed(errs):
        if not fails.get(mode):
            continue    # Ganeti tries the unshrunk spec first: it fails without this mode
        cand = spec.shrink(mode)
        while cand is not None:
            place, f = alloc.try_alloc(cand)
            if place is not None:
                _tiered(alloc, cand, res)
                return
            if mode not in f:
                break
            cand = cand.shrink(mode)
