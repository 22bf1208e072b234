"""The QEMU command line of an instance: a pure function of its spec and context.

:func:`build` turns an :class:`InstanceSpec` (filled hvparams, beparams,
disks, NICs) plus a :class:`LaunchContext` (accelerator, socket paths, tap
fds) into QEMU's argv.  Nothing here touches the system, so it is unit
tested directly.  The shape:

* ``-name``, ``-uuid`` (when the instance UUID is a UUID), ``-m`` (MiB), ``-smp``, ``-machine`` (machine_version,
  ``acpi=off`` when acpi is false), ``-accel kvm|tcg``, ``-cpu`` (cpu_type),
  ``-nodefaults`` (every device is explicit; no implicit user-mode NIC);
* ``-S`` always: the hypervisor resumes with QMP ``cont`` after its post-start
  set-up, unless the instance is to start paused;
* ``-daemonize -pidfile``; QMP and human monitor sockets;
* serial console on a unix socket when ``serial_console``;
* ``-kernel/-initrd/-append`` when ``kernel_path`` is set, the append line
  being ``root=<root_path> <kernel_args> console=ttyS0,<serial_speed>``;
* disks as ``-drive if=none`` + ``-device`` per ``disk_type``, cache/aio/
  discard per hvparams (``aio=native`` needs direct I/O: with the default
  cache it implies ``cache=none``, with a host-cache mode it is refused);
* NICs as ``-netdev tap,fd=N`` + ``-device`` per ``nic_type``;
* VNC (``-vnc`` on display ``network_port - 5900``) or ``-display none``;
* ``kvm_extra`` (shell-split) last;
* ``addr=`` on the devices whose PCI slot a hotplug pinned (:func:`pin_pci_slots`).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import uuid
from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.hypervisor.base import InstanceSpec
from gnt.hypervisor.kvm import params as P

_NIC_MODELS = {
    P.NIC_PARAVIRTUAL: "virtio-net-pci", "e1000": "e1000", "i82551": "i82551",
    "i82557b": "i82557b", "i82559er": "i82559er", "ne2k_isa": "ne2k_isa",
    "ne2k_pci": "ne2k_pci", "pcnet": "pcnet", "rtl8139": "rtl8139",
}
_SCSI_CONTROLLERS = {"lsi": "lsi53c895a", "virtio-scsi-pci": "virtio-scsi-pci",
                     "megasas": "megasas", "dc390": "dc390"}
# disk_type -> QEMU device (None: a legacy -drive if=<type>)
_DISK_DEVICES: dict[str, str | None] = {
    P.DISK_PARAVIRTUAL: "virtio-blk-pci", "ide": "ide-hd", "scsi": "scsi-hd",
    "scsi-hd": "scsi-hd", "scsi-block": "scsi-block", "scsi-generic": "scsi-generic",
    "scsi-cd": "scsi-cd", "sd": None, "mtd": None, "pflash": None,
}
_CDROM_DEVICES = {"": "ide-cd", "ide": "ide-cd", P.DISK_PARAVIRTUAL: "virtio-blk-pci",
                  "scsi": "scsi-cd", "scsi-hd": "scsi-cd", "scsi-cd": "scsi-cd"}
_SCSI_BUS = "scsi0"
_ID_RE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class LaunchContext:
    """Everything :func:`build` needs beyond the spec.

    ``nic_fds``: NIC index -> open tap fds (one per queue), inherited by QEMU.
    """

    accel: str
    pidfile: str
    qmp: str
    monitor: str
    serial: str | None = None
    #: file that receives a copy of everything the guest writes on its serial console
    serial_log: str | None = None
    qga: str | None = None
    chroot_dir: str | None = None
    nic_fds: dict[int, list[int]] = field(default_factory=dict)
    #: QEMU's ``-incoming`` value for the destination of a migration (``defer``:
    #: wait for QMP ``migrate-incoming``); such a QEMU starts without ``-S`` so
    #: the guest resumes by itself the moment the migration completes
    incoming: str | None = None


def uuid_tag(uuid: str) -> str:
    """The part of a disk/NIC UUID that device ids carry: its first group, at most
    8 characters of ``[A-Za-z0-9_-]``."""
    return _ID_RE.sub("", uuid.split("-")[0])[:8]


def device_id(kind: str, index: int, uuid: str) -> str:
    """A QEMU device id stable per device: ``<kind><index>-<uuid tag>`` (``kind``:
    ``disk``/``nic``); hotplug finds devices again by the tag."""
    return f"{kind}{index}-{uuid_tag(uuid)}"


def _opt(value: str) -> str:
    """Escape a value for QEMU's comma-separated option syntax."""
    return value.replace(",", ",,")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def kernel_append(hvp: dict[str, Any]) -> str:
    """The kernel command line: root, kernel_args, serial console."""
    parts = []
    if hvp.get(P.ROOT_PATH):
        parts.append(f"root={hvp[P.ROOT_PATH]}")
    if hvp.get(P.KERNEL_ARGS):
        parts.append(str(hvp[P.KERNEL_ARGS]))
    if hvp.get(P.SERIAL_CONSOLE):
        parts.append(f"console=ttyS0,{hvp[P.SERIAL_SPEED]}")
    return " ".join(parts)


def vnc_display(spec: InstanceSpec, hvp: dict[str, Any]) -> tuple[str, int | None] | None:
    """(bind address or unix path, display number or None) when VNC is on."""
    bind = str(hvp.get(P.VNC_BIND_ADDRESS) or "")
    if not bind:
        return None
    if bind.startswith("/"):
        return bind, None
    if spec.network_port is None or spec.network_port < C.VNC_BASE_PORT:
        raise errors.HypervisorError(
            f"Instance {spec.name} has vnc_bind_address={bind} but no network port >= "
            f"{C.VNC_BASE_PORT}", errors.ECODE_INVAL)
    return bind, spec.network_port - C.VNC_BASE_PORT


def _vnc_args(spec: InstanceSpec, hvp: dict[str, Any]) -> list[str]:
    vnc = vnc_display(spec, hvp)
    if vnc is None:
        return ["-display", "none"]
    bind, display = vnc
    args: list[str] = []
    if display is None:
        arg = f"unix:{_opt(bind)}"
    else:
        try:
            is_v6 = ipaddress.ip_address(bind).version == 6
        except ValueError:
            raise errors.HypervisorError(
                f"vnc_bind_address {bind!r} is neither an IP address nor an absolute path",
                errors.ECODE_INVAL) from None
        arg = f"[{bind}]:{display}" if is_v6 else f"{bind}:{display}"
    if hvp.get(P.VNC_TLS):
        x509 = str(hvp.get(P.VNC_X509) or "")
        if x509:
            verify = "on" if hvp.get(P.VNC_X509_VERIFY) else "off"
            args += ["-object", (f"tls-creds-x509,id=vnc-tls,dir={_opt(x509)},"
                                 f"endpoint=server,verify-peer={verify}")]
        else:
            args += ["-object", "tls-creds-anon,id=vnc-tls,endpoint=server"]
        arg += ",tls-creds=vnc-tls"
    if hvp.get(P.VNC_PASSWORD_FILE):
        arg += ",password=on"
    args += ["-vnc", arg]
    if hvp.get(P.KEYMAP):
        args += ["-k", str(hvp[P.KEYMAP])]
    return args


def disk_io(hvp: dict[str, Any]) -> tuple[str, str, str]:
    """``(cache, aio, discard)`` of the instance's disks from its hvparams.

    ``disk_aio=native`` needs direct I/O: the default cache becomes ``none``;
    any other cache raises HypervisorError (``wrong_input``).
    """
    cache = str(hvp.get(P.DISK_CACHE) or P.CACHE_DEFAULT)
    aio = str(hvp.get(P.DISK_AIO) or P.AIO_THREADS)
    discard = str(hvp.get(P.DISK_DISCARD) or P.DISCARD_DEFAULT)
    if aio == P.AIO_NATIVE:
        if cache == P.CACHE_DEFAULT:
            cache = "none"
        elif cache != "none":
            raise errors.HypervisorError(
                f"disk_aio=native needs direct I/O, which disk_cache={cache} does not give; "
                "use disk_cache=none or default, or another disk_aio", errors.ECODE_INVAL)
    return cache, aio, discard


def _cache_aio(hvp: dict[str, Any]) -> str:
    cache, aio, discard = disk_io(hvp)
    out = f",aio={aio}"
    if cache != P.CACHE_DEFAULT:
        out += f",cache={cache}"
    if discard != P.DISCARD_DEFAULT:
        out += f",discard={discard}"
    return out


def _disk_args(spec: InstanceSpec, hvp: dict[str, Any]) -> list[str]:
    disk_type = str(hvp.get(P.DISK_TYPE) or P.DISK_PARAVIRTUAL)
    device = _DISK_DEVICES[disk_type]
    boot_disk = (hvp.get(P.BOOT_ORDER) == P.BOOT_DISK and not hvp.get(P.KERNEL_PATH))
    flags = _cache_aio(hvp)
    args: list[str] = []
    for disk in sorted(spec.disks, key=lambda d: d.index):
        src = disk.uri or disk.path
        ro = ",readonly=on" if disk.mode == C.DISK_RDONLY else ""
        if device is None:
            args += ["-drive", f"file={_opt(src)},format=raw,if={disk_type}{flags}{ro}"]
            continue
        drive_id = device_id("disk", disk.index, disk.uuid)
        args += ["-drive", (f"file={_opt(src)},format=raw,if=none,id={drive_id}-drive"
                            f"{flags}{ro}")]
        dev = f"{device},drive={drive_id}-drive,id={drive_id}"
        if device.startswith("scsi-"):
            dev += f",bus={_SCSI_BUS}.0"
        if boot_disk and disk.index == 0:
            dev += ",bootindex=1"
        args += ["-device", dev]
    return args


def _needs_scsi(hvp: dict[str, Any], spec: InstanceSpec) -> bool:
    disk_dev = _DISK_DEVICES[str(hvp.get(P.DISK_TYPE) or P.DISK_PARAVIRTUAL)] or ""
    cd_dev = _CDROM_DEVICES.get(str(hvp.get(P.CDROM_DISK_TYPE) or ""), "")
    has_cd = bool(hvp.get(P.CDROM_IMAGE_PATH) or hvp.get(P.CDROM2_IMAGE_PATH))
    return (bool(spec.disks) and disk_dev.startswith("scsi-")) or (
        has_cd and cd_dev.startswith("scsi-"))


def _cdrom_args(hvp: dict[str, Any]) -> list[str]:
    cd_type = str(hvp.get(P.CDROM_DISK_TYPE) or "")
    if cd_type not in _CDROM_DEVICES:
        raise errors.HypervisorError(
            f"cdrom_disk_type={cd_type} is not supported for CD-ROMs; allowed: "
            f"{', '.join(repr(k) if not k else k for k in _CDROM_DEVICES)}", errors.ECODE_INVAL)
    device = _CDROM_DEVICES[cd_type]
    args: list[str] = []
    boot_cd = hvp.get(P.BOOT_ORDER) == P.BOOT_CDROM and not hvp.get(P.KERNEL_PATH)
    for n, key in enumerate((P.CDROM_IMAGE_PATH, P.CDROM2_IMAGE_PATH)):
        image = str(hvp.get(key) or "")
        if not image:
            continue
        media = ",media=cdrom" if device != "virtio-blk-pci" else ""
        args += ["-drive", (f"file={_opt(image)},format=raw,if=none,id=cdrom{n}-drive"
                            f",readonly=on{media}")]
        dev = f"{device},drive=cdrom{n}-drive,id=cdrom{n}"
        if device.startswith("scsi-"):
            dev += f",bus={_SCSI_BUS}.0"
        if boot_cd and n == 0:
            dev += ",bootindex=1"
        args += ["-device", dev]
    if hvp.get(P.FLOPPY_IMAGE_PATH):
        args += ["-drive", f"file={_opt(str(hvp[P.FLOPPY_IMAGE_PATH]))},format=raw,if=floppy"]
    return args


def _nic_args(spec: InstanceSpec, hvp: dict[str, Any], ctx: LaunchContext) -> list[str]:
    model = _NIC_MODELS[str(hvp.get(P.NIC_TYPE) or P.NIC_PARAVIRTUAL)]
    paravirt = model == "virtio-net-pci"
    boot_net = hvp.get(P.BOOT_ORDER) == P.BOOT_NETWORK and not hvp.get(P.KERNEL_PATH)
    args: list[str] = []
    for nic in sorted(spec.nics, key=lambda n: n.index):
        fds = ctx.nic_fds.get(nic.index)
        if not fds:
            raise errors.ProgrammerError(f"no tap fd for NIC {nic.index} of {spec.name}")
        nid = device_id("nic", nic.index, nic.uuid)
        netdev = f"tap,id={nid}-netdev"
        netdev += f",fd={fds[0]}" if len(fds) == 1 else f",fds={':'.join(map(str, fds))}"
        if paravirt and hvp.get(P.VHOST_NET):
            netdev += ",vhost=on"
        args += ["-netdev", netdev]
        dev = f"{model},netdev={nid}-netdev,id={nid},mac={nic.mac}"
        if paravirt and len(fds) > 1:
            dev += f",mq=on,vectors={2 * len(fds) + 2}"
        if boot_net and nic.index == 0:
            dev += ",bootindex=1"
        args += ["-device", dev]
    return args


def _smp(spec: InstanceSpec, hvp: dict[str, Any]) -> str:
    smp = str(int(spec.beparams.get(C.BE_VCPUS, 1)))
    for key, name in ((P.CPU_CORES, "cores"), (P.CPU_THREADS, "threads"),
                      (P.CPU_SOCKETS, "sockets")):
        if int(hvp.get(key) or 0) > 0:
            smp += f",{name}={int(hvp[key])}"
    return smp


def check_supported(hvp: dict[str, Any]) -> None:
    """Refuse parameter values gnt cannot honour; raises HypervisorError."""
    if hvp.get(P.SPICE_BIND):
        raise errors.HypervisorError(
            "SPICE consoles are not supported by gnt's kvm hypervisor yet "
            "(unset spice_bind; use vnc_bind_address or the serial console)",
            errors.ECODE_INVAL)
    if hvp.get(P.SECURITY_MODEL) == P.SM_POOL:
        raise errors.HypervisorError(
            "security_model=pool (the cluster uid pool) is not supported yet; use none or "
            "user", errors.ECODE_INVAL)
    if hvp.get(P.SECURITY_MODEL) == P.SM_USER and not hvp.get(P.SECURITY_DOMAIN):
        raise errors.HypervisorError("security_model=user needs a security_domain (a user)",
                                     errors.ECODE_INVAL)
    if int(hvp.get(P.VIRTIO_NET_QUEUES) or 1) < 1:
        raise errors.HypervisorError("virtio_net_queues must be at least 1",
                                     errors.ECODE_INVAL)


def ignored(hvp: dict[str, Any]) -> list[str]:
    """Names of parameters set to a non-default value that gnt does not act on yet."""
    return [k for k in P.IGNORED if hvp.get(k, P.PARAMETERS[k].default)
            != P.PARAMETERS[k].default]


def build(spec: InstanceSpec, ctx: LaunchContext) -> list[str]:
    """QEMU's argv for ``spec``; raises HypervisorError for values it cannot honour.

    ``spec.hvparams`` may be partial: missing names take their defaults.
    """
    hvp = P.filled(spec.hvparams)
    check_supported(hvp)
    machine = str(hvp.get(P.MACHINE_VERSION) or "pc")
    if not hvp.get(P.ACPI):
        machine += ",acpi=off"
    cmd = [str(hvp[P.KVM_PATH]), "-name", spec.name]
    if _is_uuid(spec.uuid):
        cmd += ["-uuid", spec.uuid]
    cmd += ["-machine", machine, "-accel", ctx.accel,
           "-m", str(spec.memory), "-smp", _smp(spec, hvp), "-nodefaults",
           *(["-incoming", ctx.incoming] if ctx.incoming else ["-S"]),
           "-daemonize", "-pidfile", ctx.pidfile,
           "-qmp", f"unix:{_opt(ctx.qmp)},server=on,wait=off",
           "-monitor", f"unix:{_opt(ctx.monitor)},server=on,wait=off"]
    if hvp.get(P.CPU_TYPE):
        cmd += ["-cpu", str(hvp[P.CPU_TYPE])]
    if hvp.get(P.MEM_PATH):
        cmd += ["-mem-path", str(hvp[P.MEM_PATH])]
    if hvp.get(P.USE_LOCALTIME):
        cmd += ["-rtc", "base=localtime"]
    if hvp.get(P.REBOOT_BEHAVIOR) == P.REBOOT_EXIT:
        cmd += ["-no-reboot"]
    if hvp.get(P.USER_SHUTDOWN):
        cmd += ["-no-shutdown"]
    if hvp.get(P.SECURITY_MODEL) == P.SM_USER:
        cmd += ["-runas", str(hvp[P.SECURITY_DOMAIN])]
    if hvp.get(P.USE_CHROOT):
        if not ctx.chroot_dir:
            raise errors.ProgrammerError("use_chroot without a chroot directory")
        cmd += ["-chroot", ctx.chroot_dir]
    if ctx.serial:
        chardev = f"socket,id=serial0,path={_opt(ctx.serial)},server=on,wait=off"
        if ctx.serial_log:
            chardev += f",logfile={_opt(ctx.serial_log)},logappend=on"
        cmd += ["-chardev", chardev, "-serial", "chardev:serial0"]
    if hvp.get(P.KERNEL_PATH):
        cmd += ["-kernel", str(hvp[P.KERNEL_PATH])]
        if hvp.get(P.INITRD_PATH):
            cmd += ["-initrd", str(hvp[P.INITRD_PATH])]
        cmd += ["-append", kernel_append(hvp)]
    elif hvp.get(P.BOOT_ORDER) == P.BOOT_FLOPPY:
        cmd += ["-boot", "order=a"]
    if _needs_scsi(hvp, spec):
        ctrl = _SCSI_CONTROLLERS[str(hvp.get(P.SCSI_CONTROLLER_TYPE) or "lsi")]
        cmd += ["-device", f"{ctrl},id={_SCSI_BUS}"]
    cmd += _disk_args(spec, hvp)
    cmd += _cdrom_args(hvp)
    cmd += _nic_args(spec, hvp, ctx)
    cmd += ["-device", "virtio-balloon-pci,id=balloon0"]
    vga = str(hvp.get(P.VGA) or "")
    if vga:
        cmd += ["-vga", vga]
    elif hvp.get(P.VNC_BIND_ADDRESS):
        cmd += ["-vga", "std"]
    cmd += _vnc_args(spec, hvp)
    if hvp.get(P.USB_MOUSE):
        cmd += ["-usb", "-device", f"usb-{hvp[P.USB_MOUSE]}"]
    if ctx.qga:
        cmd += ["-chardev", f"socket,id=qga0,path={_opt(ctx.qga)},server=on,wait=off",
                "-device", "virtio-serial-pci,id=qga0-serial",
                "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"]
    if hvp.get(P.KVM_EXTRA):
        cmd += shlex.split(str(hvp[P.KVM_EXTRA]))
    return pin_pci_slots(cmd, spec)


def pin_pci_slots(cmd: list[str], spec: InstanceSpec) -> list[str]:
    """``cmd`` with ``addr=`` on every ``-device`` whose PCI slot the spec records
    (``pci_slot`` of disks/NICs, ``pci_slots`` by device id): after a hotplug
    the running QEMU's layout is pinned so a migration target reproduces it."""
    slots = dict(spec.pci_slots)
    slots.update({device_id("disk", d.index, d.uuid): d.pci_slot for d in spec.disks
                  if d.pci_slot is not None})
    slots.update({device_id("nic", n.index, n.uuid): n.pci_slot for n in spec.nics
                  if n.pci_slot is not None})
    if not slots:
        return cmd
    out = list(cmd)
    for i in range(1, len(out)):
        if out[i - 1] != "-device" or ",addr=" in out[i]:
            continue
        m = re.search(r"(?:^|,)id=([^,]+)", out[i])
        if m and m.group(1) in slots:
            out[i] += f",addr={slots[m.group(1)]:#x}"
    return out


def parse_cpu_mask(mask: str, vcpus: int) -> list[list[int]] | None:
    """Ganeti's cpu_mask: None for ``all``; else one CPU list per vCPU.

    ``"0-2,5"`` pins every vCPU to CPUs 0,1,2,5; ``"1:3-4:all"`` gives one
    entry per vCPU (the count must match; ``all`` = no pinning, ``[]``).
    Raises HypervisorError on bad syntax.
    """
    mask = mask.strip()
    if not mask or mask == P.CPU_MASK_ALL:
        return None

    def one(part: str) -> list[int]:
        if part == P.CPU_MASK_ALL:
            return []
        cpus: list[int] = []
        for rng in part.split(","):
            lo, sep, hi = rng.partition("-")
            try:
                a, b = int(lo), int(hi) if sep else int(lo)
            except ValueError:
                raise errors.HypervisorError(f"Invalid cpu_mask {mask!r}",
                                             errors.ECODE_INVAL) from None
            if a < 0 or b < a:
                raise errors.HypervisorError(f"Invalid cpu_mask {mask!r}", errors.ECODE_INVAL)
            cpus.extend(range(a, b + 1))
        return sorted(set(cpus))

    parts = mask.split(":")
    if len(parts) == 1:
        return [one(parts[0])] * vcpus
    if len(parts) != vcpus:
        raise errors.HypervisorError(
            f"cpu_mask {mask!r} has {len(parts)} entries but the instance has {vcpus} vCPUs",
            errors.ECODE_INVAL)
    return [one(p) for p in parts]
