"""Instance, disk and NIC objects."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gnt import constants as C
from gnt.objects.base import ConfigObject, TimestampedObject, new_uuid


class NIC(ConfigObject):
    """A network interface; ``nicparams`` holds only the instance's overrides."""

    uuid: str = Field(default_factory=new_uuid)
    name: str | None = None
    mac: str
    ip: str | None = None
    network: str | None = None
    nicparams: dict[str, Any] = Field(default_factory=dict)


class Disk(TimestampedObject):
    """A disk.  ``size`` is in MiB.

    ``logical_id`` is template specific; for ``file`` it is
    ``[file_driver, path]`` as in Ganeti.  ``nodes`` are node UUIDs.
    """

    dev_type: str
    logical_id: list[Any] = Field(default_factory=list)
    size: int
    mode: str = C.DISK_RDWR
    iv_name: str = ""
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    nodes: list[str] = Field(default_factory=list)
    spindles: int | None = None


class Instance(TimestampedObject):
    """A virtual machine.  ``primary_node`` is a node UUID, ``disks`` disk UUIDs.

    ``hvparams``/``beparams``/``osparams`` hold only the instance's overrides;
    the filled values come from :mod:`gnt.objects.fill`.
    """

    name: str
    primary_node: str
    os: str
    hypervisor: str
    hvparams: dict[str, Any] = Field(default_factory=dict)
    beparams: dict[str, Any] = Field(default_factory=dict)
    osparams: dict[str, Any] = Field(default_factory=dict)
    osparams_private: dict[str, Any] = Field(default_factory=dict)
    admin_state: str = C.ADMINST_DOWN
    admin_state_source: str = C.ADMIN_SOURCE
    nics: list[NIC] = Field(default_factory=list)
    disks: list[str] = Field(default_factory=list)
    disk_template: str = C.DT_DISKLESS
    disks_active: bool = False
    network_port: int | None = None
    forthcoming: bool = False
