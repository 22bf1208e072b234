"""Shutting down an instance's disks on its primary node (Ganeti's
``ShutdownInstanceDisks``): ``blockdev_shutdown`` of each disk (an ext
volume is detached, a file needs nothing), then the instance's disks are
marked inactive.  Used when an instance stops (``gnt-instance shutdown``)
and before a disk template conversion; ``activate-disks`` and the next
start assemble (re-attach) them.
"""

from __future__ import annotations

from gnt.cmdlib.base import LogicalUnit
from gnt.cmdlib.common import bdev_specs
from gnt.objects import Instance, Node


def shutdown_instance_disks(lu: LogicalUnit, inst: Instance, node: Node) -> list[str]:
    """Shut down every disk of ``inst`` on ``node``; returns the ``iv_name`` of
    those that failed (each also logged as a warning).  The instance's disks
    are marked inactive when all went down."""
    failed = []
    for spec in bdev_specs(lu.cfg, inst):
        res = lu.ctx.rpc.blockdev_shutdown(node.uuid, spec)
        if res.fail_msg:
            failed.append(spec.iv_name)
            lu.log_warning(f"Could not shutdown block device {spec.iv_name} on node "
                           f"{node.name}: {res.fail_msg}")
    if not failed and inst.disks_active:
        inst.disks_active = False
        lu.ctx.cfg.update(inst)
    return failed


__all__ = ["shutdown_instance_disks"]
