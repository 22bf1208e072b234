"""NICs of KVM instances: tap devices wired as the NIC's mode says.

As in Ganeti, the node opens a tap device per NIC (``/dev/net/tun``,
``TUNSETIFF``), hands the open file descriptor to QEMU (``-netdev
tap,fd=N``) and configures the host side before QEMU starts.  The tap is not
persistent: it disappears when QEMU (the last holder of the descriptor)
exits, so stopping needs no network cleanup.

Host side, per ``nicparams['mode']``:

* ``bridged``: the bridge ``link`` must exist (else HypervisorError naming
  it); the tap joins it (``ip link set TAP master LINK up``); a ``vlan`` of
  ``.N`` (access) or ``:N:M`` (trunk) is set with ``bridge vlan``.
* ``routed``: the tap goes up; with an IP a host route to it is added
  (table ``link`` when given) and proxy ARP is enabled on the tap.
* ``openvswitch``: ``ovs-vsctl add-port LINK TAP`` (``tag=N`` for ``.N``).

If ``<conf_dir>/kvm-ifup-custom`` is executable it replaces the built-in
steps (Ganeti's hook point), called with Ganeti's environment: INSTANCE,
INTERFACE, INTERFACE_INDEX, INTERFACE_UUID, INTERFACE_NAME, MAC, MODE,
LINK, BRIDGE (bridged), IP, VLAN.

There is no user-mode (slirp) networking: a NIC needs a real link.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gnt import constants as C
from gnt import errors, paths
from gnt.hypervisor.base import NICSpec

log = logging.getLogger(__name__)

TUN_DEVICE = "/dev/net/tun"
TUNSETIFF = 0x400454CA
TUNGETFEATURES = 0x800454CF
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_MULTI_QUEUE = 0x0100
TAP_NAME_TEMPLATE = "tap%d"
CUSTOM_IFUP = "kvm-ifup-custom"


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


def check_link(nic: NICSpec) -> None:
    """Refuse a NIC whose link cannot be used here (before anything starts)."""
    mode = nic.nicparams.get(C.NIC_MODE, C.NIC_MODE_BRIDGED)
    link = str(nic.nicparams.get(C.NIC_LINK) or "")
    if mode == C.NIC_MODE_BRIDGED:
        if not link or not Path(f"/sys/class/net/{link}/bridge").is_dir():
            raise errors.HypervisorError(
                f"NIC {nic.index} is in bridged mode but bridge '{link}' does not exist on "
                "this node (create it, use another nic link, or start the instance without "
                "NICs)", errors.ECODE_ENVIRON)
    elif mode == C.NIC_MODE_OVS:
        if shutil.which("ovs-vsctl") is None:
            raise errors.HypervisorError(
                f"NIC {nic.index} is in openvswitch mode but ovs-vsctl is not installed",
                errors.ECODE_ENVIRON)
    elif mode != C.NIC_MODE_ROUTED:
        raise errors.HypervisorError(
            f"NIC {nic.index} has unsupported mode '{mode}'; allowed: "
            f"{', '.join(C.NIC_VALID_MODES)}", errors.ECODE_INVAL)
    if not os.path.exists(TUN_DEVICE):
        raise errors.HypervisorError(f"{TUN_DEVICE} is missing: cannot create tap devices",
                                     errors.ECODE_ENVIRON)


def _vnet_hdr_supported(fd: int) -> bool:
    try:
        raw = fcntl.ioctl(fd, TUNGETFEATURES, struct.pack("I", 0))
    except OSError:
        return False
    return bool(struct.unpack("I", raw)[0] & IFF_VNET_HDR)


def open_tap(vnet_hdr: bool = True, queues: int = 1) -> Tap:
    """Create a tap device with ``queues`` queues; raises HypervisorError."""
    fds: list[int] = []
    name = TAP_NAME_TEMPLATE
    try:
        for _ in range(max(1, queues)):
            fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC)
            fds.append(fd)
            flags = IFF_TAP | IFF_NO_PI
            if vnet_hdr and _vnet_hdr_supported(fd):
                flags |= IFF_VNET_HDR
            if queues > 1:
                flags |= IFF_MULTI_QUEUE
            ifr = struct.pack("16sH", name.encode(), flags)
            res = fcntl.ioctl(fd, TUNSETIFF, ifr)
            name = res[:16].rstrip(b"\0").decode()
    except OSError as err:
        for fd in fds:
            os.close(fd)
        raise errors.HypervisorError(f"Cannot create a tap device: {err.strerror}") from err
    return Tap(name=name, fds=fds)


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise errors.HypervisorError(
            f"Failed to configure the instance's network: {' '.join(cmd)}: "
            f"{(res.stderr or res.stdout).strip()}", errors.ECODE_ENVIRON)


def _vlans(vlan: str) -> tuple[int | None, list[int]]:
    """Ganeti's vlan syntax: ``.N`` access, ``:N:M`` trunk, ``.N:M`` both."""
    untagged: int | None = None
    tagged: list[int] = []
    rest = vlan
    try:
        if rest.startswith("."):
            head, _, rest = rest[1:].partition(":")
            untagged = int(head)
            rest = ":" + rest if rest else ""
        elif rest and rest[0].isdigit():
            head, _, rest = rest.partition(":")
            untagged = int(head)
            rest = ":" + rest if rest else ""
        tagged = [int(v) for v in rest.split(":") if v]
    except ValueError:
        raise errors.HypervisorError(f"Invalid NIC vlan {vlan!r}", errors.ECODE_INVAL) from None
    return untagged, tagged


def ifup(instance: str, nic: NICSpec, tap: Tap) -> None:
    """Wire the host side of ``tap`` for ``nic``; raises HypervisorError."""
    mode = str(nic.nicparams.get(C.NIC_MODE, C.NIC_MODE_BRIDGED))
    link = str(nic.nicparams.get(C.NIC_LINK) or "")
    vlan = str(nic.nicparams.get(C.NIC_VLAN) or "")
    custom = paths.get().conf_dir / CUSTOM_IFUP
    if os.access(custom, os.X_OK):
        env = {**os.environ, "INSTANCE": instance, "INTERFACE": tap.name,
               "INTERFACE_INDEX": str(nic.index), "INTERFACE_UUID": nic.uuid,
               "INTERFACE_NAME": nic.name or "", "MAC": nic.mac, "MODE": mode, "LINK": link,
               "IP": nic.ip or "", "VLAN": vlan}
        if mode == C.NIC_MODE_BRIDGED:
            env["BRIDGE"] = link
        _run([str(custom)], env)
        return
    if mode == C.NIC_MODE_BRIDGED:
        mtu = Path(f"/sys/class/net/{link}/mtu").read_text().strip()
        _run(["ip", "link", "set", "dev", tap.name, "mtu", mtu, "master", link, "up"])
        if vlan:
            untagged, tagged = _vlans(vlan)
            if untagged is not None:
                _run(["bridge", "vlan", "add", "dev", tap.name, "vid", str(untagged), "pvid",
                      "untagged"])
            for vid in tagged:
                _run(["bridge", "vlan", "add", "dev", tap.name, "vid", str(vid)])
    elif mode == C.NIC_MODE_ROUTED:
        _run(["ip", "link", "set", "dev", tap.name, "up"])
        if nic.ip:
            Path(f"/proc/sys/net/ipv4/conf/{tap.name}/proxy_arp").write_text("1")
            cmd = ["ip", "route", "replace", nic.ip, "dev", tap.name]
            if link:
                cmd += ["table", link]
            _run(cmd)
    elif mode == C.NIC_MODE_OVS:
        cmd = ["ovs-vsctl", "add-port", link, tap.name]
        untagged, tagged = _vlans(vlan) if vlan else (None, [])
        if untagged is not None:
            cmd.append(f"tag={untagged}")
        if tagged:
            cmd.append("trunks=" + ",".join(str(v) for v in tagged))
        _run(cmd)
        _run(["ip", "link", "set", "dev", tap.name, "up"])


def ifdown(mode: str, link: str, tap_name: str) -> None:
    """Undo what :func:`ifup` left outside the tap (only openvswitch ports); best effort."""
    if mode == C.NIC_MODE_OVS and shutil.which("ovs-vsctl"):
        res = subprocess.run(["ovs-vsctl", "--if-exists", "del-port", link, tap_name],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            log.warning("Cannot remove port %s from %s: %s", tap_name, link, res.stderr.strip())
