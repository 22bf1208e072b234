"""hcheck: cluster health summary (N+1, conflicts, offline nodes, score).

Output and exit codes follow Ganeti's hcheck: exit 1 when the cluster
needs rebalancing (and simulation is on); ``--machine-readable`` prints
``HCHECK_*`` shell assignments.  ``main(argv)`` is the entry point.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from gnt.htools import cli, metrics
from gnt.htools.balance import BalanceOptions, Balancer
from gnt.htools.fmt import hs_fixed
from gnt.htools.moves import MoveOptions
from gnt.htools.n1 import bad_items, can_evacuate_node
from gnt.htools.state import ClusterState

PROG = "hcheck"
COMMON = [("N1_FAIL", "Nodes not N+1 happy"),
          ("CONFLICT_TAGS", "Nodes with conflicting instances"),
          ("OFFLINE_PRI", "Instances having the primary node offline"),
          ("OFFLINE_SEC", "Instances having a secondary node offline"),
          ("GN1_FAIL", "Nodes not directly evacuateable")]
GROUP_DATA = COMMON + [("SCORE", "Group score")]
CLUSTER_DATA = COMMON + [("NEED_REBALANCE", "Cluster is not healthy")]


def _extend(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--no-simulation", action="store_true")
    ap.add_argument("-E", "--evac-mode", action="store_true")
    ap.add_argument("--restricted-migration", action="store_true")
    ap.add_argument("-l", "--max-length", type=int, default=-1)
    ap.add_argument("-e", "--min-score", type=float, default=1e-9)
    ap.add_argument("-g", "--min-gain", type=float, default=1e-2)
    ap.add_argument("--min-gain-limit", type=float, default=1e-1)
    ap.add_argument("--no-disk-moves", action="store_true")
    ap.add_argument("--no-instance-moves", action="store_true")
    ap.add_argument("--ignore-soft-errors", action="store_true")


def group_stats(st: ClusterState, nodes: np.ndarray) -> tuple[float, list[int]]:
    """(score, [n1 fail, conflicting nodes, offline primaries, offline nodes, gn1 fail])."""
    n1 = len(bad_items(st, nodes)[0])
    conflicts = int((st.ptag_conf[nodes] > 0).sum())
    off = [int(k) for k in nodes if st.offline[k]]
    off_pri = sum(len(st.node_pri(k)) for k in off)
    gn1 = sum(0 if can_evacuate_node(st, int(k), nodes) else 1 for k in nodes)
    return metrics.score(st, nodes), [n1, conflicts, off_pri, len(off), gn1]


def _quote(v: str) -> str:
    return v if all(c.isalnum() or c == "." for c in v) else f"'{v}'"


def _print_keys(pairs: list[tuple[str, str]]) -> None:
    for k, v in pairs:
        print(f"HCHECK_{k}={_quote(v)}")


def _print_stats(verbose: int, mr: bool, level: str | None, gid: str, phase: str,
                 values: list[str]) -> None:
    data = GROUP_DATA if level == "group" else CLUSTER_DATA
    if mr:
        pp = "INIT" if phase == "initially" else "FINAL"
        pre = f"{pp}_GROUP_{gid}_" if level == "group" else f"{pp}_CLUSTER_"
        _print_keys([(pre + k, v) for (k, _), v in zip(data, values)])
    elif verbose >= 1:
        print()
        print(f"Statistics for group {gid} {phase}" if level == "group"
              else f"Cluster statistics {phase}")
        for (_, d), v in zip(data, values):
            print(f"    {d}: {v}")


def run(argv: list[str]) -> int:
    opts = cli.parse_args(PROG, argv, _extend)
    x = opts.extra
    loaded = cli.load_data(opts)
    cli.print_warnings(loaded.warnings)
    cd, st = loaded.cdata, loaded.state
    mr = opts.machine_readable
    groups = sorted({int(g) for g in st.group})
    if mr:
        _print_keys([(f"GROUP_UUID_{g.idx}", g.uuid) for g in cd.groups])
    stats = {g: group_stats(st, st.group_nodes(g)) for g in groups}
    cluster = [sum(s[1][k] for s in stats.values()) for k in range(5)]
    need = sum(cluster) > 0
    nosim = x["no_simulation"]
    if opts.verbose >= 1 and not mr:
        print("Running in no-simulation mode." if nosim else
              "Cluster needs rebalancing." if need else
              "No need to rebalance cluster, no problems found.")

    def show(phase: str, per_group: dict, clus: list[int], needv: bool) -> None:
        for g in groups:
            score, vals = per_group[g]
            gid = str(g) if mr else cd.groups[g].name
            _print_stats(opts.verbose, mr, "group", gid, phase,
                         [str(v) for v in vals] + [hs_fixed(score, 8)])
        flag = ("1" if needv else "0") if mr else str(needv)
        _print_stats(opts.verbose, mr, None, "", phase, [str(v) for v in clus] + [flag])

    show("initially", stats, cluster, need)
    simulate = not nosim and need
    if simulate or mr:
        final = {}
        for g in groups:
            nodes = st.group_nodes(g)
            if simulate:
                bopts = BalanceOptions(
                    max_rounds=x["max_length"], min_score=x["min_score"],
                    min_gain=x["min_gain"], min_gain_limit=x["min_gain_limit"],
                    moves=MoveOptions(disk_moves=not x["no_disk_moves"],
                                      instance_moves=not x["no_instance_moves"],
                                      restricted_migration=x["restricted_migration"],
                                      ignore_soft_errors=x["ignore_soft_errors"],
                                      evac_mode=x["evac_mode"]))
                bal = Balancer(st, nodes, bopts)
                if bal.scorer.score >= metrics.optimal_score(st, nodes) + x["min_score"]:
                    bal.run()
            final[g] = group_stats(st, nodes)
        fcluster = [sum(s[1][k] for s in final.values()) for k in range(5)]
        show("after rebalancing", final, fcluster, need)  # Ganeti reuses the initial flag
    if mr:
        print("HCHECK_OK=1")
    return 0 if (nosim or not need) else 1


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hcheck``."""
    return cli.run_main(PROG, run, argv)


if __name__ == "__main__":
    sys.exit(main())
