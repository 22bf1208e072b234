"""How an instance's disks can follow it to another node, per disk template.

Three kinds (Ganeti's ``DTS_EXT_MIRROR`` / ``DTS_INT_MIRROR`` / the rest):

- :class:`SharedStorage` (``sharedfile``, ``ext``, ``rbd``, ``blockdev``,
  ``gluster``, ``diskless``): every node reaches the same data; any node
  can take the instance over, the target is chosen freely (``-n``/``-I``).
- replicated templates (``drbd``): the data lives on the primary and
  the secondary; not implemented yet: a new :class:`Mobility` subclass with
  its own ``prepare``/``release`` steps (dual-primary, role switch) plugs
  in here without touching the migration logic.
- :class:`LocalStorage` (``file``, ``plain``): the data is on the primary
  only; live migration and failover are refused, ``move`` copies the disks.
"""

from __future__ import annotations

from gnt import constants as C
from gnt import errors
from gnt.objects import Instance


class Mobility:
    """What migration and failover need to know about a disk template."""

    #: live migration / failover possible (data reachable from the target)
    can_migrate: bool = False
    #: any node may be the target (else only the secondary)
    any_target: bool = False

    def __init__(self, template: str) -> None:
        self.template = template

    def check_migratable(self, inst: Instance, action: str) -> None:
        """Raise OpPrereqError when ``inst`` cannot be migrated/failed over."""
        if not self.can_migrate:
            raise errors.OpPrereqError(
                f"Instance's disk layout '{self.template}' does not allow {action}s; "
                f"use 'gnt-instance move' to copy its disks to another node",
                errors.ECODE_STATE)


class SharedStorage(Mobility):
    """Every node sees the disks: nothing to copy, any node is a target."""

    can_migrate = True
    any_target = True


class LocalStorage(Mobility):
    """Disks on the primary only: only ``move`` relocates them."""


class NotImplementedMirror(Mobility):
    """Replicated templates: not implemented in gnt yet."""

    def check_migratable(self, inst: Instance, action: str) -> None:
        raise errors.OpPrereqError(
            f"Disk template '{self.template}' is not supported by gnt yet", errors.ECODE_INVAL)


def for_template(template: str) -> Mobility:
    """The mobility of ``template``."""
    if template in C.DTS_EXT_MIRROR:
        return SharedStorage(template)
    if template in C.DTS_INT_MIRROR:
        return NotImplementedMirror(template)
    return LocalStorage(template)
