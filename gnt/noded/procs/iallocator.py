"""Node daemon procedure running an iallocator (on the master node).

Ganeti runs allocators on the master node through its node daemon; the
program is looked up below this node's root (see :mod:`gnt.iallocator.lookup`).
"""

from __future__ import annotations

from typing import Any

from gnt.iallocator.lookup import run_iallocator
from gnt.noded.registry import procedure


@procedure("iallocator_runner")
def iallocator_runner(name: str, data: str, params: dict[str, Any], timeout: float) -> str:
    """Run iallocator ``name`` on the request ``data``; its output (JSON text)."""
    return run_iallocator(name, data, params or {}, float(timeout))
