"""Secret opcode parameters never reach the disk.

Ganeti's rule (OS API, ``--os-parameters-secret``): secret OS parameters
are passed to the OS scripts of the job that received them and are never
stored: not in the configuration, not in job files (which are also
replicated to every master candidate and shown by ``gnt-job info``).

The job queue keeps the submitted values only in the live opcode; the
opcode's stored form (``QueuedOpCode.input``) has every secret value
replaced by :data:`REDACTED`.  A job reloaded from disk (master restart or
failover) therefore no longer has its secrets; :func:`check_not_redacted`
makes such an opcode fail with Ganeti's message instead of running with
``<redacted>`` as a parameter value.
"""

from __future__ import annotations

from typing import Any

from gnt import errors

#: The value stored in place of a secret (Ganeti's ``constants.REDACTED``).
REDACTED = "<redacted>"

#: Opcode fields whose values are secret (a dict of name -> value).
SECRET_FIELDS = ("osparams_secret",)


def redact(op_input: dict[str, Any]) -> dict[str, Any]:
    """``op_input`` (an opcode's JSON form) with every secret value replaced.

    Returns ``op_input`` itself when it has no secrets, else a shallow copy.
    """
    out = op_input
    for name in SECRET_FIELDS:
        secrets = op_input.get(name)
        if isinstance(secrets, dict) and secrets:
            if out is op_input:
                out = dict(op_input)
            out[name] = {key: REDACTED for key in secrets}
    return out


def check_not_redacted(op_input: dict[str, Any]) -> None:
    """Refuse an opcode whose secret values were lost by redaction.

    Raises :class:`errors.OpPrereqError` (ECODE_INVAL) naming the
    parameters to submit again.
    """
    for name in SECRET_FIELDS:
        secrets = op_input.get(name)
        if isinstance(secrets, dict):
            lost = sorted(k for k, v in secrets.items() if v == REDACTED)
            if lost:
                raise errors.OpPrereqError(
                    f"Please re-submit secret parameters to job ({name}: "
                    f"{', '.join(lost)}): they are never stored, so a job"
                    " resumed from disk no longer has them", errors.ECODE_INVAL)


__all__ = ["REDACTED", "SECRET_FIELDS", "check_not_redacted", "redact"]
