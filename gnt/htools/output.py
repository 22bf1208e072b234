"""Node and instance tables (``-p``/``--print-nodes``, ``--print-instances``).

Fields and headers are Ganeti's (``Node.showField``/``showHeader``); the
default field list matches Ganeti 3.0.
"""

from __future__ import annotations

import numpy as np

from gnt.htools.fmt import hs_fixed, print_table
from gnt.htools.state import ClusterState
from gnt.htools.types import NO_SECONDARY

DEFAULT_FIELDS = ["status", "name", "tmem", "nmem", "imem", "xmem", "fmem", "umem", "rmem",
                  "tdsk", "fdsk", "tcpu", "ucpu", "pcnt", "scnt", "pfmem", "pfdsk", "rcpu",
                  "cload", "mload", "dload", "nload"]

HEADERS = {
    "idx": ("Index", True), "name": ("Name", False), "fqdn": ("Name", False),
    "status": ("F", False), "tmem": ("t_mem", True), "nmem": ("n_mem", True),
    "xmem": ("x_mem", True), "fmem": ("f_mem", True), "umem": ("u_mem", True),
    "amem": ("a_mem", True), "imem": ("i_mem", True), "rmem": ("r_mem", True),
    "tdsk": ("t_dsk", True), "fdsk": ("f_dsk", True), "tcpu": ("pcpu", True),
    "ucpu": ("vcpu", True), "pcnt": ("pcnt", True), "scnt": ("scnt", True),
    "plist": ("primaries", True), "slist": ("secondaries", True),
    "pfmem": ("p_fmem", True), "pfdsk": ("p_fdsk", True), "rcpu": ("r_cpu", True),
    "cload": ("lCpu", True), "mload": ("lMem", True), "dload": ("lDsk", True),
    "nload": ("lNet", True), "ptags": ("PrimaryTags", False), "peermap": ("PeerMap", False),
    "spindle_count": ("NodeSpindles", True), "hi_spindles": ("MaxSpindles", True),
    "inst_spindles": ("InstSpindles", True),
}


def _hs_show(x: float) -> str:
    from gnt.htools.fmt import hs_show_double
    return hs_show_double(float(x))


def node_field(st: ClusterState, k: int, field: str) -> str:
    node = st.cdata.nodes[k]
    um = int(st.unalloc_mem(k))
    if field == "idx":
        return f"{k:4d}"
    if field == "name":
        return node.alias
    if field == "fqdn":
        return node.name
    if field == "status":
        return "-" if st.offline[k] else ("*" if st.fail_n1[k] else " ")
    ints = {"nmem": st.n_mem, "xmem": st.x_mem, "fmem": st.f_mem, "imem": st.i_mem,
            "rmem": st.r_mem, "pcnt": st.n_pri, "scnt": st.n_sec}
    if field in ("pcnt", "scnt"):
        return f"{int(ints[field][k]):3d}"
    if field in ints:
        return f"{int(ints[field][k]):5d}"
    if field == "umem":
        return f"{um:5d}"
    if field == "amem":
        return f"{max(0, um - int(st.r_mem[k])):5d}"
    if field == "tmem":
        return hs_fixed(float(st.t_mem[k]), 0).rjust(5)
    if field == "tdsk":
        return hs_fixed(float(st.t_dsk[k]) / 1024, 0).rjust(5)
    if field == "fdsk":
        return f"{int(st.f_dsk[k]) // 1024:5d}"
    if field == "tcpu":
        return hs_fixed(float(st.t_cpu[k]), 0).rjust(4)
    if field == "ucpu":
        return f"{int(st.u_cpu[k]):4d}"
    if field == "plist":
        return "[" + ",".join(str(i) for i in st.node_pri(k)[::-1]) + "]"
    if field == "slist":
        return "[" + ",".join(str(i) for i in st.node_sec(k)[::-1]) + "]"
    with np.errstate(divide="ignore", invalid="ignore"):
        if field == "pfmem":
            return hs_fixed(float(np.float64(um) / st.t_mem[k]), 4).rjust(6)
        if field == "pfdsk":
            if st.excl[k]:
                v = 1.0 if st.t_sp[k] == 0 else st.f_sp[k] / st.t_sp[k]
            else:
                v = 1.0 if st.t_dsk[k] == 0 else st.f_dsk[k] / st.t_dsk[k]
            return hs_fixed(float(v), 4).rjust(6)
        if field == "rcpu":
            return hs_fixed(float(np.float64(st.u_cpu[k]) / st.t_cpu[k]), 2).rjust(5)
    loads = {"cload": st.ld_c, "mload": st.ld_m, "dload": st.ld_d, "nload": st.ld_n}
    if field in loads:
        return hs_fixed(float(loads[field][k]), 3).rjust(5)
    if field == "ptags":
        vocab = sorted(st.excl_vocab, key=lambda t: st.excl_vocab[t])
        return ",".join(f"{t}={int(st.ptags[k, j])}" for j, t in enumerate(vocab)
                        if st.ptags[k, j] > 0)
    if field == "peermap":
        pairs = [(int(p), int(v)) for p, v in enumerate(st.peers[k]) if v > 0]
        return "[" + ",".join(f"({p},{v})" for p, v in pairs) + "]"
    if field == "spindle_count":
        return str(int(st.t_sp[k]))
    if field == "hi_spindles":
        return _hs_show(st.hi_sp[k])
    if field == "inst_spindles":
        return _hs_show(st.inst_sp[k])
    return "<unknown field>"


def expand_fields(fields: list[str] | None) -> list[str]:
    if not fields:
        return list(DEFAULT_FIELDS)
    if fields[0] == "+":
        return DEFAULT_FIELDS + fields[1:]
    return fields


def print_nodes(st: ClusterState, nodes: np.ndarray, fields: list[str] | None) -> str:
    flds = expand_fields(fields)
    header = [HEADERS.get(f, ("<unknown field>", False))[0] for f in flds]
    isnum = [HEADERS.get(f, ("", False))[1] for f in flds]
    rows = [[node_field(st, int(k), f) for f in flds] for k in sorted(nodes)]
    return print_table("", header, rows, isnum)


def print_instances(st: ClusterState, insts: np.ndarray) -> str:
    cd = st.cdata
    header = ["F", "Name", "Pri_node", "Sec_node", "Auto_bal", "vcpu", "mem", "dsk",
              "lCpu", "lMem", "lDsk", "lNet"]
    rows = []
    for i in sorted(insts):
        inst = cd.instances[i]
        sn = int(st.i_snode[i])
        u = st.i_util[i]
        rows.append(["R" if inst.is_running else " ", inst.name,
                     cd.nodes[int(st.i_pnode[i])].name,
                     "" if sn == NO_SECONDARY else cd.nodes[sn].name,
                     "Y" if inst.auto_balance else "N", f"{inst.vcpus:3d}",
                     f"{inst.mem:5d}", f"{inst.dsk // 1024:5d}",
                     *(hs_fixed(float(x), 3) for x in u)])
    return print_table("", header, rows, [False] * 5 + [True] * 7)
