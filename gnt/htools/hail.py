"""hail: the iallocator plugin (Ganeti-compatible command line and answers).

``hail [options] REQUEST-FILE`` reads an iallocator request (``-`` for
stdin) and prints the answer ``{"success": ..., "info": ..., "result": ...}``
on one line, as Ganeti's hail does.  ``-t FILE``/``--simulate`` replace the
request's cluster data; ``-p`` prints the node tables before and after (on
stderr); ``-S FILE`` saves ``FILE.pre-ialloc``/``FILE.post-ialloc`` in the
text format.  Request types: allocate, multi-allocate, relocate,
node-evacuate, change-group, allocate-secondary (see
:mod:`gnt.htools.allocsec`).  ``main(argv)`` is the entry point; :func:`answer` computes an
answer for library use.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from gnt import errors
from gnt.htools import dedicated
from gnt.htools import iallocator as ia
from gnt.htools.cli import VERSION, compute_aliases
from gnt.htools.errors import HtoolsError
from gnt.htools.evacuate import EvacError, EvacResult, change_group, node_evacuate, relocate
from gnt.htools.iallocate import AllocError, AllocOptions, allocate, describe
from gnt.htools.state import ClusterState, prepare_new_instance

PROG = "hail"


@dataclass
class Answer:
    """An iallocator answer and the cluster state after it."""

    success: bool
    info: str
    result: Any = field(default_factory=list)
    state: ClusterState | None = None

    def to_json(self) -> str:
        """The one-line JSON Ganeti's hail prints (keys in its order)."""
        return json.dumps({"success": self.success, "info": self.info,
                           "result": self.result}, separators=(",", ":"))


def _evac_json(st: ClusterState, res: EvacResult) -> tuple[str, Any]:
    names = st.cdata
    moved = [[names.instances[i].name, names.groups[g].name, [names.nodes[k].name
                                                               for k in nodes]]
             for i, g, nodes in res.moved]
    failed = [[names.instances[i].name, msg] for i, msg in res.failed]
    info = (f"{len(failed)} instances failed to move and {len(moved)} were moved "
            f"successfully")
    return info, [moved, failed, res.jobs]


def _process(st: ClusterState, req: ia.Request, opts: AllocOptions) -> Answer:
    if isinstance(req, ia.AllocateRequest):
        prepare_new_instance(st, req.inst)
        o = AllocOptions(opts.ignore_soft_errors, opts.capacity,
                         opts.restrict_nodes if opts.restrict_nodes is not None
                         else req.restrict_nodes)
        alloc_fn = dedicated.allocate if dedicated.is_dedicated(st, req.group_name) \
            else allocate
        sol = alloc_fn(st, req.inst, req.required_nodes, req.group_name, o)
        info = ", ".join(sol.log)
        if sol.nodes is None:
            raise AllocError(info)
        return Answer(True, info, [st.cdata.nodes[k].name for k in sol.nodes], sol.state)
    if isinstance(req, ia.MultiAllocateRequest):
        done: list[list[Any]] = []
        failed: list[list[str]] = []
        group = req.requests[0].group_name if req.requests else None
        ded = bool(req.requests) and dedicated.is_dedicated(st, group)
        original = st
        for sub in req.requests:
            prepare_new_instance(st, sub.inst)
            if ded:
                # in a named group Ganeti searches the nodes as they were before
                # this request, and keeps only the last allocation on them
                src = original if sub.group_name is not None else st
                sol = dedicated.allocate(src, sub.inst, sub.required_nodes, sub.group_name,
                                         opts)
            else:
                sol = allocate(st, sub.inst, sub.required_nodes, sub.group_name, opts)
            if sol.nodes is None:
                failed.append([sub.inst.name, ", ".join(sol.log)])
                continue
            done.append([sub.inst.name, [st.cdata.nodes[k].name for k in sol.nodes]])
            assert sol.state is not None
            st = sol.state
        info = (f"{len(failed)} instances failed to allocate and {len(done)} were "
                f"allocated successfully")
        return Answer(True, info, [done, failed], st)
    if isinstance(req, ia.RelocateRequest):
        new, nodes = relocate(st, req.inst, req.required_nodes, req.relocate_from,
                              opts.ignore_soft_errors)
        return Answer(True, "success", [new.cdata.nodes[k].name for k in nodes], new)
    if isinstance(req, ia.NodeEvacuateRequest):
        res = node_evacuate(st, req.insts, req.mode, opts.ignore_soft_errors)
        info, result = _evac_json(st, res)
        return Answer(True, info, result, res.state)
    if isinstance(req, ia.ChangeGroupRequest):
        res = change_group(st, req.insts, req.target_groups, opts)
        info, result = _evac_json(st, res)
        return Answer(True, info, result, res.state)
    if isinstance(req, ia.AllocateSecondaryRequest):
        from gnt.htools.allocsec import allocate_secondary
        sol = allocate_secondary(st, req.inst, opts)
        info = ", ".join(sol.log)
        if sol.nodes is None:
            raise AllocError(info)
        return Answer(True, info, st.cdata.nodes[sol.nodes[1]].name, sol.state)
    raise AllocError(f"unknown request type {type(req).__name__}")


def answer(st: ClusterState, req: ia.Request, opts: AllocOptions | None = None) -> Answer:
    """Process a request; failures become ``success: false`` answers."""
    try:
        ans = _process(st, req, opts or AllocOptions())
    except (AllocError, EvacError) as err:
        return Answer(False, f"Request failed: {err}", [])
    ans.info = f"Request successful: {ans.info}"
    return ans


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Ganeti-compatible IAllocator plugin")
    ap.add_argument("-t", "--text-data", dest="text_data")
    ap.add_argument("--simulate", action="append", default=[])
    ap.add_argument("-S", "--save", dest="save")
    ap.add_argument("-v", "--verbose", action="count", default=0)
    ap.add_argument("--ignore-dynu", action="store_true")
    ap.add_argument("--ignore-soft-errors", action="store_true")
    ap.add_argument("--no-capacity-checks", action="store_true")
    ap.add_argument("--restrict-allocation-to", dest="restrict")
    ap.add_argument("--mond", nargs="?", const="yes")
    ap.add_argument("--mond-xen", action="store_true")
    ap.add_argument("--static-kvm-node-memory", type=int,
                    default=ia.DEFAULT_STATIC_KVM_MEM)
    ap.add_argument("-V", "--version", action="store_true")
    ap.add_argument("args", nargs="*")
    return ap


def _print_nodes(st: ClusterState, title: str, fields: list[str] | None) -> None:
    import numpy as np

    from gnt.htools.output import print_nodes
    sys.stdout.flush()
    sys.stderr.write(f"\n{title} status:\n"
                     + print_nodes(st, np.arange(st.n_nodes), fields) + "\n")


def _save(path: str, st: ClusterState, when: str, new_first: bool = False) -> None:
    """Save the state in the text format; ``new_first``: the last instance (a newly
    allocated one) is written first, where Ganeti's hail files it."""
    from dataclasses import replace

    from gnt.htools.text import save_file, serialize_cluster
    st.sync_to_model()
    cdata = st.cdata
    if new_first and cdata.instances:
        cdata = replace(cdata, instances=cdata.instances[-1:] + cdata.instances[:-1])
    save_file(path, serialize_cluster(cdata, st.f_dsk.tolist(), st.f_sp.tolist()))
    sys.stdout.flush()
    sys.stderr.write(f"The cluster state {when} iallocator run has been written to file "
                     f"'{path}'\n")


def _resolve(parsed: ia.ParsedRequest, cdata: Any) -> ia.Request:
    """Re-resolve the request's names against replacement cluster data (-t)."""
    old = parsed.cdata
    req = parsed.request

    def inst(i: int) -> int:
        name = old.instances[i].name
        for k, obj in enumerate(cdata.instances):
            if obj.name == name:
                return k
        raise HtoolsError(f"Unknown instance '{name}' in the cluster data")

    def node(n: int) -> int:
        obj = cdata.node_by_name(old.nodes[n].name)
        if obj is None:
            raise HtoolsError(f"Unknown node '{old.nodes[n].name}' in the cluster data")
        return obj.idx

    def group(g: int) -> int:
        obj = cdata.group_by_name(old.groups[g].uuid)
        if obj is None:
            raise HtoolsError(f"Unknown group '{old.groups[g].name}' in the cluster data")
        return obj.idx

    if isinstance(req, ia.RelocateRequest):
        return ia.RelocateRequest(inst(req.inst), req.required_nodes,
                                  [node(n) for n in req.relocate_from])
    if isinstance(req, ia.NodeEvacuateRequest):
        return ia.NodeEvacuateRequest([inst(i) for i in req.insts], req.mode)
    if isinstance(req, ia.ChangeGroupRequest):
        return ia.ChangeGroupRequest([inst(i) for i in req.insts],
                                     [group(g) for g in req.target_groups])
    if isinstance(req, ia.AllocateSecondaryRequest):
        return ia.AllocateSecondaryRequest(inst(req.inst))
    return req


def run(argv: list[str]) -> int:
    from gnt.htools.cli import _split_optional

    rest, optional = _split_optional(argv)
    ns = _parser().parse_args(rest)
    if ns.version:
        print(f"{PROG} ({VERSION})")
        return 0
    if not ns.args:
        raise HtoolsError("This program needs an input file.")
    if len(ns.args) > 1:
        raise HtoolsError("Only one argument is accepted (the input file)")
    parsed = ia.load_request(ns.args[0], ns.static_kvm_node_memory)
    cdata = parsed.cdata
    request = parsed.request
    if ns.text_data or ns.simulate:
        from gnt.htools.cli import ToolOptions, load_cluster_data
        cdata = load_cluster_data(ToolOptions(text_data=ns.text_data, simulate=ns.simulate))
        request = _resolve(parsed, cdata)
    util = None
    if ns.ignore_dynu:
        util = {i.name: (0.0, 0.0, 0.0, 0.0) for i in cdata.instances}
    st = ClusterState(cdata, util=util)
    warnings = list(reversed(st.missing_mem_warnings()))
    if warnings:
        from gnt.htools.cli import print_warnings
        print_warnings(warnings)
    if ns.verbose > 1:
        sys.stderr.write(f"Received request: {request!r}\n")
    fields = None
    if "print_nodes" in optional:
        fields = [f for f in optional["print_nodes"].split(",") if f]
        compute_aliases(cdata)
        _print_nodes(st, "Initial cluster", fields)
    if ns.save:
        _save(ns.save + ".pre-ialloc", st, "before")
    restrict = [n for n in ns.restrict.split(",") if n] if ns.restrict else None
    opts = AllocOptions(ignore_soft_errors=ns.ignore_soft_errors,
                        capacity=not ns.no_capacity_checks, restrict_nodes=restrict)
    ans = answer(st, request, opts)
    print(ans.to_json(), flush=True)
    final = ans.state if ans.state is not None else st
    if "print_nodes" in optional:
        _print_nodes(final, "Final cluster", fields)
    if ns.save:
        _save(ns.save + ".post-ialloc", final, "after",
              new_first=isinstance(request, ia.AllocateRequest) and ans.state is not None)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``hail``."""
    if argv is None:
        argv = sys.argv[1:]
    from gnt.htools.memtune import tune_malloc
    tune_malloc()
    try:
        return run(argv)
    except errors.GntError as err:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {err}\n")
        return 1
    except BrokenPipeError:
        return 1


__all__ = ["Answer", "answer", "describe", "main"]

if __name__ == "__main__":
    sys.exit(main())
