"""Node procedure for adopting block devices (``gnt-instance add -t blockdev``).

The master asks, before it changes anything, what this node knows of the
devices to adopt: do they exist, how big are they, is any in use, and is
any of them the same device as one the config already gives an instance
(another persistent name of it).
"""

from __future__ import annotations

from typing import Any

from gnt import errors
from gnt.noded.registry import procedure
from gnt.storage import blockdev


@procedure("blockdev_adopt_info")
def blockdev_adopt_info(names: list[str], known: list[str]) -> dict[str, dict[str, Any]]:
    """Per device name in ``names`` (cluster paths below ``/dev/disk/``):
    ``{"path": real device or None, "size": MiB or None, "error": why it
    cannot be used or None, "in_use": why it is busy or None, "same_as":
    the name in ``known`` (devices the config already uses) that resolves
    to the same device, or None}``.

    Names that do not resolve (missing, outside ``/dev/disk/``, not a block
    device) have ``error`` set; nothing else fails the call.
    """
    known_rdev: dict[str, str] = {}
    for k in known:
        try:
            known_rdev.setdefault(blockdev.resolve(k).rdev, k)
        except errors.GntError:
            continue
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        entry: dict[str, Any] = {"path": None, "size": None, "error": None, "in_use": None,
                                 "same_as": None}
        try:
            dev = blockdev.resolve(name)
        except errors.GntError as err:
            entry["error"] = str(err)
        else:
            entry.update(path=dev.path, size=dev.size, in_use=blockdev.in_use(dev),
                         same_as=known_rdev.get(dev.rdev))
        out[name] = entry
    return out
