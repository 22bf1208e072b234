"""OS definitions (Ganeti's OS interface, API 10/15/20) on this node.

* :mod:`gnt.osdef.definition`: discovery and validation over the OS search
  path, ``name+variant`` names, OS parameter checks;
* :mod:`gnt.osdef.environment`: the environment the scripts get;
* :mod:`gnt.osdef.context`: the instance context (nodes, times, networks,
  file drivers) from the config and the block device specs;
* :mod:`gnt.osdef.runner`: running ``create``, ``rename``, ``export``,
  ``import`` and ``verify``, with one log file per run.
"""

from gnt.osdef.context import context_from_config, with_file_drivers
from gnt.osdef.definition import (
    OSDefinition,
    check_osparams,
    diagnose,
    find,
    get,
    load_from_dir,
    resolve_variant,
    split_name,
)
from gnt.osdef.environment import InstanceContext, core_env, instance_env, osp_var
from gnt.osdef.runner import (
    ExportResult,
    create_log_file,
    log_file_name,
    run_create,
    run_export,
    run_import,
    run_rename,
    run_verify_parameters,
)

__all__ = [
    "ExportResult",
    "InstanceContext",
    "OSDefinition",
    "check_osparams",
    "context_from_config",
    "core_env",
    "create_log_file",
    "diagnose",
    "find",
    "get",
    "instance_env",
    "load_from_dir",
    "log_file_name",
    "osp_var",
    "resolve_variant",
    "run_create",
    "run_export",
    "run_import",
    "run_rename",
    "run_verify_parameters",
    "split_name",
    "with_file_drivers",
]
