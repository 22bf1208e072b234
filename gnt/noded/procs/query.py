"""Node-side helpers of the master's queries (query engine): batched live data."""

from __future__ import annotations

from typing import Any

from gnt import errors, hypervisor
from gnt.hypervisor.base import InstanceSpec
from gnt.noded.registry import procedure


@procedure("instances_console_info")
def instances_console_info(specs: list[dict[str, Any]], node_name: str) -> dict[str, Any]:
    """Console information (``ConsoleInfo`` as JSON) of each instance in ``specs``
    (``InstanceSpec`` dicts), keyed by name; an instance whose hypervisor cannot
    say is left out."""
    out: dict[str, Any] = {}
    for raw in specs:
        spec = InstanceSpec.model_validate(raw)
        try:
            info = hypervisor.get(spec.hypervisor).get_console(spec, node_name)
        except errors.GntError:
            continue
        out[spec.name] = info.model_dump(mode="json")
    return out
