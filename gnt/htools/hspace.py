"""hspace: how many more instances fit (standard and tiered allocation).

Human-readable and ``--machine-readable`` (``HTS_*``, ``KM_*`` included)
output as in Ganeti 3.0, ``-p`` node tables, ``--independent-groups`` and
``--accept-existing-errors``.  ``main(argv)`` is the entry point; the
allocation itself (capacity checks, batches, tiers) is
:mod:`gnt.htools.alloc`.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from gnt.htools import cli, metrics
from gnt.htools.alloc import AllocResult, ExactAllocator, Spec, standard_alloc, tiered_alloc
from gnt.htools.errors import HtoolsError, OptionError
from gnt.htools.fmt import hs_fixed, hs_show_double
from gnt.htools.state import ClusterState, copy_state
from gnt.htools.types import DiskTemplate

PROG = "hspace"


def _extend(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--disk-template")
    ap.add_argument("--standard-alloc")
    ap.add_argument("--tiered-alloc")
    ap.add_argument("--spindle-use", type=int)
    ap.add_argument("--independent-groups", action="store_true")
    ap.add_argument("--no-capacity-checks", action="store_true")
    ap.add_argument("--accept-existing-errors", action="store_true")


def _spec(value: str, what: str, spn: int) -> Spec:
    parts = value.split(",")
    if len(parts) not in (3, 4):
        raise OptionError(f"Invalid {what} specification '{value}': expected disk,ram,cpu")
    try:
        from gnt.units import parse_unit
        dsk, mem = int(parse_unit(parts[0])), int(parse_unit(parts[1]))
        cpu = int(parts[2])
        spn = int(parts[3]) if len(parts) == 4 else spn
    except (ValueError, Exception) as err:  # noqa: BLE001 - report any bad number
        raise OptionError(f"Invalid {what} specification '{value}': {err}") from None
    return Spec(mem, dsk, cpu, spn)


def cluster_stats(st: ClusterState, nodes: np.ndarray) -> dict[str, float]:
    """Ganeti's ``CStats`` for the given nodes."""
    um = st.unalloc_mem(nodes)
    am = np.maximum(0, um - st.r_mem[nodes])
    ad = st.avail_disk(nodes)
    t_mem, t_dsk = float(st.t_mem[nodes].sum()), float(st.t_dsk[nodes].sum())
    vcpu = int(st.hi_cpu[nodes].sum())
    i_dsk = int((np.trunc(st.t_dsk[nodes]).astype(np.int64) - st.f_dsk[nodes]).sum())
    t_sp = int(st.t_sp[nodes].sum())
    f_sp = int(st.f_sp[nodes].sum())
    return {
        "MEM_FREE": int(um.sum()), "MEM_AVAIL": int(am.sum()),
        "MEM_RESVD": int(um.sum() - am.sum()), "MEM_INST": int(st.i_mem[nodes].sum()),
        "MEM_OVERHEAD": int(st.n_mem[nodes].sum() + st.x_mem[nodes].sum()),
        "MEM_EFF": st.i_mem[nodes].sum() / t_mem if t_mem else 0.0,
        "DSK_FREE": int(st.f_dsk[nodes].sum()), "DSK_AVAIL": int(ad.sum()),
        "DSK_RESVD": int(st.f_dsk[nodes].sum() - ad.sum()), "DSK_INST": i_dsk,
        "DSK_EFF": i_dsk / t_dsk if t_dsk else 0.0,
        "SPN_FREE": f_sp, "SPN_INST": t_sp - f_sp,
        "SPN_EFF": (t_sp - f_sp) / t_sp if t_sp else 0.0,
        "CPU_INST": int(st.u_cpu[nodes].sum()),
        "CPU_EFF": st.u_cpu[nodes].sum() / vcpu if vcpu else 0.0,
        "MNODE_MEM_AVAIL": int(am.max()) if len(nodes) else 0,
        "MNODE_DSK_AVAIL": int(ad.max()) if len(nodes) else 0,
    }


def _seq(xs: np.ndarray) -> float:
    """A left-to-right float sum (Ganeti's fold order)."""
    total = 0.0
    for x in xs.tolist():
        total += x
    return total


def key_metrics(ini: ClusterState, fin: ClusterState, nodes: np.ndarray
                ) -> list[tuple[str, str]]:
    """Ganeti's ``KM_*`` keys: the resources in use at the start (``USED``),
    those taken by the tiered allocation (``POOL``) and those left
    (``UNAV``), as vCPUs, normalised CPUs (vCPUs over the vCPU ratio),
    memory, disk (MiB) and spindles."""
    def used(st: ClusterState) -> tuple[int, float, int, int, int]:
        s = cluster_stats(st, nodes)
        ncpu = _seq(st.u_cpu[nodes] / st.l_cpu[nodes])
        return (int(s["CPU_INST"]), ncpu, int(s["MEM_INST"]), int(s["DSK_INST"]),
                int(s["SPN_INST"]))
    u0, u1 = used(ini), used(fin)
    total = (int(fin.hi_cpu[nodes].sum()), _seq(fin.t_cpu[nodes]),
             int(_seq(fin.t_mem[nodes])), int(_seq(fin.t_dsk[nodes])),
             int(_seq(fin.t_sp[nodes].astype(float))))
    rows = {"USED": u0, "POOL": tuple(b - a for a, b in zip(u0, u1)),
            "UNAV": tuple(t - b for t, b in zip(total, u1))}
    out = []
    for what, (cpu, npu, mem, dsk, spn) in rows.items():
        out += [(f"KM_{what}_CPU", str(cpu)), (f"KM_{what}_NPU", hs_show_double(npu)),
                (f"KM_{what}_MEM", str(mem)), (f"KM_{what}_DSK", str(dsk)),
                (f"KM_{what}_SPN", str(spn))]
    return out


def _fmt(v: float) -> str:
    return str(v) if isinstance(v, (int, np.integer)) else hs_fixed(float(v), 8)


def _quote(v: str) -> str:
    return v if all(c.isalnum() or c in "._" for c in v) else f"'{v}'"


def run(argv: list[str]) -> int:
    opts = cli.parse_args(PROG, argv, _extend)
    x = opts.extra
    loaded = cli.load_data(opts)
    cli.print_warnings(loaded.warnings)
    cd, st = loaded.cdata, loaded.state
    mr = opts.machine_readable
    nodes = np.arange(st.n_nodes)
    pol = cd.ipolicy
    template = DiskTemplate(x["disk_template"]) if x.get("disk_template") else \
        (pol.disk_templates[0] if pol.disk_templates else DiskTemplate.DRBD)
    spn = x.get("spindle_use") or 1
    std = _spec(x["standard_alloc"], "standard", spn) if x.get("standard_alloc") else \
        Spec(pol.std.mem_size, pol.std.disk_size, pol.std.cpu_count, pol.std.spindle_use)
    mx = pol.minmax[0].max
    tspec = _spec(x["tiered_alloc"], "tiered", spn) if x.get("tiered_alloc") else \
        Spec(mx.mem_size, mx.disk_size, mx.cpu_count, mx.spindle_use)
    rqn = 2 if template == DiskTemplate.DRBD else 1
    sorted({int(g) for g in st.group})
    # groups with nodes failing N+1 take no new instances (unless existing errors
    # are accepted); allocation stops altogether unless --independent-groups
    # leaves some group to allocate in
    from gnt.htools.types import AllocPolicy
    bad_groups = {int(st.group[k]) for k in np.flatnonzero(st.fail_n1 & ~st.offline)}
    accept = bool(x.get("accept_existing_errors"))
    indep = bool(x.get("independent_groups"))
    closed = {g.idx for g in cd.groups if g.alloc_policy == AllocPolicy.UNALLOCABLE}
    if not accept:
        closed |= bad_groups
    # with --independent-groups, the groups not globally N+1 redundant take no new
    # instances either, and the capacity checks ignore them
    ignore: frozenset[int] = frozenset()
    if indep:
        ignore = frozenset(g.idx for g in cd.groups if not _group_redundant(st, g.idx, accept))
        closed |= ignore
    remaining = any(g.idx not in closed for g in cd.groups)
    stop = bool(bad_groups) and not accept and not (indep and remaining)
    # candidates: the nodes of allocable groups (Ganeti's genAllocNodes)
    gnodes = np.array([k for k in nodes if not cd.groups or int(st.group[k]) not in closed],
                      dtype=np.int64)
    ini_score = metrics.score(st, nodes)
    ini_cnt = len(cd.instances)
    out: list[tuple[str, str]] = []
    _print_nodes(opts.print_nodes, "Initial cluster", st)
    clus = {"MEM": int(st.t_mem.sum()), "DSK": int(st.t_dsk.sum()), "CPU": int(st.t_cpu.sum()),
            "VCPU": int(st.hi_cpu.sum()), "SPN": int(st.t_sp.sum()), "NODES": st.n_nodes}
    out += [(f"CLUSTER_{k}", str(v)) for k, v in clus.items()]
    out += [("INI_SCORE", hs_fixed(ini_score, 8)), ("INI_INST_CNT", str(ini_cnt))]
    out += [(f"INI_{k}", _fmt(v)) for k, v in cluster_stats(st, nodes).items()]
    human: list[str] = [
        f"The cluster has {st.n_nodes} nodes and the following resources:",
        f"  MEM {clus['MEM']}, DSK {clus['DSK']}, CPU {clus['CPU']}, VCPU {clus['VCPU']}.",
        f"There are {ini_cnt or 'no'} initial instances on the cluster."]

    def run_mode(spec: Spec, tiered: bool) -> tuple[AllocResult, ClusterState]:
        from gnt.htools.iallocate import AllocError
        work = copy_state(st)
        if stop:  # Ganeti allocates nothing on a cluster that is not N+1 happy
            from gnt.htools.types import FailMode
            return AllocResult(failures={FailMode.N1: 1}), work
        alloc = ExactAllocator(work, gnodes, template, nodes, capacity=not x.get(
            "no_capacity_checks"), ignore_groups=ignore, accept_existing=accept)
        try:
            res = tiered_alloc(alloc, spec) if tiered else standard_alloc(alloc, spec)
        except AllocError as err:  # no candidate at all: what was computed, then the error
            _emit(out if mr else human, mr, ok=False)
            raise HtoolsError(f"failure during allocation: {err}") from None
        return res, alloc.st

    def summary(res: AllocResult, work: ClusterState, prefix: str) -> list[tuple[str, str]]:
        fin = cluster_stats(work, nodes)
        return ([(f"{prefix}_SCORE", hs_fixed(metrics.score(work, nodes), 8)),
                 (f"{prefix}_INST_CNT", str(ini_cnt + len(res.allocated)))] +
                [(f"{prefix}_{k}", _fmt(v)) for k, v in fin.items()])

    def human_tail(res: AllocResult, work: ClusterState) -> list[str]:
        fin = cluster_stats(work, nodes)
        reason = _reason(res)
        return [f"  - most likely failure reason: {reason}",
                f"  - initial cluster score: {hs_fixed(ini_score, 8)}",
                f"  -   final cluster score: {hs_fixed(metrics.score(work, nodes), 8)}",
                f"  - memory usage efficiency: {hs_fixed(fin['MEM_EFF'] * 100, 2):>5}%",
                f"  -   disk usage efficiency: {hs_fixed(fin['DSK_EFF'] * 100, 2):>5}%",
                f"  -   vcpu usage efficiency: {hs_fixed(fin['CPU_EFF'] * 100, 2):>5}%"]

    tres, twork = run_mode(tspec, True)
    _print_nodes(opts.print_nodes, "Tiered allocation", twork)
    out += [("TSPEC_INI_MEM", str(tspec.mem)), ("TSPEC_INI_DSK", str(tspec.dsk)),
            ("TSPEC_INI_CPU", str(tspec.cpu)), ("TSPEC_INI_SPN", str(tspec.spn)),
            ("TSPEC_INI_RQN", str(rqn)), ("TSPEC_INI_DISK_TEMPLATE", template.value)]
    out += summary(tres, twork, "TRL")
    groups_t: dict[Spec, int] = {}
    for spec, _, _ in tres.allocated:
        groups_t[spec] = groups_t.get(spec, 0) + 1
    tsorted = sorted(groups_t.items(), key=lambda kv: (kv[0].mem, kv[0].dsk, kv[0].cpu),
                     reverse=True)
    out.append(("TSPEC", " ".join(f"{s.mem},{s.dsk},{s.cpu},{s.spn}={c}"
                                  for s, c in tsorted)))
    out += key_metrics(st, twork, nodes)
    human += ["Tiered (initial size) instance spec is:",
              (f"  MEM {tspec.mem}, DSK {tspec.dsk}, CPU {tspec.cpu}, using disk template "
               f"'{template.value}'."), "Tiered allocation results:"]
    human += [f"  - {c:3d} instances of spec MEM {s.mem}, DSK {s.dsk}, CPU {s.cpu}"
              for s, c in tsorted] or ["  - no instances allocated"]
    human += human_tail(tres, twork)
    sres, swork = run_mode(std, False)
    _print_nodes(opts.print_nodes, "Standard allocation", swork)
    out += [("SPEC_MEM", str(std.mem)), ("SPEC_DSK", str(std.dsk)), ("SPEC_CPU", str(std.cpu)),
            ("SPEC_SPN", str(std.spn)), ("SPEC_RQN", str(rqn)),
            ("SPEC_DISK_TEMPLATE", template.value)]
    out += summary(sres, swork, "FIN")
    fin_cnt = ini_cnt + len(sres.allocated)
    out += [("ALLOC_USAGE", hs_fixed(ini_cnt / fin_cnt if fin_cnt else math.nan, 8)),
            ("ALLOC_INSTANCES", str(len(sres.allocated))),
            ("ALLOC_FAIL_REASON", _reason(sres).upper())]
    # on a cluster failing N+1 Ganeti reports the single FailN1 failure only
    order = [m for m in _MODES if m in sres.failures] if stop else \
        sorted(_MODES, key=lambda m: -sres.failures.get(m, 0))
    out += [(f"ALLOC_{m.value.upper()}_CNT", str(sres.failures.get(m, 0))) for m in order]
    human += ["Standard (fixed-size) instance spec is:",
              (f"  MEM {std.mem}, DSK {std.dsk}, CPU {std.cpu}, using disk template "
               f"'{template.value}'."), "Normal (fixed-size) allocation results:",
              f"  - {len(sres.allocated):3d} instances allocated"]
    human += human_tail(sres, swork)
    _emit(out if mr else human, mr)
    return 0


def _emit(lines: list, machine: bool, ok: bool = True) -> None:
    """Print the collected output (``HTS_*`` keys, or the human lines)."""
    if machine:
        for k, v in lines:
            print(f"HTS_{k}={_quote(v)}")
        if ok:
            print("HTS_OK=1")
    elif lines:
        print("\n".join(lines))


def _group_redundant(st: ClusterState, gdx: int, accept_existing: bool) -> bool:
    """Ganeti's ``redundantGrp``: the group's nodes can each be evacuated
    within the group (offline ones not checked when existing errors are
    accepted)."""
    from gnt.htools.globaln1 import capacity_nodes, redundant
    gnodes = st.group_nodes(gdx)
    return redundant(st, gnodes, check=capacity_nodes(st, gnodes, frozenset(),
                                                      accept_existing))


def _print_nodes(fields: list[str] | None, what: str, st: ClusterState) -> None:
    """``-p``: the node table of a phase, on stderr."""
    if fields is None:
        return
    from gnt.htools.output import print_nodes
    sys.stdout.flush()
    sys.stderr.write(f"\n{what} status:\n" + print_nodes(st, np.arange(st.n_nodes), fields)
                     + "\n")
    sys.stderr.flush()


def _reason(res: AllocResult) -> str:
    if not res.failures:
        return "FailN1"
    # the first of the modes sorted by count, descending and stable (ties: earlier mode)
    best = max(_MODES, key=lambda m: (res.failures.get(m, 0), -_MODES.index(m)))
    return best.value


from gnt.htools.nodeops import FAIL_MODES as _MODES


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hspace``."""
    return cli.run_main(PROG, run, argv)


if __name__ == "__main__":
    sys.exit(main())
