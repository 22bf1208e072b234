"""Node procedures for block devices."""

from __future__ import annotations

from typing import Any

from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec


def _b(raw: dict[str, Any]) -> BlockDevSpec:
    return BlockDevSpec.model_validate(raw)


@procedure("blockdev_create")
def blockdev_create(spec: dict[str, Any]) -> dict[str, Any]:
    b = _b(spec)
    return get_bdev(b.dev_type).create(b).model_dump(mode="json")


@procedure("blockdev_remove")
def blockdev_remove(spec: dict[str, Any]) -> None:
    b = _b(spec)
    get_bdev(b.dev_type).remove(b)


@procedure("blockdev_assemble")
def blockdev_assemble(spec: dict[str, Any]) -> dict[str, Any]:
    b = _b(spec)
    return get_bdev(b.dev_type).assemble(b).model_dump(mode="json")


@procedure("blockdev_shutdown")
def blockdev_shutdown(spec: dict[str, Any]) -> None:
    b = _b(spec)
    get_bdev(b.dev_type).shutdown(b)
