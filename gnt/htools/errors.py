"""htools errors: bad input data and impossible requests.

All are :class:`gnt.errors.GntError` subclasses, so the CLI layer maps them
to messages and exit codes in one place.
"""

from __future__ import annotations

from gnt import errors


class HtoolsError(errors.GntError):
    """Base of htools errors."""

    default_ecode = errors.ECODE_INVAL


class DataError(HtoolsError):
    """Cluster data cannot be parsed or is inconsistent.

    ``source`` names the file (or backend) and ``line`` the 1-based line
    number when known; both appear in the message.
    """

    def __init__(self, message: str, source: str | None = None,
                 line: int | None = None) -> None:
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(where + message, errors.ECODE_INVAL)
        self.source = source
        self.line = line


class OptionError(HtoolsError):
    """A command line option has a bad value."""
