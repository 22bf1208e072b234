"""Node procedures for OS definitions: diagnose, validate, install."""

from __future__ import annotations

from typing import Any

from gnt import osdef
from gnt.hypervisor.base import InstanceSpec
from gnt.noded.procs.instance import assemble_disks
from gnt.noded.registry import procedure


@procedure("os_diagnose")
def os_diagnose() -> list[dict[str, Any]]:
    """Every OS directory on this node: name, path, status, message, variants, ..."""
    out = []
    for osd in osdef.diagnose():
        out.append({"name": osd.name, "path": osd.path, "status": osd.valid,
                    "message": osd.diagnose, "variants": osd.variants,
                    "parameters": [list(p) for p in osd.parameters],
                    "api_versions": osd.api_versions, "trusted": osd.trusted})
    return out


@procedure("os_validate")
def os_validate(os_name: str, osparams: dict[str, Any]) -> bool:
    """Check the OS exists here, its variant and parameters (``verify parameters``)."""
    return osdef.run_verify_parameters(os_name, osparams, required=True)


@procedure("instance_os_add")
def instance_os_add(spec: dict[str, Any], bdevs: list[dict[str, Any]], reinstall: bool,
                    debug: int, primary_node: str) -> str:
    """Run the OS create script on the assembled disks; returns the log file path."""
    s = assemble_disks(InstanceSpec.model_validate(spec), bdevs)
    ctx = osdef.InstanceContext(primary_node=primary_node)
    logfile = osdef.run_create(s.os, s, ctx, reinstall=reinstall, debug=int(debug))
    return str(logfile)
