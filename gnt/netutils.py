"""Host identity and name resolution.

``GNT_HOSTNAME`` makes a process act as that node; names resolve first through
``<GNT_ROOT>/etc/hosts`` (when a root other than ``/`` is set, so test clusters
need no change to the machine's own files), then through the system resolver.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

from gnt import errors, paths

ENV_HOSTNAME = "GNT_HOSTNAME"


@dataclass(frozen=True)
class HostInfo:
    """A resolved host: its full name and IPv4 address."""

    name: str
    ip: str


def my_hostname() -> str:
    """The node name this process acts as (``GNT_HOSTNAME`` or the FQDN)."""
    return os.environ.get(ENV_HOSTNAME) or socket.getfqdn()


def _root_hosts(name: str) -> HostInfo | None:
    p = paths.get()
    if str(p.root) == "/":
        return None
    try:
        text = p.etc_hosts.read_text()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) < 2:
            continue
        ip, names = parts[0], parts[1:]
        if name in names:
            return HostInfo(names[0], ip)
        short = [n for n in names if n.split(".")[0] == name]
        if short:
            return HostInfo(names[0], ip)
    return None


def resolve(name: str) -> HostInfo:
    """Resolve ``name`` to its full name and IPv4 address.

    Raises :class:`errors.ResolverError` when it does not resolve.
    """
    if not name:
        raise errors.ResolverError("Empty host name", errors.ECODE_RESOLVER)
    found = _root_hosts(name)
    if found:
        return found
    try:
        full, _aliases, ips = socket.gethostbyname_ex(name)
    except OSError as err:
        raise errors.ResolverError(
            f"Host name {name!r} does not resolve: {err}", errors.ECODE_RESOLVER) from err
    if not full.startswith(name.split(".")[0]):
        full = name
    return HostInfo(full, ips[0])


def my_host() -> HostInfo:
    """This node's resolved identity."""
    return resolve(my_hostname())


def is_valid_ip4(addr: str) -> bool:
    try:
        ipaddress.IPv4Address(addr)
    except ValueError:
        return False
    return True


def tcp_ping(ip: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts TCP connections on ``ip:port``."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False
