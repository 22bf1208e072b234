"""Node operations (add/remove a primary/secondary), vectorised with numpy.

These follow Ganeti's ``Node.addPriEx``/``addSecExEx``/``removePri``/
``removeSec`` rule for rule (same checks, same order of soft/hard
checks, same quirks such as free spindles reset to 0 on non-exclusive
nodes).  Every argument may be an array; shapes broadcast, so one call
evaluates an instance against many nodes, or many instances against
many nodes.  A row is a dict of node fields (see
:data:`gnt.htools.state.DYN_FIELDS` and ``STATIC_FIELDS``); instance
attributes are a dict with keys mem, dsk, vcpus, su, spn, uses_mem,
uses_sec_mem, local, online, has_sec, util (tuple of 4 arrays).

Forthcoming instances (``inst["forth"]``, optional) only change the
fields that include forthcoming instances (``*_forth``, tag counts), and
are only checked against those limits, and only by strict adds, as in
Ganeti.

Each op returns ``(new_row, failed)`` where ``failed`` is an integer array:
0 where Ganeti would accept the placement, else the code of the first
failing check (index into :data:`FAIL_MODES` plus one).  Callers combine rows and
failure masks; nothing here mutates its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gnt.htools.types import FailMode

Row = dict[str, Any]

#: Failure codes returned by the add operations (code = position + 1).
FAIL_MODES = [FailMode.MEM, FailMode.DISK, FailMode.CPU, FailMode.N1, FailMode.TAGS,
              FailMode.MIG, FailMode.DISKCOUNT, FailMode.SPINDLES, FailMode.INTERNAL]
_CODE = {m: k + 1 for k, m in enumerate(FAIL_MODES)}


def _first_fail(checks: list[tuple[np.ndarray, FailMode]]) -> np.ndarray:
    """Code of the first true condition (Ganeti checks in this order), 0 if none."""
    out = np.zeros(np.broadcast(*(c for c, _ in checks)).shape, dtype=np.int8)
    for cond, mode in reversed(checks):
        if cond.any() if isinstance(cond, np.ndarray) else cond:
            out = np.where(cond, np.int8(_CODE[mode]), out)
    return out


def _any_fail(checks: list[tuple[np.ndarray, FailMode]]) -> np.ndarray:
    """Whether any condition holds (the failure mask, without the codes)."""
    out: Any = False
    for cond, _ in checks:
        out = out | cond
    return np.asarray(out)


def _any(x: Any) -> bool:
    """``np.any`` without its dispatch overhead (hot path)."""
    return bool(x.any()) if isinstance(x, np.ndarray) else bool(np.any(x))


def unalloc(r: Row, i_mem: np.ndarray) -> np.ndarray:
    return r["t_mem_int"] - r["n_mem"] - i_mem - np.maximum(0, r["x_mem"])


def _new_free_sp(r: Row, spn: np.ndarray, add: bool, f_sp: np.ndarray) -> np.ndarray:
    """``calcNewFreeSpindles``: 0 on non-exclusive nodes; -1 if spindles unknown."""
    if not _any(r["excl"]):
        return np.zeros(np.shape(f_sp), dtype=np.result_type(f_sp, spn))
    if add:
        val = np.where(spn < 0, -1, f_sp - spn)
    else:
        val = np.where(spn < 0, f_sp, f_sp + spn)
    return np.where(r["excl"], val, 0)


def _new_inst_sp(r: Row, inst: Row, add: bool, cur: np.ndarray) -> np.ndarray:
    delta = np.where(inst["local"], inst["su"], 0)
    val = cur + delta if add else cur - delta
    if not _any(r["excl"]):
        return val * 1.0
    return np.where(r["excl"], 0.0, val)


def _copy(r: Row) -> Row:
    return dict(r)


#: Fields a forthcoming instance does not change (they count real instances only).
_REAL_PRI = ("i_mem", "fail_n1", "f_dsk", "f_sp", "inst_sp", "u_cpu", "ld_c", "ld_m", "ld_d",
             "ld_n", "n_pri", "loc_score")
_REAL_SEC = ("f_dsk", "f_sp", "inst_sp", "r_mem", "fail_n1", "ld_d", "n_sec")


def _forth(inst: Row) -> np.ndarray | None:
    f = inst.get("forth")
    if f is None or not _any(f):
        return None
    return np.asarray(f)


def _keep_real(o: Row, r: Row, inst: Row, fields: tuple[str, ...]) -> Row:
    forth = _forth(inst)
    if forth is not None:
        for k in fields:
            o[k] = np.where(forth, r[k], o[k])
    return o


def _codes(inst: Row, real: list, forth_only: list, codes: bool = True) -> np.ndarray:
    """Failure codes (or with ``codes`` false only the failure mask) of the
    checks ``real``; forthcoming instances get those of ``forth_only``."""
    first = _first_fail if codes else _any_fail
    out = first(real)
    forth = _forth(inst)
    if forth is None:
        return out
    out = np.where(forth, first(forth_only), out)
    return out.astype(np.int8) if codes else out


def remove_pri(r: Row, inst: Row, conf_delta: Any, loc_delta: Any) -> Row:
    """Remove a primary; ``conf_delta``/``loc_delta`` are the tag and location
    score decreases (computed by the caller from tag maps)."""
    o = _copy(r)
    local, online = inst["local"], inst["online"]
    o["i_mem"] = r["i_mem"] - np.where(inst["uses_mem"], inst["mem"], 0)
    o["fail_n1"] = unalloc(r, o["i_mem"]) <= r["r_mem"]
    dsk = np.where(local, inst["dsk"], 0)
    o["f_dsk"] = r["f_dsk"] + dsk
    o["f_sp"] = _new_free_sp(r, inst["spn"], False, r["f_sp"])
    o["inst_sp"] = _new_inst_sp(r, inst, False, r["inst_sp"])
    vc = np.where(online, inst["vcpus"], 0)
    o["u_cpu"] = r["u_cpu"] - vc
    u = inst["util"]
    o["ld_c"], o["ld_m"] = r["ld_c"] - u[0], r["ld_m"] - u[1]
    o["ld_d"], o["ld_n"] = r["ld_d"] - u[2], r["ld_n"] - u[3]
    o["n_pri"] = r["n_pri"] - 1
    o["ptag_conf"] = r["ptag_conf"] - conf_delta
    o["loc_score"] = r["loc_score"] - loc_delta
    o["f_mem_forth"] = r["f_mem_forth"] + inst["mem"]
    o["f_dsk_forth"] = r["f_dsk_forth"] + dsk
    o["f_sp_forth"] = _new_free_sp(r, inst["spn"], False, r["f_sp_forth"])
    o["inst_sp_forth"] = _new_inst_sp(r, inst, False, r["inst_sp_forth"])
    o["u_cpu_forth"] = r["u_cpu_forth"] - vc
    return _keep_real(o, r, inst, _REAL_PRI)


def add_pri(r: Row, inst: Row, strict: np.ndarray | bool, conf_add: Any,
            loc_add: Any, codes: bool = True) -> tuple[Row, np.ndarray]:
    """Add a primary (``addPriEx (not strict)``); ``conf_add`` counts the
    instance's exclusion tags already present on the node.  With ``codes``
    false the second result is only the failure mask (bool)."""
    o = _copy(r)
    local, online = inst["local"], inst["online"]
    o["i_mem"] = r["i_mem"] + np.where(inst["uses_mem"], inst["mem"], 0)
    new_free = unalloc(r, o["i_mem"])
    o["fail_n1"] = new_free <= r["r_mem"]
    dsk = np.where(local, inst["dsk"], 0)
    o["f_dsk"] = r["f_dsk"] - dsk
    o["f_sp"] = _new_free_sp(r, inst["spn"], True, r["f_sp"])
    o["inst_sp"] = _new_inst_sp(r, inst, True, r["inst_sp"])
    vc = np.where(online, inst["vcpus"], 0)
    o["u_cpu"] = r["u_cpu"] + vc
    u = inst["util"]
    o["ld_c"], o["ld_m"] = r["ld_c"] + u[0], r["ld_m"] + u[1]
    o["ld_d"], o["ld_n"] = r["ld_d"] + u[2], r["ld_n"] + u[3]
    o["n_pri"] = r["n_pri"] + 1
    o["ptag_conf"] = r["ptag_conf"] + conf_add
    o["loc_score"] = r["loc_score"] + loc_add
    o["f_mem_forth"] = r["f_mem_forth"] - inst["mem"]
    o["f_dsk_forth"] = r["f_dsk_forth"] - dsk
    o["f_sp_forth"] = _new_free_sp(r, inst["spn"], True, r["f_sp_forth"])
    o["inst_sp_forth"] = _new_inst_sp(r, inst, True, r["inst_sp_forth"])
    o["u_cpu_forth"] = r["u_cpu_forth"] + vc
    l_cpu, lo_dsk = r["l_cpu"], r["lo_dsk"]
    # (t_cpu 0 divides by zero: inf/nan compare like Ganeti's Doubles)
    cpu_bad = (l_cpu >= 0) & (l_cpu < o["u_cpu"] / r["t_cpu"])
    cpu_bad_f = (l_cpu >= 0) & (l_cpu < o["u_cpu_forth"] / r["t_cpu"])
    forth_checks = [
        (strict & (o["f_mem_forth"] <= 0), FailMode.MEM),
        (strict & local & (o["f_dsk_forth"] <= 0), FailMode.DISK),
        (strict & local & (o["f_dsk_forth"] < lo_dsk), FailMode.DISK),
        (strict & local & r["excl"] & (o["f_sp_forth"] < 0), FailMode.SPINDLES),
        (strict & local & (o["inst_sp_forth"] > r["hi_sp"]), FailMode.DISK),
        (strict & cpu_bad_f, FailMode.CPU),
    ]
    fails = _codes(inst, [
        (new_free <= 0, FailMode.MEM),
        (local & (o["f_dsk"] <= 0), FailMode.DISK),
        (strict & local & (o["f_dsk"] < lo_dsk), FailMode.DISK),
        (local & r["excl"] & (o["f_sp"] < 0), FailMode.SPINDLES),
        (strict & local & (o["inst_sp"] > r["hi_sp"]), FailMode.DISK),
        (strict & o["fail_n1"] & ~r["fail_n1"], FailMode.MEM),
        (strict & cpu_bad, FailMode.CPU),
        (strict & (conf_add > 0), FailMode.TAGS),
        # the limits including forthcoming instances, checked last
        *forth_checks,
    ], forth_checks, codes)
    return _keep_real(o, r, inst, _REAL_PRI), fails


def remove_sec(r: Row, inst: Row, new_rmem: Any) -> Row:
    """Remove a secondary; ``new_rmem`` is the reserved memory afterwards."""
    o = _copy(r)
    dsk = np.where(inst["local"], inst["dsk"], 0)
    o["f_dsk"] = r["f_dsk"] + dsk
    o["f_sp"] = _new_free_sp(r, inst["spn"], False, r["f_sp"])
    o["inst_sp"] = _new_inst_sp(r, inst, False, r["inst_sp"])
    o["r_mem"] = new_rmem
    o["fail_n1"] = unalloc(r, r["i_mem"]) <= new_rmem
    o["ld_d"] = r["ld_d"] - inst["util"][2]
    o["n_sec"] = r["n_sec"] - 1
    o["f_dsk_forth"] = r["f_dsk_forth"] + dsk
    o["f_sp_forth"] = _new_free_sp(r, inst["spn"], False, r["f_sp_forth"])
    o["inst_sp_forth"] = _new_inst_sp(r, inst, False, r["inst_sp_forth"])
    return _keep_real(o, r, inst, _REAL_SEC)


def add_sec_base(r: Row, inst: Row) -> Row:
    """The part of :func:`add_sec` that does not depend on the peer memory or
    strictness (new disk, spindle, load and count fields); pass it to
    :func:`add_sec` as ``base`` to share it between several adds of the
    same instances to the same nodes."""
    o = _copy(r)
    o["f_dsk"] = r["f_dsk"] - inst["dsk"]
    o["f_sp"] = _new_free_sp(r, inst["spn"], True, r["f_sp"])
    o["inst_sp"] = _new_inst_sp(r, inst, True, r["inst_sp"])
    o["ld_d"] = r["ld_d"] + inst["util"][2]
    o["n_sec"] = r["n_sec"] + 1
    o["f_dsk_forth"] = r["f_dsk_forth"] - inst["dsk"]
    o["f_sp_forth"] = _new_free_sp(r, inst["spn"], True, r["f_sp_forth"])
    o["inst_sp_forth"] = _new_inst_sp(r, inst, True, r["inst_sp_forth"])
    return o


def add_sec(r: Row, inst: Row, strict: np.ndarray | bool, peer_mem: Any,
            ignore_disks: np.ndarray | bool = False, codes: bool = True,
            base: Row | None = None) -> tuple[Row, np.ndarray]:
    """Add a secondary; ``peer_mem`` is the node's current peer entry for the
    instance's (new) primary.  ``base``: :func:`add_sec_base` of the same
    ``r`` and ``inst``; ``codes``: as in :func:`add_pri`."""
    o = _copy(add_sec_base(r, inst) if base is None else base)
    sec_mem = np.where(inst["uses_sec_mem"], inst["mem"], 0)
    new_peem = peer_mem + sec_mem
    old_mem = unalloc(r, r["i_mem"])
    o["r_mem"] = np.maximum(r["r_mem"], new_peem)
    o["fail_n1"] = old_mem <= o["r_mem"]
    lo_dsk = r["lo_dsk"]
    forth_checks = [
        (strict & (o["f_dsk_forth"] <= 0), FailMode.DISK),
        (strict & (o["f_dsk_forth"] < lo_dsk), FailMode.DISK),
        (strict & r["excl"] & (o["f_sp_forth"] < 0), FailMode.SPINDLES),
        (strict & (o["inst_sp_forth"] > r["hi_sp"]), FailMode.DISK),
        (strict & (sec_mem >= r["f_mem_forth"]), FailMode.MEM),
    ]
    fails = _codes(inst, [
        (~inst["has_sec"], FailMode.DISK),
        (~np.asarray(ignore_disks) & (o["f_dsk"] <= 0), FailMode.DISK),
        (strict & (o["f_dsk"] < lo_dsk), FailMode.DISK),
        (r["excl"] & (o["f_sp"] < 0), FailMode.SPINDLES),
        (strict & (o["inst_sp"] > r["hi_sp"]), FailMode.DISK),
        (strict & (sec_mem >= old_mem), FailMode.MEM),
        (strict & o["fail_n1"] & ~r["fail_n1"], FailMode.MEM),
        # the limits including forthcoming instances, checked last
        *forth_checks,
    ], [(strict & ~inst["has_sec"], FailMode.DISK), *forth_checks], codes)
    return _keep_real(o, r, inst, _REAL_SEC), fails
