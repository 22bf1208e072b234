"""The shortcuts that make htools fast must not change any answer.

Each test compares a fast path with the plain computation it replaces:
cumulative sums with Ganeti's left-to-right float sums, batched exact
scores of candidate moves with applying each move and re-scoring, the
failure masks with the failure codes, the partial lazy ordering with a
full stable sort, the global N+1 shortcuts and check order with the full
evacuation simulation, and the memoised, batched hspace allocation with a
step-by-step one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import pytest

from gnt.htools import globaln1, metrics
from gnt.htools.alloc import AllocResult, ExactAllocator, Spec, standard_alloc, tiered_alloc
from gnt.htools.balance import BalanceOptions, Balancer, smallest_first
from gnt.htools.generate import GenSpec, generate
from gnt.htools.hspace import key_metrics
from gnt.htools.memtune import tune_malloc
from gnt.htools.moves import Batch, MoveOptions, apply_move, transition, transition_codes
from gnt.htools.search import Scorer
from gnt.htools.state import ClusterState, copy_state
from gnt.htools.types import DiskTemplate, Move, MoveKind

pytestmark = pytest.mark.unit

TAGGED = GenSpec(nodes=9, instances=70, seed=5, templates={"drbd": 3, "ext": 1, "plain": 1},
                 tags=True, exclusion=True, locations=True, unbalanced=True, offline=1)
PLAIN = GenSpec(nodes=12, instances=90, seed=2, unbalanced=True)


def _seq_std(xs: list[float]) -> float:
    n = len(xs)
    total = 0.0
    for x in xs:
        total += x
    mean = total / n
    acc = 0.0
    for x in xs:
        acc += (x - mean) * (x - mean)
    return math.sqrt(acc / n)


def test_cumulative_sums_are_ganetis_sequential_sums() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 7, 64, 400):
        x = rng.standard_normal((3, n)) * 10.0 ** rng.integers(-6, 6, (3, n))
        seq = [0.0, 0.0, 0.0]
        for r in range(3):
            for v in x[r].tolist():
                seq[r] += v
        assert metrics._seq_sum_cols(x).tolist() == seq
        assert metrics._std_cols(x).tolist() == [_seq_std(x[r].tolist()) for r in range(3)]


@pytest.mark.parametrize("spec", [TAGGED, PLAIN])
def test_exact_scores_equal_applying_each_move(spec: GenSpec) -> None:
    st = ClusterState(generate(spec))
    nodes = st.group_nodes(0)
    scorer = Scorer(st, nodes, alias_moves=True)
    opts = MoveOptions()
    rng = random.Random(3)
    insts = st.group_instances(nodes)
    targets = nodes[~st.offline[nodes]].tolist()
    cands = []
    for i in rng.sample(insts.tolist(), 25):
        kinds = [MoveKind.FAILOVER] if st.i_mirror[i] == 1 else []
        kinds += ([MoveKind.REPLACE_SECONDARY, MoveKind.REPLACE_AND_FAILOVER,
                   MoveKind.REPLACE_PRIMARY, MoveKind.FAILOVER_AND_REPLACE]
                  if st.i_mirror[i] == 1 else
                  [MoveKind.FAILOVER_TO_ANY] if st.i_mirror[i] == 2 else [])
        for kind in kinds:
            t = -1 if kind == MoveKind.FAILOVER else rng.choice(
                [x for x in targets if x not in (st.i_pnode[i], st.i_snode[i])])
            cands.append((i, Move(kind, t)))
    got = scorer.exact_scores(cands, opts)
    for (i, mv), sc in zip(cands, got):
        work = copy_state(st)
        ok = apply_move(work, i, mv, opts, scorer.online)
        assert (sc is not None) == ok
        if ok:
            assert sc == metrics.score(work, nodes)


@pytest.mark.parametrize("spec", [TAGGED, PLAIN])
def test_failure_masks_equal_failure_codes(spec: GenSpec) -> None:
    st = ClusterState(generate(spec))
    nodes = st.group_nodes(0)
    online = np.zeros(st.n_nodes, dtype=bool)
    online[nodes] = True
    online &= ~st.offline
    insts = st.group_instances(nodes)
    b = Batch(st, insts)
    for opts in (MoveOptions(), MoveOptions(ignore_soft_errors=True)):
        for kind in MoveKind:
            mask = transition(st, b, kind, nodes, opts, online)[1]
            codes = transition_codes(st, b, kind, nodes, opts, online)[1]
            shape = np.broadcast_shapes(np.shape(mask), np.shape(codes))
            assert (np.broadcast_to(mask, shape) == (np.broadcast_to(codes, shape) > 0)).all()


def test_smallest_first_is_the_head_of_a_stable_sort() -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        keys = rng.integers(0, 6, int(rng.integers(1, 200))).astype(float)
        keys[rng.random(len(keys)) < 0.2] = -np.inf
        keys[rng.random(len(keys)) < 0.05] = np.nan
        m = int(rng.integers(1, 80))
        head = smallest_first(keys, m)
        assert len(head) >= min(m, len(keys))
        assert (head == np.argsort(keys, kind="stable")[:len(head)]).all()


def test_lazy_search_result_does_not_depend_on_the_partial_sort(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cd = generate(GenSpec(nodes=10, instances=80, seed=4, unbalanced=True))
    opts = BalanceOptions(full_search_limit=0)
    fast = Balancer(ClusterState(cd), np.arange(10), opts).run()
    import gnt.htools.balance as bal
    monkeypatch.setattr(bal, "smallest_first",
                        lambda keys, m: np.argsort(keys, kind="stable"))
    full = Balancer(ClusterState(cd), np.arange(10), opts).run()
    assert [(p.inst, p.move) for p in fast.placements] == \
        [(p.inst, p.move) for p in full.placements]
    assert fast.final_score == full.final_score


def _evac_states() -> list[ClusterState]:
    """Clusters of shared, diskless and plain instances, filled to various levels."""
    out = []
    for seed in range(12):
        cd = generate(GenSpec(nodes=random.Random(seed).randint(3, 6), instances=30 + 4 * seed,
                              seed=seed, templates={"sharedfile": 2, "diskless": 1,
                                                    "plain": 1, "drbd": 1},
                              node_mem=random.Random(seed).choice([8192, 16384, 32768]),
                              unbalanced=seed % 2 == 0, offline=seed % 3 == 0))
        out.append(ClusterState(cd))
    return out


def test_evacuation_shortcuts_agree_with_the_simulation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    states = _evac_states()
    fired: dict[str, int] = {}

    def counting(name: str) -> Callable[..., object]:
        fn = getattr(globaln1, name)

        def counted(*a: object) -> object:
            r = fn(*a)
            fired[name] = fired.get(name, 0) + bool(r)
            return r
        return counted
    for name in ("_one_node_takes_all", "_always_fits", "_cannot_fit"):
        monkeypatch.setattr(globaln1, name, counting(name))
    fast = [[globaln1.can_evacuate(st, k, np.arange(st.n_nodes)) for k in range(st.n_nodes)]
            for st in states]
    for name in fired:
        monkeypatch.setattr(globaln1, name, lambda *a: False)
    slow = [[globaln1.can_evacuate(st, k, np.arange(st.n_nodes)) for k in range(st.n_nodes)]
            for st in states]
    assert fast == slow
    flat = [v for vs in slow for v in vs]
    assert True in flat and False in flat
    assert all(fired.get(n) for n in ("_one_node_takes_all", "_always_fits", "_cannot_fit"))


def test_redundancy_does_not_depend_on_the_check_order() -> None:
    for st in _evac_states():
        nodes = np.arange(st.n_nodes)
        want = globaln1.redundant(st, nodes)
        for first in ([0], [st.n_nodes - 1], list(range(st.n_nodes))[::-1]):
            assert globaln1.redundant(st, nodes, first) == want
            bad = globaln1.unevacuable(st, nodes, first)
            assert (bad is None) == want
            if bad is not None and bad >= 0:
                assert not globaln1.can_evacuate(st, bad, nodes)


def _allocations(st: ClusterState, template: DiskTemplate, tiered: bool, **kw) -> tuple:
    alloc = ExactAllocator(copy_state(st), np.arange(st.n_nodes), template, **kw)
    spec = Spec(1536, 20480, 2) if tiered else Spec(4096, 10240, 1)
    res = tiered_alloc(alloc, spec) if tiered else standard_alloc(alloc, spec)
    return res.allocated, res.failures, alloc


@pytest.mark.parametrize("template", [DiskTemplate.DISKLESS, DiskTemplate.PLAIN,
                                      DiskTemplate.DRBD])
def test_memoised_allocation_equals_fresh_attempts(template: DiskTemplate,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    st = ClusterState(generate(GenSpec(nodes=4, instances=12, seed=3,
                                       templates={"drbd": 1, "sharedfile": 1})))
    memoised = _allocations(st, template, True)[:2]
    attempt = ExactAllocator._attempt

    def fresh(self: ExactAllocator, spec: Spec, checked: bool) -> tuple:
        self._memo.clear()
        return attempt(self, spec, checked)
    monkeypatch.setattr(ExactAllocator, "_attempt", fresh)
    assert _allocations(st, template, True)[:2] == memoised


def test_batched_allocation_checks_capacity_once_per_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a roomy cluster every batch stays redundant: the batched result equals
    placing one instance at a time with a check each."""
    st = ClusterState(generate(GenSpec(nodes=4, instances=8, seed=1, node_mem=65536,
                                       templates={"sharedfile": 1})))
    checks = []
    orig = ExactAllocator._redundant
    monkeypatch.setattr(ExactAllocator, "_redundant",
                        lambda self: checks.append(1) or orig(self))
    batched, fails, alloc = _allocations(st, DiskTemplate.SHAREDFILE, False)
    assert 0 < len(checks) < len(batched) / 4
    single = ExactAllocator(copy_state(st), np.arange(st.n_nodes), DiskTemplate.SHAREDFILE)
    res = AllocResult()
    last = single._steps(Spec(4096, 10240, 1), res, None, checked=True)
    assert batched == res.allocated and len(batched) > 20
    assert fails == dict(last)
    assert globaln1.redundant(alloc.st, np.arange(st.n_nodes))


def test_key_metrics_add_up() -> None:
    st = ClusterState(generate(GenSpec(nodes=4, instances=12, seed=3)))
    allocated, _, alloc = _allocations(st, DiskTemplate.DRBD, True)
    km = dict(key_metrics(st, alloc.st, np.arange(st.n_nodes)))
    assert allocated
    assert int(km["KM_USED_MEM"]) + int(km["KM_POOL_MEM"]) + int(km["KM_UNAV_MEM"]) == \
        int(st.t_mem.sum())
    assert int(km["KM_USED_CPU"]) + int(km["KM_POOL_CPU"]) + int(km["KM_UNAV_CPU"]) == \
        int(st.hi_cpu.sum())
    assert float(km["KM_USED_NPU"]) == float(st.u_cpu.sum()) / 4.0


def test_tune_malloc_is_idempotent() -> None:
    assert tune_malloc() == tune_malloc()
