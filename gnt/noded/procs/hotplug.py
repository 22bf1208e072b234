"""Node procedures for changes to running instances: hotplug, disk resize, balloon.

* ``hotplug_supported(hv, name)``: raises unless devices can be hot-plugged
  into the running instance ``name`` now;
* ``hotplug_device(hv, name, action, target, device)``: ``action`` is
  ``hotadd``/``hotremove`` (Ganeti's HOTPLUG_ACTION_*), ``target`` ``disk``
  or ``nic``.  Adding a disk takes the disk's BlockDevSpec (with ``index``,
  its position in the instance), assembles it here and attaches it; adding a
  NIC takes a NICSpec.  Removing takes ``{"uuid": ...}``.  Returns the
  device as the hypervisor recorded it (adds) or None;
* ``hotplug_resize_disk(hv, name, disk_uuid, size)``: the guest sees the
  disk's new size (MiB);
* ``instance_balloon_memory(hv, name, memory)``: balloon to ``memory`` MiB.
"""

from __future__ import annotations

from typing import Any

from gnt import constants as C
from gnt import errors, hypervisor
from gnt.hypervisor.base import DiskSpec, NICSpec
from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec


@procedure("hotplug_supported")
def hotplug_supported(hv: str, name: str) -> None:
    hypervisor.get(hv).hotplug_supported(name)


def _add_disk(hv: str, name: str, device: dict[str, Any]) -> dict[str, Any]:
    index = int(device.get("index", -1))
    raw = {k: v for k, v in device.items() if k != "index"}
    bdev = BlockDevSpec.model_validate(raw)
    info = get_bdev(bdev.dev_type).assemble(bdev)
    disk = DiskSpec(uuid=bdev.uuid, name=bdev.name, index=index, path=info.path,
                    uri=info.uri, mode=bdev.mode, size=bdev.size, dev_type=bdev.dev_type)
    return hypervisor.get(hv).hot_add_disk(name, disk).model_dump(mode="json")


@procedure("hotplug_device")
def hotplug_device(hv: str, name: str, action: str, target: str,
                   device: dict[str, Any]) -> dict[str, Any] | None:
    drv = hypervisor.get(hv)
    if (action, target) == (C.HOTPLUG_ACTION_ADD, C.HOTPLUG_TARGET_DISK):
        return _add_disk(hv, name, device)
    if (action, target) == (C.HOTPLUG_ACTION_ADD, C.HOTPLUG_TARGET_NIC):
        return drv.hot_add_nic(name, NICSpec.model_validate(device)).model_dump(mode="json")
    if (action, target) == (C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_DISK):
        drv.hot_del_disk(name, str(device["uuid"]))
        return None
    if (action, target) == (C.HOTPLUG_ACTION_REMOVE, C.HOTPLUG_TARGET_NIC):
        drv.hot_del_nic(name, str(device["uuid"]))
        return None
    raise errors.HypervisorError(
        f"Unsupported hotplug action {action!r} on {target!r}; allowed: "
        f"{C.HOTPLUG_ACTION_ADD}/{C.HOTPLUG_ACTION_REMOVE} on "
        f"{C.HOTPLUG_TARGET_DISK}/{C.HOTPLUG_TARGET_NIC}", errors.ECODE_INVAL)


@procedure("hotplug_resize_disk")
def hotplug_resize_disk(hv: str, name: str, disk_uuid: str, size: int) -> None:
    hypervisor.get(hv).resize_disk(name, disk_uuid, int(size))


@procedure("instance_balloon_memory")
def instance_balloon_memory(hv: str, name: str, memory: int) -> None:
    hypervisor.get(hv).balloon_memory(name, int(memory))
