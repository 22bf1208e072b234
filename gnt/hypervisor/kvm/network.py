"""NICs of KVM instances: one tap device per NIC, opened here and handed to QEMU.

As in Ganeti, the node daemon opens each tap (``/dev/net/tun``,
``TUNSETIFF``), wires its host side (:func:`gnt.network.scripts.nic_up`:
a site script or the built-in per mode) and passes the open descriptors to
QEMU (``-netdev tap,fd=N``).  The taps are not persistent: they disappear
with the last holder of their descriptors (QEMU), so a dead QEMU leaves no
tap behind.

Tap names are ``tap`` + 12 hex digits of a hash of (node, instance UUID, NIC
UUID): the same NIC always gets the same tap on a node (a retried start
reuses the name; a second QEMU of the instance on this node is refused with
"busy"), two nodes sharing one kernel (test clusters) never collide, and the
``tap`` prefix keeps them recognisable as instance taps to scripts written
for Ganeti (which skip ``tap*`` ports when looking for bridge uplinks).
Ganeti's ``<kvm_run_dir>/nic/<instance>/<index>`` files name each NIC's tap.

Lifecycle (the functions the KVM driver calls):

* :func:`start_nics` in the start path, incoming migrations included: open
  and wire every NIC.  For an incoming migration routed NICs are opened but
  not wired (the host route must not move before the guest does);
* :func:`finish_incoming` on the migration target once the guest runs there:
  wire the routed NICs (``MIGRATION_PHASE=post``);
* :func:`stop_nics` after QEMU exited (stop, migration source after
  success, target after failure): run the ``down`` action of every NIC,
  delete any tap still present, remove the NIC files;
* :func:`teardown_instance`: the same for an instance by name, from what
  this node recorded (runtime file, else the NIC files).

For hotplug: :func:`start_nic` (one NIC), :func:`nic_down`,
:func:`delete_tap` and :func:`sync_nic_files`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gnt import constants as C
from gnt import errors, netutils, paths
from gnt.hypervisor.base import InstanceSpec, NICSpec
from gnt.hypervisor.kvm import runtime as R
from gnt.network import env as nenv
from gnt.network import modes, scripts
from gnt.network import vlan as vlan_mod
from gnt.utils.io import atomic_write

log = logging.getLogger(__name__)

TUN_DEVICE = "/dev/net/tun"
TUNSETIFF = 0x400454CA
TUNGETFEATURES = 0x800454CF
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_MULTI_QUEUE = 0x0100
IFNAMSIZ = 16
TAP_PREFIX = modes.TAP_PREFIX
_SYS_NET = Path("/sys/class/net")


@dataclass
class Tap:
    """An open tap device: its kernel name and one fd per queue."""

    name: str
    fds: list[int]

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


# ----------------------------------------------------------------- naming
def tap_name(instance_uuid: str, nic_uuid: str, node: str | None = None) -> str:
    """The tap of NIC ``nic_uuid`` of instance ``instance_uuid`` on ``node`` (default: this
    node): ``tap`` + 12 hex digits, 15 characters (the kernel's limit)."""
    node = node if node is not None else netutils.my_hostname()
    digest = hashlib.sha256(f"{node}\0{instance_uuid}\0{nic_uuid}".encode()).hexdigest()
    return f"{TAP_PREFIX}{digest[:IFNAMSIZ - 1 - len(TAP_PREFIX)]}"


def nic_dir(instance: str) -> Path:
    """``<kvm_run_dir>/nic/<instance>``: one file per NIC index holding its tap name."""
    R.check_name(instance)
    return paths.get().kvm_nic_dir / instance


def recorded_taps(instance: str) -> dict[int, str]:
    """NIC index -> tap name, from the instance's NIC files on this node."""
    out: dict[int, str] = {}
    try:
        entries = os.listdir(nic_dir(instance))
    except OSError:
        return out
    for entry in entries:
        if entry.isdigit():
            with contextlib.suppress(OSError):
                out[int(entry)] = (nic_dir(instance) / entry).read_text().strip()
    return out


def _record(instance: str, index: int, tap: str) -> None:
    atomic_write(nic_dir(instance) / str(index), tap + "\n", mode=0o640)


def sync_nic_files(instance: str, taps: Iterable[R.TapInfo]) -> None:
    """Rewrite the instance's NIC files to name exactly ``taps`` (after a hotplug)."""
    _forget(instance)
    for tap in taps:
        _record(instance, tap.index, tap.name)


def _forget(instance: str, index: int | None = None) -> None:
    d = nic_dir(instance)
    if index is not None:
        with contextlib.suppress(FileNotFoundError):
            (d / str(index)).unlink()
        return
    shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------- checks
def check_link(nic: NICSpec) -> None:
    """Refuse a NIC this node cannot wire, before anything starts; raises HypervisorError.

    bridged: the bridge must exist (and be VLAN-aware with a ``vlan``);
    routed: the NIC needs an IP; openvswitch: ovs-vsctl must be installed.
    """
    mode = nic.nicparams.get(C.NIC_MODE, C.NIC_MODE_BRIDGED)
    link = str(nic.nicparams.get(C.NIC_LINK) or "")
    vlans = vlan_mod.parse(str(nic.nicparams.get(C.NIC_VLAN) or ""))
    if mode == C.NIC_MODE_BRIDGED:
        if not link or not (_SYS_NET / link / "bridge").is_dir():
            raise errors.HypervisorError(
                f"NIC {nic.index} is in bridged mode but bridge '{link}' does not exist on "
                "this node (create it, use another nic link, or start the instance without "
                "NICs)", errors.ECODE_ENVIRON)
        if vlans:
            modes.check_vlan_aware(
                link, f"NIC {nic.index} has vlan {nic.nicparams.get(C.NIC_VLAN)!r}")
    elif mode == C.NIC_MODE_OVS:
        modes.check_ovs()
    elif mode == C.NIC_MODE_ROUTED:
        if not nic.ip:
            raise errors.HypervisorError(
                f"NIC {nic.index} is in routed mode but has no IP address", errors.ECODE_INVAL)
    else:
        raise errors.HypervisorError(
            f"NIC {nic.index} has unsupported mode '{mode}'; allowed: "
            f"{', '.join(C.NIC_VALID_MODES)}", errors.ECODE_INVAL)
    if not os.path.exists(TUN_DEVICE):
        raise errors.HypervisorError(f"{TUN_DEVICE} is missing: cannot create tap devices",
                                     errors.ECODE_ENVIRON)


def _vlans(vlan: str) -> tuple[int | None, list[int]]:
    """Ganeti's vlan syntax as (untagged, tagged) (see :mod:`gnt.network.vlan`)."""
    v = vlan_mod.parse(vlan)
    return v.untagged, list(v.tagged)


# -------------------------------------------------------------------- taps
def _vnet_hdr_supported(fd: int) -> bool:
    try:
        raw = fcntl.ioctl(fd, TUNGETFEATURES, struct.pack("I", 0))
    except OSError:
        return False
    return bool(struct.unpack("I", raw)[0] & IFF_VNET_HDR)


def open_tap(name: str, vnet_hdr: bool = True, queues: int = 1) -> Tap:
    """Create (or attach to) tap ``name`` with ``queues`` queues; raises HypervisorError.

    A tap of that name held by another process is refused ("busy").
    """
    if not 0 < len(name) < IFNAMSIZ:
        raise errors.ProgrammerError(f"invalid tap name {name!r}")
    fds: list[int] = []
    try:
        for _ in range(max(1, queues)):
            fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC)
            fds.append(fd)
            flags = IFF_TAP | IFF_NO_PI
            if vnet_hdr and _vnet_hdr_supported(fd):
                flags |= IFF_VNET_HDR
            if queues > 1:
                flags |= IFF_MULTI_QUEUE
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    except OSError as err:
        for fd in fds:
            os.close(fd)
        why = err.strerror
        if err.errno in (errno.EBUSY, errno.EINVAL) and (_SYS_NET / name).exists():
            why = "it exists and is in use by another process (is the instance running?)"
        raise errors.HypervisorError(f"Cannot create tap device {name}: {why}",
                                     errors.ECODE_ENVIRON) from err
    return Tap(name=name, fds=fds)


def delete_tap(name: str) -> None:
    """Delete the network device ``name`` if it still exists (best effort)."""
    if not (_SYS_NET / name).exists():
        return
    res = modes.run(["ip", "link", "del", "dev", name], check=False)
    if res.returncode != 0 and (_SYS_NET / name).exists():
        log.warning("Cannot delete tap %s: %s", name, res.stderr.strip())


# --------------------------------------------------------------- lifecycle
def _env(spec: InstanceSpec, nic: NICSpec, tap: str, action: str,
         phase: str | None = None) -> dict[str, str]:
    return nenv.nic_env(spec.name, nic, tap, tags=spec.tags, action=action,
                        migration_phase=phase)


def _deferred(nic: NICSpec, incoming: bool) -> bool:
    """Whether the NIC is wired only once an incoming migration completed."""
    return incoming and nic.nicparams.get(C.NIC_MODE) == C.NIC_MODE_ROUTED


def nic_up(spec: InstanceSpec, nic: NICSpec, tap: str, phase: str | None = None) -> None:
    """Wire the host side of ``tap`` for ``nic``; raises HypervisorError."""
    what = scripts.nic_up(_env(spec, nic, tap, nenv.ACTION_UP, phase),
                          paths.get().kvm_ifup_custom)
    log.info("Instance %s: NIC %d on %s is up (%s)", spec.name, nic.index, tap, what)


def nic_down(spec: InstanceSpec, nic: NICSpec, tap: str) -> None:
    """Undo the host side of ``tap`` (best effort; never raises)."""
    try:
        scripts.nic_down(_env(spec, nic, tap, nenv.ACTION_DOWN), paths.get().kvm_ifdown_custom)
    except Exception as err:  # noqa: BLE001 - down must not stop a cleanup
        log.warning("Instance %s: NIC %d down on %s failed: %s", spec.name, nic.index, tap,
                    err)


def start_nic(spec: InstanceSpec, nic: NICSpec, vnet_hdr: bool = True, queues: int = 1,
              incoming: bool = False) -> Tap:
    """Open the tap of one NIC, record it and wire it (routed NICs of an incoming migration
    are wired later by :func:`finish_incoming`); raises HypervisorError.

    The caller passes ``Tap.fds`` to QEMU and closes them afterwards.  On
    failure nothing is left behind.
    """
    tap = open_tap(tap_name(spec.uuid, nic.uuid), vnet_hdr, queues)
    try:
        _record(spec.name, nic.index, tap.name)
        if not _deferred(nic, incoming):
            nic_up(spec, nic, tap.name)
    except BaseException:
        tap.close()
        nic_down(spec, nic, tap.name)
        _forget(spec.name, nic.index)
        raise
    return tap


def start_nics(spec: InstanceSpec, vnet_hdr: bool = True, queues: int = 1,
               incoming: bool = False) -> list[tuple[NICSpec, Tap]]:
    """:func:`start_nic` for every NIC of ``spec`` in index order; all or nothing.

    Returns (NIC, open tap) pairs; raises HypervisorError after undoing
    the NICs already started.
    """
    _forget(spec.name)
    started: list[tuple[NICSpec, Tap]] = []
    try:
        for nic in sorted(spec.nics, key=lambda n: n.index):
            started.append((nic, start_nic(spec, nic, vnet_hdr, queues, incoming)))
    except BaseException:
        release(spec, started)
        raise
    return started


def release(spec: InstanceSpec, started: Iterable[tuple[NICSpec, Tap]]) -> None:
    """Undo :func:`start_nics` when QEMU did not start: close, down, forget."""
    for nic, tap in started:
        tap.close()
        nic_down(spec, nic, tap.name)
    _forget(spec.name)


def finish_incoming(spec: InstanceSpec, taps: Iterable[R.TapInfo]) -> None:
    """On a migration target once the guest runs here: wire the NICs
    :func:`start_nics` deferred (``MIGRATION_PHASE=post``).  Failures are
    logged, as the guest already runs here."""
    by_index = {n.index: n for n in spec.nics}
    for t in taps:
        nic = by_index.get(t.index)
        if nic is None or not _deferred(nic, True):
            continue
        try:
            nic_up(spec, nic, t.name, phase=nenv.PHASE_POST)
        except errors.HypervisorError as err:
            log.warning("Instance %s: %s", spec.name, err)


def stop_nics(spec: InstanceSpec, taps: Iterable[R.TapInfo]) -> None:
    """After QEMU exited: ``down`` for every NIC, delete leftover taps, forget them."""
    by_index = {n.index: n for n in spec.nics}
    for t in taps:
        nic = by_index.get(t.index) or NICSpec(
            uuid="", index=t.index, mac="", nicparams={C.NIC_MODE: t.mode, C.NIC_LINK: t.link})
        nic_down(spec, nic, t.name)
        delete_tap(t.name)
    _forget(spec.name)


def teardown_instance(name: str) -> None:
    """Tear down the NICs of instance ``name`` on this node (after its QEMU exited).

    Uses the runtime file when there is one (so ``down`` gets the full NIC
    environment), else only deletes the taps named by the NIC files.
    """
    try:
        rt = R.load(R.InstancePaths(name))
    except errors.HypervisorError as err:
        log.warning("%s", err)
        rt = None
    if rt is not None:
        known = {t.index for t in rt.taps}
        extra = [R.TapInfo(index=i, name=n, mode="", link="")
                 for i, n in recorded_taps(name).items() if i not in known]
        stop_nics(rt.spec, [*rt.taps, *extra])
        return
    for tap in recorded_taps(name).values():
        delete_tap(tap)
    _forget(name)
