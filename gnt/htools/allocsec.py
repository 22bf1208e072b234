"""hail's ``allocate-secondary``: a secondary node for a single-node instance.

The instance (usually ``plain``, being converted to DRBD) stays on its
primary; every other node of the primary's group is tried as secondary
with the instance seen as DRBD, with the allocation checks and scores of a
DRBD allocation (:func:`gnt.htools.iallocate.try_alloc_pair`) and, unless
disabled, the global N+1 capacity check with the instance's record
replaced by the DRBD one.  The answer's result is the secondary's name.

Public API::

    allocate_secondary(st, inst, opts) -> AllocSolution   # raises AllocError
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gnt.htools import nodeops
from gnt.htools.iallocate import AllocError, AllocOptions, AllocSolution, describe, try_alloc_pair
from gnt.htools.state import ClusterState, copy_state, stored_attrs
from gnt.htools.types import NO_SECONDARY, DiskTemplate


def _without_primary(st: ClusterState, k: int) -> ClusterState:
    """A copy of ``st`` with instance ``k``'s resources taken off its primary node."""
    p = int(st.i_pnode[k])
    attrs = stored_attrs(st, k)
    excl = st.i_excl[k]
    conf_delta = np.array([int((st.ptags[p][excl] >= 2).sum())])
    loc = np.array([int(st.i_loc[k] + st.dsrd_score(np.array([k]), np.array([p]))[0])])
    row = nodeops.remove_pri(st.rows(np.array([p])), attrs, conf_delta, loc)
    out = copy_state(st)
    out.write_row(p, {f: np.asarray(v).ravel()[0] for f, v in row.items()})
    x = excl.astype(np.int64)
    out.ptags[p] -= x
    if out.lx.size and x.any() and not bool(st.i_forth[k]):
        out.lx[p] -= np.outer(out.n_loc[p], x)
    return out


def allocate_secondary(st: ClusterState, k: int, opts: AllocOptions) -> AllocSolution:
    """Best secondary for instance ``k`` (its group's nodes); the solution's
    ``nodes`` are (primary, secondary) and ``state`` the cluster after."""
    inst = st.cdata.instances[k]
    if int(st.i_snode[k]) != NO_SECONDARY:
        raise AllocError("Instance already has a secondary")
    p = int(st.i_pnode[k])
    gdx = int(st.group[p])
    group_nodes = st.group_nodes(gdx)
    base = _without_primary(st, k)
    drbd = replace(inst, template=DiskTemplate.DRBD, pnode=p, snode=NO_SECONDARY)
    # every other node of the group, as Ganeti: offline nodes included (they
    # fail the checks), --restrict-allocation-to not applied
    secs = [int(s) for s in group_nodes if s != p]
    if not secs:
        sol = AllocSolution()
    else:
        sol = try_alloc_pair(base, drbd, [(p, secs)], np.arange(st.n_nodes), opts,
                             replace=k)
    sol.log = [describe(st, sol)]
    return sol
