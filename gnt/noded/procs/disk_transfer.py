"""Node procedures copying a disk to another node (``gnt-instance move``).

The data flows from the source node daemon to the target node daemon
directly (see :mod:`gnt.noded.disk_transfer` for the protocol); these
procedures let the master start both ends, follow them and clean up.
"""

from __future__ import annotations

from typing import Any

from gnt.noded import disk_transfer as dt
from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec


def _path(raw: dict[str, Any]) -> tuple[BlockDevSpec, str]:
    spec = BlockDevSpec.model_validate(raw)
    return spec, get_bdev(spec.dev_type).assemble(spec).path


@procedure("disk_export_prepare")
def disk_export_prepare(spec: dict[str, Any], transfer_id: str) -> dict[str, Any]:
    """Source: assemble the disk and offer it as transfer ``transfer_id``."""
    b, path = _path(spec)
    return dt.prepare_export(transfer_id, path, b.size, b.name)


@procedure("disk_import_start")
def disk_import_start(spec: dict[str, Any], transfer_id: str, address: str,
                      port: int) -> dict[str, Any]:
    """Target: assemble the (new) disk and start fetching transfer ``transfer_id``
    from the node daemon at ``address``:``port``."""
    b, path = _path(spec)
    return dt.start_import(transfer_id, path, b.size, address, port)


@procedure("disk_transfer_status")
def disk_transfer_status(transfer_id: str) -> dict[str, Any]:
    """Either end: progress and, when done, the SHA-256 of the data."""
    return dt.status(transfer_id)


@procedure("disk_transfer_cleanup")
def disk_transfer_cleanup(transfer_id: str) -> None:
    """Either end: abort if running and forget the transfer (idempotent)."""
    dt.cleanup(transfer_id)
