"""Options and data loading shared by the htools programs.

Options follow Ganeti's htools (``Ganeti/HTools/CLI.hs``): short options
with optional arguments (``-p[FIELDS]``, ``-C[FILE]``, ``-L[SOCKET]``)
take their value only when attached, as with getopt.

Public API::

    ToolOptions (dataclass), parse_args(prog, argv, extra) -> ToolOptions
    load_data(opts) -> LoadedCluster     # backend, -O, -U, tags, select/exclude
    run_main(prog, fn, argv)             # error handling -> exit codes
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gnt import errors
from gnt.htools import text as textbackend
from gnt.htools.errors import DataError, OptionError
from gnt.htools.model import ClusterData
from gnt.htools.state import ClusterState

VERSION = "gnt htools (ganeti-compatible 3.0)"
OPTIONAL_ARG_SHORT = {"-p": "print_nodes", "-C": "print_commands", "-L": "luxi"}
OPTIONAL_ARG_LONG = {"--print-nodes": "print_nodes", "--print-commands": "print_commands",
                     "--luxi": "luxi"}
UNSET = object()


@dataclass
class ToolOptions:
    """Parsed options; attribute names follow the long option names."""

    verbose: int = 1
    text_data: str | None = None
    master: str | None = None
    luxi: str | None = None
    ialloc_src: str | None = None
    simulate: list[str] = field(default_factory=list)
    print_nodes: list[str] | None = None
    print_commands: str | None = None
    offline: list[str] = field(default_factory=list)
    max_cpu: float | None = None
    min_disk: float | None = None
    dynu_file: str | None = None
    ignore_dynu: bool = False
    exclusion_tags: list[str] = field(default_factory=list)
    select_instances: list[str] = field(default_factory=list)
    exclude_instances: list[str] = field(default_factory=list)
    group: str | None = None
    save: str | None = None
    machine_readable: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _split_optional(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Pull out options whose argument is optional (attached only)."""
    rest: list[str] = []
    found: dict[str, str] = {}
    for arg in argv:
        handled = False
        for flag, name in OPTIONAL_ARG_SHORT.items():
            if arg.startswith(flag) and not arg.startswith("--"):
                found[name] = arg[len(flag):]
                handled = True
        for flag, name in OPTIONAL_ARG_LONG.items():
            if arg == flag or arg.startswith(flag + "="):
                found[name] = arg[len(flag) + 1:] if "=" in arg else ""
                handled = True
        if not handled:
            rest.append(arg)
    return rest, found


def _csv(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


def base_parser(prog: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, add_help=True)
    ap.add_argument("-t", "--text-data", dest="text_data")
    ap.add_argument("-m", "--master", dest="master")
    ap.add_argument("-I", "--ialloc-src", dest="ialloc_src")
    ap.add_argument("--simulate", action="append", default=[])
    ap.add_argument("-v", "--verbose", action="count", default=0)
    ap.add_argument("-q", "--quiet", action="count", default=0)
    ap.add_argument("-O", "--offline", action="append", default=[])
    ap.add_argument("--max-cpu", type=float, dest="max_cpu")
    ap.add_argument("--min-disk", type=float, dest="min_disk")
    ap.add_argument("-U", "--dynu-file", dest="dynu_file")
    ap.add_argument("--ignore-dynu", action="store_true")
    ap.add_argument("--exclusion-tags", type=_csv, default=[])
    ap.add_argument("--select-instances", type=_csv, default=[])
    ap.add_argument("--exclude-instances", type=_csv, default=[])
    ap.add_argument("-G", "--group", dest="group")
    ap.add_argument("-S", "--save", dest="save")
    ap.add_argument("--machine-readable", nargs="?", const="yes", default=None)
    ap.add_argument("-V", "--version", action="store_true")
    ap.add_argument("args", nargs="*")
    return ap


def parse_args(prog: str, argv: list[str],
               extend: Callable[[argparse.ArgumentParser], None] | None = None) -> ToolOptions:
    """Parse ``argv`` (without the program name) into :class:`ToolOptions`."""
    rest, optional = _split_optional(argv)
    ap = base_parser(prog)
    if extend is not None:
        extend(ap)
    ns = ap.parse_args(rest)
    if ns.version:
        print(f"{prog} ({VERSION})")
        raise SystemExit(0)
    if ns.args:
        raise OptionError("This program doesn't take any arguments.")
    opts = ToolOptions(
        verbose=1 + ns.verbose - ns.quiet, text_data=ns.text_data, master=ns.master,
        ialloc_src=ns.ialloc_src, simulate=ns.simulate, offline=ns.offline,
        max_cpu=ns.max_cpu, min_disk=ns.min_disk, dynu_file=ns.dynu_file,
        ignore_dynu=ns.ignore_dynu, exclusion_tags=ns.exclusion_tags,
        select_instances=ns.select_instances, exclude_instances=ns.exclude_instances,
        group=ns.group, save=ns.save,
        machine_readable=ns.machine_readable not in (None, "no"))
    if "print_nodes" in optional:
        opts.print_nodes = _csv(optional["print_nodes"])
    if "print_commands" in optional:
        opts.print_commands = optional["print_commands"] or "-"
    if "luxi" in optional:
        opts.luxi = optional["luxi"]     # "": this root's master socket
    known = set(vars(ToolOptions())) | {"verbose", "quiet", "version", "args"}
    opts.extra = {k: v for k, v in vars(ns).items() if k not in known}
    return opts


@dataclass
class LoadedCluster:
    """Loaded data plus the state built from it."""

    cdata: ClusterData
    state: ClusterState
    warnings: list[str]


def _lookup_names(kind: str, names: list[str], known: list[str]) -> list[str]:
    out, bad = [], []
    for n in names:
        if n in known:
            out.append(n)
            continue
        pref = [k for k in known if k.startswith(n + ".")]
        if len(pref) == 1:
            out.append(pref[0])
        else:
            bad.append(n)
    if bad:
        raise DataError(f"Unknown {kind}(s): {', '.join(bad)}")
    return out


def read_util_file(path: str, known: list[str]) -> dict[str, tuple[float, float, float, float]]:
    """Parse a ``-U`` file: lines ``name cpu mem disk net``."""
    out: dict[str, tuple[float, float, float, float]] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as err:
        raise DataError(f"cannot read utilisation file: {err.strerror}", path) from None
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise DataError("expected 'name cpu mem disk net'", path, lineno)
        try:
            vals = tuple(float(x) for x in parts[1:])
        except ValueError:
            raise DataError(f"non-numeric utilisation values: {line!r}", path, lineno) \
                from None
        if parts[0] not in known:
            raise DataError(f"Unknown instance '{parts[0]}'", path, lineno)
        out[parts[0]] = vals  # type: ignore[assignment]
    return out


def load_cluster_data(opts: ToolOptions) -> ClusterData:
    """Read the cluster data from the selected backend."""
    chosen = [b for b in (opts.text_data, opts.master, opts.ialloc_src) if b]
    if opts.luxi is not None:
        chosen.append("luxi")
    if opts.simulate:
        chosen.append("simulate")
    if len(chosen) > 1:
        raise OptionError("Only one of the data sources can be selected "
                          "(-t, -m, -L, -I, --simulate)")
    if opts.text_data:
        return textbackend.load_file(opts.text_data)
    if opts.simulate:
        from gnt.htools.simu import parse_simulation
        return parse_simulation(opts.simulate)
    if opts.ialloc_src:
        from gnt.htools.iallocator import DEFAULT_STATIC_KVM_MEM, load_request
        static = opts.extra.get("static_kvm_node_memory")
        return load_request(opts.ialloc_src,
                            DEFAULT_STATIC_KVM_MEM if static is None else int(static)).cdata
    if opts.master:
        from gnt.htools.backend_rapi import load_rapi
        return load_rapi(opts.master)
    if opts.luxi is not None:
        from gnt.htools.backend_luxi import load_luxi
        return load_luxi(opts.luxi or None)
    raise OptionError("No data source given: use -t FILE, -m CLUSTER, -L or --simulate")


def compute_aliases(cdata: ClusterData) -> str:
    """Strip the longest common dot-suffix of node and instance names (Ganeti's alias)."""
    names = [n.name for n in cdata.nodes] + [i.name for i in cdata.instances]
    suffix = ""
    if names:
        first, others = names[0], names[1:]
        for pos in range(len(first)):
            cand = first[pos:]
            if cand.startswith(".") and all(o.endswith(cand) for o in others):
                suffix = cand
                break
    for obj in list(cdata.nodes) + list(cdata.instances):
        obj.alias = obj.name[:len(obj.name) - len(suffix)] if suffix else obj.name
    return suffix


def load_data(opts: ToolOptions) -> LoadedCluster:
    """Load, apply -O/-U/--ignore-dynu/tags/select/exclude, build the state."""
    cdata = load_cluster_data(opts)
    names = [i.name for i in cdata.instances]
    sel = _lookup_names("instance", opts.select_instances, names)
    exc = _lookup_names("instance", opts.exclude_instances, names)
    for inst in cdata.instances:
        if inst.name in exc or (sel and inst.name not in sel):
            inst.movable = False
    util = None
    if opts.dynu_file:
        util = read_util_file(opts.dynu_file, names)
    if opts.ignore_dynu:
        util = {n: (0.0, 0.0, 0.0, 0.0) for n in names}
    offline = _lookup_names("node", opts.offline, [n.name for n in cdata.nodes])
    compute_aliases(cdata)
    st = ClusterState(cdata, offline_nodes=offline, max_cpu=opts.max_cpu,
                      min_disk=opts.min_disk, exclusion_prefixes=opts.exclusion_tags,
                      util=util)
    return LoadedCluster(cdata, st, list(reversed(st.missing_mem_warnings())))


def print_warnings(warnings: list[str]) -> None:
    if warnings:
        sys.stderr.write("Warning: cluster has inconsistent data:\n")
        for w in warnings:
            sys.stderr.write(f"  - {w}\n")
        sys.stderr.write("\n")


def run_main(prog: str, fn: Callable[[list[str]], int], argv: list[str] | None) -> int:
    """Run ``fn``; errors become ``Error: ...`` on stderr and exit code 1."""
    from gnt.htools.memtune import tune_malloc
    tune_malloc()
    try:
        return fn(sys.argv[1:] if argv is None else argv)
    except errors.GntError as err:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {err}\n")
        return 1
    except BrokenPipeError:
        return 1
