"""hbal: the cluster balancer (Ganeti-compatible command line and output).

``main(argv)`` is the console-script entry point.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from gnt.htools import cli, metrics, output
from gnt.htools.balance import BalanceOptions, Balancer
from gnt.htools.commands import (
    SH_TEMPLATE,
    MoveJob,
    describe_move,
    format_commands,
    involved_nodes,
    split_jobs,
)
from gnt.htools.errors import HtoolsError, OptionError
from gnt.htools.moves import MoveOptions
from gnt.htools.types import Placement

PROG = "hbal"


def _extend(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--print-instances", action="store_true")
    ap.add_argument("-E", "--evac-mode", action="store_true")
    ap.add_argument("--restricted-migration", action="store_true")
    ap.add_argument("-X", "--exec", dest="exec_jobs", action="store_true")
    ap.add_argument("--first-job-group", action="store_true")
    ap.add_argument("--reason")
    ap.add_argument("-l", "--max-length", type=int, default=-1)
    ap.add_argument("-e", "--min-score", type=float, default=1e-9)
    ap.add_argument("-g", "--min-gain", type=float, default=1e-2)
    ap.add_argument("--min-gain-limit", type=float, default=1e-1)
    ap.add_argument("--no-disk-moves", action="store_true")
    ap.add_argument("--no-instance-moves", action="store_true")
    ap.add_argument("--ignore-soft-errors", action="store_true")
    ap.add_argument("--priority")
    ap.add_argument("--mond", nargs="?", const="yes")
    ap.add_argument("--mond-data")
    ap.add_argument("--exit-on-missing-mond-data", action="store_true")
    ap.add_argument("--mond-xen", action="store_true")
    ap.add_argument("--static-kvm-node-memory", type=int)


def _show_ipolicy(pol) -> str:
    from gnt.htools.hsshow import show_ipolicy
    return show_ipolicy(pol)


def select_group(loaded: cli.LoadedCluster, group: str | None) -> tuple[str, np.ndarray]:
    """Ganeti's ``selectGroup``: the one group, or the one named with -G."""
    cd, st = loaded.cdata, loaded.state
    used = sorted({int(g) for g in st.group})
    if group is None:
        if len(used) > 1:
            sys.stdout.flush()
            sys.stderr.write("Found multiple node groups:\n")
            for g in used:
                sys.stderr.write(f"  {cd.groups[g].name}\n")
            raise HtoolsError("Aborting.")
        if not used:
            raise HtoolsError("No groups found by splitCluster?!")
        return cd.groups[used[0]].name, st.group_nodes(used[0])
    grp = cd.group_by_name(group)
    if grp is None:
        sys.stdout.flush()
        sys.stderr.write(f"Node group {group} not found. Node group list is:\n")
        for grp_obj in cd.groups:
            sys.stderr.write(f"  {grp_obj.name}\n")
        raise HtoolsError("Aborting.")
    return grp.name, st.group_nodes(grp.idx)


def policy_violations(st, nodes: np.ndarray) -> list[int]:
    """Nodes over their policy's spindle or vCPU limits (``getPolicyHealth``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = (st.inst_sp > st.hi_sp) | (st.u_cpu / st.t_cpu > st.l_cpu)
    return [int(k) for k in nodes if bad[k]]


def _maybe_print(flag: bool, title: str, body) -> None:
    """Print a table (``body`` is a callable making it) to stderr if ``flag``."""
    if flag:
        sys.stdout.flush()
        sys.stderr.write(f"\n{title}:\n{body()}")
        sys.stderr.flush()


def _solution_line(loaded: cli.LoadedCluster, plc: Placement, pos: int, nmlen: int,
                   imlen: int) -> tuple[str, list[str]]:
    cd, st = loaded.cdata, loaded.state
    inst = cd.instances[plc.inst]
    op, os_ = int(plc.extra["old_pri"]), int(plc.extra["old_sec"])  # type: ignore[call-overload]
    npri = cd.nodes[plc.new_pri].alias
    nsec = cd.nodes[plc.new_sec].alias if plc.new_sec >= 0 else ""
    ostr = cd.nodes[op].alias + (f":{cd.nodes[os_].alias}" if os_ >= 0 else "")
    nstr = npri + (f":{nsec}" if plc.new_sec >= 0 else "")
    moves, cmds = describe_move(plc.move.kind, inst.is_running, inst.alias, npri, nsec)
    pm = 2 * nmlen + 1
    line = (f"  {pos:3d}. {inst.alias:<{imlen}} {ostr:<{pm}} => {nstr:<{pm}} "
            f"{metrics.hs_fixed(plc.score, 8):>12} a={moves}")
    del st
    return line, cmds


def run(argv: list[str]) -> int:
    opts = cli.parse_args(PROG, argv, _extend)
    x = opts.extra
    verbose = opts.verbose
    loaded = cli.load_data(opts)
    cli.print_warnings(loaded.warnings)
    cd, st = loaded.cdata, loaded.state
    if verbose > 1:
        print("Loaded cluster tags: " + ",".join(cd.cluster_tags))
        print("Loaded cluster ipolicy: " + _show_ipolicy(cd.ipolicy))
    if not cd.instances:
        print("Cluster is empty, exiting.")
        return 0
    print(f"Loaded {len(cd.nodes)} nodes, {len(cd.instances)} instances")
    suffix = cli.compute_aliases(cd)
    if suffix and verbose > 1:
        print(f"Note: Stripping common suffix of '{suffix}' from names")
    if opts.save:
        _save(opts.save + ".original", loaded)
        sys.stdout.flush()
        sys.stderr.write(f"The cluster state before balancing has been written to file "
                         f"'{opts.save}.original'\n")
    gname, nodes = select_group(loaded, opts.group)
    insts = st.group_instances(nodes)
    print(f"Group size {len(nodes)} nodes, {len(insts)} instances")
    print(f"Selected node group: {gname}")
    bad_nodes = [int(k) for k in nodes if not st.offline[k] and st.fail_n1[k]]
    bad_insts = {int(i) for k in bad_nodes for i in np.concatenate([st.node_pri(k),
                                                                   st.node_sec(k)])}
    if verbose >= 1:
        print(f"Initial check done: {len(bad_nodes)} bad nodes, {len(bad_insts)} bad "
              f"instances.")
    if bad_nodes:
        print("Cluster is not N+1 happy, continuing but no guarantee that the cluster "
              "will end N+1 happy.")
    policy_bad = [k for k in policy_violations(st, nodes) if k not in bad_nodes]
    if policy_bad:
        print(f"The cluster contains {len(policy_bad)} policy-violating nodes.")
        print("Continuing, ignoring soft errors." if x["ignore_soft_errors"] else
              "Continuing, but the set of moves might be too restricted; consider using "
              "the --ignore-soft-errors option.")
    _maybe_print(bool(x.get("print_instances")), "Initial instance map",
                 lambda: output.print_instances(st, insts))
    _maybe_print(opts.print_nodes is not None, "Initial cluster status",
                 lambda: output.print_nodes(st, nodes, opts.print_nodes) + "\n")
    bopts = BalanceOptions(
        max_rounds=x["max_length"], min_score=x["min_score"], min_gain=x["min_gain"],
        min_gain_limit=x["min_gain_limit"],
        moves=MoveOptions(disk_moves=not x["no_disk_moves"],
                          instance_moves=not x["no_instance_moves"],
                          restricted_migration=x["restricted_migration"],
                          ignore_soft_errors=x["ignore_soft_errors"],
                          evac_mode=x["evac_mode"]))
    bal = Balancer(st, nodes, bopts)
    ini_cv = bal.scorer.score
    opt_cv = metrics.optimal_score(st, nodes)
    if verbose > 2:
        print(f"Initial coefficients: overall {metrics.hs_fixed(ini_cv, 8)}")
        sys.stdout.write(metrics.stats_table(bal.scorer.comps, "  "))
    else:
        print(f"Initial score: {metrics.hs_fixed(ini_cv, 8)}")
    if ini_cv - opt_cv < bopts.min_score:
        from gnt.htools.fmt import hs_general
        print(f"Cluster is already well balanced (initial score {hs_general(ini_cv, 6)},\n"
              f"optimum score due to N+1 reservations {hs_general(opt_cv, 6)},\n"
              f"minimum score {hs_general(bopts.min_score, 6)}).\nNothing to do, exiting")
        return 0
    print("Trying to minimize the CV...")
    imlen = max(len(cd.instances[i].alias) for i in insts) if len(insts) else 0
    nmlen = max(len(cd.nodes[k].alias) for k in nodes) if len(nodes) else 0
    jobs: list[MoveJob] = []

    def on_move(plc: Placement, pos: int) -> None:
        line, cmds = _solution_line(loaded, plc, pos, nmlen, imlen)
        print(line, flush=True)
        jobs.append(MoveJob(involved_nodes(plc), plc.inst, plc, cmds))

    ini_fdsk = int(st.f_dsk[nodes].sum())
    ini_fmem = int(st.unalloc_mem(nodes).sum())
    res = bal.run(on_move)
    if not res.placements:
        print("No solution found")
    elif verbose > 2:
        print(f"Final coefficients:   overall {metrics.hs_fixed(res.final_score, 8)}")
        sys.stdout.write(metrics.stats_table(bal.scorer.comps, "  "))
    else:
        print(f"Cluster score improved from {metrics.hs_fixed(ini_cv, 8)} to "
              f"{metrics.hs_fixed(res.final_score, 8)}")
    if verbose >= 1:
        print(f"Solution length={len(res.placements)}")
    jobsets = split_jobs(jobs)
    if x.get("first_job_group"):
        jobsets = jobsets[:1]
    if opts.print_commands is not None:
        title = ("First set of jobs:" if x.get("first_job_group")
                 else "Commands to run to reach the above solution:")
        if opts.print_commands == "-":
            print()
            print(title)
            for ln in format_commands(jobsets, with_check=False):
                print("  " + ln)
        else:
            body = "".join(ln + "\n" for ln in format_commands(jobsets, with_check=True))
            from gnt.utils.io import atomic_write
            atomic_write(opts.print_commands, SH_TEMPLATE + body)
            print(f"The commands have been written to file '{opts.print_commands}'")
    st.sync_to_model()
    if opts.save:
        _save(opts.save + ".balanced", loaded)
        sys.stdout.flush()
        sys.stderr.write(f"The cluster state after balancing has been written to file "
                         f"'{opts.save}.balanced'\n")
    _maybe_print(bool(x.get("print_instances")), "Final instance map",
                 lambda: output.print_instances(st, insts))
    _maybe_print(opts.print_nodes is not None, "Final cluster status",
                 lambda: output.print_nodes(st, nodes, opts.print_nodes) + "\n")
    if verbose > 3:
        print(f"Original: mem={ini_fmem} disk={ini_fdsk}")
        print(f"Final:    mem={int(st.unalloc_mem(nodes).sum())} "
              f"disk={int(st.f_dsk[nodes].sum())}")
    if x.get("exec_jobs") and res.placements:
        from gnt.htools.executor import execute_jobsets
        return execute_jobsets(opts, loaded, jobsets)
    return 0


def _save(path: str, loaded: cli.LoadedCluster) -> None:
    from gnt.htools.text import save_file, serialize_cluster
    st = loaded.state
    loaded.state.sync_to_model()
    save_file(path, serialize_cluster(loaded.cdata, st.f_dsk.tolist(), st.f_sp.tolist()))


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hbal``."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        return cli.run_main(PROG, run, argv)
    except OptionError as err:  # pragma: no cover - run_main handles GntError
        sys.stderr.write(f"Error: {err}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
