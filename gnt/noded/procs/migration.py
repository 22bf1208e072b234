"""Node procedures for moving running instances: live migration and its cleanup.

Called by the master in Ganeti's order (see
:class:`gnt.cmdlib.migration.Migrater`): ``instance_migration_info`` on the
source, ``instance_accept`` on the target, ``instance_migrate`` and
``instance_migration_status`` on the source, ``instance_finalize_migration_dst``
on the target, ``instance_finalize_migration_src`` on the source.
"""

from __future__ import annotations

from typing import Any

from gnt import errors, hypervisor
from gnt.hypervisor.base import DiskSpec, InstanceSpec, MigrationTarget
from gnt.noded.procs.instance import assemble_disks
from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec

#: the longest ``wait`` of ``instance_migration_status`` (seconds): QEMU serves
#: one QMP client at a time, and others wait while a status call looks
MAX_STATUS_WAIT = 10.0


@procedure("instance_check_accept")
def instance_check_accept(spec: dict[str, Any], bdevs: list[dict[str, Any]]
                          ) -> dict[str, Any]:
    """Check, changing nothing, that this node could run the instance: every disk
    is reachable here and the hypervisor's prerequisites (binaries, kernel files,
    NIC links, CPU mask) hold.  Raises the first problem.

    Returns ``{"memory_free": MiB}``: the hypervisor's free memory here, so the
    master checks the target in one round trip.
    """
    s = InstanceSpec.model_validate(spec)
    disks = []
    for idx, raw in enumerate(bdevs):
        b = BlockDevSpec.model_validate(raw)
        found = get_bdev(b.dev_type).find(b)
        if found is None:
            raise errors.BlockDeviceError(
                f"Disk {idx} ({b.dev_type}) of {s.name} is not reachable from this node",
                errors.ECODE_ENVIRON)
        disks.append(DiskSpec(uuid=b.uuid, name=b.name, index=idx, path=found.path,
                              uri=found.uri, mode=b.mode, size=b.size, dev_type=b.dev_type))
    hv = hypervisor.get(s.hypervisor)
    hv.check_accept(s.model_copy(update={"disks": disks}))
    return {"memory_free": hv.get_node_info().memory_free}


@procedure("instance_migration_source")
def instance_migration_source(hv: str, name: str) -> dict[str, Any]:
    """What the master needs from the source before a migration, in one call:
    ``{"instance": runtime info (``memory`` MiB, ...) or None when the instance
    does not run here, "migration": the hypervisor's migration info or None}``."""
    h = hypervisor.get(hv)
    info = h.get_instance_info(name)
    if info is None:
        return {"instance": None, "migration": None}
    return {"instance": info.model_dump(mode="json"), "migration": h.migration_info(name)}


@procedure("instance_migration_info")
def instance_migration_info(hv: str, name: str) -> dict[str, Any]:
    return hypervisor.get(hv).migration_info(name)


@procedure("instance_accept")
def instance_accept(spec: dict[str, Any], bdevs: list[dict[str, Any]], info: dict[str, Any],
                    target: dict[str, Any]) -> None:
    """Assemble the disks here and make the hypervisor wait for the instance.

    ``spec`` is the one the source runs (``info["spec"]`` when the hypervisor
    gave one), so the destination's virtual hardware matches the source's.
    """
    raw = info.get("spec") or spec
    s = assemble_disks(InstanceSpec.model_validate(raw), bdevs)
    hypervisor.get(s.hypervisor).accept_instance(s, info, MigrationTarget.model_validate(target))


@procedure("instance_migrate")
def instance_migrate(hv: str, name: str, target: dict[str, Any], live: bool) -> None:
    hypervisor.get(hv).migrate_instance(name, MigrationTarget.model_validate(target), live)


@procedure("instance_migration_status")
def instance_migration_status(hv: str, name: str, wait: float = 0.0) -> dict[str, Any]:
    """The migration's status; with ``wait`` > 0 (seconds, at most
    :data:`MAX_STATUS_WAIT`) the first finished one within that time."""
    if not isinstance(wait, (int, float)) or not 0 <= wait <= MAX_STATUS_WAIT:
        raise errors.ParameterError(f"wait must be 0 to {MAX_STATUS_WAIT} seconds, not "
                                    f"{wait!r}", errors.ECODE_INVAL)
    return hypervisor.get(hv).migration_status(name, float(wait)).model_dump(mode="json")


@procedure("instance_abort_migration")
def instance_abort_migration(hv: str, name: str) -> None:
    hypervisor.get(hv).abort_migration(name)


@procedure("instance_finalize_migration_dst")
def instance_finalize_migration_dst(hv: str, name: str, success: bool) -> None:
    hypervisor.get(hv).finalize_migration_dst(name, bool(success))


@procedure("instance_finalize_migration_src")
def instance_finalize_migration_src(hv: str, name: str, success: bool, live: bool,
                                    bdevs: list[dict[str, Any]] | None = None) -> list[str]:
    """Release (success) or resume the source's process; after a success also shut
    down the disks ``bdevs`` here (one round trip less for the master).  Returns
    the problems met shutting down disks (the process is released anyway)."""
    hypervisor.get(hv).finalize_migration_src(name, bool(success), bool(live))
    problems = []
    for raw in (bdevs or []) if success else []:
        b = BlockDevSpec.model_validate(raw)
        try:
            get_bdev(b.dev_type).shutdown(b)
        except errors.GntError as err:
            problems.append(f"Could not shut down disk {b.iv_name}: {err}")
    return problems


@procedure("instance_status")
def instance_status(hv: str, name: str) -> str | None:
    """The hypervisor's word for the instance's state here, None when it has no process."""
    return hypervisor.get(hv).instance_status(name)
