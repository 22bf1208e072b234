"""``gnt-instance`` commands on existing instances: modify, grow-disk,
activate-disks, deactivate-disks, recreate-disks, rename, reinstall,
batch-create (Ganeti's options and output).

``--disk``/``--net`` of ``modify`` take Ganeti's forms::

    --disk add:size=1G,name=data      add at the end (also "N:add,size=...")
    --disk 1:modify,mode=ro           change disk 1 (1 may also be a name or UUID)
    --disk 1:remove | --disk remove   remove disk 1 / the last disk

:func:`convert_mods` turns them into the opcode's ``[action, identifier,
params]`` lists.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import ARGS_MANY_INSTANCES, ARGS_ONE_INSTANCE, Arg, Command, get_client
from gnt.cli.confirm import ask_user, confirm_operation
from gnt.cli.instance_common import (
    FILESTORE_DIR_OPT,
    FILESTORE_DRIVER_OPT,
    FORCE_MULTIPLE_OPT,
    FORCE_VARIANT_OPT,
    SELECTOR_OPTS,
    expand_names,
)
from gnt.cli.jobs import JobExecutor, submit_opcode
from gnt.cli.output import to_stderr, to_stdout
from gnt.opcodes import base as opbase
from gnt.opcodes.instance import OpInstanceCreate
from gnt.opcodes.instance_modify import (
    OpInstanceActivateDisks,
    OpInstanceDeactivateDisks,
    OpInstanceGrowDisk,
    OpInstanceRecreateDisks,
    OpInstanceReinstall,
    OpInstanceRename,
    OpInstanceSetParams,
)
from gnt.opcodes.query import OpOsDiagnose
from gnt.units import parse_unit

_MODIFY_NOTE = ("Please don't forget that most parameters take effect only at the next "
                "(re)start of the instance initiated by ganeti; restarting from within the "
                "instance will not be enough.")
_HV_NOTE = ("Note that changing hypervisor parameters without performing a restart might "
            "lead to a crash while performing a live migration. This will be addressed in "
            "future Ganeti versions.")
_HOT_MODIFY_NIC = ("You are about to hot-modify a NIC. This will be done by removing the "
                   "existing NIC and then adding a new one. Network connection might be lost."
                   " Continue?")
_LEGACY_ACTIONS = (C.DDM_ADD, C.DDM_ATTACH, C.DDM_REMOVE, C.DDM_DETACH)


# ------------------------------------------------------------------ parsing
def convert_mods(values: list[tuple[str, Any]]) -> list[list[Any]]:
    """``--disk``/``--net`` values (``(identifier, params)`` pairs as the option
    parser gives them) as OP_INSTANCE_SET_PARAMS modifications.

    ``add``/``attach``/``remove``/``detach`` as identifier act on the end
    (identifier ``-1``); otherwise the identifier names the item and at most
    one of those words (or ``modify``, the default) appears among the
    parameters.  Raises OpPrereqError (``wrong_input``).
    """
    out: list[list[Any]] = []
    for ident, raw in values:
        if not isinstance(raw, dict):
            raise errors.OpPrereqError(f"Invalid modification '{ident}': expected "
                                       "key=value parameters", errors.ECODE_INVAL)
        params = dict(raw)
        if ident in _LEGACY_ACTIONS:
            action: str = ident
            target: Any = -1
        else:
            target = ident
            given = [a for a in C.DDMS_ALL if a in params]
            for a in given:
                params.pop(a)
            if len(given) > 1:
                raise errors.OpPrereqError(
                    "Cannot do more than one of the following operations at the same time:"
                    f" {', '.join(C.DDMS_ALL)}", errors.ECODE_INVAL)
            action = given[0] if given else C.DDM_MODIFY
        if action in (C.DDM_REMOVE, C.DDM_DETACH) and params:
            raise errors.OpPrereqError("Not accepting parameters on removal/detach",
                                       errors.ECODE_INVAL)
        out.append([action, target, params])
    return out


def parse_disk_sizes(mods: list[list[Any]]) -> list[list[Any]]:
    """Sizes of ``--disk`` modifications in MiB; an ``add`` needs one."""
    for action, ident, params in mods:
        if "size" in params:
            try:
                params["size"] = parse_unit(params["size"])
            except errors.ParameterError as err:
                raise errors.OpPrereqError(f"Invalid disk size for disk {ident}: {err}",
                                           errors.ECODE_INVAL) from None
        elif action == C.DDM_ADD:
            raise errors.OpPrereqError("Missing required parameter 'size'", errors.ECODE_INVAL)
        if "spindles" in params:
            try:
                params["spindles"] = int(params["spindles"])
            except (TypeError, ValueError):
                raise errors.OpPrereqError(f"Invalid spindles for disk {ident}: "
                                           f"{params['spindles']!r}", errors.ECODE_INVAL
                                           ) from None
    return mods


# ------------------------------------------------------------------ options
NOHOTPLUG_OPT = O.Option("--no-hotplug", dest="hotplug", default=True, action="store_false",
                         help="Do not hot-plug disk and NIC changes into a running instance"
                         " (they take effect at its next start)")
HOTPLUG_OPT = O.Option("--hotplug", dest="hotplug", default=True, action="store_true",
                       help="Hotplug supported devices (the default; kept for old scripts)")
HOTPLUG_IF_POSSIBLE_OPT = O.Option("--hotplug-if-possible", dest="hotplug_if_possible",
                                   default=False, action="store_true",
                                   help="Hotplug devices in case hotplug is supported")
RUNTIME_MEM_OPT = O.Option("-m", "--runtime-memory", dest="runtime_mem", type=O.TYPE_UNIT,
                           default=None, help="Change the instance's runtime memory by"
                           " ballooning it (MiB unless a unit is given)")
OFFLINE_INST_OPT = O.Option("--offline", dest="offline_inst", default=False,
                            action="store_true", help="Mark the instance offline")
ONLINE_INST_OPT = O.Option("--online", dest="online_inst", default=False,
                           action="store_true", help="Mark the instance online (down)")
NEW_PRIMARY_OPT = O.Option("--new-primary", dest="new_primary_node", default=None,
                           help="Set the instance's primary node (shared storage, disks"
                           " already reachable there)")
MODIFY_OS_OPT = O.Option("-o", "--os-type", dest="os", default=None, metavar="<os>",
                         help="Change the OS name (without reinstalling)")
SECONDARY_NODE_OPT = O.Option("-n", "--node", dest="node", default=None,
                              help="Secondary node (for a disk template conversion)")
EXT_PARAMS_OPT = O.Option("-e", "--ext-params", dest="ext_params", type=O.TYPE_KEYVAL,
                          default={}, help="ExtStorage parameters (template conversion)")
NO_CONFLICTS_OPT = O.Option("--no-conflicts-check", dest="conflicts_check", default=True,
                            action="store_false", help="Don't check for conflicting IPs")
COMMUNICATION_OPT = O.Option("-c", "--communication", dest="instance_communication",
                             type=O.TYPE_BOOL, default=None,
                             help="Enable or disable instance communication (yes/no)")
ABSOLUTE_OPT = O.Option("--absolute", dest="absolute", default=False, action="store_true",
                        help="Treat the amount as the new size, not an increase")
IGNORE_SIZE_OPT = O.Option("--ignore-size", dest="ignore_size", default=False,
                           action="store_true", help="Ignore the recorded disk sizes")
WFSYNC_OPT = O.Option("--wait-for-sync", dest="wait_for_sync", default=False,
                      action="store_true", help="Wait for the disks to synchronize")
NAME_CHECK_OPT = O.Option("--no-name-check", dest="name_check", default=True,
                          action="store_false", help="Don't check that the new name resolves")
IP_CHECK_OPT = O.Option("--no-ip-check", dest="ip_check", default=True,
                        action="store_false", help="Don't check that the new IP is unused")
SELECT_OS_OPT = O.Option("--select-os", dest="select_os", default=False, action="store_true",
                         help="Interactive OS reinstall, lists available OS templates for"
                         " selection")

# ------------------------------------------------------------------ modify
def set_instance_params(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance modify``."""
    if not (opts.nics or opts.disks or opts.disk_template or opts.hvparams or opts.beparams
            or opts.os or opts.osparams or opts.osparams_private or opts.offline_inst
            or opts.online_inst or opts.runtime_mem or opts.new_primary_node
            or opts.instance_communication is not None):
        to_stderr("Please give at least one of the parameters.")
        return 1
    if opts.offline_inst and opts.online_inst:
        raise errors.OpPrereqError("Can't use --offline and --online at the same time",
                                   errors.ECODE_INVAL)
    nics = convert_mods(opts.nics)
    if (opts.hotplug and not opts.force and any(a == C.DDM_MODIFY for a, _, _ in nics)
            and not ask_user(_HOT_MODIFY_NIC)):
        return 1
    disks = parse_disk_sizes(convert_mods(opts.disks))
    if (opts.file_driver or opts.file_storage_dir) and \
            opts.disk_template not in C.DTS_FILEBASED:
        to_stderr("Specifying file-based configuration arguments requires converting to a "
                  "file-based disk template")
        return 1
    offline = True if opts.offline_inst else (False if opts.online_inst else None)
    op = opbase.build(OpInstanceSetParams, {
        "instance_name": args[0], "nics": nics, "disks": disks, "hotplug": opts.hotplug,
        "hotplug_if_possible": opts.hotplug_if_possible, "disk_template": opts.disk_template,
        "ext_params": opts.ext_params, "file_driver": opts.file_driver,
        "file_storage_dir": opts.file_storage_dir, "remote_node": opts.node,
        "iallocator": opts.iallocator, "pnode": opts.new_primary_node, "hvparams": opts.hvparams,
        "beparams": opts.beparams, "runtime_mem": opts.runtime_mem, "os_name": opts.os,
        "osparams": opts.osparams, "osparams_private": opts.osparams_private,
        "force_variant": opts.force_variant, "force": opts.force,
        "wait_for_sync": opts.wait_for_sync, "offline": offline,
        "conflicts_check": opts.conflicts_check, "ignore_ipolicy": opts.ignore_ipolicy,
        "instance_communication": opts.instance_communication})
    result = submit_opcode(get_client(), op, opts)
    if result:
        to_stdout("Modified instance %s", args[0])
        for param, data in result:
            to_stdout(" - %-5s -> %s", param, data)
        to_stdout("%s", _MODIFY_NOTE)
        if opts.hvparams:
            to_stdout("%s", _HV_NOTE)
    return 0


# ------------------------------------------------------------------- disks
def grow_disk(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance grow-disk <instance> <disk> <amount>``."""
    instance, disk, amount = args
    try:
        index = int(disk)
    except ValueError:
        raise errors.OpPrereqError(f"Invalid disk index: {disk!r} is not a number",
                                   errors.ECODE_INVAL) from None
    try:
        mib = parse_unit(amount)
    except errors.ParameterError as err:
        raise errors.OpPrereqError(f"Can't parse the given amount '{amount}': {err}",
                                   errors.ECODE_INVAL) from None
    op = opbase.build(OpInstanceGrowDisk, {
        "instance_name": instance, "disk": index, "amount": mib,
        "wait_for_sync": opts.wait_for_sync,
        "absolute": opts.absolute, "ignore_ipolicy": opts.ignore_ipolicy})
    submit_opcode(get_client(), op, opts)
    return 0


def activate_disks(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance activate-disks``: prints ``node:disk/N:path`` per disk."""
    op = OpInstanceActivateDisks(instance_name=args[0], ignore_size=opts.ignore_size,
                                 wait_for_sync=opts.wait_for_sync)
    for host, iname, nname in submit_opcode(get_client(), op, opts) or []:
        to_stdout("%s:%s:%s", host, iname, nname)
    return 0


def deactivate_disks(opts: argparse.Namespace, args: list[str]) -> int:
    submit_opcode(get_client(), OpInstanceDeactivateDisks(instance_name=args[0],
                                                          force=opts.force), opts)
    return 0


def recreate_disks(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance recreate-disks [--disk N[:size=,mode=,spindles=]] [-n node]``."""
    disks: list[Any] = []
    for ident, params in opts.disks:
        try:
            idx = int(ident)
        except ValueError:
            raise errors.OpPrereqError(f"Invalid disk index '{ident}' in --disk",
                                       errors.ECODE_INVAL) from None
        if not isinstance(params, dict):
            raise errors.OpPrereqError(f"Invalid disk/{idx} value: expected dict, got "
                                       f"{params!r}", errors.ECODE_INVAL)
        params = dict(params)
        if "size" in params:
            try:
                params["size"] = parse_unit(params["size"])
            except errors.ParameterError as err:
                raise errors.OpPrereqError(f"Invalid disk size for disk {idx}: {err}",
                                           errors.ECODE_INVAL) from None
        if "spindles" in params:
            try:
                params["spindles"] = int(params["spindles"])
            except ValueError:
                raise errors.OpPrereqError(f"Invalid spindles for disk {idx}",
                                           errors.ECODE_INVAL) from None
        disks.append([idx, params])
    nodes: list[str] = []
    if opts.node:
        if opts.iallocator:
            raise errors.OpPrereqError("At most one of either --nodes or --iallocator can"
                                       " be passed", errors.ECODE_INVAL)
        pnode, snode = O.split_node_option(opts.node)
        nodes = [n for n in (pnode, snode) if n]
    op = opbase.build(OpInstanceRecreateDisks, {
        "instance_name": args[0], "disks": disks, "nodes": nodes, "iallocator": opts.iallocator})
    submit_opcode(get_client(), op, opts)
    return 0


# ----------------------------------------------------------- rename/reinstall
def rename_instance(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance rename <instance> <new name>``."""
    if not opts.name_check and not opts.force and not ask_user(
            f"As you disabled the check of the DNS entry, please verify that '{args[1]}' is "
            "a FQDN. Continue?"):
        return 1
    op = opbase.build(OpInstanceRename, {"instance_name": args[0], "new_name": args[1],
                                             "ip_check": opts.ip_check,
                                             "name_check": opts.name_check})
    result = submit_opcode(get_client(), op, opts)
    if result:
        to_stdout("Instance '%s' renamed to '%s'", args[0], result)
    return 0


def _os_names(name: str, variants: list[str] | None) -> list[str]:
    return [f"{name}+{v}" for v in variants] if variants else [name]


def _select_os(client: Any, opts: argparse.Namespace) -> str | None:
    """Ask which OS to install (``--select-os``); None when the user aborts."""
    rows = submit_opcode(client, OpOsDiagnose(output_fields=["name", "variants"], names=[]))
    if not rows:
        raise errors.OpExecError("Can't get the OS list", errors.ECODE_ENVIRON)
    to_stdout("Available OS templates:")
    choices: list[tuple[str, Any, str]] = []
    for name, variants in rows:
        for entry in _os_names(name, variants):
            to_stdout("%3s: %s", len(choices), entry)
            choices.append((str(len(choices)), entry, entry))
    choices.append(("x", "exit", "Exit gnt-instance reinstall"))
    selected = ask_user("Enter OS template number (or x to abort):", choices)
    return None if selected == "exit" else str(selected)


def reinstall_instance(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance reinstall [-o OS | --select-os] [-O ...] [-f] <instance>...``."""
    client = get_client()
    names = expand_names(client, opts, args)
    if not names:
        raise errors.OpPrereqError("Selection filter does not match any instances",
                                   errors.ECODE_INVAL)
    os_name = opts.os
    if opts.select_os:
        os_name = _select_os(client, opts)
        if os_name is None:
            to_stderr("User aborted reinstall, exiting")
            return 1
    os_msg = f"change the OS to '{os_name}'" if os_name else "keep the same OS"
    multi = opts.multi_mode != "instance" or len(names) > 1
    if multi:
        extra = (f"Note: this will remove *all* data for the below instances! It will "
                 f"{os_msg}.\n")
        if not (opts.force_multiple
                or confirm_operation(names, "instances", "reinstall", extra=extra)):
            return 1
    elif not (opts.force or opts.force_multiple) and not ask_user(
            f"This will reinstall the instance '{names[0]}' (and {os_msg}) which removes all "
            "data. Continue?"):
        return 1

    def make(name: str) -> OpInstanceReinstall:
        return OpInstanceReinstall(instance_name=name, os_type=os_name,
                                   force_variant=opts.force_variant,
                                   osparams=opts.osparams or None,
                                   osparams_private=opts.osparams_private or None,
                                   osparams_secret=opts.osparams_secret or None)
    if not multi:
        submit_opcode(client, make(names[0]), opts)
        return 0
    executor = JobExecutor(client, opts=opts, verbose=True)
    for name in names:
        executor.queue_job(name, make(name))
    results = executor.wait_or_show(not opts.submit_only)
    return 0 if all(ok for ok, _ in results) else 1


# ------------------------------------------------------------- batch-create
def batch_create(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-instance batch-create <instances.json>``: one creation job per instance."""
    try:
        with open(args[0], encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        to_stderr("Can't parse the instance definition file: %s", err)
        return 1
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        to_stderr("The instance definition file is not a list of dictionaries")
        return 1
    allowed = set(OpInstanceCreate.model_fields)
    ops: list[tuple[str, OpInstanceCreate]] = []
    for idx, inst in enumerate(data):
        unknown = sorted(set(inst) - allowed)
        if unknown:
            raise errors.OpPrereqError(
                f"Unknown fields in definition {idx}: {', '.join(unknown)}",
                errors.ECODE_INVAL)
        if inst.get("iallocator"):
            raise errors.OpPrereqError(
                f"Definition {idx}: 'iallocator' is only allowed for the whole batch (-I)",
                errors.ECODE_INVAL)
        params = dict(inst)
        if opts.iallocator:
            params["iallocator"] = opts.iallocator
        op: Any = opbase.build(OpInstanceCreate, params)
        ops.append((str(params.get("instance_name", f"definition {idx}")), op))
    executor = JobExecutor(get_client(), opts=opts, verbose=True)
    for name, op in ops:
        executor.queue_job(name, op)
    results = executor.wait_or_show(not opts.submit_only)
    if opts.submit_only:
        return 0 if all(ok for ok, _ in results) else 1
    bad = len([r for r in results if not r[0]])
    if bad == 0:
        to_stdout("All instances created successfully.")
        return 0
    to_stdout("There were %s errors during the creation.", bad)
    return 1


COMMANDS = {
    "modify": Command(set_instance_params, ARGS_ONE_INSTANCE, [
        O.BACKEND_OPT, O.DISK_OPT, O.FORCE_OPT, O.HVOPTS_OPT, O.NET_OPT, O.OSPARAMS_OPT,
        O.OSPARAMS_PRIVATE_OPT, MODIFY_OS_OPT, FORCE_VARIANT_OPT, O.DISK_TEMPLATE_OPT,
        SECONDARY_NODE_OPT, O.IALLOCATOR_OPT, EXT_PARAMS_OPT, FILESTORE_DIR_OPT,
        FILESTORE_DRIVER_OPT, NEW_PRIMARY_OPT, RUNTIME_MEM_OPT, OFFLINE_INST_OPT,
        ONLINE_INST_OPT, NOHOTPLUG_OPT, HOTPLUG_OPT, HOTPLUG_IF_POSSIBLE_OPT, O.NWSYNC_OPT,
        NO_CONFLICTS_OPT, O.IGNORE_IPOLICY_OPT, COMMUNICATION_OPT, *O.JOB_OPTS],
        "<instance>", "Alters the parameters of an instance"),
    "grow-disk": Command(grow_disk, [Arg("instance", 1, 1), Arg("disk", 1, 1),
                                     Arg("amount", 1, 1)], [
        O.NWSYNC_OPT, ABSOLUTE_OPT, O.IGNORE_IPOLICY_OPT, *O.JOB_OPTS],
        "[--absolute] <instance> <disk> <size>", "Grow an instance's disk"),
    "activate-disks": Command(activate_disks, ARGS_ONE_INSTANCE, [
        IGNORE_SIZE_OPT, WFSYNC_OPT, *O.JOB_OPTS],
        "<instance>", "Activate an instance's disks"),
    "deactivate-disks": Command(deactivate_disks, ARGS_ONE_INSTANCE, [
        O.FORCE_OPT, *O.JOB_OPTS],
        "[-f] <instance>", "Deactivate an instance's disks"),
    "recreate-disks": Command(recreate_disks, ARGS_ONE_INSTANCE, [
        O.DISK_OPT, O.NODE_PLACEMENT_OPT, O.IALLOCATOR_OPT, *O.JOB_OPTS],
        "[--disk N[:size=,mode=]] [-n node] <instance>", "Recreate an instance's disks"),
    "rename": Command(rename_instance, [Arg("instance", 1, 1), Arg("new name", 1, 1)], [
        NAME_CHECK_OPT, IP_CHECK_OPT, O.FORCE_OPT, *O.JOB_OPTS],
        "<instance> <new_name>", "Rename the instance"),
    "reinstall": Command(reinstall_instance, ARGS_MANY_INSTANCES, [
        O.FORCE_OPT, O.OS_OPT, FORCE_VARIANT_OPT, SELECT_OS_OPT, O.OSPARAMS_OPT,
        O.OSPARAMS_PRIVATE_OPT, O.OSPARAMS_SECRET_OPT, FORCE_MULTIPLE_OPT, *SELECTOR_OPTS,
        *O.JOB_OPTS],
        "[-f] <instance>", "Reinstall a stopped instance"),
    "batch-create": Command(batch_create, [Arg("file", 1, 1)], [
        O.IALLOCATOR_OPT, *O.JOB_OPTS],
        "<instances.json>", "Create a bunch of instances based on specs in the file."),
}
