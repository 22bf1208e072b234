"""Ganeti's query filter language (ganeti(7), "Query filters"): text -> filter list.

Grammar (keywords are case-sensitive)::

    filter    := or_expr
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | "(" filter ")" | condition
    condition := FIELD ("==" | "!=" | "<" | "<=" | ">" | ">=") VALUE
               | VALUE ["not"] "in" FIELD           (list membership)
               | FIELD ("=~" | "!~") REGEXP          (m/re/flags; delimiters / # ^ |)
               | FIELD ("=*" | "!*") STRING          (shell glob on DNS names)
               | FIELD                                (the field is true)
    VALUE     := STRING (single or double quotes, backslash escapes) | INTEGER

The result is Ganeti's list form: ``["&", ...]``, ``["|", ...]``, ``["!", f]``,
``["?", field]``, ``["=", field, v]``, ``["<", field, v]`` ..., ``["=~", field, re]``,
``["=[]", field, v]``.  ``!=``, ``!~``, ``!*`` and ``not in`` are negations
of ``==``, ``=~``, ``=*`` and ``in``; ``=*`` becomes ``=~`` with the glob's
regular expression.  Regular expression flags: ``i`` (ignore case), ``s``
(``.`` matches newlines).

:func:`parse_filter` raises :class:`gnt.errors.QueryFilterParseError` with
the position of the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gnt import errors

OP_OR = "|"
OP_AND = "&"
OP_NOT = "!"
OP_TRUE = "?"
OP_EQUAL = "="
OP_NOT_EQUAL = "!="
OP_LT = "<"
OP_LE = "<="
OP_GT = ">"
OP_GE = ">="
OP_REGEXP = "=~"
OP_CONTAINS = "=[]"

#: regular expression delimiters after ``m`` (Ganeti's: / # ^ |)
REGEXP_DELIMITERS = "/#^|"
#: regular expression flags and their inline form
REGEXP_FLAGS = {"i": "(?i)", "s": "(?s)"}

_COMPARISONS = {"==": OP_EQUAL, "<": OP_LT, "<=": OP_LE, ">": OP_GT, ">=": OP_GE}
_KEYWORDS = frozenset({"and", "or", "not", "in"})
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_./:+-]*")
_INT_RE = re.compile(r"[-+]?[0-9]+(?![A-Za-z0-9_.])")
_OPERATOR_RE = re.compile(r"==|!=|<=|>=|=~|!~|=\*|!\*|<|>|\(|\)")


@dataclass(frozen=True)
class _Token:
    kind: str  # "op", "word", "string", "int", "regexp", "end"
    value: Any
    pos: int


def _error(text: str, pos: int, what: str) -> errors.QueryFilterParseError:
    return errors.QueryFilterParseError(
        f"Invalid query filter at position {pos + 1} ({what}): {text!r}", errors.ECODE_INVAL)


def _read_string(text: str, pos: int) -> tuple[str, int]:
    quote = text[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _error(text, pos, "unterminated string")


def _read_regexp(text: str, pos: int) -> tuple[str, int]:
    """``m<d>re<d>flags`` starting at ``pos`` (the ``m``); a backslash escapes
    the delimiter, other escapes stay in the expression."""
    delim = text[pos + 1]
    out: list[str] = []
    i = pos + 2
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1] if text[i + 1] == delim else text[i:i + 2])
            i += 2
            continue
        if ch == delim:
            i += 1
            break
        out.append(ch)
        i += 1
    else:
        raise _error(text, pos, "unterminated regular expression")
    flags = ""
    while i < len(text) and text[i].isalpha():
        if text[i] not in REGEXP_FLAGS:
            raise _error(text, i, f"unknown regular expression flag '{text[i]}', allowed: "
                         f"{', '.join(REGEXP_FLAGS)}")
        if text[i] not in flags:
            flags += text[i]
        i += 1
    rx = "".join(REGEXP_FLAGS[f] for f in flags) + "".join(out)
    try:
        re.compile(rx)
    except re.error as err:
        raise _error(text, pos, f"bad regular expression: {err}") from None
    return rx, i


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"":
            value, end = _read_string(text, i)
            tokens.append(_Token("string", value, i))
            i = end
            continue
        if (ch == "m" and i + 1 < len(text) and text[i + 1] in REGEXP_DELIMITERS
                and tokens and tokens[-1].kind == "op" and tokens[-1].value in ("=~", "!~")):
            value, end = _read_regexp(text, i)
            tokens.append(_Token("regexp", value, i))
            i = end
            continue
        m = _OPERATOR_RE.match(text, i)
        if m:
            tokens.append(_Token("op", m.group(), i))
            i = m.end()
            continue
        m = _INT_RE.match(text, i)
        if m:
            tokens.append(_Token("int", int(m.group()), i))
            i = m.end()
            continue
        m = _FIELD_RE.match(text, i)
        if m:
            tokens.append(_Token("word", m.group(), i))
            i = m.end()
            continue
        raise _error(text, i, f"unexpected character {ch!r}")
    tokens.append(_Token("end", None, len(text)))
    return tokens


def glob_to_regexp(pattern: str) -> str:
    """The regular expression of a ``=*`` glob: ``*`` and ``?`` stay within one
    DNS label, and ``name`` also matches ``name.domain``."""
    rx = re.escape(pattern).replace(r"\*", "[^.]*").replace(r"\?", "[^.]")
    return rf"^{rx}(\..*)?$"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self) -> _Token:
        tok = self.peek()
        self.pos += 1
        return tok

    def is_word(self, word: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok.kind == "word" and tok.value == word

    def fail(self, tok: _Token, what: str) -> errors.QueryFilterParseError:
        return _error(self.text, tok.pos, what)

    def parse(self) -> list[Any]:
        if self.peek().kind == "end":
            raise self.fail(self.peek(), "empty filter")
        result = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), f"unexpected {self.peek().value!r}")
        return result

    def _logic(self, word: str, op: str, sub: Any) -> list[Any]:
        items = [sub()]
        while self.is_word(word):
            self.next()
            items.append(sub())
        return items[0] if len(items) == 1 else [op, *items]

    def or_expr(self) -> list[Any]:
        return self._logic("or", OP_OR, self.and_expr)

    def and_expr(self) -> list[Any]:
        return self._logic("and", OP_AND, self.not_expr)

    def not_expr(self) -> list[Any]:
        tok = self.peek()
        if self.is_word("not") and not self.is_word("in", 1):
            self.next()
            return [OP_NOT, self.not_expr()]
        if tok.kind == "op" and tok.value == "(":
            self.next()
            inner = self.or_expr()
            close = self.next()
            if close.kind != "op" or close.value != ")":
                raise self.fail(close, "expected ')'")
            return inner
        return self.condition()

    def field(self) -> str:
        tok = self.next()
        if tok.kind != "word" or tok.value in _KEYWORDS:
            raise self.fail(tok, "expected a field name")
        return str(tok.value)

    def value(self) -> Any:
        tok = self.next()
        if tok.kind not in ("string", "int"):
            raise self.fail(tok, "expected a quoted string or an integer")
        return tok.value

    def condition(self) -> list[Any]:
        tok = self.peek()
        # VALUE [not] in FIELD
        if tok.kind in ("string", "int"):
            value = self.next().value
            negate = False
            if self.is_word("not"):
                self.next()
                negate = True
            if not self.is_word("in"):
                raise self.fail(self.peek(), "expected 'in' after a value")
            self.next()
            cond = [OP_CONTAINS, self.field(), value]
            return [OP_NOT, cond] if negate else cond
        name = self.field()
        op = self.peek()
        if op.kind != "op" or op.value in ("(", ")"):
            return [OP_TRUE, name]
        self.next()
        if op.value in _COMPARISONS:
            return [_COMPARISONS[op.value], name, self.value()]
        if op.value == "!=":
            return [OP_NOT, [OP_EQUAL, name, self.value()]]
        if op.value in ("=~", "!~"):
            rx = self.next()
            if rx.kind != "regexp":
                raise self.fail(rx, "expected a regular expression m/.../")
            cond = [OP_REGEXP, name, rx.value]
            return cond if op.value == "=~" else [OP_NOT, cond]
        if op.value in ("=*", "!*"):
            pattern = self.next()
            if pattern.kind != "string":
                raise self.fail(pattern, "expected a quoted glob pattern")
            cond = [OP_REGEXP, name, glob_to_regexp(str(pattern.value))]
            return cond if op.value == "=*" else [OP_NOT, cond]
        raise self.fail(op, f"unexpected operator {op.value!r}")


def parse_filter(text: str) -> list[Any]:
    """Parse a filter string (see the module doc) into Ganeti's list form.

    Raises :class:`gnt.errors.QueryFilterParseError` (``wrong_input``) on a
    syntax error, naming the position.
    """
    return _Parser(text).parse()


def filter_fields(qfilter: Any) -> set[str]:
    """Field names a list-form filter refers to (operands of every condition)."""
    out: set[str] = set()
    if not isinstance(qfilter, list) or not qfilter:
        return out
    op, args = qfilter[0], qfilter[1:]
    if op in (OP_AND, OP_OR, OP_NOT):
        for sub in args:
            out |= filter_fields(sub)
    elif args and isinstance(args[0], str):
        out.add(args[0])
    return out
