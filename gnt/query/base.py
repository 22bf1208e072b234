"""Field definitions and query evaluation (Ganeti's query2 model).

A resource (``instance``, ``node``, ``os``, ...) defines :class:`FieldDef`
objects; a query selects fields, filters items with a qlang filter and
returns Ganeti's ``QueryResponse``: ``{"fields": [field descriptions],
"data": [[[status, value], ...], ...]}``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gnt import errors

# field kinds and result statuses: one definition, in gnt.constants
from gnt.constants import (  # noqa: F401 - re-exported
    QFT_ALL,
    QFT_BOOL,
    QFT_NUMBER,
    QFT_NUMBER_FLOAT,
    QFT_OTHER,
    QFT_TEXT,
    QFT_TIMESTAMP,
    QFT_UNIT,
    QFT_UNKNOWN,
    RS_ALL,
    RS_NODATA,
    RS_NORMAL,
    RS_OFFLINE,
    RS_UNAVAIL,
    RS_UNKNOWN,
)


class Unavailable(Exception):
    """Raised by a getter: the value is unavailable (e.g. node down)."""

    def __init__(self, status: int = RS_UNAVAIL) -> None:
        super().__init__(status)
        self.status = status


class Status:
    """A getter's result when there is no value: the result status alone.

    Getters on hot paths return :data:`UNAVAIL` (or another ``Status``)
    instead of raising :class:`Unavailable`; both mean the same.
    """

    __slots__ = ("status",)

    def __init__(self, status: int) -> None:
        self.status = status

    def __repr__(self) -> str:
        return f"Status({self.status})"


UNAVAIL = Status(RS_UNAVAIL)
NODATA = Status(RS_NODATA)
OFFLINE = Status(RS_OFFLINE)


@dataclass(frozen=True)
class FieldDef:
    """One field: ``getter(ctx, item)`` returns the value or raises Unavailable."""

    name: str
    title: str
    kind: str
    doc: str
    getter: Callable[[Any, Any], Any]

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "kind": self.kind, "doc": self.doc}


class FieldTable:
    """The fields of one resource, with optional dynamic families (``hv/<param>``).

    ``dynamic(name)`` defines a parametrised field on demand (None: unknown);
    ``listed()`` names the parametrised fields :meth:`all` (``list-fields``)
    shows besides the fixed ones.  Dynamic definitions are cached.
    """

    def __init__(self, fields: Iterable[FieldDef],
                 dynamic: Callable[[str], FieldDef | None] | None = None,
                 listed: Callable[[], Iterable[str]] | None = None) -> None:
        self._fields = {f.name: f for f in fields}
        self._dynamic = dynamic
        self._listed = listed
        self._cache: dict[str, FieldDef] = {}

    def get(self, name: str) -> FieldDef | None:
        f = self._fields.get(name)
        if f is None and self._dynamic is not None:
            f = self._cache.get(name)
            if f is None:
                f = self._dynamic(name)
                if f is not None:  # a bounded set: unknown names are not kept
                    self._cache[name] = f
        return f

    def all(self) -> list[FieldDef]:
        out = list(self._fields.values())
        if self._listed is not None:
            out += [f for f in (self.get(n) for n in self._listed()) if f is not None]
        return sorted(out, key=lambda f: f.name)

    def describe(self, names: list[str] | None) -> list[dict[str, str]]:
        if not names:
            return [f.describe() for f in self.all()]
        out = []
        for n in names:
            f = self.get(n)
            out.append(f.describe() if f else _unknown(n).describe())
        return out


def _unknown(name: str) -> FieldDef:
    def getter(ctx: Any, item: Any) -> Any:
        raise Unavailable(RS_UNKNOWN)
    return FieldDef(name, name, QFT_UNKNOWN, "Unknown field", getter)


def run_query(table: FieldTable, names: list[str], ctx: Any, items: Iterable[Any],
              qfilter: Any = None) -> dict[str, Any]:
    """Evaluate a query; returns Ganeti's ``QueryResponse`` dict."""
    fields = [table.get(n) or _unknown(n) for n in names]
    getters = [f.getter for f in fields]
    pred = compile_filter(qfilter, table) if qfilter else None
    # the answer is many small lists: without this the cyclic garbage collector
    # runs dozens of times over the whole config while they are made
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        data = _rows(getters, pred, ctx, items)
    finally:
        if gc_enabled:
            gc.enable()
    return {"fields": [f.describe() for f in fields], "data": data}


def _rows(getters: list[Callable[[Any, Any], Any]], pred: Callable[[Any, Any], bool] | None,
          ctx: Any, items: Iterable[Any]) -> list[list[list[Any]]]:
    data = []
    for item in items:
        if pred is not None and not pred(ctx, item):
            continue
        row: list[list[Any]] = []
        append = row.append
        for getter in getters:
            try:
                value = getter(ctx, item)
            except Unavailable as u:
                append([u.status, None])
                continue
            if type(value) is Status:
                append([value.status, None])
            else:
                append([RS_NORMAL, value])
        data.append(row)
    return data


# --- qlang filters (Ganeti's list form: ["&", f1, f2], ["=", "name", "x"], ...) ---

def compile_filter(flt: Any, table: FieldTable) -> Callable[[Any, Any], bool]:
    """Compile a qlang filter; raises :class:`errors.QueryFilterParseError`."""
    if not isinstance(flt, list) or not flt:
        raise errors.QueryFilterParseError(f"Invalid filter {flt!r}: expected a list")
    op, args = flt[0], flt[1:]
    if op in ("&", "|"):
        subs = [compile_filter(a, table) for a in args]
        if op == "&":
            return lambda c, i: all(s(c, i) for s in subs)
        return lambda c, i: any(s(c, i) for s in subs)
    if op == "!":
        if len(args) != 1:
            raise errors.QueryFilterParseError("'!' takes exactly one operand")
        sub = compile_filter(args[0], table)
        return lambda c, i: not sub(c, i)
    if op == "?":
        field = _field(args, 1, table)
        return lambda c, i: bool(_value(field, c, i))
    if op in ("=", "==", "!=", "<", ">", "<=", ">=", "=~", "=[]"):
        field = _field(args, 2, table)
        ref = args[1]
        if op == "=~":
            if not isinstance(ref, str):
                raise errors.QueryFilterParseError(
                    f"Invalid regular expression {ref!r}: expected a string")
            try:
                rx = re.compile(ref)
            except re.error as err:
                raise errors.QueryFilterParseError(
                    f"Invalid regular expression '{ref}': {err}") from None

            def rx_pred(c: Any, i: Any) -> bool:
                v = _value(field, c, i)  # an unavailable value matches as ""
                return rx.search(v if isinstance(v, str) else str(v or "")) is not None
            return rx_pred
        if op == "=[]":
            def contains(c: Any, i: Any) -> bool:
                v = _value(field, c, i)
                return isinstance(v, (list, tuple, set, frozenset, dict)) and ref in v
            return contains
        cmp = _COMPARE[op]
        if op in ("=", "==") and isinstance(ref, str) and field.name in HOSTNAME_FIELDS:
            # host names may be given short ("inst1" for "inst1.example.com"), as in Ganeti
            return lambda c, i: _name_matches(str(_value(field, c, i) or ""), ref)

        def pred(c: Any, i: Any) -> bool:
            v = _value(field, c, i)
            if v is None:
                return op == "!="
            try:
                return bool(cmp(v, ref))
            except TypeError:
                return False
        return pred
    raise errors.QueryFilterParseError(f"Unknown filter operator {op!r}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b), "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b), "<": lambda a, b: bool(a < b),
    ">": lambda a, b: bool(a > b), "<=": lambda a, b: bool(a <= b),
    ">=": lambda a, b: bool(a >= b),
}

#: fields holding a host name: ``=`` also accepts the short name
HOSTNAME_FIELDS = frozenset({"name", "pnode"})


def _name_matches(name: str, ref: str) -> bool:
    return name == ref or name.startswith(ref + ".")


def _field(args: list[Any], count: int, table: FieldTable) -> FieldDef:
    if len(args) != count or not isinstance(args[0], str):
        raise errors.QueryFilterParseError(f"Invalid filter operands {args!r}")
    f = table.get(args[0])
    if f is None:
        raise errors.QueryFilterParseError(f"Unknown field '{args[0]}' in filter")
    return f


def _value(field: FieldDef, ctx: Any, item: Any) -> Any:
    try:
        value = field.getter(ctx, item)
    except Unavailable:
        return None
    return None if type(value) is Status else value


def names_filter(names: list[str], field: str = "name") -> list[Any] | None:
    """Filter selecting items by name (``gnt-* list NAME...``)."""
    if not names:
        return None
    return ["|"] + [["=", field, n] for n in names]
