"""hscan: save clusters' state (RAPI or LUXI) in the htools text format.

``hscan [-p[FIELDS]] [--no-headers] [-d PATH] [-L[SOCKET]] CLUSTER...``
writes ``PATH/<name>.data`` for every cluster (slashes in the name become
underscores; with ``-L`` and no cluster named, the local cluster is read
over LUXI and named ``LOCAL``) and
prints one summary line per cluster -- nodes, instances, N+1-failing
nodes and their instances, total/free memory (MiB), total/free disk
(GiB), cluster score -- and with ``-p`` the node table, as Ganeti's hscan.
A cluster whose data cannot be loaded gets an ``Error for NAME`` block;
the exit code is then 2 (1 for a fatal error, e.g. an unwritable file
or an unreachable master with ``-L``).  ``main(argv)`` is the entry point.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from gnt.htools import cli, metrics, output
from gnt.htools import text as textbackend
from gnt.htools.errors import HtoolsError, OptionError
from gnt.htools.model import ClusterData
from gnt.htools.n1 import bad_items
from gnt.htools.state import ClusterState

PROG = "hscan"
LOCAL = "LOCAL"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG)
    ap.add_argument("-d", "--output-dir", dest="output_dir", default=".")
    ap.add_argument("-v", "--verbose", action="count", default=0)
    ap.add_argument("--no-headers", action="store_true")
    ap.add_argument("--static-kvm-node-memory", type=int)
    ap.add_argument("-V", "--version", action="store_true")
    ap.add_argument("clusters", nargs="*")
    return ap


def summary_line(cdata: ClusterData) -> tuple[str, ClusterState]:
    """The summary columns (after the name) and the state built from ``cdata``."""
    cli.compute_aliases(cdata)
    st = ClusterState(cdata)
    nodes = np.arange(st.n_nodes)
    bn, bi = bad_items(st, nodes)
    t_mem = float(st.t_mem.sum()) if st.n_nodes else 0.0
    t_dsk = float(st.t_dsk.sum()) if st.n_nodes else 0.0
    f_mem = int(st.f_mem.sum()) if st.n_nodes else 0
    f_dsk = int(st.f_dsk.sum()) if st.n_nodes else 0
    score = metrics.score(st, nodes) if st.n_nodes else 0.0
    line = (f"{st.n_nodes:5d} {len(cdata.instances):5d} {len(bn):5d} {len(bi):5d} "
            f"{t_mem:6.0f} {f_mem:6d} {t_dsk / 1024:6.0f} {f_dsk // 1024:6d} {score:.8f}")
    return line, st


def data_file(outdir: str, name: str) -> str:
    return os.path.join(outdir, name.replace("/", "_") + ".data")


def _write(nlen: int, name: str, cdata: ClusterData, outdir: str,
           fields: list[str] | None) -> None:
    line, st = summary_line(cdata)
    sys.stdout.write(f"{name:<{nlen}} {line}\n")
    if fields is not None:
        sys.stdout.write(output.print_nodes(st, np.arange(st.n_nodes), fields))
    sys.stdout.flush()
    path = data_file(outdir, name)
    if not os.path.isdir(outdir):
        raise HtoolsError(f"cannot write {path}: no such directory")
    try:
        textbackend.save_file(path, textbackend.serialize_cluster(cdata))
    except OSError as err:
        raise HtoolsError(f"cannot write {path}: {err.strerror}") from None


def run(argv: list[str]) -> int:
    rest, optional = cli._split_optional(argv)
    if "print_commands" in optional:
        raise OptionError("hscan does not take -C/--print-commands")
    ns = _parser().parse_args(rest)
    if ns.version:
        print(f"{PROG} ({cli.VERSION})")
        return 0
    fields = cli._csv(optional["print_nodes"]) if "print_nodes" in optional else None
    # as Ganeti's hscan: -L is used only when no cluster is named
    luxi = optional.get("luxi") if not ns.clusters else None
    nlen = max(len(n) for n in (ns.clusters or [LOCAL]))
    if not ns.no_headers:
        print(f"{'Name':<{nlen}} {'Nodes':>5} {'Inst':>5} {'BNode':>5} {'BInst':>5} "
              f"{'t_mem':>6} {'f_mem':>6} {'t_disk':>6} {'f_disk':>6} {'Score':>10}")
    if luxi is None and not ns.clusters:
        sys.stdout.flush()
        sys.stderr.write("hscan: no cluster given (CLUSTER[:PORT]... or -L[SOCKET])\n")
        return 1
    if luxi is not None:
        from gnt.htools.backend_luxi import load_luxi
        _write(nlen, LOCAL, load_luxi(luxi or None), ns.output_dir, fields)
    from gnt.htools.backend_rapi import load_rapi
    ok = True
    for name in ns.clusters:
        try:
            cdata = load_rapi(name)
        except HtoolsError as err:
            print(f"\nError for {name}: failed to load data. Details:\n{err}")
            ok = False
            continue
        _write(nlen, name, cdata, ns.output_dir, fields)
    return 0 if ok else 2


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hscan``."""
    return cli.run_main(PROG, run, argv)


if __name__ == "__main__":
    sys.exit(main())
