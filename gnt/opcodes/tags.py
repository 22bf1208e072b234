"""Tag opcodes (Ganeti's OP_IDs and parameter names).

``kind`` is the kind of tagged object: ``cluster`` (``name`` ignored),
``node``, ``instance``, ``nodegroup`` or ``network`` (``name`` required).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gnt.opcodes.base import OpCode

TagKind = Literal["cluster", "node", "instance", "nodegroup", "network"]


class _TagsOp(OpCode):
    OP_DSC_FIELD = "name"
    kind: TagKind
    name: str | None = None


class OpTagsGet(_TagsOp):
    """The tags of one object."""

    OP_ID = "OP_TAGS_GET"
    use_locking: bool = False


class OpTagsSearch(OpCode):
    """Every ``[path, tag]`` whose tag matches the regular expression ``pattern``
    (paths ``/cluster``, ``/instances/<name>``, ``/nodes/<name>``,
    ``/nodegroup/<name>``, ``/networks/<name>``)."""

    OP_ID = "OP_TAGS_SEARCH"
    OP_DSC_FIELD = "pattern"
    pattern: str = Field(min_length=1)


class OpTagsSet(_TagsOp):
    """Add ``tags`` to one object."""

    OP_ID = "OP_TAGS_SET"
    tags: list[str]


class OpTagsDel(_TagsOp):
    """Remove ``tags`` from one object."""

    OP_ID = "OP_TAGS_DEL"
    tags: list[str]
