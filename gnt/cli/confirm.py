"""Asking the user before dangerous or multi-object operations (on the tty)."""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Sequence
from typing import IO, Any

from gnt import errors

Choice = tuple[str, Any, str]  # (input letter, return value, description)

_DEFAULT_CHOICES: list[Choice] = [("y", True, "Perform the operation"),
                                  ("n", False, "Do not perform the operation")]


def open_tty(path: str = "/dev/tty") -> IO[str] | None:
    """The controlling terminal (or ``path``) as a read/write text stream;
    None when there is none."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        wfd = os.dup(fd)
    except OSError:
        os.close(fd)
        return None
    # a terminal is not seekable: pair separate reader and writer buffers
    pair = io.BufferedRWPair(io.FileIO(fd, "r"), io.FileIO(wfd, "w"))
    return io.TextIOWrapper(pair, encoding="utf-8", errors="replace",  # type: ignore[type-var]
                            line_buffering=True)


def ask_user(text: str, choices: Sequence[Choice] | None = None,
             tty: IO[str] | None = None) -> Any:
    """Ask ``text`` on the terminal and return the chosen value.

    ``choices`` are ``(letter, value, description)`` (default yes/no, ``?``
    is reserved for help).  Without a terminal the last choice's value is
    returned (the safe answer), as Ganeti does.  ``tty`` may be given (tests).
    """
    choices = list(choices or _DEFAULT_CHOICES)
    if not choices or any(len(c) < 3 or c[0] == "?" for c in choices):
        raise errors.ProgrammerError("Invalid choices for ask_user")
    answer = choices[-1][1]
    text = "\n".join(textwrap.fill(line, 70, replace_whitespace=False)
                     for line in text.splitlines())
    stream = tty if tty is not None else open_tty()
    if stream is None:
        return answer
    try:
        letters = [c[0] for c in choices]
        letters[-1] = f"[{letters[-1]}]"
        letters.append("?")
        values = {c[0]: c[1] for c in choices}
        while True:
            stream.write(f"{text}\n{'/'.join(letters)}: ")
            stream.flush()
            line = stream.readline()
            if not line:  # EOF: keep the safe default
                break
            reply = line.strip().lower()
            if reply in values:
                answer = values[reply]
                break
            if reply == "?":
                for letter, _, desc in choices:
                    stream.write(f" {letter} - {desc}\n")
                stream.write("\n")
    finally:
        if tty is None:
            stream.close()
    return answer


def confirm_operation(names: Sequence[str], list_type: str, text: str, extra: str = "",
                      tty: IO[str] | None = None) -> bool:
    """Ask to confirm ``text`` (e.g. "shutdown") on ``names`` (e.g. instances).

    Lists the affected objects (above 20 of them, offers ``v`` to view the
    list first).  Returns True only on an explicit yes.
    """
    count = len(names)
    msg = (f"The {text} will operate on {count} {list_type}.\n{extra}"
           "Do you want to continue?")
    affected = f"\nAffected {list_type}:\n" + "\n".join(f"  {n}" for n in names)
    choices: list[Choice] = [("y", True, f"Yes, execute the {text}"),
                             ("n", False, f"No, abort the {text}")]
    if count > 20:
        choices.insert(1, ("v", "v", f"View the list of affected {list_type}"))
        question = msg
    else:
        question = msg + affected
    choice = ask_user(question, choices, tty=tty)
    if choice == "v":
        choices.pop(1)
        choice = ask_user(msg + affected, choices, tty=tty)
    return choice is True
