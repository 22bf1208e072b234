"""N+1 checks: nodes failing N+1, and global N+1 (can a node be evacuated?).

* :func:`bad_items`: online nodes whose free memory cannot absorb the
  failover of their secondaries' primaries (Ganeti's ``computeBadItems``),
  and the instances on them.
* :func:`can_evacuate_node`: Ganeti's ``GlobalN1.canEvacuateNode``: fail
  over every DRBD primary of the node in turn, then move shared-storage
  instances and re-create local-only ones on other nodes of the group
  (soft policy errors ignored).  Shared and local-only instances go to the
  feasible node with the most unallocated memory, a simplification of
  Ganeti's best-score choice that gives the same verdict in the usual
  cases.
"""

from __future__ import annotations

import numpy as np

from gnt.htools import nodeops
from gnt.htools.moves import Batch, MoveOptions, apply_move
from gnt.htools.state import ClusterState, copy_state
from gnt.htools.types import MOVABLE_TEMPLATES, DiskTemplate, Move, MoveKind


def bad_items(st: ClusterState, nodes: np.ndarray) -> tuple[list[int], list[int]]:
    """(N+1-failing online nodes, sorted instances on them)."""
    bad = [int(k) for k in nodes if not st.offline[k] and st.fail_n1[k]]
    insts: set[int] = set()
    for k in bad:
        insts.update(st.node_pri(k).tolist())
        insts.update(st.node_sec(k).tolist())
    return bad, sorted(insts)


def _place_single(st: ClusterState, inst: int, targets: list[int]) -> bool:
    """Add ``inst`` as primary on the target with most unallocated memory that fits."""
    b = Batch(st, np.array([inst], dtype=np.int64))
    tt = np.array(targets, dtype=np.int64)[None, :]
    rows = {k: v[None, :] for k, v in st.rows(tt[0]).items()}
    zero = np.zeros(tt.shape, dtype=np.int64)
    _, failed = nodeops.add_pri(rows, b.attrs, False, zero, zero)
    ok = [t for t, f in zip(targets, np.asarray(failed).ravel()) if not f]
    if not ok:
        return False
    best = max(ok, key=lambda t: int(st.unalloc_mem(t)))
    row = st.rows(np.array([best]))
    new, _ = nodeops.add_pri(row, {k: (tuple(x[0] for x in v) if k == "util" else v[0])
                                   for k, v in b.attrs.items()}, False, 0, 0)
    st.write_row(best, {k: np.asarray(v).ravel()[0] for k, v in new.items()})
    st.i_pnode[inst] = best
    return True


def can_evacuate_node(st: ClusterState, node: int, group_nodes: np.ndarray) -> bool:
    """Whether all instances of ``node`` could be moved off it (global N+1)."""
    work = copy_state(st)
    online = np.zeros(st.n_nodes, dtype=bool)
    online[group_nodes] = True
    online &= ~st.offline
    pri = work.node_pri(node).tolist()
    insts = st.cdata.instances
    drbd = [i for i in pri if insts[i].template == DiskTemplate.DRBD]
    others = [i for i in pri if insts[i].template != DiskTemplate.DRBD]
    opts = MoveOptions(ignore_soft_errors=True)
    for i in drbd:
        if not apply_move(work, i, Move(MoveKind.FAILOVER), opts, online):
            return False
    escape = [int(k) for k in group_nodes if k != node]
    shared = [i for i in others if insts[i].template in MOVABLE_TEMPLATES]
    local = sorted((i for i in others if i not in shared), key=lambda i: -insts[i].mem)
    for i in shared + local:
        if not escape or not _place_single(work, i, escape):
            return False
    return True
