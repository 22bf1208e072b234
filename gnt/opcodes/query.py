"""Query opcodes: the generic query (``what`` is a resource such as ``instance``)."""

from __future__ import annotations

from typing import Any

from gnt.opcodes.base import OpCode


class OpQuery(OpCode):
    """Query ``fields`` of resource ``what`` filtered by ``qfilter`` (qlang list)."""

    OP_ID = "OP_QUERY"
    OP_DSC_FIELD = "what"
    what: str
    fields: list[str]
    qfilter: Any = None
    use_locking: bool = False


class OpQueryFields(OpCode):
    """Describe the fields of resource ``what``."""

    OP_ID = "OP_QUERY_FIELDS"
    OP_DSC_FIELD = "what"
    what: str
    fields: list[str] | None = None


class OpOsDiagnose(OpCode):
    """Diagnose the OS definitions on all nodes."""

    OP_ID = "OP_OS_DIAGNOSE"
    output_fields: list[str] = ["name", "valid", "variants"]
    names: list[str] = []
