"""The htools text backend (Ganeti's ``Backend/Text.hs`` format), read and write.

A file has sections separated by one empty line: groups, nodes, instances,
cluster tags and (optionally) instance policies.  Fields are separated by
``|``, list items by ``,``.  Optional trailing columns get Ganeti's
defaults; a ``?`` in one of the first six numeric node columns marks the
node offline with zero resources.  Errors name the file and line.

Public API::

    parse_text(text, source="<string>") -> ClusterData
    load_file(path) -> ClusterData
    serialize_cluster(cdata) -> str
    save_file(path, cdata) -> None
"""

from __future__ import annotations

import os
import re

from gnt.htools.errors import DataError
from gnt.htools.fmt import hs_fixed, hs_show_double
from gnt.htools.model import ClusterData, Group, Instance, Node
from gnt.htools.types import (
    DEFAULT_IPOLICY,
    NO_SECONDARY,
    AllocPolicy,
    DiskTemplate,
    InstanceStatus,
    IPolicy,
    ISpec,
    MinMaxISpecs,
)

_INT_RE = re.compile(r"\s*[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"\s*[+-]?(\d+(\.\d+)?([eE][+-]?\d+)?)\Z")

NODE_DEFAULTS = ["1", "", "N", "0", "1", "1.0"]     # columns 10..15
INST_DEFAULTS = ["1", "-", "N"]                      # columns 11..13


def sep_split(sep: object, items: list) -> list:
    """Ganeti's ``sepSplit``: split a sequence on every separator element."""
    out = []
    rest = list(items)
    while rest:
        try:
            pos = rest.index(sep)
        except ValueError:
            out.append(rest)
            return out
        out.append(rest[:pos])
        rest = rest[pos + 1:]
        if not rest:
            out.append([])
            return out
    return out


def split_fields(line: str, sep: str = "|") -> list[str]:
    """``sepSplit`` on a string: like ``str.split`` but ``""`` gives ``[]``."""
    return line.split(sep) if line else []


def comma_split(value: str) -> list[str]:
    return split_fields(value, ",")


class _Reader:
    """Parsing context: file name and line numbers for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, lineno: int, msg: str) -> DataError:
        return DataError(msg, self.source, lineno)

    def int_(self, lineno: int, owner: str, what: str, value: str) -> int:
        if not _INT_RE.match(value):
            raise self.fail(lineno, f"{owner}: {what} must be an integer, got '{value}'")
        return int(value)

    def float_(self, lineno: int, owner: str, what: str, value: str) -> float:
        if not _FLOAT_RE.match(value):
            raise self.fail(lineno, f"{owner}: {what} must be a number, got '{value}'")
        return float(value)

    def yes_no(self, lineno: int, owner: str, what: str, value: str) -> bool:
        if value not in ("Y", "N"):
            raise self.fail(lineno, f"{owner}: invalid {what} value '{value}' (Y or N)")
        return value == "Y"


def _enum(reader: _Reader, lineno: int, cls, value: str, what: str, owner: str):
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise reader.fail(lineno, f"{owner}: invalid {what} '{value}' "
                                  f"(allowed: {allowed})") from None


def _parse_group(r: _Reader, lineno: int, f: list[str]) -> Group:
    if len(f) < 4:
        raise r.fail(lineno, f"Invalid/incomplete group data: {f!r} "
                             f"(expected name|uuid|alloc_policy|tags[|networks])")
    name, uuid, apol, tags = f[:4]
    nets = comma_split(f[4]) if len(f) > 4 else []
    policy = _enum(r, lineno, AllocPolicy, apol, "allocation policy", f"group {name}")
    return Group(name=name, uuid=uuid, alloc_policy=policy, tags=comma_split(tags),
                 networks=nets)


def _parse_node(r: _Reader, lineno: int, f: list[str], groups: dict[str, int]) -> Node:
    if len(f) < 9:
        raise r.fail(lineno, f"Invalid/incomplete node data: {f!r} (expected at least "
                             f"9 columns, got {len(f)})")
    f = f + NODE_DEFAULTS[len(f) - 9:] if len(f) < 15 else f
    (name, tm, nm, fm, td, fd, tc, fo, gu, spindles, tags, excl, fsp, ncpu,
     speed) = f[:15]
    if gu not in groups:
        raise r.fail(lineno, f"Unknown group '{gu}' for node {name}")
    gdx = groups[gu]
    owner = f"node {name}"
    if "?" in (tm, nm, fm, td, fd, tc):
        return Node(name=name, t_mem=0.0, n_mem=0, f_mem=0, t_dsk=0.0, f_dsk=0, t_cpu=0.0,
                    offline=True, group=gdx, spindles=0, free_spindles=0, n_cpu=0)
    return Node(
        name=name,
        t_mem=r.float_(lineno, owner, "total memory", tm),
        n_mem=r.int_(lineno, owner, "node memory", nm),
        f_mem=r.int_(lineno, owner, "free memory", fm),
        t_dsk=r.float_(lineno, owner, "total disk", td),
        f_dsk=r.int_(lineno, owner, "free disk", fd),
        t_cpu=r.float_(lineno, owner, "total cpus", tc),
        offline=(fo == "Y"), master=(fo == "M"), group=gdx,
        spindles=r.int_(lineno, owner, "spindle count", spindles),
        tags=comma_split(tags),
        excl_storage=r.yes_no(lineno, owner, "exclusive_storage", excl),
        free_spindles=r.int_(lineno, owner, "free spindles", fsp),
        n_cpu=r.int_(lineno, owner, "node cpus", ncpu),
        cpu_speed=r.float_(lineno, owner, "cpu speed", speed),
    )


def _parse_instance(r: _Reader, lineno: int, f: list[str], nodes: dict[str, int]) -> Instance:
    if len(f) < 10:
        raise r.fail(lineno, f"Invalid/incomplete instance data: {f!r} (expected at least "
                             f"10 columns, got {len(f)})")
    f = f + INST_DEFAULTS[len(f) - 10:] if len(f) < 13 else f
    name, mem, dsk, vcpus, status, abal, pnode, snode, dt, tags, su, spn, forth = f[:13]
    owner = f"instance {name}"
    if pnode not in nodes:
        raise r.fail(lineno, f"Unknown node '{pnode}' for instance {name}")
    if snode and snode not in nodes:
        raise r.fail(lineno, f"Unknown node '{snode}' for instance {name}")
    pidx = nodes[pnode]
    sidx = nodes[snode] if snode else NO_SECONDARY
    if abal not in ("Y", "N"):
        raise r.fail(lineno, f"Invalid auto_balance value '{abal}' for instance {name}")
    template = _enum(r, lineno, DiskTemplate, dt, "disk template", owner)
    inst = Instance(
        name=name,
        mem=r.int_(lineno, owner, "memory", mem),
        dsk=r.int_(lineno, owner, "disk", dsk),
        vcpus=r.int_(lineno, owner, "vcpus", vcpus),
        status=_enum(r, lineno, InstanceStatus, status, "status", owner),
        auto_balance=abal == "Y", pnode=pidx, snode=sidx, template=template,
        tags=comma_split(tags),
        spindle_use=r.int_(lineno, owner, "spindle use", su),
        spindles=None if spn == "-" else r.int_(lineno, owner, "disk spindles", spn),
        forthcoming=r.yes_no(lineno, owner, "forthcoming", forth),
    )
    if inst.has_secondary and sidx == pidx:
        raise r.fail(lineno, f"Instance {name} has same primary and secondary node - {pnode}")
    return inst


def _parse_ispec(r: _Reader, lineno: int, owner: str, value: str) -> ISpec:
    parts = comma_split(value)
    if len(parts) < 6:
        raise r.fail(lineno, f"Invalid ispec data for {owner}: {parts!r}")
    names = ["memsize", "cpucount", "disksize", "diskcount", "niccount", "spindleuse"]
    vals = [r.int_(lineno, owner, n, v) for n, v in zip(names, parts[:6])]
    return ISpec(*vals)


def _parse_ipolicy(r: _Reader, lineno: int, f: list[str]) -> tuple[str, IPolicy]:
    if len(f) < 6:
        raise r.fail(lineno, f"Invalid ipolicy data: {f!r}")
    owner, std, minmax, dts, vcpu, spindle = f[:6]
    std_spec = _parse_ispec(r, lineno, owner + "/stdspec", std)
    specs = split_fields(minmax, ";")
    if len(specs) % 2:
        raise r.fail(lineno, f"Odd number of min/max specs for {owner}")
    pairs = tuple(MinMaxISpecs(_parse_ispec(r, lineno, owner + "/minspec", specs[i]),
                               _parse_ispec(r, lineno, owner + "/maxspec", specs[i + 1]))
                  for i in range(0, len(specs), 2))
    templates = tuple(_enum(r, lineno, DiskTemplate, t, "disk template", owner)
                      for t in comma_split(dts))
    return owner, IPolicy(minmax=pairs, std=std_spec, disk_templates=templates,
                          vcpu_ratio=r.float_(lineno, owner, "vcpu_ratio", vcpu),
                          spindle_ratio=r.float_(lineno, owner, "spindle_ratio", spindle))


def _check_unique(r: _Reader, kind: str, items: list[tuple[int, str]]) -> dict[str, int]:
    seen: dict[str, int] = {}
    out: dict[str, int] = {}
    for pos, (lineno, name) in enumerate(items):
        if name in seen:
            raise r.fail(lineno, f"Duplicate {kind} name '{name}' (first defined on "
                                 f"line {seen[name]})")
        seen[name] = lineno
        out[name] = pos
    return out


def parse_text(text: str, source: str = "<string>") -> ClusterData:
    """Parse the text format into :class:`ClusterData`; raises :class:`DataError`."""
    r = _Reader(source)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # Haskell's ``lines`` drops the final newline
    numbered = list(enumerate(lines, start=1))
    sections: list[list[tuple[int, str]]] = []
    rest = numbered
    # sepSplit on empty lines, keeping line numbers
    while rest:
        pos = next((i for i, (_, ln) in enumerate(rest) if ln == ""), None)
        if pos is None:
            sections.append(rest)
            rest = []
            break
        sections.append(rest[:pos])
        rest = rest[pos + 1:]
        if not rest:
            sections.append([])
    if len(sections) not in (4, 5):
        raise DataError(f"Invalid format of the input file: {len(sections)} sections "
                        f"instead of 4 or 5", source)
    glines, nlines, ilines, tlines = sections[:4]
    plines = sections[4] if len(sections) == 5 else []

    groups = [_parse_group(r, ln, split_fields(s)) for ln, s in glines]
    _check_unique(r, "group", [(ln, g.name) for (ln, _), g in zip(glines, groups)])
    group_uuids = _check_unique(r, "group uuid", [(ln, g.uuid) for (ln, _), g in
                                                  zip(glines, groups)])
    nodes = [_parse_node(r, ln, split_fields(s), group_uuids) for ln, s in nlines]
    node_idx = _check_unique(r, "node", [(ln, n.name) for (ln, _), n in zip(nlines, nodes)])
    insts = [_parse_instance(r, ln, split_fields(s), node_idx) for ln, s in ilines]
    _check_unique(r, "instance", [(ln, i.name) for (ln, _), i in zip(ilines, insts)])
    cdata = ClusterData(groups=groups, nodes=nodes, instances=insts,
                        cluster_tags=[s for _, s in tlines], ipolicy=DEFAULT_IPOLICY)
    cdata.reindex()
    for ln, s in plines:
        owner, pol = _parse_ipolicy(r, ln, split_fields(s))
        if owner == "":
            cdata.ipolicy = pol
        else:
            grp = next((g for g in groups if g.name == owner), None)
            if grp is None:
                raise r.fail(ln, f"Unknown node group '{owner}' in ipolicy section")
            grp.ipolicy = pol
    return cdata


def load_file(path: str | os.PathLike[str]) -> ClusterData:
    """Read and parse a text data file (errors name the file and line)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as err:
        raise DataError(f"cannot read data file: {err.strerror}", os.fspath(path)) from None
    return parse_text(text, os.fspath(path))


# -- serialisation ---------------------------------------------------------

def serialize_group(g: Group) -> str:
    return "|".join([g.name, g.uuid, g.alloc_policy.value, ",".join(g.tags),
                     ",".join(g.networks)])


def serialize_node(cdata: ClusterData, n: Node, f_dsk: int | None = None,
                   free_spindles: int | None = None) -> str:
    status = "Y" if n.offline else ("M" if n.master else "N")
    return "|".join([
        n.name, hs_fixed(n.t_mem, 0), str(n.n_mem), str(n.f_mem), hs_fixed(n.t_dsk, 0),
        str(n.f_dsk if f_dsk is None else f_dsk), hs_fixed(n.t_cpu, 0), status,
        cdata.groups[n.group].uuid, str(n.spindles), ",".join(n.tags),
        "Y" if n.excl_storage else "N",
        str(n.free_spindles if free_spindles is None else free_spindles),
        str(n.n_cpu), hs_fixed(n.cpu_speed)])


def serialize_instance(cdata: ClusterData, i: Instance) -> str:
    return "|".join([
        i.name, str(i.mem), str(i.dsk), str(i.vcpus), i.status.value,
        "Y" if i.auto_balance else "N", cdata.node_name(i.pnode), cdata.node_name(i.snode),
        i.template.value, ",".join(i.tags), str(i.spindle_use),
        "-" if i.spindles is None else str(i.spindles), "Y" if i.forthcoming else "N"])


def serialize_ipolicy(owner: str, pol: IPolicy) -> str:
    minmax = ";".join(s.serialize() for mm in pol.minmax for s in (mm.min, mm.max))
    return "|".join([owner, pol.std.serialize(), minmax,
                     ",".join(t.value for t in pol.disk_templates),
                     hs_show_double(pol.vcpu_ratio), hs_show_double(pol.spindle_ratio)])


def serialize_cluster(cdata: ClusterData, node_f_dsk: list[int] | None = None,
                      node_f_spindles: list[int] | None = None) -> str:
    """Render ``cdata`` in the text format, as Ganeti's ``serializeCluster`` does.

    ``node_f_dsk``/``node_f_spindles`` override the nodes' free disk and
    spindles (after simulated moves, Ganeti writes the updated values).
    """
    def block(lines: list[str]) -> str:
        return "".join(s + "\n" for s in lines)

    gdata = block([serialize_group(g) for g in cdata.groups])
    ndata = block([serialize_node(cdata, n,
                                  None if node_f_dsk is None else node_f_dsk[k],
                                  None if node_f_spindles is None else node_f_spindles[k])
                   for k, n in enumerate(cdata.nodes)])
    idata = block([serialize_instance(cdata, i) for i in cdata.instances])
    tdata = block(cdata.cluster_tags)
    pdata = block([serialize_ipolicy("", cdata.ipolicy)] +
                  [serialize_ipolicy(g.name, g.ipolicy) for g in cdata.groups])
    return f"{gdata}\n{ndata}\n{idata}\n{tdata}\n{pdata}"


def save_file(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically (temp file, fsync, rename, fsync dir)."""
    from gnt.utils.io import atomic_write
    atomic_write(path, text)
