"""Ganeti's ``vlan`` NIC parameter.

Syntax (shared by the ``bridged`` and ``openvswitch`` modes):

* ``.N`` - access port: VLAN ``N`` untagged (``N`` alone means the same);
* ``:N[:M...]`` - trunk port: the VLANs tagged;
* ``.N:M[:...]`` - hybrid: ``N`` untagged (native), the others tagged;
* empty - no VLAN configuration.

VLAN ids are 1..4094.
"""

from __future__ import annotations

from dataclasses import dataclass

from gnt import errors

VID_MIN = 1
VID_MAX = 4094


@dataclass(frozen=True)
class Vlans:
    """A parsed ``vlan`` value: the untagged (native) VLAN, if any, and the tagged ones."""

    untagged: int | None = None
    tagged: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return self.untagged is not None or bool(self.tagged)

    @property
    def all(self) -> tuple[int, ...]:
        """Every VLAN id, the untagged one first."""
        return ((self.untagged,) if self.untagged is not None else ()) + self.tagged


def _vid(text: str, value: str) -> int:
    if not text.isdigit():
        raise errors.HypervisorError(
            f"Invalid NIC vlan {value!r}: {text!r} is not a VLAN id (allowed: .N, :N[:M...], "
            ".N:M[:...])", errors.ECODE_INVAL)
    vid = int(text)
    if not VID_MIN <= vid <= VID_MAX:
        raise errors.HypervisorError(
            f"Invalid NIC vlan {value!r}: VLAN id {vid} is outside {VID_MIN}..{VID_MAX}",
            errors.ECODE_INVAL)
    return vid


def parse(value: str | None) -> Vlans:
    """Parse a ``vlan`` value; raises HypervisorError (wrong_input) on bad syntax."""
    text = (value or "").strip()
    if not text:
        return Vlans()
    parts = text.split(":")
    head, rest = parts[0], parts[1:]
    untagged = None
    if head:
        untagged = _vid(head.removeprefix("."), text)
    elif not rest:
        raise errors.HypervisorError(f"Invalid NIC vlan {value!r}", errors.ECODE_INVAL)
    tagged = tuple(_vid(p, text) for p in rest)
    return Vlans(untagged=untagged, tagged=tagged)
