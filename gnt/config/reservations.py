"""Unique resources handed out by the master: MAC addresses and network ports.

A reservation is held by an owner (a job) until it is committed to the config
or released, so two concurrent instance creations never get the same MAC or
port (Ganeti's ``TemporaryReservationManager``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Hashable, Iterable

from gnt import constants as C
from gnt import errors


class Reservations:
    """Temporary reservations of MACs and ports, per owner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._macs: dict[str, Hashable] = {}
        self._ports: dict[int, Hashable] = {}

    def generate_mac(self, prefix: str, used: Iterable[str], owner: Hashable,
                     rng: random.Random | None = None) -> str:
        """A MAC ``prefix:xx:xx:xx`` not in ``used`` nor reserved; reserved for ``owner``.

        Raises :class:`errors.OpExecError` when no free MAC is found.
        """
        r = rng or random.SystemRandom()
        taken = {m.lower() for m in used}
        with self._lock:
            for _ in range(1000):
                suffix = ":".join(f"{r.randint(0, 255):02x}" for _ in range(3))
                mac = f"{prefix.lower()}:{suffix}"
                if mac not in taken and mac not in self._macs:
                    self._macs[mac] = owner
                    return mac
        raise errors.OpExecError("Cannot generate a unique MAC address",
                                 errors.ECODE_NORES)

    def reserve_mac(self, mac: str, used: Iterable[str], owner: Hashable) -> None:
        """Reserve a given MAC; raises OpPrereqError if in use or reserved by another."""
        m = mac.lower()
        with self._lock:
            holder = self._macs.get(m)
            if m in {x.lower() for x in used} or (holder is not None and holder != owner):
                raise errors.OpPrereqError(f"MAC address {mac} already in use",
                                           errors.ECODE_NOTUNIQUE)
            self._macs[m] = owner

    def allocate_port(self, used: Iterable[int], pool: list[int], owner: Hashable) -> int:
        """A network port (console/VNC) from ``pool`` or above the first port.

        Follows Ganeti: take from the cluster's ``tcpudp_port_pool`` when it has
        free ports, else the highest used port + 1 starting at 11000.
        """
        in_use = set(used)
        with self._lock:
            taken = in_use | set(self._ports)
            for port in pool:
                if port not in taken:
                    self._ports[port] = owner
                    return port
            port = max(taken | {C.DEFAULT_CONSOLE_PORT_POOL[0] - 1}) + 1
            if port > C.DEFAULT_CONSOLE_PORT_POOL[1] + 50000:
                raise errors.OpExecError("No free network port", errors.ECODE_NORES)
            self._ports[port] = owner
            return port

    def release(self, owner: Hashable) -> None:
        """Drop every reservation held by ``owner`` (commit or abort)."""
        with self._lock:
            self._macs = {k: v for k, v in self._macs.items() if v != owner}
            self._ports = {k: v for k, v in self._ports.items() if v != owner}
