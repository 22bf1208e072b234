"""ExtStorage provider fields across the cluster (``gnt-storage``), master side.

From each node's ``extstorage_diagnose`` result, one :class:`ProviderEntry`
per provider name, with Ganeti's fields:

* ``name``;
* ``node_status``: node name -> ``[[path, status, message, parameters], ...]``
  (first entry the one in use, then shadowed ones; ``[]``: not found there);
* ``nodegroup_status``: group name -> bool, True when the provider is valid
  on every node of the group that answered (an empty group counts as valid);
* ``parameters``: ``[[name, description], ...]`` declared on every node
  where the provider is valid (in the first node's order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gnt.query.base import QFT_OTHER, QFT_TEXT, FieldDef, FieldTable


@dataclass
class ProviderEntry:
    """One provider across nodes (see the module docstring for the fields)."""

    name: str
    node_status: dict[str, list[list[Any]]] = field(default_factory=dict)
    nodegroup_status: dict[str, bool] = field(default_factory=dict)
    parameters: list[list[str]] = field(default_factory=list)


def _valid_here(entries: list[list[Any]]) -> bool:
    return bool(entries) and bool(entries[0][1])


def _common_parameters(node_status: Mapping[str, list[list[Any]]]) -> list[list[str]]:
    valid = [e[0][3] for _, e in sorted(node_status.items()) if _valid_here(e)]
    if not valid:
        return []
    names = set.intersection(*({p[0] for p in params} for params in valid))
    return [list(p) for p in valid[0] if p[0] in names]


def collect(diagnoses: Mapping[str, Sequence[Mapping[str, Any]]],
            groups: Mapping[str, Sequence[str]]) -> list[ProviderEntry]:
    """Providers from per-node diagnoses, sorted by name.

    ``diagnoses``: node name -> that node's ``extstorage_diagnose`` result
    (nodes that did not answer are left out); ``groups``: group name ->
    member node names.
    """
    entries: dict[str, ProviderEntry] = {}
    for diags in diagnoses.values():
        for d in diags:
            entries.setdefault(d["name"], ProviderEntry(name=d["name"]))
    for entry in entries.values():
        for node, diags in diagnoses.items():
            entry.node_status[node] = [
                [d["path"], bool(d["status"]), d.get("message", ""),
                 [list(p) for p in d.get("parameters") or []]]
                for d in diags if d["name"] == entry.name]
        for group, members in groups.items():
            entry.nodegroup_status[group] = all(
                _valid_here(entry.node_status[n]) for n in members if n in entry.node_status)
        entry.parameters = _common_parameters(entry.node_status)
    return sorted(entries.values(), key=lambda e: e.name)


_FIELDS = [
    FieldDef("name", "Name", QFT_TEXT, "ExtStorage provider name", lambda c, o: o.name),
    FieldDef("node_status", "NodeStatus", QFT_OTHER,
             "Status from node: {node: [(path, status, message, parameters), ...]}",
             lambda c, o: o.node_status),
    FieldDef("nodegroup_status", "NodegroupStatus", QFT_OTHER,
             "Overall validity per node group", lambda c, o: o.nodegroup_status),
    FieldDef("parameters", "Parameters", QFT_OTHER,
             "ExtStorage provider parameters: [(name, description), ...]",
             lambda c, o: o.parameters),
]

TABLE = FieldTable(_FIELDS)
