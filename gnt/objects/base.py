"""Base classes of the config objects (pydantic models)."""

from __future__ import annotations

import time
import uuid as uuidmod
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def new_uuid() -> str:
    """A fresh random UUID string, as Ganeti's objects carry."""
    return str(uuidmod.uuid4())


class ConfigObject(BaseModel):
    """A config object: validated on assignment, unknown keys ignored on load."""

    model_config = ConfigDict(validate_assignment=True, extra="ignore", defer_build=True,
                              populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict written to ``config.data``."""
        return self.model_dump(mode="json", by_alias=True)


class TimestampedObject(ConfigObject):
    """An object with identity and change tracking (Ganeti's common fields)."""

    uuid: str = Field(default_factory=new_uuid)
    serial_no: int = 1
    ctime: float = Field(default_factory=time.time)
    mtime: float = Field(default_factory=time.time)
    tags: list[str] = Field(default_factory=list)

    def touch(self) -> None:
        """Record a modification: bump ``serial_no`` and ``mtime``."""
        self.serial_no += 1
        self.mtime = time.time()
