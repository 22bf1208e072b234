"""Table output of ``gnt-* list`` and ``list-fields``, as Ganeti prints it.

Without a separator, columns are as wide as their widest cell (header
included) and joined by one space; numeric columns are right-aligned, the
others left-aligned, and a left-aligned last column is not padded.  With
``--separator`` cells are joined by the separator, unpadded.  Sizes (unit
fields) print human-readable (``h``) by default, in MiB (``m``) when a
separator is given, or as chosen with ``--units``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from gnt.cli.errfmt import EXIT_UNKNOWN_FIELD
from gnt.cli.output import format_time, merge_time, to_stderr, to_stdout_lines
from gnt.luxi import protocol as P
from gnt.units import format_unit

#: overall status of a formatted query (Ganeti's QR_*)
QR_NORMAL = 0
QR_UNKNOWN = 1  # some requested field is unknown
QR_INCOMPLETE = 2  # some value could not be obtained

#: user-facing names of field kinds (``list-fields`` Type column)
QFT_NAMES = {
    P.QFT_UNKNOWN: "Unknown",
    P.QFT_TEXT: "Text",
    P.QFT_BOOL: "Boolean",
    P.QFT_NUMBER: "Number",
    P.QFT_NUMBER_FLOAT: "Floating-point number",
    P.QFT_UNIT: "Storage size",
    P.QFT_TIMESTAMP: "Timestamp",
    P.QFT_OTHER: "Custom",
}

Formatter = Callable[[Any], str]
#: field name -> (format function, align right)
FormatOverride = Mapping[str, tuple[Formatter, bool]]


def _default_units(units: str | None, separator: str | None) -> str:
    if units:
        return units
    return "m" if separator else "h"


class _FieldSet:
    """Field names or anchored regular expressions (``disk.size/[0-9]+``)."""

    def __init__(self, items: Iterable[str]) -> None:
        self._res = [re.compile(f"^{item}$") for item in items]

    def matches(self, field: str) -> bool:
        return any(r.match(field) for r in self._res)


def generate_table(headers: Mapping[str, str] | None, fields: Sequence[str],
                   separator: str | None, data: Sequence[Sequence[Any] | None],
                   numfields: Iterable[str] = (), unitfields: Iterable[str] = (),
                   units: str | None = None) -> list[str]:
    """Lines of a table (Ganeti's ``GenerateTable``).

    ``headers`` maps field name -> title (``None``: no header line);
    ``data`` rows hold one value per field (a ``None`` row prints ``-``
    everywhere); ``numfields``/``unitfields`` are field names or anchored
    regexes; unit fields hold MiB and are formatted with ``units`` (h/m/g/t).
    """
    unit = _default_units(units, separator)
    nums = _FieldSet(numfields)
    unitset = _FieldSet(unitfields)
    rows: list[list[str]] = []
    for row in data:
        if row is None:
            rows.append(["-" for _ in fields])
            continue
        out = []
        for idx, val in enumerate(row):
            if unitset.matches(fields[idx]) and not isinstance(val, bool):
                try:
                    val = format_unit(int(val), unit)
                except (TypeError, ValueError):
                    pass
            out.append(str(val))
        rows.append(out)
    columns = [TableColumn(str(headers.get(f, f)) if headers else f, str, nums.matches(f))
               for f in fields]
    return format_table(rows, columns, headers is not None and bool(headers), separator)


class TableColumn(NamedTuple):
    """A column for :func:`format_table`: title, cell formatter, alignment."""

    title: str
    format: Formatter
    align_right: bool


def format_table(rows: Iterable[Sequence[Any]], columns: Sequence[TableColumn],
                 header: bool, separator: str | None) -> list[str]:
    """Format ``rows`` (one value per column, formatted by the column) as lines."""
    data: list[list[str]] = [[c.title for c in columns]] if header else []
    widths = [len(c.title) if header else 0 for c in columns]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row has {len(row)} cells, expected {len(columns)}")
        cells = [col.format(value) for value, col in zip(row, columns)]
        for idx, cell in enumerate(cells):
            widths[idx] = max(widths[idx], len(cell))
        data.append(cells)
    if separator is not None:
        return [separator.join(cells) for cells in data]
    if columns and not columns[-1].align_right:
        widths[-1] = 0  # no trailing spaces
    lines = []
    for cells in data:
        parts = [cell.rjust(w) if col.align_right else cell.ljust(w)
                 for cell, w, col in zip(cells, widths, columns)]
        lines.append(" ".join(parts))
    return lines


# ---------------------------------------------------------------------------
# LUXI query results


def _format_bool(value: Any) -> str:
    return "Y" if value else "N"


def _format_timestamp(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            return format_time(merge_time(value))
        except (TypeError, ValueError):
            return str(value)
    return format_time(value)


def _format_other(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


_DEFAULT_FORMAT: dict[str, tuple[Formatter, bool]] = {
    P.QFT_TEXT: (str, False),
    P.QFT_BOOL: (_format_bool, False),
    P.QFT_NUMBER: (str, True),
    P.QFT_NUMBER_FLOAT: (str, True),
    P.QFT_TIMESTAMP: (_format_timestamp, False),
    P.QFT_OTHER: (_format_other, False),
    P.QFT_UNKNOWN: (str, False),
}


def column_formatter(fdef: Mapping[str, Any], override: FormatOverride | None,
                     unit: str) -> tuple[Formatter, bool]:
    """Formatter and alignment for one field definition."""
    if override and fdef["name"] in override:
        return override[fdef["name"]]
    kind = fdef.get("kind", P.QFT_UNKNOWN)
    if kind == P.QFT_UNIT:
        return (lambda value: format_unit(value, unit)), True
    return _DEFAULT_FORMAT.get(kind, (str, False))


def format_result_error(status: int, verbose: bool) -> str:
    """Text for an abnormal field status: ``??`` unknown, ``?`` no data,
    ``-`` unavailable, ``*`` offline (verbose: ``(unknown)`` ...)."""
    try:
        verbose_text, terse = P.RSS_DESCRIPTION[status]
    except KeyError:
        raise ValueError(f"Unknown result status {status}") from None
    return verbose_text if verbose else terse


def format_query_result(response: Mapping[str, Any], unit: str | None = None,
                        format_override: FormatOverride | None = None,
                        separator: str | None = None, header: bool = False,
                        verbose: bool = False) -> tuple[int, list[str]]:
    """Format a LUXI ``Query`` answer; return ``(status, lines)``.

    ``status`` is :data:`QR_UNKNOWN` if a field is unknown,
    :data:`QR_INCOMPLETE` if some value was unavailable, else
    :data:`QR_NORMAL`.
    """
    unit = _default_units(unit, separator)
    fields = list(response["fields"])
    counts = dict.fromkeys(P.RS_ALL, 0)

    def cell(fmt: Formatter, verb: bool) -> Formatter:
        def run(data: Any) -> str:
            status, value = data
            if status in counts:
                counts[status] += 1
            if status == P.RS_NORMAL:
                return fmt(value)
            return format_result_error(status, verb)
        return run

    columns = []
    for fdef in fields:
        fmt, right = column_formatter(fdef, format_override, unit)
        columns.append(TableColumn(fdef.get("title") or fdef["name"], cell(fmt, verbose), right))
    lines = format_table(response["data"], columns, header, separator)
    if counts[P.RS_UNKNOWN] or (not response["data"] and unknown_fields(fields)):
        status = QR_UNKNOWN
    elif any(n for st, n in counts.items() if st != P.RS_NORMAL):
        status = QR_INCOMPLETE
    else:
        status = QR_NORMAL
    return status, lines


def unknown_fields(fields: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the fields of kind ``unknown``."""
    return [f["name"] for f in fields if f.get("kind") == P.QFT_UNKNOWN]


def warn_unknown_fields(fields: Iterable[Mapping[str, Any]]) -> bool:
    """Print ``Warning: Queried for unknown fields ...`` on stderr if any."""
    unknown = unknown_fields(fields)
    if unknown:
        to_stderr("Warning: Queried for unknown fields %s", ", ".join(unknown))
        return True
    return False


def generic_list(client: Any, resource: str, fields: Sequence[str], names: Sequence[str],
                 unit: str | None, separator: str | None, header: bool,
                 format_override: FormatOverride | None = None, verbose: bool = False,
                 force_filter: bool = False, namefield: str | None = None,
                 qfilter: Any = None, isnumeric: bool = False) -> int:
    """Run a ``list`` command: query ``resource`` over LUXI and print the table.

    ``names`` (command arguments) select items by name, with shell-style
    globs (``inst*``); with ``force_filter`` (``-F``) the single argument is
    a query filter.  Returns the exit code (14 for unknown fields).
    """
    from gnt.cli.qfilter import make_filter

    namefilter = make_filter(list(names) or None, force_filter, namefield=namefield,
                             isnumeric=isnumeric)
    if qfilter is None:
        qfilter = namefilter
    elif namefilter is not None:
        qfilter = ["&", namefilter, qfilter]
    response = client.query(resource, list(fields), qfilter)
    found_unknown = warn_unknown_fields(response["fields"])
    # many small lists and no garbage cycles: the collector would only cost time
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        status, lines = format_query_result(response, unit=unit, separator=separator,
                                            header=header, format_override=format_override,
                                            verbose=verbose)
    finally:
        if gc_enabled:
            gc.enable()
    to_stdout_lines(lines)
    if status == QR_UNKNOWN or found_unknown:
        return EXIT_UNKNOWN_FIELD
    return 0


def format_field_list(fields: Iterable[Mapping[str, Any]], separator: str | None,
                      header: bool) -> list[str]:
    """``list-fields`` lines: Name, Type, Title, Description."""
    rows = [[f["name"], QFT_NAMES.get(f.get("kind", ""), f.get("kind", "")),
             f.get("title", ""), f.get("doc", "")] for f in fields]
    columns = [TableColumn(t, str, False) for t in ("Name", "Type", "Title", "Description")]
    return format_table(rows, columns, header, separator)


def generic_list_fields(client: Any, resource: str, fields: Sequence[str] | None,
                        separator: str | None, header: bool) -> int:
    """Run a ``list-fields`` command; returns the exit code (14 if any of the
    requested fields is unknown)."""
    response = client.query_fields(resource, list(fields) if fields else None)
    found_unknown = warn_unknown_fields(response["fields"])
    to_stdout_lines(format_field_list(response["fields"], separator, header))
    return EXIT_UNKNOWN_FIELD if found_unknown else 0
