"""Query filters built from ``gnt-* list`` arguments (Ganeti's ``MakeFilter``).

Plain names become ``["|", ["=", "name", n1], ...]``; names with shell
globs (``*``, ``?``, ``[``) match DNS-name patterns (``inst*`` matches
``inst1`` and ``inst1.example.com``).  A single argument that looks like a
filter expression (or any argument with ``-F``) is parsed with the query
language of :mod:`gnt.query.qlang` (``parse_filter``); with ``-F`` and no
argument (or ``-``) the filter is read from standard input.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Sequence
from typing import IO, Any

from gnt import errors
from gnt.query.qlang import glob_to_regexp, parse_filter

OP_OR = "|"
OP_AND = "&"
OP_NOT = "!"
OP_EQUAL = "="
OP_REGEXP = "=~"
OP_TRUE = "?"

_FILTER_DETECTION_CHARS = frozenset("()=/!~'\"\\<>" + string.whitespace)
_GLOB_DETECTION_CHARS = frozenset("*?[")


def looks_like_filter(text: str) -> bool:
    """True if ``text`` contains characters only a filter expression has."""
    return bool(frozenset(text) & _FILTER_DETECTION_CHARS)


def dns_name_glob_pattern(pattern: str) -> str:
    """Regex for a DNS name glob: ``*`` and ``?`` stay within one name part,
    and ``x`` also matches ``x.domain``."""
    return glob_to_regexp(pattern)


def _filter_part(namefield: str, text: str, isnumeric: bool) -> list[Any]:
    if isnumeric:
        try:
            number = int(text)
        except ValueError:
            raise errors.OpPrereqError(f"Invalid job ID passed: '{text}'",
                                       errors.ECODE_INVAL) from None
        return [OP_EQUAL, namefield, number]
    if frozenset(text) & _GLOB_DETECTION_CHARS:
        return [OP_REGEXP, namefield, dns_name_glob_pattern(text)]
    return [OP_EQUAL, namefield, text]


def make_simple_filter(namefield: str, values: Sequence[str] | None,
                       isnumeric: bool = False) -> list[Any] | None:
    """``["|", [...], ...]`` matching any of ``values`` (None/empty: no filter)."""
    if not values:
        return None
    return [OP_OR] + [_filter_part(namefield, v, isnumeric) for v in values]


def make_filter(args: Sequence[str] | None, force_filter: bool,
                namefield: str | None = None, isnumeric: bool = False,
                stdin: IO[str] | None = None) -> list[Any] | None:
    """The query filter for a list command's arguments (see module doc).

    With ``force_filter`` (``-F``/``--filter``) and no argument, or the single
    argument ``-``, the filter text is read from ``stdin`` (default
    ``sys.stdin``).  Raises :class:`gnt.errors.OpPrereqError` if ``-F`` is
    given with more than one argument, and
    :class:`gnt.errors.QueryFilterParseError` if the filter cannot be parsed.
    """
    if force_filter and (not args or list(args) == ["-"]):
        text = (stdin or sys.stdin).read().strip()
        if not text:
            raise errors.OpPrereqError("No filter given on standard input",
                                       errors.ECODE_INVAL)
        return parse_filter(text)
    if force_filter or (args and len(args) == 1 and looks_like_filter(args[0])):
        if not args or len(args) != 1:
            raise errors.OpPrereqError("Exactly one argument must be given as a filter",
                                       errors.ECODE_INVAL)
        return parse_filter(args[0])
    return make_simple_filter(namefield or "name", args, isnumeric)
