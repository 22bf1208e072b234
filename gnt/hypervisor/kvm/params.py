"""The KVM hypervisor parameters: Ganeti's 65 names, kinds and defaults, plus ``accel``.

Names, kinds and defaults follow Ganeti 3.x (``hvcDefaults`` for ``kvm``).
Deviations, each deliberate:

* ``kvm_path`` defaults to ``/usr/bin/qemu-system-x86_64`` when that file
  exists on the machine importing this module, else Ganeti's ``/usr/bin/kvm``
  (Debian 12 ships both; the plain QEMU binary does not force KVM on).
* ``accel`` is gnt's addition: ``auto`` (probe whether KVM really runs a
  guest, fall back to TCG), ``kvm`` or ``tcg``.  With ``auto``, a
  ``kvm_flag`` of ``enabled``/``disabled`` decides without probing.
* ``disk_aio`` also accepts ``io_uring`` (QEMU >= 5.0), and
  ``scsi_controller_type`` also ``dc390``, as the later Ganeti releases do.
* ``vhost_net`` defaults to False (Ganeti 3's default too); starting an
  instance with NICs and ``vhost_net`` on a node without ``/dev/vhost-net``
  is refused with a clear error instead of letting QEMU abort.

Everything else keeps Ganeti's default, including ``kernel_path``
(``/boot/vmlinuz-3-kvmU``; set it to empty to boot from the disk).  A few
parameters are accepted and stored but not used yet (SPICE, sound, USB
devices, PCI reservations); a
non-default value of those is logged as ignored when the instance starts,
and SPICE, the ``pool`` security model are refused (see ``cmdline.py``).
"""

from __future__ import annotations

import os
from typing import Any

from gnt import constants as C
from gnt.hypervisor.base import ParamDef

# --- names (Ganeti's) -------------------------------------------------------
KVM_PATH = "kvm_path"
KERNEL_PATH = "kernel_path"
INITRD_PATH = "initrd_path"
KERNEL_ARGS = "kernel_args"
ROOT_PATH = "root_path"
ACPI = "acpi"
SERIAL_CONSOLE = "serial_console"
SERIAL_SPEED = "serial_speed"
VNC_BIND_ADDRESS = "vnc_bind_address"
VNC_TLS = "vnc_tls"
VNC_X509 = "vnc_x509_path"
VNC_X509_VERIFY = "vnc_x509_verify"
VNC_PASSWORD_FILE = "vnc_password_file"
SCSI_CONTROLLER_TYPE = "scsi_controller_type"
PCI_RESERVATIONS = "kvm_pci_reservations"
SPICE_BIND = "spice_bind"
SPICE_IP_VERSION = "spice_ip_version"
SPICE_PASSWORD_FILE = "spice_password_file"
SPICE_IMAGE_COMPRESSION = "spice_image_compression"
SPICE_JPEG_WAN_COMPRESSION = "spice_jpeg_wan_compression"
SPICE_ZLIB_GLZ_WAN_COMPRESSION = "spice_zlib_glz_wan_compression"
SPICE_STREAMING_VIDEO = "spice_streaming_video"
SPICE_PLAYBACK_COMPRESSION = "spice_playback_compression"
SPICE_USE_TLS = "spice_use_tls"
SPICE_TLS_CIPHERS = "spice_tls_ciphers"
SPICE_USE_VDAGENT = "spice_use_vdagent"
FLOPPY_IMAGE_PATH = "floppy_image_path"
CDROM_IMAGE_PATH = "cdrom_image_path"
CDROM2_IMAGE_PATH = "cdrom2_image_path"
BOOT_ORDER = "boot_order"
NIC_TYPE = "nic_type"
DISK_TYPE = "disk_type"
CDROM_DISK_TYPE = "cdrom_disk_type"
DISK_AIO = "disk_aio"
USB_MOUSE = "usb_mouse"
KEYMAP = "keymap"
MIGRATION_PORT = "migration_port"
MIGRATION_BANDWIDTH = "migration_bandwidth"
MIGRATION_DOWNTIME = "migration_downtime"
MIGRATION_MODE = "migration_mode"
USE_GUEST_AGENT = "use_guest_agent"
USE_LOCALTIME = "use_localtime"
DISK_CACHE = "disk_cache"
DISK_DISCARD = "disk_discard"
SECURITY_MODEL = "security_model"
SECURITY_DOMAIN = "security_domain"
KVM_FLAG = "kvm_flag"
VHOST_NET = "vhost_net"
VIRTIO_NET_QUEUES = "virtio_net_queues"
USE_CHROOT = "use_chroot"
USER_SHUTDOWN = "user_shutdown"
MEM_PATH = "mem_path"
REBOOT_BEHAVIOR = "reboot_behavior"
CPU_MASK = "cpu_mask"
CPU_TYPE = "cpu_type"
CPU_CORES = "cpu_cores"
CPU_THREADS = "cpu_threads"
CPU_SOCKETS = "cpu_sockets"
SOUNDHW = "soundhw"
USB_DEVICES = "usb_devices"
VGA = "vga"
KVM_EXTRA = "kvm_extra"
MACHINE_VERSION = "machine_version"
MIGRATION_CAPS = "migration_caps"
VNET_HDR = "vnet_hdr"
ACCEL = "accel"  # gnt's addition

# --- values -----------------------------------------------------------------
NIC_PARAVIRTUAL = "paravirtual"
NIC_TYPES = (NIC_PARAVIRTUAL, "e1000", "i82551", "i82557b", "i82559er", "ne2k_isa",
             "ne2k_pci", "pcnet", "rtl8139")
DISK_PARAVIRTUAL = "paravirtual"
DISK_TYPES = (DISK_PARAVIRTUAL, "ide", "scsi", "sd", "mtd", "pflash", "scsi-generic",
              "scsi-block", "scsi-hd", "scsi-cd")
CDROM_DISK_TYPES = ("",) + DISK_TYPES
SCSI_CONTROLLERS = ("lsi", "virtio-scsi-pci", "megasas", "dc390")
CACHE_DEFAULT = "default"
CACHE_TYPES = (CACHE_DEFAULT, "none", "writethrough", "writeback")
DISCARD_DEFAULT = "default"
DISCARD_TYPES = (DISCARD_DEFAULT, "ignore", "unmap")
AIO_THREADS = "threads"
AIO_NATIVE = "native"
AIO_TYPES = (AIO_THREADS, AIO_NATIVE, "io_uring")
MOUSE_TYPES = ("", "mouse", "tablet")
BOOT_DISK = "disk"
BOOT_CDROM = "cdrom"
BOOT_FLOPPY = "floppy"
BOOT_NETWORK = "network"
BOOT_ORDERS = (BOOT_DISK, BOOT_CDROM, BOOT_FLOPPY, BOOT_NETWORK)
SM_NONE = "none"
SM_USER = "user"
SM_POOL = "pool"
SECURITY_MODELS = (SM_NONE, SM_USER, SM_POOL)
KVM_FLAG_ENABLED = "enabled"
KVM_FLAG_DISABLED = "disabled"
KVM_FLAG_VALUES = ("", KVM_FLAG_ENABLED, KVM_FLAG_DISABLED)
MIGRATION_MODES = ("live", "non-live")
REBOOT_ALLOWED = "reboot"
REBOOT_EXIT = "exit"
REBOOT_BEHAVIORS = (REBOOT_ALLOWED, REBOOT_EXIT)
ACCEL_AUTO = "auto"
ACCEL_KVM = "kvm"
ACCEL_TCG = "tcg"
ACCEL_VALUES = (ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG)
SPICE_LOSSLESS = ("", "auto_glz", "auto_lz", "glz", "lz", "off", "quic")
SPICE_LOSSY = ("", "always", "auto", "never")
SPICE_VIDEO = ("", "all", "filter", "off")
CPU_MASK_ALL = "all"
OPENSSL_CIPHERS = "HIGH:-DES:-3DES:-EXPORT:-ADH"
DEFAULT_KERNEL = "/boot/vmlinuz-3-kvmU"
QEMU_SYSTEM = "/usr/bin/qemu-system-x86_64"
GANETI_KVM_PATH = "/usr/bin/kvm"


def default_kvm_path() -> str:
    """``/usr/bin/qemu-system-x86_64`` if it exists, else Ganeti's ``/usr/bin/kvm``."""
    return QEMU_SYSTEM if os.path.exists(QEMU_SYSTEM) else GANETI_KVM_PATH


def _p(kind: str, default: object, choices: tuple[str, ...] | None = None) -> ParamDef:
    return ParamDef(kind=kind, default=default, choices=choices)


S, MS, B, I = C.VTYPE_STRING, C.VTYPE_MAYBE_STRING, C.VTYPE_BOOL, C.VTYPE_INT

PARAMETERS: dict[str, ParamDef] = {
    KVM_PATH: _p(S, default_kvm_path()),
    KERNEL_PATH: _p(S, DEFAULT_KERNEL),
    INITRD_PATH: _p(S, ""),
    KERNEL_ARGS: _p(S, "ro"),
    ROOT_PATH: _p(MS, "/dev/vda1"),
    ACPI: _p(B, True),
    SERIAL_CONSOLE: _p(B, True),
    SERIAL_SPEED: _p(I, 38400),
    VNC_BIND_ADDRESS: _p(S, ""),
    VNC_TLS: _p(B, False),
    VNC_X509: _p(S, ""),
    VNC_X509_VERIFY: _p(B, False),
    VNC_PASSWORD_FILE: _p(S, ""),
    SCSI_CONTROLLER_TYPE: _p(S, "lsi", SCSI_CONTROLLERS),
    PCI_RESERVATIONS: _p(I, 12),
    SPICE_BIND: _p(S, ""),
    SPICE_IP_VERSION: _p(I, 0),
    SPICE_PASSWORD_FILE: _p(S, ""),
    SPICE_IMAGE_COMPRESSION: _p(S, "", SPICE_LOSSLESS),
    SPICE_JPEG_WAN_COMPRESSION: _p(S, "", SPICE_LOSSY),
    SPICE_ZLIB_GLZ_WAN_COMPRESSION: _p(S, "", SPICE_LOSSY),
    SPICE_STREAMING_VIDEO: _p(S, "", SPICE_VIDEO),
    SPICE_PLAYBACK_COMPRESSION: _p(B, True),
    SPICE_USE_TLS: _p(B, False),
    SPICE_TLS_CIPHERS: _p(S, OPENSSL_CIPHERS),
    SPICE_USE_VDAGENT: _p(B, True),
    FLOPPY_IMAGE_PATH: _p(S, ""),
    CDROM_IMAGE_PATH: _p(S, ""),
    CDROM2_IMAGE_PATH: _p(S, ""),
    BOOT_ORDER: _p(S, BOOT_DISK, BOOT_ORDERS),
    NIC_TYPE: _p(S, NIC_PARAVIRTUAL, NIC_TYPES),
    DISK_TYPE: _p(S, DISK_PARAVIRTUAL, DISK_TYPES),
    CDROM_DISK_TYPE: _p(S, "", CDROM_DISK_TYPES),
    DISK_AIO: _p(S, AIO_THREADS, AIO_TYPES),
    USB_MOUSE: _p(S, "", MOUSE_TYPES),
    KEYMAP: _p(S, ""),
    MIGRATION_PORT: _p(I, 8102),
    MIGRATION_BANDWIDTH: _p(I, 32),
    MIGRATION_DOWNTIME: _p(I, 30),
    MIGRATION_MODE: _p(S, "live", MIGRATION_MODES),
    USE_GUEST_AGENT: _p(B, False),
    USE_LOCALTIME: _p(B, False),
    DISK_CACHE: _p(S, CACHE_DEFAULT, CACHE_TYPES),
    DISK_DISCARD: _p(S, DISCARD_DEFAULT, DISCARD_TYPES),
    SECURITY_MODEL: _p(S, SM_NONE, SECURITY_MODELS),
    SECURITY_DOMAIN: _p(S, ""),
    KVM_FLAG: _p(S, "", KVM_FLAG_VALUES),
    VHOST_NET: _p(B, False),
    VIRTIO_NET_QUEUES: _p(I, 1),
    USE_CHROOT: _p(B, False),
    USER_SHUTDOWN: _p(B, False),
    MEM_PATH: _p(S, ""),
    REBOOT_BEHAVIOR: _p(S, REBOOT_ALLOWED, REBOOT_BEHAVIORS),
    CPU_MASK: _p(S, CPU_MASK_ALL),
    CPU_TYPE: _p(S, ""),
    CPU_CORES: _p(I, 0),
    CPU_THREADS: _p(I, 0),
    CPU_SOCKETS: _p(I, 0),
    SOUNDHW: _p(S, ""),
    USB_DEVICES: _p(S, ""),
    VGA: _p(S, ""),
    KVM_EXTRA: _p(S, ""),
    MACHINE_VERSION: _p(S, ""),
    MIGRATION_CAPS: _p(S, ""),
    VNET_HDR: _p(B, True),
    ACCEL: _p(S, ACCEL_AUTO, ACCEL_VALUES),
}

# Stored but not acted upon yet: a non-default value is logged at start.
IGNORED = (PCI_RESERVATIONS, SPICE_IP_VERSION, SPICE_PASSWORD_FILE, SPICE_IMAGE_COMPRESSION,
           SPICE_JPEG_WAN_COMPRESSION, SPICE_ZLIB_GLZ_WAN_COMPRESSION, SPICE_STREAMING_VIDEO,
           SPICE_PLAYBACK_COMPRESSION, SPICE_USE_TLS, SPICE_TLS_CIPHERS, SPICE_USE_VDAGENT,
           SOUNDHW, USB_DEVICES)


def filled(hvparams: dict[str, Any]) -> dict[str, Any]:
    """``hvparams`` with every missing name set to its default."""
    out: dict[str, Any] = {k: p.default for k, p in PARAMETERS.items()}
    out.update(hvparams)
    return out
