"""hroller: rolling-reboot groups (Ganeti-compatible command line and output).

Nodes that can be rebooted together are found by colouring the node
graph (an edge between the two nodes of each DRBD instance and, unless
``--offline-maintenance``, between primaries sharing a secondary) with
three greedy heuristics and keeping the one with fewest colours.  Each
colour class is then split into chunks whose non-redundant instances can
be moved elsewhere in their group (unless ``--ignore-non-redundant``),
and with ``--full-evacuation`` whose DRBD instances can be migrated away
and given new secondaries.  Groups are printed biggest first, the master
node last.  Moves are computed as if instances went back after each
reboot group.  ``main(argv)`` is the entry point.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

from gnt.htools import cli, nodeops
from gnt.htools.coloring import ALGORITHMS, Graph, color_groups
from gnt.htools.errors import HtoolsError
from gnt.htools.moves import Batch, MoveOptions, apply_move, transition_codes
from gnt.htools.state import ClusterState, copy_state, stored_attrs
from gnt.htools.types import NO_SECONDARY, Move, MoveKind

PROG = "hroller"
FORCE = MoveOptions(ignore_soft_errors=True)
Conf = ClusterState
Relocate = Callable[[list[int], list[int], Conf], Conf | None]


def _extend(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--offline-maintenance", action="store_true")
    ap.add_argument("--no-headers", action="store_true")
    ap.add_argument("--node-tags", type=cli._csv)
    ap.add_argument("--print-moves", action="store_true")
    ap.add_argument("--full-evacuation", action="store_true")
    ap.add_argument("--skip-non-redundant", action="store_true")
    ap.add_argument("--ignore-non-redundant", action="store_true")
    ap.add_argument("-f", "--force", action="store_true")
    ap.add_argument("--one-step-only", action="store_true")
    ap.add_argument("--static-kvm-node-memory", type=int, default=4096)


# -- the node graph ------------------------------------------------------------

def instance_edges(st: ClusterState) -> list[tuple[int, int]]:
    """(primary, secondary) and back for every DRBD instance, in instance order."""
    out = []
    for i in range(st.n_insts):
        if st.i_has_sec[i]:
            p, s = int(st.i_pnode[i]), int(st.i_snode[i])
            out += [(p, s), (s, p)]
    return out


def shared_secondary_edges(st: ClusterState) -> list[tuple[int, int]]:
    """Per node, all pairs of primaries of the instances it is secondary of."""
    out = []
    for n in range(st.n_nodes):
        prims = [int(st.i_pnode[i]) for i in st.slist(n)]
        out += [(a, b) for a in prims for b in prims]
    return out


def _union(xs: list, ys: list) -> list:
    """Haskell's ``union``: ``xs`` plus the new distinct elements of ``ys``."""
    seen = set(xs)
    extra = []
    for y in dict.fromkeys(ys):
        if y not in seen:
            extra.append(y)
    return xs + extra


def node_graph(st: ClusterState, members: list[int], offline_maintenance: bool) -> Graph:
    edges = instance_edges(st)
    if not offline_maintenance:
        edges = _union(edges, shared_secondary_edges(st))
    mset = set(members)
    valid = [(a, b) for a, b in edges if a in mset and b in mset]
    return Graph(min(members), max(members), valid)


# -- moves on a configuration ------------------------------------------------------

def _move(conf: Conf, inst: int, target: int) -> Conf | None:
    """Move a single-node instance's primary to ``target`` (soft errors ignored)."""
    attrs = stored_attrs(conf, inst)
    zero = np.zeros(1, dtype=np.int64)
    new_t, code = nodeops.add_pri(conf.rows(np.array([target])), attrs, False, zero, zero)
    if int(np.asarray(code).ravel()[0]):
        return None
    p = int(conf.i_pnode[inst])
    excl = conf.i_excl[inst]
    conf_delta = np.array([int((conf.ptags[p][excl] >= 2).sum())])
    loc = np.array([int(conf.i_loc[inst] + conf.dsrd_score(np.array([inst]),
                                                            np.array([p]))[0])])
    new_p = nodeops.remove_pri(conf.rows(np.array([p])), attrs, conf_delta, loc)
    out = copy_state(conf)
    out.write_row(p, {k: np.asarray(v).ravel()[0] for k, v in new_p.items()})
    out.write_row(target, {k: np.asarray(v).ravel()[0] for k, v in new_t.items()})
    x = excl.astype(np.int64)
    out.ptags[p] -= x
    out.ptags[target] += x
    out.i_pnode[inst] = target
    out.touch_lists(inst, True, False)
    return out


def _migrate(conf: Conf, inst: int) -> Conf | None:
    """Fail a DRBD instance over to its secondary (soft errors ignored)."""
    b = Batch(conf, np.array([inst], dtype=np.int64))
    online = ~conf.offline
    _, codes, _ = transition_codes(conf, b, MoveKind.FAILOVER, np.zeros(1, np.int64), FORCE,
                                   online)
    if int(np.asarray(codes).ravel()[0]):
        return None
    out = copy_state(conf)
    apply_move(out, inst, Move(MoveKind.FAILOVER), FORCE, online, check=False)
    return out


def _replace_secondary(conf: Conf, inst: int, target: int) -> Conf | None:
    """Give a DRBD instance a new secondary (soft errors ignored).

    As Ganeti's hroller does, the old secondary is not given its resources
    back (it is being rebooted and is no target any more); Ganeti stores
    the primary's record in the old secondary's slot instead, which shows
    in the node names it prints, so ``slot_of`` records it.
    """
    p = int(conf.i_pnode[inst])
    if target == p:
        return None
    attrs = stored_attrs(conf, inst)
    new_t, code = nodeops.add_sec(conf.rows(np.array([target])), attrs, False,
                                  np.array([conf.peers[target, p]]))
    if int(np.asarray(code).ravel()[0]):
        return None
    out = copy_state(conf)
    out.write_row(target, {k: np.asarray(v).ravel()[0] for k, v in new_t.items()})
    if bool(conf.i_uses_sec_mem[inst]) and not conf.i_forth[inst]:
        out.peers[target, p] += int(conf.i_mem_sz[inst])
    out.slot_of[int(conf.i_snode[inst])] = conf.slot_of[p]
    out.i_snode[inst] = target
    out.touch_lists(inst, False, True)
    return out


def _first_fit(step: Callable[[Conf, int, int], Conf | None]) -> Relocate:
    """Relocate each instance to the first target where ``step`` succeeds."""
    def relocate(insts: list[int], targets: list[int], conf: Conf) -> Conf | None:
        for i in insts:
            for t in targets:
                new = step(conf, i, t)
                if new is not None:
                    conf = new
                    break
            else:
                return None
        return conf
    return relocate


def non_redundant(conf: Conf, node: int) -> list[int]:
    return [i for i in conf.plist(node) if not conf.i_has_sec[i]]


def greedy_clear(get: Callable[[Conf, int], list[int]], relocate: Relocate,
                 nodes: list[int], targets: list[int], conf: Conf
                 ) -> tuple[list[int], Conf]:
    """Clear nodes in order, each if its instances fit on the remaining targets."""
    chosen: list[int] = []
    for n in nodes:
        others = list(targets)
        if n in others:
            others.remove(n)
        same = [t for t in others if conf.group[t] == conf.group[n]]
        new = relocate(get(conf, n), same, conf)
        if new is not None:
            chosen.append(n)
            conf = new
            targets = others
    return chosen, conf


def partition(get: Callable[[Conf, int], list[int]], relocate: Relocate, nodes: list[int],
              targets: list[int], conf: Conf) -> list[tuple[list[int], Conf]] | None:
    """Split ``nodes`` into chunks that can be cleared together (None if stuck)."""
    out = []
    while nodes:
        chunk, new = greedy_clear(get, relocate, nodes, targets, conf)
        if not chunk:
            return None
        out.append((chunk, new))
        nodes = [n for n in nodes if n not in chunk]
    return out


def migrate_off(chunk: list[int], conf: Conf) -> Conf | None:
    """Migrate the DRBD primaries of the chunk's nodes (listed before any move)."""
    insts = [i for n in chunk for i in conf.plist(n) if conf.i_has_sec[i]]
    for i in insts:
        new = _migrate(conf, i)
        if new is None:
            return None
        conf = new
    return conf


def get_moves(ini: ClusterState, fin: Conf) -> list[tuple[str, str, str | None]]:
    """Instances whose nodes changed (not by a mere swap), with their new nodes."""
    names = [n.name for n in ini.cdata.nodes]
    out = []
    for i in range(ini.n_insts):
        p0, s0 = int(ini.i_pnode[i]), int(ini.i_snode[i])
        p1, s1 = int(fin.i_pnode[i]), int(fin.i_snode[i])
        has_sec = bool(ini.i_has_sec[i])
        if not (p0 != p1 or (has_sec and s0 != s1)):
            continue
        if p1 == s0 and s1 == p0:
            continue
        slot = fin.slot_of
        sec = names[slot[s1]] if has_sec and s1 != NO_SECONDARY else None
        out.append((ini.cdata.instances[i].name, names[slot[p1]], sec))
    return out


def stats_line(colorings: list[tuple[str, list[list[int]]]]) -> str:
    """Ganeti's ``getStats``: algorithms from best to worst, ties marked."""
    by_size = sorted(colorings, key=lambda c: -len(c[1]))
    parts: list[str] = []
    prev = 0
    for name, groups in reversed(by_size):
        stat = f"{name}: {len(groups)} ({','.join(str(len(g)) for g in groups)})"
        if not parts:
            parts.append(stat)
        else:
            parts.append((" TIE " if prev == len(groups) else " LOOSE ") + stat)
        prev = len(groups)
    return "".join(parts)


def run(argv: list[str]) -> int:
    opts = cli.parse_args(PROG, argv, _extend)
    x = opts.extra
    loaded = cli.load_data(opts)
    if opts.verbose != 0:
        cli.print_warnings(loaded.warnings)
    cd, st = loaded.cdata, loaded.state
    masters = [n.name for n in cd.nodes if n.master]
    if not masters:
        msg = "No master node found (maybe not supported by backend)."
        if not x["force"]:
            raise HtoolsError(msg)
        sys.stderr.write(f"Warning: {msg}\n")
    elif len(masters) > 1:
        shown = "[" + ",".join(f'"{m}"' for m in masters) + "]"
        raise HtoolsError(f"Found more than one master node: {shown}")
    if opts.save:
        from gnt.htools.text import save_file, serialize_cluster
        save_file(opts.save + ".original", serialize_cluster(cd))
        sys.stdout.flush()
        sys.stderr.write(f"The cluster state before hroller run has been written to file "
                         f"'{opts.save}.original'\n")
    group = None
    if opts.group is not None:
        grp = cd.group_by_name(opts.group)
        if grp is None:
            raise HtoolsError("Cannot find target group.")
        group = grp.idx
    conf0 = copy_state(st)
    conf0.mig_ok = None
    tags = x.get("node_tags")
    members = [k for k in range(st.n_nodes)
               if not st.offline[k]
               and (not x["skip_non_redundant"] or not non_redundant(conf0, k))
               and (tags is None or set(cd.nodes[k].tags) & set(tags))
               and (group is None or st.group[k] == group)]
    if not members:
        raise HtoolsError("Cannot create node graph")
    graph = node_graph(conf0, members, x["offline_maintenance"])
    if opts.verbose > 2:
        print("Node Graph: " + graph.show())
    colorings = [(name, color_groups(fn(graph))) for name, fn in ALGORITHMS]
    smallest = min(colorings, key=lambda c: len(c[1]))[1]
    all_ndx = [k for k in range(st.n_nodes) if not st.offline[k]]
    reboot: list[tuple[list[int], Conf]]
    if x["ignore_non_redundant"]:
        reboot = [(g, conf0) for g in smallest]
    else:
        reboot = []
        for g in smallest:
            parts = partition(non_redundant, _first_fit(_move), g, all_ndx, conf0)
            if parts is None:
                raise HtoolsError("Not enough capacity to move non-redundant instances")
            reboot.extend(parts)
    if x["full_evacuation"]:
        migrated = []
        for chunk, conf in reboot:
            new = migrate_off(chunk, conf)
            if new is None:
                raise HtoolsError("Failed to migrate instances off nodes")
            migrated.append((chunk, new))
        reboot = []
        for chunk, conf in migrated:
            parts = partition(lambda c, n: c.slist(n), _first_fit(_replace_secondary), chunk,
                              all_ndx, conf)
            if parts is None:
                raise HtoolsError("Not enough capacity to move secondaries")
            reboot.extend(parts)
    mset = set(members)
    groups = [([n for n in chunk if n in mset], conf) for chunk, conf in reboot]
    groups.sort(key=lambda gc: -len(gc[0]))
    split = [([n for n in g if not cd.nodes[n].master], [n for n in g if cd.nodes[n].master],
              conf) for g, conf in groups]
    ordered = [(a + b, c) for a, b, c in split if not b] + [(a + b, c) for a, b, c in split
                                                            if b]
    if opts.verbose > 1:
        print(stats_line(colorings))
    out = [([cd.nodes[n].name for n in g], get_moves(st, conf)) for g, conf in ordered]

    def show(names: list[str], moves: list[tuple[str, str, str | None]]) -> None:
        if x["one_step_only"]:
            for n in names:
                print(n)
        else:
            print(",".join(names))
        if x["print_moves"]:
            for inst, p, s in moves:
                print(f"  {inst} {p}" + (f" {s}" if s is not None else ""))

    if x["one_step_only"]:
        if not x["no_headers"]:
            print("'First Reboot Group'")
        if out:
            show(*out[0])
    else:
        if not x["no_headers"]:
            print("'Node Reboot Groups'")
        for names, moves in out:
            show(names, moves)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hroller``."""
    return cli.run_main(PROG, run, argv)


if __name__ == "__main__":
    sys.exit(main())
