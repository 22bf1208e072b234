"""Hot-plugging disks and NICs into running QEMU guests, over QMP.

As Ganeti's KVM hotplug, with QEMU's current commands:

* disk add: ``blockdev-add`` (a ``raw`` node named ``<device id>-drive`` over
  a ``file``/``host_device`` node, cache/aio/discard as the instance's
  hvparams say) then ``device_add virtio-blk-pci``; a failed ``device_add``
  deletes the node again, so QEMU keeps nothing;
* disk remove: ``device_del``, wait until the guest released the device
  (it disappears from ``/machine/peripheral``), then ``blockdev-del`` of a
  node this module added (a ``-drive`` of the command line goes away with its
  device);
* NIC add: a tap device wired like at start (:mod:`.network`), its fds passed
  with ``getfd`` over the QMP socket, ``netdev_add`` then ``device_add``;
* NIC remove: ``device_del``, wait, ``netdev_del``;
* disk resize: ``block_resize`` of the node behind the device; memory:
  ``balloon``.

Device ids follow the command line's scheme (``disk<index>-<uuid prefix>``,
``nic<index>-<uuid prefix>``) and devices are found again by their UUID
prefix, so they survive index changes.  Hot-plugged devices get an explicit
PCI slot at or above ``kvm_pci_reservations`` (slots below are QEMU's, as in
Ganeti).  After every hotplug the slot of each device of the running QEMU is
recorded in the spec (``pci_slot``, ``pci_slots``); the command line pins
them (``addr=``), so a migration target gets exactly the source's layout.

Every change is recorded in the instance's runtime file (``spec.disks``,
``spec.nics`` re-indexed in configuration order, ``taps``) under the
instance lock, so a restarted node daemon, a later hotplug and a migration
(whose target starts from the recorded spec) see the guest as it is now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from typing import Any

from qemu.qmp import ExecuteError, QMPClient, QMPError

from gnt import constants as C
from gnt import errors
from gnt.hypervisor.base import DiskSpec, NICSpec
from gnt.hypervisor.kvm import cmdline, network, qmp
from gnt.hypervisor.kvm import params as P
from gnt.hypervisor.kvm import runtime as R

log = logging.getLogger(__name__)

#: seconds the guest gets to release an unplugged device
UNPLUG_TIMEOUT = 30.0
_POLL = 0.2
_PCI_SLOTS = 32
_DISK_DEVICE = "virtio-blk-pci"
#: nic_type values whose device sits on the PCI bus (ne2k_isa does not)
_PCI_NIC_TYPES = {t for t in P.NIC_TYPES if t != "ne2k_isa"}
_NIC_MODELS = {P.NIC_PARAVIRTUAL: "virtio-net-pci"}
_DISK_NIC_ID = re.compile(r"^(disk|nic)\d+-")


# --------------------------------------------------------------------- helpers
#: the QEMU id of a disk/NIC: the command line's ``<kind><index>-<uuid tag>``
device_id = cmdline.device_id


def _fail(msg: str, code: str = errors.ECODE_FAULT) -> errors.HypervisorError:
    return errors.HypervisorError(msg, code)


def _running(name: str) -> tuple[R.InstancePaths, R.KVMRuntime]:
    """The runtime of ``name`` (call with the instance lock held)."""
    ip = R.InstancePaths(name)
    rt = R.load(ip)
    if rt is None or not R.is_alive(rt):
        raise _fail(f"Instance {name} is not running", errors.ECODE_STATE)
    return ip, rt


def _peripherals(path: str) -> list[str]:
    """Ids of the user-created devices of the QEMU at QMP socket ``path``."""
    res = qmp.execute(path, "qom-list", {"path": "/machine/peripheral"})
    return [str(p["name"]) for p in res if str(p.get("type", "")).startswith("child<")]


def _find_device(path: str, kind: str, uuid: str) -> str | None:
    """The id of the ``kind`` device (disk/nic) of ``uuid``, or None."""
    pat = re.compile(rf"^{kind}\d+-{re.escape(cmdline.uuid_tag(uuid))}$")
    found = [d for d in _peripherals(path) if pat.match(d)]
    return found[0] if found else None


def _attached_device(rt: R.KVMRuntime, kind: str, uuid: str) -> str:
    """The id of the ``kind`` device of ``uuid`` in ``rt``'s QEMU; raises
    HypervisorError (``wrong_state``) when it is not attached."""
    dev = _find_device(rt.qmp, kind, uuid)
    if dev is None:
        what = "Disk" if kind == "disk" else "NIC"
        raise _fail(f"{what} {uuid} is not attached to instance {rt.name}",
                    errors.ECODE_STATE)
    return dev


def _used_slots(path: str) -> set[int]:
    res = qmp.execute(path, "query-pci")
    return {int(dev["slot"]) for bus in res if int(bus.get("bus", 0)) == 0
            for dev in bus.get("devices", [])}


def _free_slot(path: str, rt: R.KVMRuntime, hvp: dict[str, Any]) -> int:
    """The first free PCI slot at or above ``kvm_pci_reservations``."""
    first = int(hvp.get(P.PCI_RESERVATIONS) or 0)
    used = _used_slots(path)
    used |= {d.pci_slot for d in rt.spec.disks if d.pci_slot is not None}
    used |= {n.pci_slot for n in rt.spec.nics if n.pci_slot is not None}
    for slot in range(max(first, 1), _PCI_SLOTS):
        if slot not in used:
            return slot
    raise _fail(f"Instance {rt.name}: no free PCI slot left for hotplug (slots "
                f"{first}-{_PCI_SLOTS - 1} are in use; see kvm_pci_reservations)",
                errors.ECODE_NORES)


def _wait_gone(path: str, dev: str, name: str, timeout: float) -> None:
    """Wait until ``dev`` left the guest; raises HypervisorError on timeout."""
    deadline = time.monotonic() + timeout
    while dev in _peripherals(path):
        if time.monotonic() > deadline:
            raise _fail(
                f"Instance {name}: the guest did not release device {dev} within "
                f"{timeout:.0f}s (does it handle ACPI PCI hot-unplug?); the device stays "
                f"attached", errors.ECODE_STATE)
        time.sleep(_POLL)


def _reindex(items: Sequence[Any]) -> list[Any]:
    return [it.model_copy(update={"index": i}) for i, it in enumerate(items)]


def _insert(items: Sequence[Any], item: Any) -> list[Any]:
    out = list(items)
    out.insert(max(0, min(item.index, len(out))), item)
    return _reindex(out)


def _pin_layout(rt: R.KVMRuntime) -> None:
    """Record the PCI slot of every device of the running QEMU in ``rt.spec``
    (disks and NICs in their ``pci_slot``, the rest in ``pci_slots``), so a
    migration target started from the spec gets the same layout (QEMU migrates
    device state by PCI address).  Best effort: logs when QEMU cannot tell."""
    try:
        buses = qmp.execute(rt.qmp, "query-pci")
    except errors.HypervisorError as err:
        log.warning("Instance %s: cannot read its PCI layout: %s", rt.name, err)
        return
    slots = {str(dev["qdev_id"]): int(dev["slot"]) for bus in buses
             if int(bus.get("bus", 0)) == 0 for dev in bus.get("devices", [])
             if dev.get("qdev_id") and int(dev.get("function", 0)) == 0}

    def slot_of(kind: str, uuid: str) -> int | None:
        pat = re.compile(rf"^{kind}\d+-{re.escape(cmdline.uuid_tag(uuid))}$")
        return next((s for q, s in slots.items() if pat.match(q)), None)
    rt.spec.disks = [d.model_copy(update={"pci_slot": slot_of("disk", d.uuid)})
                     for d in rt.spec.disks]
    rt.spec.nics = [n.model_copy(update={"pci_slot": slot_of("nic", n.uuid)})
                    for n in rt.spec.nics]
    rt.spec.pci_slots = {q: s for q, s in slots.items() if not _DISK_NIC_ID.match(q)}


def _with_runtime(name: str, fn: Callable[[R.InstancePaths, R.KVMRuntime], Any],
                  pin: bool = True) -> Any:
    """Run ``fn(paths, runtime)`` under the instance lock; the runtime ``fn``
    changed is saved when it returns (with the PCI layout pinned if ``pin``)."""
    ip = R.InstancePaths(name)
    with R.instance_lock(ip):
        ip, rt = _running(name)
        result = fn(ip, rt)
        if pin:
            _pin_layout(rt)
        R.save(ip, rt)
    return result


# ------------------------------------------------------------ QMP with fds
async def _fd_session(path: str, fds: Sequence[tuple[str, int]],
                      commands: Sequence[qmp.Command], timeout: float) -> list[Any]:
    client = QMPClient("gnt-hotplug")
    await asyncio.wait_for(client.connect(path), timeout)
    try:
        for fdname, fd in fds:
            client.send_fd_scm(fd)
            await asyncio.wait_for(client.execute("getfd", {"fdname": fdname}), timeout)
        return [await asyncio.wait_for(client.execute(c, a), timeout) for c, a in commands]
    finally:
        with contextlib.suppress(QMPError, OSError, EOFError):
            await client.disconnect()


def _execute_with_fds(path: str, fds: Sequence[tuple[str, int]],
                      commands: Sequence[qmp.Command],
                      timeout: float = qmp.DEFAULT_TIMEOUT) -> list[Any]:
    """Pass ``fds`` (name, fd) to QEMU, then run ``commands``, in one session."""
    names = ", ".join(c for c, _ in commands)
    try:
        return qmp.run(_fd_session(path, fds, commands, timeout))
    except ExecuteError as err:
        raise _fail(f"QMP command failed ({names}) on {path}: {err}") from err
    except (TimeoutError, QMPError, OSError, EOFError) as err:
        raise _fail(f"Cannot talk to QEMU over QMP ({names}) at {path}: "
                    f"{err or type(err).__name__}") from err


# ----------------------------------------------------------------- support
def check_supported(name: str) -> None:
    """Raise HypervisorError unless ``name`` runs and takes hot-plugged devices."""
    ip = R.InstancePaths(name)
    with R.instance_lock(ip):
        _, rt = _running(name)
    hvp = P.filled(rt.spec.hvparams)
    if hvp.get(P.USE_CHROOT):
        raise _fail("Hotplug is not supported for instances running with use_chroot",
                    errors.ECODE_INVAL)
    qmp.execute(rt.qmp, "query-status")


def _check_disk_hotplug(rt: R.KVMRuntime, hvp: dict[str, Any], disk: DiskSpec) -> None:
    disk_type = str(hvp.get(P.DISK_TYPE) or P.DISK_PARAVIRTUAL)
    if disk_type != P.DISK_PARAVIRTUAL:
        raise _fail(f"Hotplug of disks is only supported with disk_type={P.DISK_PARAVIRTUAL},"
                    f" not {disk_type}; the change needs a restart", errors.ECODE_INVAL)
    if hvp.get(P.USE_CHROOT) or hvp.get(P.SECURITY_MODEL) in (P.SM_USER, P.SM_POOL):
        raise _fail("Hotplug of disks is not supported with use_chroot or a non-root "
                    "security_model", errors.ECODE_INVAL)
    if disk.uri:
        raise _fail(f"Hotplug of userspace-access disks ({disk.uri}) is not supported",
                    errors.ECODE_INVAL)
    if any(d.uuid == disk.uuid for d in rt.spec.disks):
        raise _fail(f"Disk {disk.uuid} is already attached to instance {rt.name}",
                    errors.ECODE_EXISTS)


def blockdev_options(node: str, disk: DiskSpec, hvp: dict[str, Any]) -> dict[str, Any]:
    """``blockdev-add`` arguments of ``disk`` under node name ``node``, with the
    cache/aio/discard behaviour of the command line's ``-drive``."""
    cache, aio, discard = cmdline.disk_io(hvp)
    try:
        is_block = stat.S_ISBLK(os.stat(disk.path).st_mode)
    except OSError as err:
        raise _fail(f"Disk {disk.index} ({disk.path}) is not accessible: {err.strerror}",
                    errors.ECODE_ENVIRON) from err
    ro = disk.mode == C.DISK_RDONLY
    file_opts: dict[str, Any] = {"driver": "host_device" if is_block else "file",
                                 "filename": disk.path, "aio": aio, "read-only": ro}
    opts: dict[str, Any] = {"driver": "raw", "node-name": node, "read-only": ro,
                            "file": file_opts}
    if cache == "none":
        opts["cache"] = {"direct": True, "no-flush": False}
    if discard == "unmap":
        opts["discard"] = "unmap"
    return opts


# ------------------------------------------------------------------- disks
def add_disk(name: str, disk: DiskSpec) -> DiskSpec:
    """Hot-add the assembled ``disk``; returns it as recorded (with ``pci_slot``).

    Raises HypervisorError (QEMU's refusal included) leaving QEMU and the
    runtime file as they were.
    """
    def work(ip: R.InstancePaths, rt: R.KVMRuntime) -> DiskSpec:
        hvp = P.filled(rt.spec.hvparams)
        _check_disk_hotplug(rt, hvp, disk)
        slot = _free_slot(rt.qmp, rt, hvp)
        dev = device_id("disk", disk.index, disk.uuid)
        node = f"{dev}-drive"
        qmp.execute(rt.qmp, "blockdev-add", blockdev_options(node, disk, hvp))
        device: dict[str, Any] = {"driver": _DISK_DEVICE, "drive": node, "id": dev,
                                  "addr": f"{slot:#x}"}
        try:
            qmp.execute(rt.qmp, "device_add", device)
        except errors.HypervisorError:
            with contextlib.suppress(errors.HypervisorError):
                qmp.execute(rt.qmp, "blockdev-del", {"node-name": node})
            raise
        rt.spec.disks = _insert(rt.spec.disks, disk.model_copy(update={"pci_slot": slot}))
        added = next(d for d in rt.spec.disks if d.uuid == disk.uuid)
        log.info("Instance %s: hot-added disk %s (%s) in PCI slot %d", name, dev,
                 disk.path, slot)
        return added
    result: DiskSpec = _with_runtime(name, work)
    return result


def _unplug(name: str, kind: str, uuid: str, timeout: float,
            release: Callable[[R.KVMRuntime, str], None]) -> None:
    """Hot-remove the ``kind`` (disk/nic) device of ``uuid``: ``device_del``, wait
    until the guest let it go, then ``release(runtime, device id)`` frees what
    backed it and updates the runtime.  Raises HypervisorError when the device
    is not there or the guest keeps it."""
    def work(ip: R.InstancePaths, rt: R.KVMRuntime) -> None:
        dev = _attached_device(rt, kind, uuid)
        qmp.execute(rt.qmp, "device_del", {"id": dev})
        _wait_gone(rt.qmp, dev, name, timeout)
        release(rt, dev)
        log.info("Instance %s: hot-removed %s %s", name, kind, dev)
    _with_runtime(name, work)


def remove_disk(name: str, disk_uuid: str, timeout: float = UNPLUG_TIMEOUT) -> None:
    """Hot-remove disk ``disk_uuid``; raises HypervisorError when the guest keeps it."""
    def release(rt: R.KVMRuntime, dev: str) -> None:
        node = f"{dev}-drive"
        named = {n.get("node-name") for n in qmp.execute(rt.qmp, "query-named-block-nodes")}
        if node in named:  # added by blockdev-add: QEMU keeps the node until told
            qmp.execute(rt.qmp, "blockdev-del", {"node-name": node})
        rt.spec.disks = _reindex([d for d in rt.spec.disks if d.uuid != disk_uuid])
    _unplug(name, "disk", disk_uuid, timeout, release)


def resize_disk(name: str, disk_uuid: str, size: int) -> None:
    """Make the running guest see disk ``disk_uuid`` with ``size`` MiB (``block_resize``)."""
    def work(ip: R.InstancePaths, rt: R.KVMRuntime) -> None:
        dev = _attached_device(rt, "disk", disk_uuid)
        qdev = f"/machine/peripheral/{dev}/virtio-backend"
        node = None
        for blk in qmp.execute(rt.qmp, "query-block"):
            if blk.get("qdev") in (qdev, f"/machine/peripheral/{dev}", dev):
                node = (blk.get("inserted") or {}).get("node-name")
        if not node:
            raise _fail(f"Instance {name}: no block node behind device {dev}")
        qmp.execute(rt.qmp, "block_resize", {"node-name": node, "size": size * 1024 * 1024})
        rt.spec.disks = [d.model_copy(update={"size": size}) if d.uuid == disk_uuid else d
                         for d in rt.spec.disks]
        log.info("Instance %s: disk %s resized to %d MiB", name, dev, size)
    _with_runtime(name, work, pin=False)


# -------------------------------------------------------------------- NICs
def _nic_model(hvp: dict[str, Any]) -> str:
    nic_type = str(hvp.get(P.NIC_TYPE) or P.NIC_PARAVIRTUAL)
    if nic_type not in _PCI_NIC_TYPES:
        raise _fail(f"Hotplug of NICs is not supported with nic_type={nic_type}",
                    errors.ECODE_INVAL)
    return _NIC_MODELS.get(nic_type, nic_type)


def _remap_taps(taps: Sequence[R.TapInfo], old_nics: Sequence[NICSpec],
                new_nics: Sequence[NICSpec]) -> list[R.TapInfo]:
    """``taps`` with indices following their NICs' new positions (taps of NICs
    no longer there are dropped)."""
    new_index = {n.uuid: n.index for n in new_nics}
    by_old = {n.index: n.uuid for n in old_nics}
    return [t.model_copy(update={"index": new_index[by_old[t.index]]}) for t in taps
            if t.index in by_old and by_old[t.index] in new_index]


def _plug_nic(rt: R.KVMRuntime, hvp: dict[str, Any], nic: NICSpec, model: str, slot: int,
              tap: network.Tap) -> None:
    """Pass the tap's fds to QEMU and add the netdev and the device; on failure
    QEMU is left without either."""
    paravirt = model == "virtio-net-pci"
    dev = device_id("nic", nic.index, nic.uuid)
    fdnames = [(f"{dev}-fd{i}", fd) for i, fd in enumerate(tap.fds)]
    netdev: dict[str, Any] = {"type": "tap", "id": f"{dev}-netdev"}
    if len(fdnames) == 1:
        netdev["fd"] = fdnames[0][0]
    else:
        netdev["fds"] = ":".join(n for n, _ in fdnames)
    if paravirt and hvp.get(P.VHOST_NET):
        netdev["vhost"] = True
    device: dict[str, Any] = {"driver": model, "netdev": f"{dev}-netdev", "id": dev,
                              "mac": nic.mac, "addr": f"{slot:#x}"}
    if paravirt and len(fdnames) > 1:
        device.update({"mq": True, "vectors": 2 * len(fdnames) + 2})
    try:
        _execute_with_fds(rt.qmp, fdnames, [("netdev_add", netdev)])
    except errors.HypervisorError:
        for fdname, _ in fdnames:  # fds QEMU took but no netdev uses
            with contextlib.suppress(errors.HypervisorError):
                qmp.execute(rt.qmp, "closefd", {"fdname": fdname})
        raise
    try:
        qmp.execute(rt.qmp, "device_add", device)
    except errors.HypervisorError:
        with contextlib.suppress(errors.HypervisorError):
            qmp.execute(rt.qmp, "netdev_del", {"id": f"{dev}-netdev"})
        raise


def add_nic(name: str, nic: NICSpec) -> NICSpec:
    """Hot-add ``nic`` with a new tap device; returns it as recorded (with ``pci_slot``).

    Raises HypervisorError leaving QEMU, the host network and the runtime
    file as they were.
    """
    def work(ip: R.InstancePaths, rt: R.KVMRuntime) -> NICSpec:
        hvp = P.filled(rt.spec.hvparams)
        model = _nic_model(hvp)
        if any(n.uuid == nic.uuid for n in rt.spec.nics):
            raise _fail(f"NIC {nic.uuid} is already attached to instance {name}",
                        errors.ECODE_EXISTS)
        network.check_link(nic)
        slot = _free_slot(rt.qmp, rt, hvp)
        queues = int(hvp[P.VIRTIO_NET_QUEUES]) if model == "virtio-net-pci" else 1
        tap = network.start_nic(rt.spec, nic, bool(hvp[P.VNET_HDR]), queues)
        try:
            _plug_nic(rt, hvp, nic, model, slot, tap)
        except BaseException:
            tap.close()
            network.nic_down(rt.spec, nic, tap.name)
            network.delete_tap(tap.name)
            network.sync_nic_files(name, rt.taps)
            raise
        finally:
            tap.close()  # QEMU holds its own copies now
        old = list(rt.spec.nics)
        rt.spec.nics = _insert(old, nic.model_copy(update={"pci_slot": slot}))
        added = next(n for n in rt.spec.nics if n.uuid == nic.uuid)
        rt.taps = [*_remap_taps(rt.taps, old, rt.spec.nics),
                   R.TapInfo(index=added.index, name=tap.name,
                             mode=str(nic.nicparams.get(C.NIC_MODE, "")),
                             link=str(nic.nicparams.get(C.NIC_LINK, "")))]
        network.sync_nic_files(name, rt.taps)
        log.info("Instance %s: hot-added NIC %s (tap %s) in PCI slot %d", name,
                 device_id("nic", added.index, nic.uuid), tap.name, slot)
        return added
    result: NICSpec = _with_runtime(name, work)
    return result


def remove_nic(name: str, nic_uuid: str, timeout: float = UNPLUG_TIMEOUT) -> None:
    """Hot-remove NIC ``nic_uuid``; raises HypervisorError when the guest keeps it."""
    def release(rt: R.KVMRuntime, dev: str) -> None:
        with contextlib.suppress(errors.HypervisorError):  # gone with a -netdev fd=
            qmp.execute(rt.qmp, "netdev_del", {"id": f"{dev}-netdev"})
        old = list(rt.spec.nics)
        gone = next((n for n in old if n.uuid == nic_uuid), None)
        if gone is not None:
            for tap in [t for t in rt.taps if t.index == gone.index]:
                network.nic_down(rt.spec, gone, tap.name)
                network.delete_tap(tap.name)
        rt.spec.nics = _reindex([n for n in old if n.uuid != nic_uuid])
        rt.taps = _remap_taps(rt.taps, old, rt.spec.nics)
        network.sync_nic_files(name, rt.taps)
    _unplug(name, "nic", nic_uuid, timeout, release)


# ------------------------------------------------------------------ memory
def balloon(name: str, memory: int) -> None:
    """Ask the guest's balloon driver to leave it ``memory`` MiB (QMP ``balloon``).

    The runtime's recorded memory (what QEMU was started with, and what a
    migration target needs) does not change.
    """
    ip = R.InstancePaths(name)
    with R.instance_lock(ip):
        _, rt = _running(name)
    if memory > rt.spec.memory:
        raise _fail(f"Instance {name} was started with {rt.spec.memory} MiB; it cannot be "
                    f"ballooned up to {memory} MiB", errors.ECODE_INVAL)
    qmp.execute(rt.qmp, "balloon", {"value": memory * 1024 * 1024})
    log.info("Instance %s: balloon target set to %d MiB", name, memory)


def current_memory(rt: R.KVMRuntime, timeout: float = qmp.DEFAULT_TIMEOUT) -> int | None:
    """The memory (MiB) the guest of ``rt`` has now, as its balloon reports it (QMP
    ``query-balloon``, ``actual``); None when QEMU cannot tell (no balloon
    device, monitor busy), so callers fall back to the memory it started with."""
    try:
        res = qmp.execute(rt.qmp, "query-balloon", timeout=timeout)
    except errors.HypervisorError as err:
        log.debug("Instance %s: no balloon information: %s", rt.name, err)
        return None
    actual = res.get("actual") if isinstance(res, dict) else None
    return int(actual) // (1024 * 1024) if actual else None
