"""OS query fields (``gnt-os list``/``diagnose``/``info``), from per-node OS diagnoses.

As in Ganeti's OS query: an OS is valid when its first (non-shadowed)
directory is valid on every node asked; ``variants``, ``parameters`` and
``api_versions`` are what every node agrees on (the intersection over the
nodes, empty for an invalid OS); ``trusted`` is False when any node has an
untrusted (``create_untrusted``) definition.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from gnt.query.base import QFT_BOOL, QFT_OTHER, QFT_TEXT, FieldDef, FieldTable


@dataclass
class OsEntry:
    """One OS across nodes: ``node_status`` = node name -> list of per-node diagnoses.

    Each diagnosis is a dict with ``path``, ``status`` (bool), ``message``,
    ``variants``, ``parameters`` (``[name, description]`` pairs),
    ``api_versions``, ``trusted``; the first one of a node is the directory
    in use, later ones are shadowed by it.
    """

    name: str
    node_status: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hidden: bool = False
    blacklisted: bool = False
    os_hvp: dict[str, Any] = field(default_factory=dict)
    osparams: dict[str, Any] = field(default_factory=dict)

    def first(self) -> list[dict[str, Any]]:
        """The directory in use on each node that has one."""
        return [d[0] for d in self.node_status.values() if d]

    @property
    def valid(self) -> bool:
        firsts = self.first()
        return bool(firsts) and len(firsts) == len(self.node_status) and all(
            d["status"] for d in firsts)

    def common(self, key: str, conv: Callable[[Any], Hashable] = lambda v: v) -> list[Any]:
        """Values of ``key`` every node agrees on, in the first node's order (empty
        when the OS is not valid everywhere)."""
        if not self.valid:
            return []
        firsts = self.first()
        out = [conv(v) for v in firsts[0].get(key) or []]
        for d in firsts[1:]:
            seen = {conv(v) for v in d.get(key) or []}
            out = [v for v in out if v in seen]
        return list(dict.fromkeys(out))


def _node_status(o: OsEntry) -> dict[str, list[list[Any]]]:
    return {n: [[d["path"], d["status"], d["message"], d.get("variants") or [],
                 d.get("parameters") or [], d.get("api_versions") or []] for d in ds]
            for n, ds in o.node_status.items()}


_FIELDS = [
    FieldDef("name", "Name", QFT_TEXT, "Operating system name", lambda c, o: o.name),
    FieldDef("valid", "Valid", QFT_BOOL, "Whether operating system definition is valid",
             lambda c, o: o.valid),
    FieldDef("hidden", "Hidden", QFT_BOOL, "Whether operating system is hidden",
             lambda c, o: o.hidden),
    FieldDef("blacklisted", "Blacklisted", QFT_BOOL, "Whether operating system is blacklisted",
             lambda c, o: o.blacklisted),
    FieldDef("variants", "Variants", QFT_OTHER, "Operating system variants",
             lambda c, o: o.common("variants")),
    FieldDef("api_versions", "ApiVersions", QFT_OTHER, "Operating system API versions",
             lambda c, o: sorted(o.common("api_versions"))),
    FieldDef("parameters", "Parameters", QFT_OTHER, "Operating system parameters",
             lambda c, o: [list(p) for p in o.common("parameters", tuple)]),
    FieldDef("node_status", "NodeStatus", QFT_OTHER,
             "Status from node: [(path, status, message, variants, parameters, api_versions)]",
             lambda c, o: _node_status(o)),
    FieldDef("os_hvp", "OsHypervisorParams", QFT_OTHER, "Operating system specific "
             "hypervisor parameters", lambda c, o: o.os_hvp),
    FieldDef("osparams", "OsParameters", QFT_OTHER, "Operating system specific parameters",
             lambda c, o: o.osparams),
    FieldDef("trusted", "Trusted", QFT_BOOL, "Whether the OS is trusted",
             lambda c, o: all(d.get("trusted", True) for d in o.first())),
]

TABLE = FieldTable(_FIELDS)
