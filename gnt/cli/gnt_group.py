"""``gnt-group``: node groups - add, list, assign nodes, modify, rename, remove."""

from __future__ import annotations

import argparse
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import (
    ARGS_ANY,
    ARGS_MANY_GROUPS,
    ARGS_ONE_GROUP,
    Arg,
    Command,
    get_client,
    run,
)
from gnt.cli.infofmt import format_params_dict_info, format_policy_info, query_named
from gnt.cli.jobs import submit_opcode
from gnt.cli.lazy import CommandTable, lazy_module, lazy_tag_commands
from gnt.cli.output import format_generic_info, to_stderr, to_stdout
from gnt.cli.table import generic_list, generic_list_fields
from gnt.query.defaults import GROUP as DEFAULT_FIELDS

# imported on first use: a subcommand loads only the modules it needs
ops = lazy_module("gnt.opcodes.group")

ALLOC_POLICY_OPT = O.Option("--alloc-policy", dest="alloc_policy", default=None,
                            choices=list(C.VALID_ALLOC_POLICIES), metavar="<policy>",
                            help="Set the allocation policy for the group ("
                            f"{', '.join(C.VALID_ALLOC_POLICIES)})")
IPOLICY_BOUNDS_SPECS_OPT = O.Option(
    "--ipolicy-bounds-specs", dest="ipolicy_bounds_specs", default=None,
    type=O.TYPE_MULTILISTIDENTKEYVAL,
    help="Complete instance specs limits (min:k=v,.../max:k=v,...[//min:.../max:...])")
IPOLICY_DISK_TEMPLATES_OPT = O.Option(
    "--ipolicy-disk-templates", dest="ipolicy_disk_templates", default=None,
    type=O.TYPE_LIST, help="Comma-separated list of enabled disk templates")
IPOLICY_VCPU_RATIO_OPT = O.Option(
    "--ipolicy-vcpu-ratio", dest="ipolicy_vcpu_ratio", default=None, type=O.TYPE_MAYBEFLOAT,
    help="The maximum allowed vcpu-to-cpu ratio")
IPOLICY_SPINDLE_RATIO_OPT = O.Option(
    "--ipolicy-spindle-ratio", dest="ipolicy_spindle_ratio", default=None,
    type=O.TYPE_MAYBEFLOAT, help="The maximum allowed instances to spindle ratio")
INSTANCE_POLICY_OPTS = [IPOLICY_BOUNDS_SPECS_OPT, IPOLICY_DISK_TEMPLATES_OPT,
                        IPOLICY_VCPU_RATIO_OPT, IPOLICY_SPINDLE_RATIO_OPT]
_SIZE_SPECS = (C.ISPEC_MEM_SIZE, C.ISPEC_DISK_SIZE)


def _bounds(value: list[dict[str, Any]]) -> Any:
    """``--ipolicy-bounds-specs`` value -> ``minmax`` (``default`` -> "default");
    sizes accept units (``memory-size=4G``)."""
    if value == [{C.VALUE_DEFAULT: {}}]:
        return C.VALUE_DEFAULT
    out = []
    for pair in value:
        bad = sorted(set(pair) - {"min", "max"})
        if bad:
            raise errors.OpPrereqError(
                f"Invalid key in bounds instance specifications: {', '.join(bad)}"
                " (expected min and max)", errors.ECODE_INVAL)
        out.append({k: {p: (O.parse_size(f"--ipolicy-bounds-specs {k}/{p}", v)
                            if p in _SIZE_SPECS and isinstance(v, str) else v)
                        for p, v in spec.items()}
                    for k, spec in pair.items()})
    return out


def ipolicy_from_opts(opts: argparse.Namespace) -> dict[str, Any]:
    """The instance policy given by the ``--ipolicy-*`` options (only those set)."""
    ipolicy: dict[str, Any] = {}
    if opts.ipolicy_bounds_specs is not None:
        ipolicy["minmax"] = _bounds(opts.ipolicy_bounds_specs)
    if opts.ipolicy_disk_templates is not None:
        ipolicy["disk-templates"] = opts.ipolicy_disk_templates
    if opts.ipolicy_vcpu_ratio is not None:
        ipolicy["vcpu-ratio"] = opts.ipolicy_vcpu_ratio
    if opts.ipolicy_spindle_ratio is not None:
        ipolicy["spindle-ratio"] = opts.ipolicy_spindle_ratio
    return ipolicy


def _diskparams(opts: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for template, params in opts.diskparams:
        if not isinstance(params, dict):
            raise errors.OpPrereqError(f"Invalid disk parameters for template '{template}':"
                                       " expected template:key=value,...",
                                       errors.ECODE_INVAL)
        out.setdefault(template, {}).update(params)
    return out


def add_group(opts: argparse.Namespace, args: list[str]) -> int:
    op = ops.OpGroupAdd(group_name=args[0], ndparams=opts.ndparams,
                        alloc_policy=opts.alloc_policy, diskparams=_diskparams(opts) or None,
                        ipolicy=ipolicy_from_opts(opts) or None)
    submit_opcode(get_client(), op, opts)
    return 0


def assign_nodes(opts: argparse.Namespace, args: list[str]) -> int:
    op = ops.OpGroupAssignNodes(group_name=args[0], nodes=args[1:], force=opts.force)
    submit_opcode(get_client(), op, opts)
    return 0


def _fmt_dict(data: Any) -> str:
    if not data:
        return "(empty)"
    return ", ".join(f"{k}={v}" for k, v in data.items())


def list_groups(opts: argparse.Namespace, args: list[str]) -> int:
    fields = O.parse_fields(opts.output, DEFAULT_FIELDS)
    override = {"node_list": (",".join, False), "pinst_list": (",".join, False),
                "ndparams": (_fmt_dict, False)}
    return generic_list(get_client(), "group", fields, args, None, opts.separator,
                        not opts.no_headers, format_override=override,
                        verbose=opts.verbose, force_filter=opts.force_filter)


def list_fields(opts: argparse.Namespace, args: list[str]) -> int:
    return generic_list_fields(get_client(), "group", args, opts.separator,
                               not opts.no_headers)


INFO_FIELDS = ["ndparams", "custom_ndparams", "diskparams", "custom_diskparams", "ipolicy",
               "custom_ipolicy"]


def show_info(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-group info``: each group's parameters, own or inherited."""
    rows = query_named(get_client(), "group", "Node group", ["name", *INFO_FIELDS], args)
    out = []
    for name, ndp, custom_ndp, dp, custom_dp, ipol, custom_ipol in rows:
        out.append([("Node group", name),
                    ("Node parameters", format_params_dict_info(custom_ndp, ndp or {})),
                    ("Disk parameters", format_params_dict_info(custom_dp, dp or {})),
                    ("Instance policy", format_policy_info(custom_ipol, ipol or {}))])
    if out:
        to_stdout(format_generic_info(out))
    return 0


def modify_group(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-group modify``: prints ``Modified node group <name>`` and each change."""
    ipolicy = ipolicy_from_opts(opts)
    diskparams = _diskparams(opts)
    if (opts.ndparams is None and opts.alloc_policy is None and not diskparams
            and not ipolicy):
        to_stderr("Please give at least one of the parameters.")
        return 1
    op = ops.OpGroupSetParams(group_name=args[0], ndparams=opts.ndparams,
                              alloc_policy=opts.alloc_policy,
                              diskparams=diskparams or None, ipolicy=ipolicy or None)
    result = submit_opcode(get_client(), op, opts)
    if result:
        to_stdout("Modified node group %s", args[0])
        for param, data in result:
            to_stdout(" - %-5s -> %s", param, data)
    return 0


def remove_group(opts: argparse.Namespace, args: list[str]) -> int:
    submit_opcode(get_client(), ops.OpGroupRemove(group_name=args[0]), opts)
    return 0


def rename_group(opts: argparse.Namespace, args: list[str]) -> int:
    submit_opcode(get_client(), ops.OpGroupRename(group_name=args[0], new_name=args[1]),
                  opts)
    return 0


COMMANDS = CommandTable({
    "add": Command(add_group, ARGS_ONE_GROUP, [
        O.DRY_RUN_OPT, ALLOC_POLICY_OPT, O.NODE_PARAMS_OPT, O.DISK_PARAMS_OPT,
        O.PRIORITY_OPT, *O.SUBMIT_OPTS, *INSTANCE_POLICY_OPTS],
        "<group-name>", "Add a new node group to the cluster"),
    "assign-nodes": Command(assign_nodes, [*ARGS_ONE_GROUP, Arg("node", 1, None)], [
        O.DRY_RUN_OPT, O.FORCE_OPT, O.PRIORITY_OPT, *O.SUBMIT_OPTS],
        "<group-name> <node-name>...", "Assign nodes to a group"),
    "list": Command(list_groups, ARGS_MANY_GROUPS, [
        O.NOHDR_OPT, O.SEP_OPT, O.FIELDS_OPT, O.VERBOSE_OPT, O.FORCE_FILTER_OPT],
        "[<group-name>...]",
        "Lists the node groups in the cluster. The available fields can be shown using the"
        " \"list-fields\" command (see the man page for details). The default list is (in"
        f" order): {', '.join(DEFAULT_FIELDS)}."),
    "list-fields": Command(list_fields, ARGS_ANY, O.LIST_FIELDS_OPTS, "[fields...]",
                           "Lists all available fields for node groups"),
    "modify": Command(modify_group, ARGS_ONE_GROUP, [
        O.DRY_RUN_OPT, *O.SUBMIT_OPTS, ALLOC_POLICY_OPT, O.NODE_PARAMS_OPT,
        O.DISK_PARAMS_OPT, O.PRIORITY_OPT, *INSTANCE_POLICY_OPTS],
        "<group>", "Alters the parameters of a node group"),
    "remove": Command(remove_group, ARGS_ONE_GROUP, [
        O.DRY_RUN_OPT, O.PRIORITY_OPT, *O.SUBMIT_OPTS],
        "[--dry-run] <group>", "Remove an (empty) node group from the cluster"),
    "rename": Command(rename_group, [Arg("group", 2, 2)], [
        O.DRY_RUN_OPT, *O.SUBMIT_OPTS, O.PRIORITY_OPT],
        "[--dry-run] <old-name> <new-name>", "Rename a node group"),
    "info": Command(show_info, ARGS_MANY_GROUPS, [], "[<group>...]",
                    "Show group information"),
})
COMMANDS.update(lazy_tag_commands(C.TAG_NODEGROUP))


def main(argv: list[str] | None = None) -> int:
    return run("gnt-group", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
