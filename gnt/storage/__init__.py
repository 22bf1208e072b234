"""Block devices per disk template (node side): the registry.

Each template module provides a :class:`~gnt.storage.base.BlockDev`
subclass as ``BLOCKDEV_CLASS``; :func:`get` returns one shared instance per
template.  Adding a template is one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib
import threading

from gnt import constants as C
from gnt import errors
from gnt.storage.base import BlockDev, BlockDevInfo, BlockDevSpec

_MODULES: dict[str, str] = {
    C.DT_DISKLESS: "gnt.storage.diskless",
    C.DT_FILE: "gnt.storage.file",
    C.DT_SHARED_FILE: "gnt.storage.sharedfile",
    C.DT_EXT: "gnt.storage.ext",
    C.DT_BLOCK: "gnt.storage.blockdev",
}
_instances: dict[str, BlockDev] = {}
_lock = threading.Lock()


def implemented() -> tuple[str, ...]:
    """Disk templates this node can handle, sorted."""
    return tuple(sorted(_MODULES))


def get(dev_type: str) -> BlockDev:
    """The driver of disk template ``dev_type``, created once per process.

    Raises :class:`errors.BlockDeviceError` (``wrong_input``) for unknown or
    not implemented templates, naming the implemented ones.
    """
    drv = _instances.get(dev_type)
    if drv is not None:
        return drv
    if dev_type not in _MODULES:
        kind = "Unsupported" if dev_type in C.DISK_TEMPLATES else "Unknown"
        raise errors.BlockDeviceError(
            f"{kind} disk template '{dev_type}'; implemented: {', '.join(implemented())}",
            errors.ECODE_INVAL)
    with _lock:
        drv = _instances.get(dev_type)
        if drv is None:
            drv = _instances[dev_type] = importlib.import_module(_MODULES[dev_type]).BLOCKDEV_CLASS()
    return drv


__all__ = ["BlockDev", "BlockDevInfo", "BlockDevSpec", "get", "implemented"]
