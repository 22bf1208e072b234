"""``gnt-instance``: create, start, stop, reboot, remove, inspect instances."""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import ARGS_ANY, ARGS_MANY_INSTANCES, ARGS_ONE_INSTANCE, Command, get_client, run
from gnt.cli.confirm import ask_user
from gnt.cli.instance_common import (
    FILESTORE_DIR_OPT,
    FILESTORE_DRIVER_OPT,
    FORCE_MULTIPLE_OPT,
    FORCE_VARIANT_OPT,
    SELECTOR_OPTS,
)
from gnt.cli.instance_common import expand_names as _expand_names
from gnt.cli.jobs import submit_many, submit_opcode
from gnt.cli.lazy import CommandTable, lazy_module, lazy_tag_commands
from gnt.cli.output import format_generic_info, to_stdout
from gnt.cli.table import generic_list, generic_list_fields
from gnt.query.defaults import INSTANCE as DEFAULT_FIELDS

# imported on first use: a subcommand loads only the modules it needs
ops = lazy_module("gnt.opcodes.instance")
instance_mobility = lazy_module("gnt.cli.instance_mobility")
instance_modify = lazy_module("gnt.cli.instance_modify")
netutils = lazy_module("gnt.netutils")
subprocess = lazy_module("subprocess")

NAME_CHECK_OPT = O.Option("--no-name-check", dest="name_check", default=True,
                          action="store_false", help="Don't check that the instance's name"
                          " is resolvable")
IP_CHECK_OPT = O.Option("--no-ip-check", dest="ip_check", default=True,
                        action="store_false", help="Don't check that the instance's IP is"
                        " alive")
NO_INSTALL_OPT = O.Option("--no-install", dest="no_install", default=False,
                          action="store_true", help="Do not install the OS (will enable"
                          " no-start)")
REBOOT_TYPE_OPT = O.Option("-t", "--type", dest="reboot_type", default=C.INSTANCE_REBOOT_HARD,
                           choices=list(C.REBOOT_TYPES),
                           help="Type of reboot: soft/hard/full")
IGNORE_SECONDARIES_OPT = O.Option("--ignore-secondaries", dest="ignore_secondaries",
                                  default=False, action="store_true",
                                  help="Ignore errors from secondaries")
NO_REMEMBER_OPT = O.Option("--no-remember", dest="no_remember", default=False,
                           action="store_true", help="Perform but do not record the change"
                           " in the configuration")
IGNORE_OFFLINE_OPT = O.Option("--ignore-offline", dest="ignore_offline_nodes", default=False,
                              action="store_true", help="Ignore offline nodes and do as much"
                              " as possible")
STARTUP_PAUSED_OPT = O.Option("--paused", dest="startup_paused", default=False,
                              action="store_true", help="Pause instance at startup")
IGNORE_FAILURES_OPT = O.Option("--ignore-failures", dest="ignore_failures", default=False,
                               action="store_true", help="Remove the instance from the"
                               " cluster configuration even if there are failures during"
                               " the removal process")
SHOWCMD_OPT = O.Option("--show-cmd", dest="show_command", default=False, action="store_true",
                       help="Show command instead of executing it")
STATIC_OPT = O.Option("-s", "--static", dest="static", default=False, action="store_true",
                      help="Only show configuration data, not runtime data")
ALL_OPT = O.Option("--all", dest="show_all", default=False, action="store_true",
                   help="Show info on all instances on the cluster. This can take a long"
                   " time to run, use wisely")
TAGS_OPT = O.Option("--tags", dest="tags", default=None,
                    help="Comma-separated list of instance tags")

# --- helpers ---


def _hypervisor(opts: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    if opts.hypervisor is None:
        return None, {}
    name, params = opts.hypervisor
    return name, dict(params or {})


def _disks(opts: argparse.Namespace) -> list[dict[str, Any]]:
    if opts.sd_size is not None and opts.disks:
        raise errors.OpPrereqError("Please use either the '--disk' or '-s' option",
                                   errors.ECODE_INVAL)
    if opts.sd_size is not None:
        return [{"size": opts.sd_size}]
    return O.ident_dicts_to_list("--disk", opts.disks)


def _nics(opts: argparse.Namespace) -> list[dict[str, Any]]:
    if opts.no_nics and opts.nics:
        raise errors.OpPrereqError("Cannot specify both --no-nics and --net",
                                   errors.ECODE_INVAL)
    if opts.no_nics:
        return []
    if opts.nics:
        return O.ident_dicts_to_list("--net", opts.nics)
    return [{}]


def add_instance(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance add``."""
    hv_name, hvparams = _hypervisor(opts)
    pnode, snode = O.split_node_option(opts.node)
    no_install = opts.no_install
    start = opts.start and not no_install
    op = ops.OpInstanceCreate(
        instance_name=args[0], disk_template=opts.disk_template, disks=_disks(opts),
        nics=_nics(opts), os_type=opts.os, force_variant=opts.force_variant,
        beparams=opts.beparams, hvparams=hvparams, hypervisor=hv_name,
        osparams=opts.osparams, osparams_private=opts.osparams_private,
        osparams_secret=opts.osparams_secret, pnode=pnode, snode=snode,
        iallocator=opts.iallocator, group_name=opts.nodegroup,
        file_storage_dir=opts.file_storage_dir, file_driver=opts.file_driver,
        ip_check=opts.ip_check, name_check=opts.name_check, wait_for_sync=opts.wait_for_sync,
        start=start, no_install=no_install,
        tags=opts.tags.split(",") if opts.tags else [], ignore_ipolicy=opts.ignore_ipolicy)
    submit_opcode(get_client(), op, opts)
    return 0


def _confirm_many(opts: argparse.Namespace, action: str, names: list[str]) -> bool:
    if len(names) <= 1 or opts.force_multiple or getattr(opts, "multi_mode", "") == "instance":
        return True
    return ask_user(f"The {action} will operate on {len(names)} instances.\n"
                    "Do you want to continue?\nAffected instances:\n  " +
                    "\n  ".join(names))


def _mass_op(opts: argparse.Namespace, args: list[str], action: str,
             make_op: Any) -> int:
    client = get_client()
    names = _expand_names(client, opts, args)
    if not names:
        raise errors.OpPrereqError("Selection filter does not match any instances",
                                   errors.ECODE_INVAL)
    if not _confirm_many(opts, action, names):
        return 1
    if len(names) == 1:
        submit_opcode(client, make_op(names[0]), opts)
        return 0
    results = submit_many(client, [(n, make_op(n)) for n in names], opts)
    return 0 if all(ok for ok, _ in results) else 1


def startup(opts: argparse.Namespace, args: list[str]) -> int:
    return _mass_op(opts, args, "startup", lambda n: ops.OpInstanceStartup(
        instance_name=n, force=opts.force, ignore_offline_nodes=opts.ignore_offline_nodes,
        hvparams=opts.hvparams, beparams=opts.beparams, no_remember=opts.no_remember,
        startup_paused=opts.startup_paused))


def shutdown(opts: argparse.Namespace, args: list[str]) -> int:
    return _mass_op(opts, args, "shutdown", lambda n: ops.OpInstanceShutdown(
        instance_name=n, timeout=opts.timeout, no_remember=opts.no_remember,
        ignore_offline_nodes=opts.ignore_offline_nodes, force=opts.force))


def reboot(opts: argparse.Namespace, args: list[str]) -> int:
    return _mass_op(opts, args, "reboot", lambda n: ops.OpInstanceReboot(
        instance_name=n, reboot_type=opts.reboot_type,
        ignore_secondaries=opts.ignore_secondaries, shutdown_timeout=opts.shutdown_timeout))


def remove_instance(opts: argparse.Namespace, args: list[str]) -> int:
    name = args[0]
    if not opts.force and not ask_user(
            f"This will remove the volumes of the instance {name} (including mirrors),"
            " thus removing all the data of the instance. Continue?"):
        return 1
    submit_opcode(get_client(), ops.OpInstanceRemove(
        instance_name=name, ignore_failures=opts.ignore_failures,
        shutdown_timeout=opts.shutdown_timeout), opts)
    return 0


def list_instances(opts: argparse.Namespace, args: list[str]) -> int:
    fields = O.parse_fields(opts.output, DEFAULT_FIELDS)
    return generic_list(get_client(), "instance", fields, args, opts.units, opts.separator,
                        not opts.no_headers, verbose=opts.verbose,
                        force_filter=opts.force_filter)


def list_fields(opts: argparse.Namespace, args: list[str]) -> int:
    return generic_list_fields(get_client(), "instance", args, opts.separator,
                               not opts.no_headers)


def show_info(opts: argparse.Namespace, args: list[str]) -> int:
    if not args and not opts.show_all:
        raise errors.OpPrereqError("No instance selected. Please pass in --all if you want"
                                   " to query info for all instances.", errors.ECODE_INVAL)
    if args and opts.show_all:
        raise errors.OpPrereqError("Cannot use --all if you specify instance names.",
                                   errors.ECODE_INVAL)
    result = submit_opcode(get_client(), ops.OpInstanceQueryData(
        instances=args, static=opts.static), opts)
    for name in sorted(result):
        to_stdout(format_generic_info(_as_pairs(result[name])))
    return 0


def _as_pairs(data: Any) -> Any:
    """Restore the ordered ``(key, value)`` pairs that JSON turned into lists."""
    if isinstance(data, list) and data and all(
            isinstance(x, list) and len(x) == 2 and isinstance(x[0], str) for x in data):
        return [(k, _as_pairs(v)) for k, v in data]
    if isinstance(data, list):
        return [_as_pairs(x) for x in data]
    return data


def console(opts: argparse.Namespace, args: list[str]) -> int:
    """Connect to the serial console (Ctrl+] leaves)."""
    info = submit_opcode(get_client(), ops.OpInstanceConsole(instance_name=args[0]), opts)
    kind = info.get("kind")
    if kind == "msg":
        raise errors.OpExecError(info.get("message") or "No console available",
                                 errors.ECODE_STATE)
    if kind in ("vnc", "spice"):
        to_stdout("Instance %s has no serial console, but it can be accessed over %s.",
                  info["instance"], kind.upper())
        to_stdout("To connect, use %s:%s (display %s)", info.get("host"), info.get("port"),
                  info.get("display"))
        return 0
    command = list(info.get("command") or [])
    host = info.get("host")
    if host and host != netutils.my_hostname():
        command = ["ssh", "-q", "-t", f"{info.get('user') or 'root'}@{host}",
                   shlex.join(command)]
    if opts.show_command:
        to_stdout("%s", shlex.join(command))
        return 0
    try:
        os.execvp(command[0], command)
    except OSError as err:
        raise errors.OpExecError(f"Cannot run the console command {command[0]}: {err}",
                                 errors.ECODE_ENVIRON) from None
    return subprocess.call(command)  # pragma: no cover - execvp does not return


# --- selectors for mass operations ---

MULTI_OPTS = [*SELECTOR_OPTS, FORCE_MULTIPLE_OPT]

COMMANDS = CommandTable({
    "add": Command(add_instance, ARGS_ONE_INSTANCE, [
        O.BACKEND_OPT, O.DISK_OPT, O.DISK_TEMPLATE_OPT, FILESTORE_DIR_OPT,
        FILESTORE_DRIVER_OPT, O.HYPERVISOR_OPT, O.IALLOCATOR_OPT, IP_CHECK_OPT, NAME_CHECK_OPT,
        O.NET_OPT, O.NODE_PLACEMENT_OPT, O.NODEGROUP_OPT, O.NONICS_OPT, O.NOSTART_OPT,
        O.NWSYNC_OPT, O.OSPARAMS_OPT, O.OSPARAMS_PRIVATE_OPT, O.OSPARAMS_SECRET_OPT,
        O.OS_SIZE_OPT, O.OS_OPT, FORCE_VARIANT_OPT, NO_INSTALL_OPT, TAGS_OPT,
        O.IGNORE_IPOLICY_OPT, *O.JOB_OPTS],
        "<instance>", "Creates and adds a new instance to the cluster"),
    "startup": Command(startup, ARGS_MANY_INSTANCES, [
        O.FORCE_OPT, *MULTI_OPTS, O.BACKEND_OPT, O.HVOPTS_OPT, NO_REMEMBER_OPT,
        IGNORE_OFFLINE_OPT, STARTUP_PAUSED_OPT, *O.JOB_OPTS],
        "<instance>", "Starts an instance", aliases=("start",)),
    "shutdown": Command(shutdown, ARGS_MANY_INSTANCES, [
        O.FORCE_OPT, *MULTI_OPTS, O.TIMEOUT_OPT, NO_REMEMBER_OPT, IGNORE_OFFLINE_OPT,
        *O.JOB_OPTS], "<instance>", "Stops an instance", aliases=("stop",)),
    "reboot": Command(reboot, ARGS_MANY_INSTANCES, [
        REBOOT_TYPE_OPT, IGNORE_SECONDARIES_OPT, *MULTI_OPTS, O.SHUTDOWN_TIMEOUT_OPT,
        *O.JOB_OPTS], "<instance>", "Reboots an instance"),
    "remove": Command(remove_instance, ARGS_ONE_INSTANCE, [
        O.FORCE_OPT, O.SHUTDOWN_TIMEOUT_OPT, IGNORE_FAILURES_OPT, *O.JOB_OPTS],
        "[-f] <instance>", "Shuts down the instance and removes it"),
    "info": Command(show_info, ARGS_MANY_INSTANCES, [STATIC_OPT, ALL_OPT],
                    "[-s] {--all | <instance>...}",
                    "Show information on the specified instance(s)", aliases=("show",)),
    "list": Command(list_instances, ARGS_MANY_INSTANCES, O.LIST_OPTS,
                    "[<instance>...]", "Lists the instances and their status"),
    "list-fields": Command(list_fields, ARGS_ANY, O.LIST_FIELDS_OPTS,
                           "[fields...]", "Lists all available fields for instances"),
    "console": Command(console, ARGS_ONE_INSTANCE, [SHOWCMD_OPT],
                       "[--show-cmd] <instance>", "Opens a console on the specified instance"),
})
COMMANDS.update(lazy_tag_commands(C.TAG_INSTANCE))
COMMANDS.update(instance_mobility.COMMANDS)
COMMANDS.update(instance_modify.COMMANDS)


def main(argv: list[str] | None = None) -> int:
    return run("gnt-instance", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
