"""OS query fields (``gnt-os list``/``diagnose``), from per-node OS diagnoses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gnt.query.base import QFT_BOOL, QFT_OTHER, QFT_TEXT, FieldDef, FieldTable


@dataclass
class OsEntry:
    """One OS across nodes: ``node_status`` = node name -> list of per-node diagnoses.

    Each diagnosis is a dict with ``path``, ``status`` (bool), ``message``,
    ``variants``, ``parameters``, ``api_versions``, ``trusted``.
    """

    name: str
    node_status: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hidden: bool = False
    blacklisted: bool = False
    os_hvp: dict[str, Any] = field(default_factory=dict)
    osparams: dict[str, Any] = field(default_factory=dict)

    def first(self) -> list[dict[str, Any]]:
        return [d[0] for d in self.node_status.values() if d]

    @property
    def valid(self) -> bool:
        firsts = self.first()
        return bool(firsts) and len(firsts) == len(self.node_status) and all(
            d["status"] for d in firsts)

    def common(self, key: str) -> list[Any]:
        sets = [set(d.get(key) or []) for d in self.first() if d["status"]]
        if not sets:
            return []
        common = set.intersection(*sets)
        return sorted(common)


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
             lambda c, o: o.common("api_versions")),
    FieldDef("parameters", "Parameters", QFT_OTHER, "Operating system parameters",
             lambda c, o: sorted({tuple(p) for d in o.first() for p in d.get("parameters") or []})),
    FieldDef("node_status", "NodeStatus", QFT_OTHER,
             "Status from node: [(path, status, message, variants, parameters, api_versions)]",
             lambda c, o: {n: [[d["path"], d["status"], d["message"], d.get("variants"),
                                d.get("parameters"), d.get("api_versions")] for d in ds]
                           for n, ds in o.node_status.items()}),
    FieldDef("os_hvp", "OsHypervisorParams", QFT_OTHER, "Operating system specific "
             "hypervisor parameters", lambda c, o: o.os_hvp),
    FieldDef("osparams", "OsParameters", QFT_OTHER, "Operating system specific parameters",
             lambda c, o: o.osparams),
    FieldDef("trusted", "Trusted", QFT_BOOL, "Whether the OS is trusted",
             lambda c, o: all(d.get("trusted", True) for d in o.first())),
]

TABLE = FieldTable(_FIELDS)
