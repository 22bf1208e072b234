"""Node group object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gnt.objects.base import TimestampedObject

AllocPolicy = Literal["preferred", "last_resort", "unallocable"]


class NodeGroup(TimestampedObject):
    """A node group; its ``ndparams``/``diskparams``/``ipolicy`` override the cluster's."""

    name: str
    alloc_policy: AllocPolicy = "preferred"
    ndparams: dict[str, Any] = Field(default_factory=dict)
    diskparams: dict[str, dict[str, Any]] = Field(default_factory=dict)
    ipolicy: dict[str, Any] = Field(default_factory=dict)
    networks: dict[str, Any] = Field(default_factory=dict)
