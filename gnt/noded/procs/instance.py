"""Node procedures for instances: start, stop, reboot, info, console, node info."""

from __future__ import annotations

import os
from typing import Any

from gnt import hypervisor, paths
from gnt.config import ssconf
from gnt.hypervisor.base import DiskSpec, InstanceSpec
from gnt.noded.registry import procedure
from gnt.storage import get as get_bdev
from gnt.storage.base import BlockDevSpec


def assemble_disks(spec: InstanceSpec, bdevs: list[dict[str, Any]]) -> InstanceSpec:
    """Assemble the instance's disks here and fill their local paths into ``spec``.

    A disk's ``pci_slot`` in ``spec`` (a hot-plugged disk of a migrating
    instance) is kept.
    """
    slots = {d.uuid: d.pci_slot for d in spec.disks}
    disks: list[DiskSpec] = []
    for idx, raw in enumerate(bdevs):
        b = BlockDevSpec.model_validate(raw)
        info = get_bdev(b.dev_type).assemble(b)
        disks.append(DiskSpec(uuid=b.uuid, name=b.name, index=idx, path=info.path,
                              uri=info.uri, mode=b.mode, size=b.size, dev_type=b.dev_type,
                              pci_slot=slots.get(b.uuid)))
    return spec.model_copy(update={"disks": disks})


def _spec(raw: dict[str, Any]) -> InstanceSpec:
    return InstanceSpec.model_validate(raw)


@procedure("instance_start")
def instance_start(spec: dict[str, Any], bdevs: list[dict[str, Any]],
                   startup_paused: bool = False) -> None:
    s = assemble_disks(_spec(spec), bdevs)
    hypervisor.get(s.hypervisor).start_instance(s, startup_paused)


@procedure("instance_shutdown")
def instance_shutdown(hv: str, name: str, timeout: int, force: bool = False) -> None:
    drv = hypervisor.get(hv)
    drv.stop_instance(name, force=force, timeout=int(timeout))
    drv.cleanup_instance(name)


@procedure("instance_reboot")
def instance_reboot(spec: dict[str, Any], bdevs: list[dict[str, Any]], reboot_type: str,
                    shutdown_timeout: int) -> None:
    s = assemble_disks(_spec(spec), bdevs)
    drv = hypervisor.get(s.hypervisor)
    if reboot_type == "soft":
        drv.reboot_instance(s)
        return
    drv.stop_instance(s.name, timeout=int(shutdown_timeout))
    drv.cleanup_instance(s.name)
    drv.start_instance(s)


@procedure("instance_info")
def instance_info(hv: str, name: str) -> dict[str, Any] | None:
    info = hypervisor.get(hv).get_instance_info(name)
    return info.model_dump(mode="json") if info else None


@procedure("all_instances_info")
def all_instances_info(hvs: list[str]) -> dict[str, dict[str, Any]]:
    """Instance name -> runtime info, over every hypervisor in ``hvs``."""
    out: dict[str, dict[str, Any]] = {}
    for hv in hvs:
        for info in hypervisor.get(hv).get_all_instances_info():
            out[info.name] = {**info.model_dump(mode="json"), "hypervisor": hv}
    return out


@procedure("instance_console_info")
def instance_console_info(spec: dict[str, Any], node_name: str) -> dict[str, Any]:
    s = _spec(spec)
    return hypervisor.get(s.hypervisor).get_console(s, node_name).model_dump(mode="json")


def _file_storage_space() -> dict[str, int] | None:
    cluster_dir = (ssconf.read("file_storage_dir") or "").strip()
    if not cluster_dir:
        return None
    local = paths.get().under_root(cluster_dir)
    probe = local
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = os.statvfs(probe)
    return {"total": st.f_blocks * st.f_frsize // (1024 * 1024),
            "free": st.f_bavail * st.f_frsize // (1024 * 1024)}


@procedure("node_info")
def node_info(hvs: list[str]) -> dict[str, Any]:
    """Hypervisor view (memory MiB, CPUs) per hypervisor, boot id, file storage space."""
    try:
        bootid = open("/proc/sys/kernel/random/boot_id").read().strip()
    except OSError:
        bootid = None
    return {
        "hv": {hv: hypervisor.get(hv).get_node_info().model_dump(mode="json") for hv in hvs},
        "bootid": bootid,
        "storage": _file_storage_space(),
    }


@procedure("test_delay")
def test_delay(duration: float) -> None:
    import time

    time.sleep(float(duration))
