"""Sizes with units, as Ganeti's CLI reads and prints them (MiB based)."""

from __future__ import annotations

import re
from typing import Any

from gnt import errors

_UNIT_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
_FACTORS = {"": 1, "m": 1, "mb": 1, "mib": 1, "g": 1024, "gb": 1024, "gib": 1024,
            "t": 1024 * 1024, "tb": 1024 * 1024, "tib": 1024 * 1024}


def parse_unit(value: Any) -> int:
    """Parse a size into MiB: ``512``, ``"512"``, ``"512M"``, ``"4G"``, ``"1.5T"``.

    Strings are rounded up to a whole MiB and then to a multiple of 4 MiB, as
    Ganeti's ``ParseUnit`` does; integers are taken as MiB unchanged.
    Raises :class:`errors.ParameterError` for negative, malformed or
    unknown-unit values.
    """
    if isinstance(value, bool):
        raise errors.ParameterError(f"Invalid size {value!r}", errors.ECODE_INVAL)
    if isinstance(value, int):
        if value < 0:
            raise errors.ParameterError(f"Negative size {value}", errors.ECODE_INVAL)
        return value
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str):
        raise errors.ParameterError(f"Invalid size {value!r}", errors.ECODE_INVAL)
    if value.strip().startswith("-"):
        raise errors.ParameterError(f"Negative size {value!r}", errors.ECODE_INVAL)
    m = _UNIT_RE.match(value)
    if not m:
        raise errors.ParameterError(
            f"Invalid size {value!r}: expected a number with an optional unit "
            "(M, G or T; MiB by default)", errors.ECODE_INVAL)
    number, unit = m.groups()
    factor = _FACTORS.get(unit.lower())
    if factor is None:
        raise errors.ParameterError(
            f"Unknown unit {unit!r} in size {value!r}; allowed: M, G, T (MiB if none)",
            errors.ECODE_INVAL)
    result = float(number) * factor
    rounded = int(result)
    if rounded < result:
        rounded += 1
    if rounded % 4:
        rounded += 4 - rounded % 4
    return rounded


def format_unit(value_mib: float, units: str) -> str:
    """Format a size in MiB for output, as Ganeti's ``FormatUnit``.

    ``units``: ``h`` (human: M/G/T with one decimal), or one of
    ``m``/``g``/``t`` (fixed, no suffix, as with ``--units``).
    """
    u = units.lower() if units else "h"
    if u not in ("h", "m", "g", "t"):
        raise errors.ProgrammerError(f"Invalid unit {units!r}; expected h, m, g or t")
    if u == "m" or (u == "h" and value_mib < 1024):
        out = f"{int(round(value_mib))}"
        return out + ("M" if u == "h" else "")
    if u == "g" or (u == "h" and value_mib < 1024 * 1024):
        out = f"{value_mib / 1024.0:.1f}"
        return out + ("G" if u == "h" else "")
    out = f"{value_mib / 1024.0 / 1024.0:.1f}"
    return out + ("T" if u == "h" else "")
