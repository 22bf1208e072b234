"""OS definitions (Ganeti's OS interface, API 10/15/20) on this node.

* :mod:`gnt.osdef.definition`: discovery and validation over the OS search
  path, ``name+variant`` names, OS parameter checks;
* :mod:`gnt.osdef.environment`: the environment the scripts get;
* :mod:`gnt.osdef.runner`: running ``create``, ``rename`` and ``verify``.
"""

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
    log_file_name,
    run_create,
    run_rename,
    run_verify_parameters,
)

__all__ = [
    "InstanceContext",
    "OSDefinition",
    "check_osparams",
    "core_env",
    "diagnose",
    "find",
    "get",
    "instance_env",
    "load_from_dir",
    "log_file_name",
    "osp_var",
    "resolve_variant",
    "run_create",
    "run_rename",
    "run_verify_parameters",
    "split_name",
]
