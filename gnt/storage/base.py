"""The block device interface (node side), one class per disk template.

The master describes a disk with a :class:`BlockDevSpec` (from the config's
``Disk`` object) and sends it to the node daemon, which picks the class for
``dev_type`` through :func:`gnt.storage.get` and acts on the node.
Errors are raised as :class:`gnt.errors.BlockDeviceError`.
"""

from __future__ import annotations

import abc
from typing import Any

from pydantic import BaseModel, Field


class BlockDevSpec(BaseModel):
    """A disk as sent to a node.  ``size`` in MiB.

    ``logical_id`` is template specific (``file``: ``[driver, path]`` where
    ``path`` is the cluster path, mapped under the node's ``GNT_ROOT``).
    """

    uuid: str
    dev_type: str
    logical_id: list[Any] = Field(default_factory=list)
    size: int
    mode: str = "rw"
    name: str | None = None
    iv_name: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class BlockDevInfo(BaseModel):
    """An assembled device: the local ``path`` (and ``uri`` for userspace access)."""

    path: str
    uri: str | None = None
    size: int


class BlockDev(abc.ABC):
    """Operations on one kind of disk, on this node."""

    dev_type: str

    @abc.abstractmethod
    def create(self, spec: BlockDevSpec, excl_stor: bool = False) -> BlockDevInfo:
        """Create the device with ``spec.size`` MiB; refuses to overwrite an existing one."""

    @abc.abstractmethod
    def remove(self, spec: BlockDevSpec) -> None:
        """Remove the device; removing a missing device is not an error."""

    @abc.abstractmethod
    def assemble(self, spec: BlockDevSpec) -> BlockDevInfo:
        """Make the device usable on this node and return where it is."""

    @abc.abstractmethod
    def shutdown(self, spec: BlockDevSpec) -> None:
        """Release the device on this node (idempotent)."""

    @abc.abstractmethod
    def grow(self, spec: BlockDevSpec, amount: int) -> None:
        """Grow by ``amount`` MiB."""

    @abc.abstractmethod
    def find(self, spec: BlockDevSpec) -> BlockDevInfo | None:
        """The device if it exists here, else None."""
