"""Error messages and exit codes of the ``gnt-*`` commands (Ganeti's ``FormatError``).

The one place where exceptions become what the user reads.  Classes are
matched by name along the exception's class hierarchy, so errors decoded
from the master (and classes defined later, e.g. ``HooksAbort``) format the
same way as local ones.
"""

from __future__ import annotations

from gnt import errors

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_NOTCLUSTER = 5
EXIT_NOTMASTER = 11
EXIT_NODESETUP_ERROR = 12
EXIT_CONFIRMATION = 13
EXIT_UNKNOWN_FIELD = 14

_TIMEOUT_TEXT = (
    "Timeout while talking to the master daemon. Jobs might have been submitted and will"
    " continue to run even if the call timed out. Useful commands in this situation are"
    ' "gnt-job list", "gnt-job cancel" and "gnt-job watch". Error:\n')


def _names(err: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(err).__mro__}


def format_error(err: BaseException) -> tuple[int, str]:
    """Return ``(exit_code, message)`` for an exception (message without
    trailing newline).  Exit code 2 for a corrupt configuration, else 1."""
    names = _names(err)
    msg = str(err)
    code = EXIT_FAILURE
    if "ConfigurationError" in names:
        text = f"Corrupt configuration file: {msg}\nAborting."
        code = 2
    elif "HooksAbort" in names:
        text = f"Failure: hooks execution failed:\n{msg}"
    elif "HooksFailure" in names:
        text = f"Failure: hooks general failure: {msg}"
    elif "OpPrereqError" in names:
        ecode = getattr(err, "ecode", None)
        if ecode:
            text = ("Failure: prerequisites not met for this operation:\n"
                    f"error type: {ecode}, error details:\n{msg}")
        else:
            text = f"Failure: prerequisites not met for this operation:\n{msg}"
    elif "OpExecError" in names:
        text = f"Failure: command execution error:\n{msg}"
    elif "TagError" in names:
        text = f"Failure: invalid tag(s) given:\n{msg}"
    elif "JobQueueDrainError" in names:
        text = "Failure: the job queue is marked for drain and doesn't accept new requests"
    elif "JobQueueFull" in names:
        text = ("Failure: the job queue is full and doesn't accept new job submissions"
                " until old jobs are archived")
    elif "TypeEnforcementError" in names:
        text = f"Parameter Error: {msg}"
    elif "NoMasterError" in names:
        text = msg
    elif "LuxiTimeoutError" in names:
        text = _TIMEOUT_TEXT + msg
    elif "LuxiPermissionError" in names:
        text = ("It seems you don't have permissions to connect to the master daemon.\n"
                "Please retry as a different user.")
    elif "ProtocolError" in names:
        text = f"Unhandled protocol error while talking to the master daemon:\n{msg}"
    elif "JobLost" in names:
        text = f"Error checking job status: {msg}"
    elif "QueryFilterParseError" in names:
        text = f"Error while parsing query filter: {msg}"
    elif isinstance(err, errors.GntError):
        text = f"Unhandled Ganeti error: {msg}"
    else:
        text = f"Unhandled exception: {msg}"
    return code, text.rstrip("\n")
