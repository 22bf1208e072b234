"""Writing CLI output and formatting values as Ganeti's commands print them."""

from __future__ import annotations

import errno
import sys
import time
from collections.abc import Iterable
from io import StringIO
from typing import IO, Any

from gnt import constants as C


class OutputClosed(Exception):
    """stdout/stderr went away (broken pipe); the command should exit quietly."""


def _to_stream(stream: IO[str], txt: str, args: tuple[Any, ...]) -> None:
    try:
        stream.write((txt % args) if args else txt)
        stream.write("\n")
        stream.flush()
    except BrokenPipeError:
        raise OutputClosed() from None
    except OSError as err:
        if err.errno == errno.EPIPE:
            raise OutputClosed() from None
        raise


def to_stdout(txt: str, *args: Any) -> None:
    """Print one line on stdout (``txt % args`` when args are given)."""
    _to_stream(sys.stdout, txt, args)


def to_stdout_lines(lines: Iterable[str]) -> None:
    """Print several lines on stdout in one write (a long table: one system
    call, not two per line)."""
    lines = list(lines)
    if lines:
        _to_stream(sys.stdout, "\n".join(lines), ())


def to_stderr(txt: str, *args: Any) -> None:
    """Print one line on stderr (``txt % args`` when args are given)."""
    _to_stream(sys.stderr, txt, args)


def comma_join(items: Iterable[Any]) -> str:
    """``a, b, c`` (Ganeti's ``CommaJoin``)."""
    return ", ".join(str(i) for i in items)


def merge_time(ts: Any) -> float:
    """``[seconds, microseconds]`` (job timestamps) or a number -> float seconds."""
    if isinstance(ts, (list, tuple)) and len(ts) == 2:
        return float(ts[0]) + float(ts[1]) / 1e6
    return float(ts)


def format_time(value: Any, usecs: int | None = None) -> str:
    """Local ``YYYY-MM-DD HH:MM:SS`` (plus ``.uuuuuu`` when ``usecs``); ``N/A``
    for anything that is not a number (Ganeti's ``FormatTime``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "N/A"
    out = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if usecs is not None:
        out += f".{int(usecs):06d}"
    return out


def format_timestamp(ts: Any) -> str:
    """A ``[seconds, microseconds]`` pair as ``YYYY-MM-DD HH:MM:SS.uuuuuu``; ``?``
    if malformed (Ganeti's ``FormatTimestamp``)."""
    if not isinstance(ts, (list, tuple)) or len(ts) != 2:
        return "?"
    return format_time(ts[0], usecs=ts[1])


def safe_encode(text: str) -> str:
    """Escape control and non-ASCII characters (``\\n``, ``\\t``, ``\\xNN``)
    so one log message stays on one line (Ganeti's ``SafeEncode``)."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    out = []
    for char in text:
        code = ord(char)
        if char == "\t":
            out.append(r"\t")
        elif char == "\n":
            out.append(r"\n")
        elif char == "\r":
            out.append(r"\r")
        elif code < 32 or code >= 127:
            out.append(f"\\x{code & 0xff:02x}")
        else:
            out.append(char)
    return "".join(out)


def format_log_message(log_type: str, log_msg: Any) -> str:
    """A job log message for display (non-``message`` types are stringified)."""
    if log_type != C.ELOG_MESSAGE or not isinstance(log_msg, str):
        log_msg = str(log_msg)
    return safe_encode(log_msg)


def format_log_entry(timestamp: Any, log_type: str, log_msg: Any) -> str:
    """``<ctime> <message>``, the line the CLI prints for each job log entry."""
    return f"{time.ctime(merge_time(timestamp))} {format_log_message(log_type, log_msg)}"


# ---------------------------------------------------------------------------
# hierarchical "info" output (Ganeti's PrintGenericInfo; valid YAML)

def _is_scalar(data: Any) -> bool:
    return not isinstance(data, (list, dict, tuple))


def _serialize_generic_info(buf: StringIO, data: Any, level: int,
                            afterkey: bool = False) -> None:
    indent = "  "
    if isinstance(data, dict):
        if not data:
            buf.write("\n")
            return
        doindent = afterkey
        if afterkey:
            buf.write("\n")
        for key in sorted(data):
            if doindent:
                buf.write(indent * level)
            doindent = True
            buf.write(f"{key}: ")
            _serialize_generic_info(buf, data[key], level + 1, afterkey=True)
    elif isinstance(data, list) and data and isinstance(data[0], tuple):
        # ordered dict: (key, value) or (key, value, alignment group)
        doindent = afterkey
        if afterkey:
            buf.write("\n")
        widths: dict[Any, int] = {}
        for entry in data:
            if len(entry) > 2:
                widths[entry[2]] = max(widths.get(entry[2], 0), len(entry[0]))
        for entry in data:
            key, val = entry[0], entry[1]
            if doindent:
                buf.write(indent * level)
            doindent = True
            buf.write(f"{key}: ")
            if len(entry) > 2:
                buf.write(" " * (widths[entry[2]] - len(key)))
            _serialize_generic_info(buf, val, level + 1, afterkey=True)
    elif isinstance(data, tuple) and all(_is_scalar(d) for d in data):
        buf.write(f"[{comma_join(data)}]\n")
    elif isinstance(data, (list, tuple)):
        if not data:
            buf.write("\n")
            return
        doindent = afterkey
        if afterkey:
            buf.write("\n")
        for item in data:
            if doindent:
                buf.write(indent * level)
            doindent = True
            buf.write("- ")
            _serialize_generic_info(buf, item, level + 1)
    else:
        buf.write(f"{data}\n")


def format_generic_info(data: Any) -> str:
    """Render nested data as ``gnt-* info`` does (valid YAML).

    ``data`` is built from dicts (keys sorted), lists of ``(key, value)`` or
    ``(key, value, group)`` tuples (ordered; same-group values aligned),
    lists, tuples of scalars (``[a, b]`` inline) and scalars.
    """
    buf = StringIO()
    _serialize_generic_info(buf, data, 0)
    return buf.getvalue().rstrip("\n")


def print_generic_info(data: Any) -> None:
    """Print :func:`format_generic_info` on stdout."""
    to_stdout(format_generic_info(data))
