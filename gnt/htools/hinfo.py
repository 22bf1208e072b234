"""hinfo: print cluster, group and node information (Ganeti-compatible).

``main(argv)`` is the entry point.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from gnt.htools import cli, metrics, output
from gnt.htools.fmt import hs_fixed, print_table
from gnt.htools.n1 import bad_items

PROG = "hinfo"


def _extend(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--print-instances", action="store_true")


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def run(argv: list[str]) -> int:
    opts = cli.parse_args(PROG, argv, _extend)
    verbose = opts.verbose
    loaded = cli.load_data(opts)
    cli.print_warnings(loaded.warnings)
    cd, st = loaded.cdata, loaded.state
    print("Loaded cluster tags: " + ",".join(cd.cluster_tags))
    if verbose > 2:
        from gnt.htools.hbal import _show_ipolicy
        print("Loaded cluster ipolicy: " + _show_ipolicy(cd.ipolicy))
    if not cd.instances and verbose > 1:
        print("Cluster is empty.")
    nn, ni, ng = len(cd.nodes), len(cd.instances), len(cd.groups)
    print(f"Loaded {nn} {_plural(nn, 'node', 'nodes')}, {ni} "
          f"{_plural(ni, 'instance', 'instances')}, {ng} "
          f"{_plural(ng, 'node group', 'node groups')}")
    suffix = cli.compute_aliases(cd)
    if suffix and verbose > 2:
        print(f"Note: Stripping common suffix of '{suffix}' from names")
    split = [i for i in cd.instances
             if i.snode >= 0 and st.group[i.pnode] != st.group[i.snode]]
    if not split:
        if verbose > 1:
            print("No split instances found")
    else:
        print("Found instances belonging to multiple node groups:")
        sys.stdout.flush()
        for i in split:
            sys.stderr.write(f"  {i.name}\n")
    rows, happy = [], True
    for g in sorted({int(x) for x in st.group}):
        nodes = st.group_nodes(g)
        bn, bi = bad_items(st, nodes)
        happy &= not bn
        rows.append([cd.groups[g].name, str(len(nodes)), str(len(st.group_instances(nodes))),
                     str(len(bn)), str(len(bi)), str(not bn),
                     hs_fixed(metrics.score(st, nodes), 8)])
    if verbose > 1:
        sys.stdout.write("Node group information:\n" + print_table(
            "  ", ["Group", "Nodes", "Instances", "Bad_Nodes", "Bad_Instances", "N+1",
                   "Score"], rows, [False, True, True, True, True, False, True]))
    print("Cluster is N+1 " + ("happy" if happy else "unhappy"))
    all_nodes = np.arange(st.n_nodes)
    if opts.extra.get("print_instances"):
        sys.stdout.flush()
        sys.stderr.write("\nInstances instance map:\n"
                         + output.print_instances(st, np.arange(st.n_insts)))
    if opts.print_nodes is not None:
        sys.stdout.flush()
        sys.stderr.write("\nCluster status:\n"
                         + output.print_nodes(st, all_nodes, opts.print_nodes) + "\n")
    comps = metrics.component_values(st, all_nodes)
    sys.stdout.write("Cluster coefficients:\n" + metrics.stats_table(comps, "  "))
    print(f"Cluster score: {hs_fixed(metrics.score_from_components(comps), 8)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hinfo``."""
    return cli.run_main(PROG, run, argv)


if __name__ == "__main__":
    sys.exit(main())
