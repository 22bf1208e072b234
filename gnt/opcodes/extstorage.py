"""ExtStorage opcodes (``gnt-storage``)."""

from __future__ import annotations

from pydantic import Field

from gnt.opcodes.base import OpCode


class OpExtStorageDiagnose(OpCode):
    """Diagnose the ExtStorage providers on all nodes.

    ``output_fields``: fields of :mod:`gnt.extstorage.query` (``name``,
    ``node_status``, ``nodegroup_status``, ``parameters``); ``names``:
    providers to report (empty: all).  Result: one list of field values per
    provider, sorted by name.
    """

    OP_ID = "OP_EXT_STORAGE_DIAGNOSE"
    output_fields: list[str]
    names: list[str] = Field(default_factory=list)
