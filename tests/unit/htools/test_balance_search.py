"""The vectorised move search and the lazy balancing of large clusters."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from gnt.htools import metrics
from gnt.htools.balance import BalanceOptions, Balancer, balance
from gnt.htools.generate import GenSpec, generate
from gnt.htools.moves import Batch, MoveOptions
from gnt.htools.search import Scorer
from gnt.htools.state import ClusterState
from gnt.htools.types import MoveKind

pytestmark = pytest.mark.unit

MIXED = GenSpec(nodes=9, instances=70, seed=5, templates={"drbd": 3, "ext": 1, "plain": 1},
                tags=True, exclusion=True, locations=True, unbalanced=True)


def _kind_scores(sc: Scorer, insts: np.ndarray, targets: np.ndarray,
                 opts: MoveOptions) -> list[float]:
    """Each instance's best score from one `evaluate` per move kind."""
    allowed, same = sc.allowed_kinds(insts, targets, opts)
    out = []
    for r, i in enumerate(insts.tolist()):
        best = np.inf
        b = Batch(sc.st, np.array([i]))
        for kind, mask in allowed.items():
            if not mask[r]:
                continue
            s = sc.evaluate(b, kind, targets, opts)[0]
            if kind != MoveKind.FAILOVER:
                s = np.where(same[r], np.inf, s)
            best = min(best, float(np.min(s)))
        out.append(best)
    return out


@pytest.mark.parametrize("alias", [False, True])
def test_merged_scoring_equals_per_kind_scoring(alias: bool) -> None:
    st = ClusterState(generate(MIXED))
    nodes = st.group_nodes(0)
    sc = Scorer(st, nodes, alias_moves=alias)
    insts = st.group_instances(nodes)
    targets = nodes[~st.offline[nodes]]
    opts = MoveOptions()
    cands = sc.best_moves(insts, targets, opts)
    want = _kind_scores(sc, insts, targets, opts)
    got = [np.inf if c is None else c.score for c in cands]
    assert got == want


def test_component_aliases_keep_scores_identical() -> None:
    st = ClusterState(generate(GenSpec(nodes=12, instances=90, seed=2, unbalanced=True)))
    nodes = np.arange(st.n_nodes)
    insts = st.group_instances(nodes)
    plain = Scorer(st, nodes).best_moves(insts, nodes, MoveOptions())
    aliased = Scorer(st, nodes, alias_moves=True)
    assert aliased.alias  # equal load columns, no forthcoming instances
    assert aliased.best_moves(insts, nodes, MoveOptions()) == plain


def test_lazy_search_ends_in_a_local_optimum() -> None:
    cd = generate(GenSpec(nodes=10, instances=80, seed=4, unbalanced=True))
    st = ClusterState(cd)
    nodes = np.arange(st.n_nodes)
    before = metrics.score(st, nodes)
    res = balance(st, nodes, BalanceOptions(full_search_limit=0))
    assert res.placements and res.final_score < before
    scores = [before] + [p.score for p in res.placements]
    assert all(b < a for a, b in pairwise(scores))
    assert abs(metrics.score(st, nodes) - res.final_score) < 1e-9
    # a full search from the final state finds nothing to improve
    full = Balancer(st, nodes, BalanceOptions())
    assert full.step() is None
