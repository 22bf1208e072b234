"""Number formatting and tables exactly as Ganeti's Haskell tools print them.

Haskell's ``printf "%.Nf"`` rounds the shortest decimal representation of
a double, an exact half to even (C rounds the binary value), ``show`` on a
``Double`` switches to exponent notation outside [0.1, 10^7), and
``printTable`` pads every column.  Byte-for-byte compatible output needs
these rules, so they live here once.
"""

from __future__ import annotations

import math
from decimal import Decimal


def _digits(x: float) -> tuple[list[int], int]:
    """Shortest digits and exponent of ``abs(x)``: value = 0.d1d2... * 10^e."""
    if x == 0:
        return [0], 0
    t = Decimal(repr(abs(float(x)))).as_tuple()
    ds = list(t.digits)
    exp = int(t.exponent) + len(ds)
    while len(ds) > 1 and ds[-1] == 0:
        ds.pop()
    return ds, exp


def _round_to(ndigits: int, ds: list[int]) -> tuple[int, list[int]]:
    """GHC's ``roundTo``: keep ``ndigits`` digits; an exact half rounds to even."""
    if ndigits < 0:
        return 0, [0]
    if len(ds) <= ndigits:
        return 0, ds + [0] * (ndigits - len(ds))
    kept = ds[:ndigits]
    rest = ds[ndigits:]
    prev_even = (kept[-1] % 2 == 0) if kept else True
    if rest[0] == 5 and all(d == 0 for d in rest[1:]) and prev_even:
        carry = 0
    else:
        carry = 1 if rest[0] >= 5 else 0
    out = []
    for d in reversed(kept):
        v = d + carry
        carry, v = (1, 0) if v == 10 else (0, v)
        out.append(v)
    out.reverse()
    if carry:
        return 1, [1] + out
    return 0, out


def hs_fixed(x: float, prec: int | None = None) -> str:
    """``printf "%.<prec>f"`` (or ``showFFloat Nothing`` when ``prec`` is None)."""
    if math.isnan(x):
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    sign = "-" if x < 0 or (x == 0 and str(x).startswith("-")) else ""
    ds, e = _digits(x)
    if prec is None:
        if e <= 0:
            body = "0." + "0" * (-e) + "".join(map(str, ds))
        else:
            ip = ds[:e] + [0] * max(0, e - len(ds))
            fp = ds[e:] or [0]
            body = "".join(map(str, ip)) + "." + "".join(map(str, fp))
        return sign + body
    if e <= 0:
        ei, is_ = _round_to(prec, [0] * (-e) + ds)
        digits = is_[1:] if ei else is_
        body = ("1" if ei else "0") + ("." + "".join(map(str, digits)) if prec > 0 else "")
    else:
        ei, is_ = _round_to(prec + e, ds)
        cut = e + ei
        int_part = "".join(map(str, is_[:cut])) or "0"
        frac = "".join(map(str, is_[cut:]))
        body = int_part + ("." + frac if frac else "")
    if sign and set(body) <= {"0", "."}:
        sign = "-"  # Haskell keeps the sign of tiny negative values
    return sign + body


def hs_show_double(x: float) -> str:
    """Haskell's ``show`` for a ``Double`` (e.g. ``4.0``, ``1.0e-2``, ``NaN``)."""
    if math.isnan(x) or math.isinf(x):
        return hs_fixed(x)
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    sign = "-" if x < 0 else ""
    ds, e = _digits(x)
    if 0.1 <= abs(x) < 10 ** 7:
        return sign + hs_fixed(abs(x))
    mant = str(ds[0]) + "." + ("".join(map(str, ds[1:])) or "0")
    return f"{sign}{mant}e{e - 1}"


def hs_general(x: float, prec: int) -> str:
    """``printf "%.<prec>g"`` as Haskell's printf does it."""
    if x == 0 or 0.1 <= abs(x) < 10 ** 7:
        return hs_fixed(x, prec)
    sign = "-" if x < 0 else ""
    ds, e = _digits(x)
    ei, is_ = _round_to(prec + 1, ds)
    if ei:
        is_ = is_[:-1]
        e += 1
    mant = str(is_[0]) + ("." + "".join(map(str, is_[1:])) if prec > 0 else "")
    return f"{sign}{mant}e{e - 1}"


def format_table(rows: list[list[str]], isnum: list[bool]) -> list[list[str]]:
    """Pad every column to its widest cell: numbers right, text left."""
    if not rows:
        return rows
    ncols = max(len(r) for r in rows)
    widths = [max(len(r[c]) for r in rows if c < len(r)) for c in range(ncols)]
    out = []
    for r in rows:
        cells = []
        for c, val in enumerate(r):
            num = isnum[c] if c < len(isnum) else True
            cells.append(val.rjust(widths[c]) if num else val.ljust(widths[c]))
        out.append(cells)
    return out


def print_table(prefix: str, header: list[str], rows: list[list[str]],
                isnum: list[bool]) -> str:
    """Ganeti's ``printTable``: each line is prefix, a space, cells joined by spaces."""
    table = format_table([header] + rows, isnum)
    return "".join(prefix + " " + " ".join(cells) + "\n" for cells in table)
