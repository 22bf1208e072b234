"""The built-in host side of a NIC per mode: what Ganeti's shipped scripts do.

Each function takes the NIC script environment (:mod:`gnt.network.env`), so
the built-in and a site script see exactly the same input.  ``up`` raises
HypervisorError (naming the command and its error output); ``down`` is best
effort: it logs and never raises.  Both are idempotent.

``bridged`` up: the bridge ``LINK`` must exist; the tap's own MAC gets the
first octet ``fe`` (so the bridge never adopts it as its address), the tap
takes the bridge's MTU, joins it and goes up.  With ``VLAN`` the bridge must
be VLAN-aware (``vlan_filtering`` 1): the untagged VLAN becomes the tap's
``pvid untagged``, the others tagged, and every VLAN is also allowed on the
bridge's uplinks (its ports whose names do not start with ``tap``); a VLAN
already used by an 802.1q interface (``/proc/net/vlan/config``) is refused.
Down: nothing (the tap leaves the bridge when it disappears).

``routed`` up: needs ``IP``; the tap goes up, a host route to ``IP`` via the
tap is installed (``proto static``), in routing table ``LINK`` when given
(with a rule sending traffic from the tap to that table), and proxy ARP and
forwarding are enabled on the tap (proxy NDP and forwarding for IPv6).
Down: the rule and the route are removed.

``openvswitch`` up: any stale port of the tap is removed, the tap goes up and
is added to the OVS bridge ``LINK``, with ``tag`` = untagged VLAN and
``trunks`` = tagged VLANs.  Down: the port is removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from gnt import constants as C
from gnt import errors
from gnt.network import vlan as vlan_mod

log = logging.getLogger(__name__)

SYS_NET = Path("/sys/class/net")
PROC_VLAN_CONFIG = Path("/proc/net/vlan/config")
TAP_PREFIX = "tap"
COMMAND_TIMEOUT = 60.0  # s for one ip/bridge/ovs-vsctl command


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one configuration command; raises HypervisorError when it fails and ``check``."""
    log.debug("Running %s", " ".join(argv))
    try:
        res = subprocess.run(argv, capture_output=True, text=True, check=False,
                             timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        if not check:
            return subprocess.CompletedProcess(argv, 127, "", str(err))
        raise errors.HypervisorError(f"Cannot run {' '.join(argv)}: {err}",
                                     errors.ECODE_ENVIRON) from err
    if check and res.returncode != 0:
        raise errors.HypervisorError(
            f"{' '.join(argv)} failed: {(res.stderr or res.stdout).strip() or res.returncode}",
            errors.ECODE_ENVIRON)
    return res


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as err:
        raise errors.HypervisorError(f"Cannot write {value} to {path}: {err.strerror}",
                                     errors.ECODE_ENVIRON) from err


def _nic(env: Mapping[str, str]) -> str:
    return (f"NIC {env.get('INTERFACE_INDEX', '?')} of instance {env.get('INSTANCE', '?')}"
            f" ({env.get('INTERFACE', '?')})")


def fixed_mac(mac: str) -> str:
    """``mac`` with its first octet replaced by ``fe``."""
    return "fe" + mac.strip()[2:]


# ----------------------------------------------------------------- bridged
def bridge_uplinks(bridge: str) -> list[str]:
    """The bridge's ports that are not instance taps (sorted)."""
    try:
        ports = os.listdir(SYS_NET / bridge / "brif")
    except OSError:
        return []
    return sorted(p for p in ports if not p.startswith(TAP_PREFIX))


def _vlan_interfaces() -> dict[int, str]:
    """VLAN id -> an 802.1q interface using it (``/proc/net/vlan/config``)."""
    out: dict[int, str] = {}
    try:
        lines = PROC_VLAN_CONFIG.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[1].isdigit():
            out.setdefault(int(fields[1]), fields[0])
    return out


def check_vlan_aware(bridge: str, what: str) -> None:
    """Raise HypervisorError unless ``bridge`` filters VLANs (``what``: who needs it)."""
    try:
        filtering = (SYS_NET / bridge / "bridge" / "vlan_filtering").read_text().strip()
    except OSError:
        filtering = ""  # the kernel lacks VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)
    if filtering != "1":
        raise errors.HypervisorError(
            f"{what} but bridge {bridge} has VLAN filtering disabled (ip link set {bridge} "
            "type bridge vlan_filtering 1; the kernel needs VLAN filtering support)",
            errors.ECODE_ENVIRON)


def bridged_vlan_commands(tap: str, vlans: vlan_mod.Vlans,
                          uplinks: list[str]) -> list[list[str]]:
    """``bridge vlan`` commands putting ``tap`` (and allowing ``uplinks``) on ``vlans``."""
    cmds: list[list[str]] = []
    for vid in vlans.all:
        extra = ["pvid", "untagged"] if vid == vlans.untagged else []
        cmds.append(["bridge", "vlan", "add", "dev", tap, "vid", str(vid), *extra, "master"])
        cmds += [["bridge", "vlan", "add", "dev", up, "vid", str(vid), "master"]
                 for up in uplinks]
    return cmds


def bridged_up(env: Mapping[str, str]) -> None:
    tap, bridge = env["INTERFACE"], env.get("LINK", "")
    if not bridge or not (SYS_NET / bridge / "bridge").is_dir():
        raise errors.HypervisorError(
            f"{_nic(env)} is in bridged mode but bridge '{bridge}' does not exist on this "
            "node", errors.ECODE_ENVIRON)
    vlans = vlan_mod.parse(env.get("VLAN"))
    if vlans:
        check_vlan_aware(bridge, f"{_nic(env)} has vlan {env['VLAN']!r}")
        used = _vlan_interfaces()
        for vid in vlans.all:
            if vid in used:
                raise errors.HypervisorError(
                    f"{_nic(env)}: VLAN {vid} is in use by interface {used[vid]}; a tap on "
                    f"a VLAN-aware bridge would not receive its traffic", errors.ECODE_ENVIRON)
    mtu = (SYS_NET / bridge / "mtu").read_text().strip()
    mac = (SYS_NET / tap / "address").read_text().strip()
    run(["ip", "link", "set", "dev", tap, "address", fixed_mac(mac), "mtu", mtu,
         "master", bridge, "up"])
    for cmd in bridged_vlan_commands(tap, vlans, bridge_uplinks(bridge) if vlans else []):
        run(cmd)


def bridged_down(env: Mapping[str, str]) -> None:
    """Nothing to undo: the tap leaves the bridge when it is deleted."""


# ------------------------------------------------------------------ routed
def _family(ip: str) -> str:
    return "-6" if ":" in ip else "-4"


def routed_up(env: Mapping[str, str]) -> None:
    tap, table, ip = env["INTERFACE"], env.get("LINK", ""), env.get("IP", "")
    if not ip:
        raise errors.HypervisorError(f"{_nic(env)} is routed but has no IP address",
                                     errors.ECODE_INVAL)
    run(["ip", "link", "set", "dev", tap, "up"])
    route = ["ip", _family(ip), "route", "replace", ip]
    if table:
        _del_rules(tap, ip)
        run(["ip", _family(ip), "rule", "add", "iif", tap, "table", table])
        route += ["table", table]
    run(route + ["proto", "static", "dev", tap])
    conf4 = Path("/proc/sys/net/ipv4/conf") / tap
    if conf4.is_dir():
        _write(conf4 / "proxy_arp", "1")
        _write(conf4 / "forwarding", "1")
    conf6 = Path("/proc/sys/net/ipv6/conf") / tap
    if conf6.is_dir():
        _write(conf6 / "proxy_ndp", "1")
        _write(conf6 / "forwarding", "1")


def _del_rules(tap: str, ip: str) -> None:
    """Remove every policy rule matching packets coming in on ``tap``."""
    for _ in range(64):
        if run(["ip", _family(ip), "rule", "del", "iif", tap], check=False).returncode != 0:
            return


def routed_down(env: Mapping[str, str]) -> None:
    tap, table, ip = env["INTERFACE"], env.get("LINK", ""), env.get("IP", "")
    if not ip:
        return
    if table:
        _del_rules(tap, ip)
    if (SYS_NET / tap).exists():
        route = ["ip", _family(ip), "route", "del", ip, "dev", tap]
        run(route + (["table", table] if table else []), check=False)


# ------------------------------------------------------------- openvswitch
def ovs_up_commands(tap: str, bridge: str, vlans: vlan_mod.Vlans) -> list[list[str]]:
    """The commands adding ``tap`` to the OVS bridge ``bridge`` on ``vlans``."""
    cmds = [["ovs-vsctl", "--if-exists", "del-port", tap],
            ["ip", "link", "set", "dev", tap, "up"],
            ["ovs-vsctl", "add-port", bridge, tap]]
    if vlans.untagged is not None:
        cmds.append(["ovs-vsctl", "set", "port", tap, f"tag={vlans.untagged}"])
    if vlans.tagged:
        cmds.append(["ovs-vsctl", "set", "port", tap,
                     "trunks=" + ",".join(str(v) for v in vlans.tagged)])
    return cmds


def check_ovs() -> None:
    """Raise HypervisorError unless Open vSwitch's ``ovs-vsctl`` is installed."""
    if shutil.which("ovs-vsctl") is None:
        raise errors.HypervisorError(
            "openvswitch NIC mode needs Open vSwitch, but ovs-vsctl is not installed on this "
            "node (install openvswitch-switch or use mode bridged/routed)", errors.ECODE_ENVIRON)


def ovs_up(env: Mapping[str, str]) -> None:
    check_ovs()
    bridge = env.get("LINK", "")
    if not bridge:
        raise errors.HypervisorError(f"{_nic(env)} is in openvswitch mode but has no link "
                                     "(the OVS bridge)", errors.ECODE_INVAL)
    for cmd in ovs_up_commands(env["INTERFACE"], bridge, vlan_mod.parse(env.get("VLAN"))):
        run(cmd)


def ovs_down(env: Mapping[str, str]) -> None:
    if shutil.which("ovs-vsctl") is None:
        return
    res = run(["ovs-vsctl", "--if-exists", "del-port", env["INTERFACE"]], check=False)
    if res.returncode != 0:
        log.warning("Cannot remove OVS port %s: %s", env["INTERFACE"], res.stderr.strip())


# ---------------------------------------------------------------- dispatch
_UP = {C.NIC_MODE_BRIDGED: bridged_up, C.NIC_MODE_ROUTED: routed_up, C.NIC_MODE_OVS: ovs_up}
_DOWN = {C.NIC_MODE_BRIDGED: bridged_down, C.NIC_MODE_ROUTED: routed_down,
         C.NIC_MODE_OVS: ovs_down}


def up(env: Mapping[str, str]) -> None:
    """The built-in ``up`` of ``env['MODE']``; raises HypervisorError."""
    fn = _UP.get(env.get("MODE", ""))
    if fn is None:
        raise errors.HypervisorError(
            f"{_nic(env)} has unsupported mode {env.get('MODE')!r}; allowed: "
            f"{', '.join(C.NIC_VALID_MODES)}", errors.ECODE_INVAL)
    fn(env)


def down(env: Mapping[str, str]) -> None:
    """The built-in ``down`` of ``env['MODE']``; best effort (logs, never raises)."""
    fn = _DOWN.get(env.get("MODE", ""))
    if fn is None:
        return
    try:
        fn(env)
    except (errors.HypervisorError, OSError) as err:
        log.warning("Cleaning up %s failed: %s", _nic(env), err)
