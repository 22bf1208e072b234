"""Node evacuation, relocation and group change (Ganeti's ``Cluster/Evacuate.hs``).

Each instance is handled in request order on the state left by the
previous ones:

* shared storage and diskless instances fail over to the best node of
  their group (``fa``); plain and file instances cannot move;
* DRBD instances: ``primary-only`` fails over, ``secondary-only``
  replaces the secondary with the best node, ``all`` tries every
  (primary, secondary) pair with ``r:p, f, r:s`` (a failover first when
  the primary is offline) and keeps the best group score.

"Best" is the lowest exact group score, the later node winning ties, as
in Ganeti.  Results carry the moved instances (new group and nodes),
the failures with Ganeti's messages and the jobs (lists of opcode dicts).

Public API::

    EvacResult, node_evacuate(st, insts, mode, ignore_soft_errors)
    change_group(st, insts, target_groups, opts)
    relocate(st, inst, required_nodes, relocate_from, ignore_soft_errors)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gnt.htools import metrics, nodeops
from gnt.htools.commands import move_opcodes
from gnt.htools.errors import HtoolsError
from gnt.htools.iallocate import AllocError, AllocOptions, alloc_multi_group
from gnt.htools.iallocator import EvacMode
from gnt.htools.moves import Batch, MoveOptions, apply_move, new_nodes, transition_codes
from gnt.htools.state import ClusterState, copy_state
from gnt.htools.types import DiskTemplate, Move, MoveKind

SHARED_TEMPLATES = frozenset({DiskTemplate.DISKLESS, DiskTemplate.SHAREDFILE,
                              DiskTemplate.BLOCK, DiskTemplate.RBD, DiskTemplate.EXT,
                              DiskTemplate.GLUSTER})


class EvacError(HtoolsError):
    """One instance could not be moved; the message is Ganeti's."""


@dataclass
class EvacResult:
    """Moved instances (inst, group, nodes), failures (inst, message), jobs, state."""

    moved: list[tuple[int, int, list[int]]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    jobs: list[list[dict]] = field(default_factory=list)
    state: ClusterState | None = None


def fail_name(code: int) -> str:
    return nodeops.FAIL_MODES[code - 1].value


def _group_online(st: ClusterState, gdx: int) -> tuple[np.ndarray, np.ndarray]:
    nodes = st.group_nodes(gdx)
    online = np.zeros(st.n_nodes, dtype=bool)
    online[nodes] = True
    online &= ~st.offline
    return nodes, online


def job_of(st: ClusterState, inst: int, moves: list[Move]) -> list[dict]:
    """The opcodes of a sequence of moves (Ganeti's ``iMoveToJob``, no null fields)."""
    name = st.cdata.instances[inst].name
    forth = bool(st.i_forth[inst])
    ops: list[dict] = []
    for mv in moves:
        target = st.cdata.nodes[mv.target].name if mv.target >= 0 else None
        ops.extend(move_opcodes(mv.kind, name, target, forthcoming=forth))
    return [{k: v for k, v in op.items() if v is not None} for op in ops]


def _scan(st: ClusterState, inst: int, kind: MoveKind, avail: list[int], gdx: int,
          mopts: MoveOptions) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Codes and group scores of one move kind of ``inst`` to each of ``avail``."""
    targets = np.asarray(avail, dtype=np.int64)
    nodes, online = _group_online(st, gdx)
    b = Batch(st, np.array([inst], dtype=np.int64))
    roles, codes, lxd = transition_codes(st, b, kind, targets, mopts, online)
    nt = len(targets)
    codes = np.broadcast_to(codes, (1, nt))[0]
    changes = []
    for idx, row, _ in roles.values():
        vals = [np.broadcast_to(v, (1, nt))[0] for v in metrics.values_from_rows(row)]
        changes.append((np.broadcast_to(idx, (1, nt))[0], vals))
    # the target's row last: it wins when a role and the target coincide
    changes.sort(key=lambda c: bool(np.all(c[0] == targets)))
    scores = metrics.scores_replaced(st, nodes, changes, np.broadcast_to(lxd, (1, nt))[0])
    return targets.tolist(), codes, scores


def _apply(st: ClusterState, inst: int, move: Move, mopts: MoveOptions) -> ClusterState:
    new = copy_state(st)
    _, online = _group_online(st, int(st.group[st.i_pnode[inst]]))
    apply_move(new, inst, move, mopts, online, check=False)
    return new


def one_node_only(st: ClusterState, inst: int, gdx: int, avail: list[int],
                  mopts: MoveOptions) -> tuple[ClusterState, list[dict]]:
    """Ganeti's ``evacOneNodeOnly``: change the secondary (DRBD) or primary (shared)."""
    mirror = int(st.i_mirror[inst])
    if mirror == 0:
        raise EvacError("Can't relocate/evacuate non-mirrored instances")
    kind = MoveKind.REPLACE_SECONDARY if mirror == 1 else MoveKind.FAILOVER_TO_ANY
    msg = ""
    best = None
    if avail:
        targets, codes, scores = _scan(st, inst, kind, avail, gdx, mopts)
        for k, t in enumerate(targets):
            if codes[k]:
                if best is None:
                    msg += f" Node {st.cdata.nodes[t].name} failed: {fail_name(codes[k])};"
                continue
            if best is None or not scores[best] < scores[k]:
                best = k
    if best is None:
        raise EvacError("Can't find any good node: " + msg)
    move = Move(kind, int(avail[best]))
    return _apply(st, inst, move, mopts), job_of(st, inst, [move])


def _change_all(st: ClusterState, inst: int, gdx: int, avail: list[int],
                mopts: MoveOptions) -> tuple[ClusterState, list[dict]]:
    """DRBD ``all`` mode: best (primary, secondary) pair via r:p, f, r:s."""
    accu: str | tuple[float, ClusterState, list[Move]] = "no nodes available"
    base = st
    pre: list[Move] = []
    pre_fail = None
    if st.offline[st.i_pnode[inst]]:
        codes = _single_code(st, inst, Move(MoveKind.FAILOVER), mopts)
        if codes:
            pre_fail = f"Failing over to the secondary: {fail_name(codes)}"
        else:
            base = _apply(st, inst, Move(MoveKind.FAILOVER), mopts)
            pre = [Move(MoveKind.FAILOVER)]
    for tp in avail:
        seconds = [s for s in avail if s != tp]
        if not seconds:
            continue
        if pre_fail is not None:
            accu = accu if not isinstance(accu, str) else "Allocation failed: " + pre_fail
            continue
        step = _step(base, inst, Move(MoveKind.REPLACE_SECONDARY, tp), mopts,
                     "Changing secondary to new primary")
        if isinstance(step, str):
            if isinstance(accu, str):
                accu = "Allocation failed: " + step
            continue
        step2 = _step(step, inst, Move(MoveKind.FAILOVER), mopts, "Failing over to new primary")
        if isinstance(step2, str):
            if isinstance(accu, str):
                accu = "Allocation failed: " + step2
            continue
        targets, tcodes, scores = _scan(step2, inst, MoveKind.REPLACE_SECONDARY, seconds,
                                        gdx, mopts)
        for k, ts in enumerate(targets):
            if tcodes[k]:
                if isinstance(accu, str):
                    accu = ("Allocation failed: Changing secondary to final secondary: "
                            + fail_name(int(tcodes[k])))
                continue
            sc = float(scores[k])
            if isinstance(accu, str) or not accu[0] < sc:
                moves = pre + [Move(MoveKind.REPLACE_SECONDARY, tp), Move(MoveKind.FAILOVER),
                               Move(MoveKind.REPLACE_SECONDARY, ts)]
                accu = (sc, step2, moves)
    if isinstance(accu, str):
        raise EvacError("Can't find any good nodes for relocation: " + accu)
    _, step2, moves = accu
    final = _apply(step2, inst, moves[-1], mopts)
    return final, job_of(st, inst, moves)


def _single_code(st: ClusterState, inst: int, move: Move, mopts: MoveOptions) -> int:
    b = Batch(st, np.array([inst], dtype=np.int64))
    _, online = _group_online(st, int(st.group[st.i_pnode[inst]]))
    _, codes, _ = transition_codes(st, b, move.kind,
                                   np.array([max(move.target, 0)], dtype=np.int64),
                                   mopts, online)
    return int(np.asarray(codes).ravel()[0])


def _step(st: ClusterState, inst: int, move: Move, mopts: MoveOptions,
          what: str) -> ClusterState | str:
    code = _single_code(st, inst, move, mopts)
    if code:
        return f"{what}: {fail_name(code)}"
    return _apply(st, inst, move, mopts)


def evac_instance(st: ClusterState, inst: int, mode: EvacMode, gdx: int, avail: list[int],
                  mopts: MoveOptions) -> tuple[ClusterState, list[dict]]:
    """Ganeti's ``nodeEvacInstance``; raises EvacError with Ganeti's message."""
    tmpl = st.cdata.instances[inst].template
    if tmpl in SHARED_TEMPLATES:
        if mode == EvacMode.SECONDARY:
            raise EvacError(f"Instances with disk template '{tmpl.value}' can't execute "
                            f"change secondary")
        return one_node_only(st, inst, gdx, avail, mopts)
    if tmpl in (DiskTemplate.PLAIN, DiskTemplate.FILE):
        raise EvacError(f"Instances of type {tmpl.value} cannot be relocated")
    if mode == EvacMode.PRIMARY:
        code = _single_code(st, inst, Move(MoveKind.FAILOVER), mopts)
        if code:
            raise EvacError(fail_name(code))
        return _apply(st, inst, Move(MoveKind.FAILOVER), mopts), \
            job_of(st, inst, [Move(MoveKind.FAILOVER)])
    if mode == EvacMode.SECONDARY:
        return one_node_only(st, inst, gdx, avail, mopts)
    return _change_all(st, inst, gdx, avail, mopts)


def _nodes_to_evacuate(st: ClusterState, insts: list[int], mode: EvacMode) -> set[int]:
    out: set[int] = set()
    for i in insts:
        p, s = int(st.i_pnode[i]), int(st.i_snode[i])
        drbd = st.cdata.instances[i].template == DiskTemplate.DRBD
        if mode in (EvacMode.PRIMARY, EvacMode.ALL):
            out.add(p)
        if mode in (EvacMode.SECONDARY, EvacMode.ALL) and drbd:
            out.add(s)
    out.discard(-1)
    return out


def _record(res: EvacResult, st: ClusterState, inst: int) -> None:
    nodes = [int(st.i_pnode[inst])]
    if st.cdata.instances[inst].template == DiskTemplate.DRBD:
        nodes.append(int(st.i_snode[inst]))
    res.moved.append((inst, int(st.group[nodes[0]]), nodes))


def node_evacuate(st: ClusterState, insts: list[int], mode: EvacMode,
                  ignore_soft_errors: bool = False) -> EvacResult:
    """Ganeti's ``tryNodeEvac`` for the instances (indices) in request order."""
    mopts = MoveOptions(ignore_soft_errors=ignore_soft_errors)
    excl = _nodes_to_evacuate(st, insts, mode) | {int(k) for k in np.flatnonzero(st.offline)}
    groups = {g: st.group_nodes(g).tolist() for g in sorted({int(x) for x in st.group})}
    res = EvacResult()
    ini_p = {i: int(st.i_pnode[i]) for i in insts}
    for i in insts:
        gdx = int(st.group[ini_p[i]])
        avail = [k for k in groups.get(gdx, []) if k not in excl and k != ini_p[i]]
        try:
            st, job = evac_instance(st, i, mode, gdx, avail, mopts)
        except EvacError as err:
            res.failed.append((i, str(err)))
            continue
        _record(res, st, i)
        res.jobs.append(job)
    res.state = st
    return res


def change_group(st: ClusterState, insts: list[int], target_groups: list[int],
                 opts: AllocOptions) -> EvacResult:
    """Ganeti's ``tryChangeGroup``: move instances to the best of ``target_groups``."""
    evac_groups = {int(st.group[st.i_pnode[i]]) for i in insts}
    targets = [g for g in (target_groups or [g.idx for g in st.cdata.groups])
               if g not in evac_groups]
    offline = {int(k) for k in np.flatnonzero(st.offline)}
    groups = {g: st.group_nodes(g).tolist() for g in sorted({int(x) for x in st.group})}
    res = EvacResult()
    for i in insts:
        obj = st.cdata.instances[i]
        count = 2 if obj.template == DiskTemplate.DRBD else 1
        try:
            gdx, _, _ = alloc_multi_group(st, obj, count, opts, allowed=targets,
                                          existing=i)
        except AllocError as err:
            res.failed.append((i, str(err)))
            continue
        avail = [k for k in groups.get(gdx, []) if k not in offline]
        try:
            st, job = evac_instance(st, i, EvacMode.ALL, gdx, avail, MoveOptions())
        except EvacError as err:
            res.failed.append((i, str(err)))
            continue
        _record(res, st, i)
        res.jobs.append(job)
    res.state = st
    return res


def relocate(st: ClusterState, inst: int, required_nodes: int, relocate_from: list[int],
             ignore_soft_errors: bool = False) -> tuple[ClusterState, list[int]]:
    """Ganeti's ``processRelocate``: the new node(s); raises EvacError."""
    if required_nodes != 1:
        raise EvacError(f"Exchange {required_nodes} nodes mode is not implemented")
    mirror = int(st.i_mirror[inst])
    p, s = int(st.i_pnode[inst]), int(st.i_snode[inst])
    if mirror == 0:
        raise EvacError("Can't relocate non-mirrored instances")
    exp, what, mode = (s, "secondary", EvacMode.SECONDARY) if mirror == 1 else \
        (p, "primary", EvacMode.PRIMARY)
    if relocate_from != [exp]:
        shown = "[" + ",".join(str(x) for x in relocate_from) + "]"
        raise EvacError(f"Unsupported request: excluded nodes not equal to instance's "
                        f"{what}({exp} versus {shown})")
    res = node_evacuate(st, [inst], mode, ignore_soft_errors)
    if res.failed:
        raise EvacError(res.failed[0][1])
    assert res.state is not None
    new = res.state
    np_, ns = int(new.i_pnode[inst]), int(new.i_snode[inst])
    if mirror == 1:
        if ns == s:
            raise EvacError("Internal error: instance didn't change secondary node?!")
        return new, [ns]
    if np_ == p:
        raise EvacError("Internal error: instance didn't change primary node?!")
    return new, [np_]


__all__ = ["EvacError", "EvacResult", "change_group", "evac_instance", "new_nodes",
           "node_evacuate", "relocate"]
