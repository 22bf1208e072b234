"""Logging set-up for daemons: a log file in Ganeti's place, optional stderr."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from gnt import errors


def log_format(program: str, debug: bool) -> str:
    """Ganeti's line shape: ``<time>: <program> pid=<pid> <LEVEL> <message>``."""
    where = " %(module)s:%(lineno)s" if debug else ""
    return f"%(asctime)s: {program} pid=%(process)d{where} %(levelname)s %(message)s"


def setup_logging(program: str, log_file: str | os.PathLike[str] | None, debug: bool = False,
                  stderr: bool = False) -> None:
    """Send the root logger to ``log_file`` (and stderr if asked).

    Level DEBUG with ``debug``, INFO otherwise.  The file handler reopens
    the file when it is rotated away.  Replaces handlers set up earlier.
    Raises :class:`errors.ConfigurationError` if the file cannot be opened.
    """
    fmt = logging.Formatter(log_format(program, debug))
    handlers: list[logging.Handler] = []
    if log_file is not None:
        path = Path(log_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.handlers.WatchedFileHandler(path, encoding="utf-8"))
        except OSError as err:
            raise errors.ConfigurationError(f"Cannot open log file {path}: {err}",
                                            errors.ECODE_ENVIRON) from err
    if stderr or log_file is None:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.captureWarnings(True)


def drop_stderr_logging() -> None:
    """Remove stderr handlers (used once a daemon has detached from its terminal)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) \
                and getattr(h, "stream", None) in (sys.stderr, sys.__stderr__):
            root.removeHandler(h)
