"""The gnt error hierarchy.

Every error a user can see is a :class:`GntError` carrying one of Ganeti's
error codes (``wrong_input``, ``wrong_state``, ...).  The CLI turns them into
exit codes and messages in one place (:mod:`gnt.cli.base`), LUXI and RAPI
serialise them as ``[class_name, [message, ecode]]`` as Ganeti does.
"""

from __future__ import annotations

from typing import Any

# Ganeti's error codes (lib/errors.py ECODE_*)
ECODE_RESOLVER = "resolver_error"
ECODE_NORES = "insufficient_resources"
ECODE_TEMP_NORES = "temp_insufficient_resources"
ECODE_INVAL = "wrong_input"
ECODE_STATE = "wrong_state"
ECODE_NOENT = "unknown_entity"
ECODE_EXISTS = "already_exists"
ECODE_NOTUNIQUE = "resource_not_unique"
ECODE_FAULT = "internal_error"
ECODE_ENVIRON = "environment_error"

ECODE_ALL = frozenset({
    ECODE_RESOLVER, ECODE_NORES, ECODE_TEMP_NORES, ECODE_INVAL, ECODE_STATE,
    ECODE_NOENT, ECODE_EXISTS, ECODE_NOTUNIQUE, ECODE_FAULT, ECODE_ENVIRON,
})


class GntError(Exception):
    """Base of every gnt error; ``ecode`` is one of Ganeti's error codes."""

    default_ecode = ECODE_FAULT

    def __init__(self, message: str, ecode: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ecode = ecode or self.default_ecode

    def __str__(self) -> str:
        return self.message

    def encode(self) -> list[Any]:
        """Serialise as Ganeti does: ``[class_name, [message, ecode]]``."""
        return [type(self).__name__, [self.message, self.ecode]]


class OpPrereqError(GntError):
    """A prerequisite of an operation does not hold; nothing was changed."""

    default_ecode = ECODE_INVAL


class OpExecError(GntError):
    """An operation failed while executing (after its prerequisites held)."""

    default_ecode = ECODE_FAULT


class ParameterError(OpPrereqError):
    """A parameter is unknown or has a bad value."""


class ResolverError(OpPrereqError):
    """A host name does not resolve."""

    default_ecode = ECODE_RESOLVER


class ConfigurationError(GntError):
    """The configuration is inconsistent or cannot be read."""


class ConfigVersionMismatch(ConfigurationError):
    """The configuration was written by another version."""


class LockError(GntError):
    """Locks could not be acquired (timeout or conflict)."""

    default_ecode = ECODE_TEMP_NORES


class HypervisorError(GntError):
    """The hypervisor failed to do what it was asked."""

    default_ecode = ECODE_ENVIRON


class BlockDeviceError(GntError):
    """A storage operation failed."""

    default_ecode = ECODE_ENVIRON


class RPCError(GntError):
    """A node daemon call failed (transport or remote error)."""

    default_ecode = ECODE_ENVIRON


class ProgrammerError(GntError):
    """A bug: an internal contract was broken."""


class JobQueueError(GntError):
    """The job queue refused or failed an operation."""

    default_ecode = ECODE_STATE


class JobQueueDrainError(JobQueueError):
    """The job queue is drained and accepts no new jobs."""


class JobLost(JobQueueError):
    """A job id is not known to the queue."""

    default_ecode = ECODE_NOENT


class JobCanceled(JobQueueError):
    """A job was canceled before it finished."""


class LuxiError(GntError):
    """The master daemon could not be reached or answered badly."""

    default_ecode = ECODE_ENVIRON


class NoMasterError(LuxiError):
    """No master daemon is running on this node."""


class TimeoutError_(GntError):  # noqa: N801 - avoid shadowing the builtin
    """An operation did not finish in time."""

    default_ecode = ECODE_TEMP_NORES


class QueryFilterParseError(ParameterError):
    """A query filter could not be parsed."""


class OpCodeUnknown(ParameterError):
    """An opcode id is not known."""


class CommandError(GntError):
    """An external command failed."""

    default_ecode = ECODE_ENVIRON


class TagError(GntError):
    """A tag is invalid (characters, length), too many tags, or not found."""

    default_ecode = ECODE_INVAL


_BY_NAME: dict[str, type[GntError]] = {}


def _register(cls: type[GntError]) -> None:
    _BY_NAME[cls.__name__] = cls
    for sub in cls.__subclasses__():
        _register(sub)


_register(GntError)


def decode(data: Any) -> GntError:
    """Rebuild an error serialised by :meth:`GntError.encode`.

    ``data`` is ``[class_name, [message, ecode]]`` (Ganeti's shape) or
    ``[class_name, message]``; unknown classes become :class:`GntError`.
    """
    _register(GntError)
    if not isinstance(data, (list, tuple)) or len(data) != 2:
        return GntError(str(data))
    name, args = data
    cls = _BY_NAME.get(str(name), GntError)
    if isinstance(args, (list, tuple)) and args:
        msg = str(args[0])
        ecode = args[1] if len(args) > 1 and args[1] in ECODE_ALL else None
    else:
        msg, ecode = str(args), None
    return cls(msg, ecode)
