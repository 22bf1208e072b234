"""Secret opcode parameters are redacted in stored job input (gnt.jqueue.secrets)."""

from __future__ import annotations

import pytest

from gnt import errors
from gnt.jqueue import secrets

pytestmark = pytest.mark.unit


def test_redact_replaces_values_and_keeps_the_original() -> None:
    op = {"OP_ID": "OP_INSTANCE_CREATE", "osparams_secret": {"pw": "hunter2", "k": "v"},
          "osparams": {"pub": "x"}}
    stored = secrets.redact(op)
    assert stored["osparams_secret"] == {"pw": secrets.REDACTED, "k": secrets.REDACTED}
    assert stored["osparams"] == {"pub": "x"}
    assert op["osparams_secret"] == {"pw": "hunter2", "k": "v"}  # the live opcode keeps them


def test_no_secrets_is_unchanged() -> None:
    op = {"OP_ID": "OP_INSTANCE_STARTUP", "osparams_secret": {}}
    assert secrets.redact(op) is op
    secrets.check_not_redacted(op)
    secrets.check_not_redacted({"OP_ID": "OP_TEST_DELAY"})


def test_reloaded_job_with_lost_secrets_is_refused() -> None:
    stored = secrets.redact({"OP_ID": "OP_INSTANCE_CREATE", "osparams_secret": {"b": 1, "a": 2}})
    with pytest.raises(errors.OpPrereqError, match=r"re-submit secret parameters.*a, b"):
        secrets.check_not_redacted(stored)
