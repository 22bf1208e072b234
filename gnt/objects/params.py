"""Parameter families: checking, coercion and filling (inheritance).

A parameter dict maps names to values.  Each family (hvparams, beparams,
nicparams, ndparams, diskparams) has a table ``name -> kind`` (see
:mod:`gnt.constants` ``VTYPE_*``) used to reject unknown names and coerce
values given as strings on the command line or RAPI.  Filling follows
Ganeti: the more specific dict overrides the more general one, key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.units import parse_unit

_TRUE = {"yes", "true", "on", "1", "y", "t"}
_FALSE = {"no", "false", "off", "0", "n", "f"}


def fill_dict(defaults: Mapping[str, Any], custom: Mapping[str, Any] | None,
              skip_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """``defaults`` overridden by ``custom``; ``skip_keys`` removed from the result."""
    out = dict(defaults)
    if custom:
        out.update(custom)
    for k in skip_keys:
        out.pop(k, None)
    return out


def coerce_value(family: str, name: str, kind: str, value: Any) -> Any:
    """Coerce one value to ``kind``.

    Raises :class:`errors.ParameterError` naming ``family`` and ``name``.
    """
    def bad(why: str) -> errors.ParameterError:
        return errors.ParameterError(
            f"Invalid value {value!r} for {family} parameter '{name}': {why}",
            errors.ECODE_INVAL)

    if kind == C.VTYPE_BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE:
            return True
        if isinstance(value, str) and value.lower() in _FALSE:
            return False
        raise bad("expected a boolean (yes/no, true/false)")
    if kind == C.VTYPE_SIZE:
        try:
            size = parse_unit(value)
        except errors.ParameterError as err:
            raise bad(str(err)) from None
        return size
    if kind == C.VTYPE_INT:
        if isinstance(value, bool):
            raise bad("expected an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad("expected an integer") from None
    if kind == C.VTYPE_FLOAT:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad("expected a number") from None
    if kind in (C.VTYPE_STRING, C.VTYPE_MAYBE_STRING):
        if value is None and kind == C.VTYPE_MAYBE_STRING:
            return None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad("expected a string")
    raise errors.ProgrammerError(f"unknown parameter kind {kind!r}")


def check_params(family: str, types: Mapping[str, str], params: Mapping[str, Any],
                 allow_default: bool = False) -> dict[str, Any]:
    """Check names and coerce values of ``params`` against ``types``.

    ``allow_default``: a value of ``"default"`` (or None) stays in the result as
    ``None``, meaning "remove the override" (Ganeti's ``modify`` semantics).
    Returns a new dict; raises :class:`errors.ParameterError` on the first
    unknown name or bad value, listing what is allowed.
    """
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in types:
            allowed = ", ".join(sorted(types)) or "none"
            raise errors.ParameterError(
                f"Unknown {family} parameter '{name}'; allowed: {allowed}",
                errors.ECODE_INVAL)
        if allow_default and (value is None or value == C.VALUE_DEFAULT):
            out[name] = None
            continue
        out[name] = coerce_value(family, name, types[name], value)
    return out


def apply_update(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into ``current``; ``None`` values remove the key."""
    out = dict(current)
    for k, v in update.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def upgrade_beparams(params: Mapping[str, Any]) -> dict[str, Any]:
    """Translate the legacy ``memory`` beparam into ``maxmem``/``minmem``."""
    out = dict(params)
    if C.BE_MEMORY in out:
        mem = out.pop(C.BE_MEMORY)
        out.setdefault(C.BE_MAXMEM, mem)
        out.setdefault(C.BE_MINMEM, mem)
    return out
