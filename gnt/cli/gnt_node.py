"""``gnt-node``: add, remove, list, inspect and modify the nodes of the cluster."""

from __future__ import annotations

import argparse
from typing import Any

from gnt import constants as C
from gnt.cli import options as O
from gnt.cli.base import ARGS_ANY, ARGS_MANY_NODES, ARGS_ONE_NODE, Command, get_client, run
from gnt.cli.infofmt import format_params_dict_info, query_named
from gnt.cli.jobs import submit_opcode
from gnt.cli.lazy import CommandTable, lazy_module, lazy_tag_commands
from gnt.cli.output import format_generic_info, to_stderr, to_stdout
from gnt.cli.table import generate_table, generic_list, generic_list_fields
from gnt.query.defaults import NODE as DEFAULT_FIELDS

# imported on first use: a subcommand loads only the modules it needs
ops = lazy_module("gnt.opcodes.node")
netutils = lazy_module("gnt.netutils")
node_mobility = lazy_module("gnt.cli.node_mobility")

#: default fields of ``volumes`` and ``list-storage``, and their headers
VOLUME_FIELDS = ["node", "phys", "vg", "name", "size", "instance"]
VOLUME_HEADERS = {"node": "Node", "phys": "PhysDev", "vg": "VG", "name": "Name",
                  "size": "Size", "instance": "Instance"}
STORAGE_FIELDS = list(C.VALID_STORAGE_FIELDS)
STORAGE_HEADERS = {C.SF_NODE: "Node", C.SF_TYPE: "Type", C.SF_NAME: "Name",
                   C.SF_SIZE: "Size", C.SF_USED: "Used", C.SF_FREE: "Free",
                   C.SF_ALLOCATABLE: "Allocatable"}
#: storage types a user can name with ``-t``
USER_STORAGE_TYPES = (C.ST_FILE, C.ST_SHARED_FILE, C.ST_LVM_PV, C.ST_LVM_VG)

SECONDARY_IP_OPT = O.Option("-s", "--secondary-ip", dest="secondary_ip", default=None,
                            metavar="ADDRESS", help="Specify the secondary ip for the node")
READD_OPT = O.Option("--readd", dest="readd", default=False, action="store_true",
                     help="Readd old node after replacing it")
NOSSH_KEYCHECK_OPT = O.Option("--no-ssh-key-check", dest="ssh_key_check", default=True,
                              action="store_false", help="Disable SSH key fingerprint"
                              " checking")
FORCE_JOIN_OPT = O.Option("--force-join", dest="force_join", default=False,
                          action="store_true", help="Force the joining of a node")
NONODE_SETUP_OPT = O.Option("--no-node-setup", dest="node_setup", default=True,
                            action="store_false", help="Do not make initial SSH setup on"
                            " remote node (needs to be done manually)")
JOIN_TOKEN_OPT = O.Option("--join-token", dest="join_token", default=None, metavar="TOKEN",
                          help="Join without SSH: the token the new node's daemon was"
                          " started with (gnt-noded --join-token)")
CAPAB_MASTER_OPT = O.Option("--master-capable", dest="master_capable", default=None,
                            type=O.TYPE_BOOL, metavar="yes|no",
                            help="Set the master_capable flag on the node")
CAPAB_VM_OPT = O.Option("--vm-capable", dest="vm_capable", default=None, type=O.TYPE_BOOL,
                        metavar="yes|no", help="Set the vm_capable flag on the node")
MC_OPT = O.Option("-C", "--master-candidate", dest="master_candidate", default=None,
                  type=O.TYPE_BOOL, metavar="yes|no",
                  help="Set the master_candidate flag on the node")
DRAINED_OPT = O.Option("-D", "--drained", dest="drained", default=None, type=O.TYPE_BOOL,
                       metavar="yes|no", help="Set the drained flag on the node")
OFFLINE_OPT = O.Option("-O", "--offline", dest="offline", default=None, type=O.TYPE_BOOL,
                       metavar="yes|no", help="Set the offline flag on the node")
AUTO_PROMOTE_OPT = O.Option("--auto-promote", dest="auto_promote", default=False,
                            action="store_true", help="Automatically promote nodes if"
                            " needed (e.g. when demoting a master candidate)")
NODE_POWERED_OPT = O.Option("--node-powered", dest="node_powered", default=None,
                            type=O.TYPE_BOOL, metavar="yes|no",
                            help="Specify if the SoR for node is powered")
STORAGE_TYPE_OPT = O.Option("-t", "--storage-type", dest="user_storage_type", default=None,
                            choices=list(USER_STORAGE_TYPES), metavar="STORAGE_TYPE",
                            help=f"Storage type ({', '.join(USER_STORAGE_TYPES)})")
HUMAN_READABLE_OPT = O.Option("--human-readable", dest="units", action="store_const",
                              const="h", help="Print sizes in human-readable units (the"
                              " default without --separator)")


# --- add / remove / modify (jobs) ---

def add_node(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-node add``: refuses a known node without ``--readd`` and vice versa."""
    client = get_client()
    name = netutils.resolve(args[0]).name
    resp = client.query("node", ["name", "sip"], ["=", "name", name])
    rows = [[v for _, v in row] for row in resp["data"]]
    if opts.readd and not rows:
        to_stderr("Node %s not in the cluster - please retry without '--readd'", name)
        return 1
    if not opts.readd and rows:
        to_stderr("Node %s already in the cluster (as %s) - please retry with '--readd'",
                  name, rows[0][0])
        return 1
    sip = rows[0][1] if rows else opts.secondary_ip
    op = ops.OpNodeAdd(node_name=args[0], secondary_ip=sip, readd=opts.readd,
                       group=opts.nodegroup, master_capable=opts.master_capable,
                       vm_capable=opts.vm_capable, ndparams=opts.ndparams,
                       node_setup=opts.node_setup and not opts.join_token,
                       join_token=opts.join_token)
    submit_opcode(client, op, opts)
    return 0


def remove_node(opts: argparse.Namespace, args: list[str]) -> int:
    submit_opcode(get_client(), ops.OpNodeRemove(node_name=args[0]), opts)
    return 0


def modify_node(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-node modify``: prints ``Modified node <name>`` and each change."""
    changes = [opts.master_candidate, opts.drained, opts.offline, opts.master_capable,
               opts.vm_capable, opts.secondary_ip, opts.ndparams, opts.node_powered]
    if all(c is None for c in changes):
        to_stderr("Please give at least one of the parameters.")
        return 1
    op = ops.OpNodeSetParams(node_name=args[0], master_candidate=opts.master_candidate,
                             offline=opts.offline, drained=opts.drained,
                             master_capable=opts.master_capable, vm_capable=opts.vm_capable,
                             secondary_ip=opts.secondary_ip, force=opts.force,
                             ndparams=opts.ndparams, auto_promote=opts.auto_promote,
                             powered=opts.node_powered)
    result = submit_opcode(get_client(), op, opts)
    if result:
        to_stdout("Modified node %s", args[0])
        for param, data in result:
            to_stdout(" - %-5s -> %s", param, data)
    return 0


# --- queries ---

def list_nodes(opts: argparse.Namespace, args: list[str]) -> int:
    fields = O.parse_fields(opts.output, DEFAULT_FIELDS)
    return generic_list(get_client(), "node", fields, args, opts.units, opts.separator,
                        not opts.no_headers, verbose=opts.verbose,
                        force_filter=opts.force_filter)


def list_fields(opts: argparse.Namespace, args: list[str]) -> int:
    return generic_list_fields(get_client(), "node", args, opts.separator,
                               not opts.no_headers)


INFO_FIELDS = ["name", "pip", "sip", "pinst_list", "sinst_list", "master_candidate",
               "drained", "offline", "master_capable", "vm_capable", "powered",
               "ndparams", "custom_ndparams"]


def _node_info(row: list[Any]) -> list[tuple[str, Any]]:
    (name, pip, sip, pinst, sinst, is_mc, drained, offline, master_capable, vm_capable,
     powered, ndparams, custom_ndparams) = row
    info: list[tuple[str, Any]] = [
        ("Node name", name), ("primary ip", pip), ("secondary ip", sip),
        ("master candidate", is_mc), ("drained", drained), ("offline", offline),
    ]
    if powered is not None:
        info.append(("powered", powered))
    info += [("master_capable", master_capable), ("vm_capable", vm_capable)]
    if vm_capable:
        info += [("primary for instances", sorted(pinst or [])),
                 ("secondary for instances", sorted(sinst or []))]
    info.append(("node parameters", format_params_dict_info(custom_ndparams or {},
                                                            ndparams or {})))
    return info


def show_info(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-node info``: the nodes' roles, instances and parameters."""
    rows = query_named(get_client(), "node", "Node", INFO_FIELDS, args)
    if rows:
        to_stdout(format_generic_info([_node_info(r) for r in rows]))
    return 0


def list_volumes(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-node volumes``: the disk files on the nodes."""
    fields = O.parse_fields(opts.output, VOLUME_FIELDS)
    output = submit_opcode(get_client(), ops.OpNodeQueryvols(nodes=args,
                                                             output_fields=fields), opts)
    headers = None if opts.no_headers else VOLUME_HEADERS
    for line in generate_table(headers, fields, opts.separator, output, numfields=["size"],
                               unitfields=["size"], units=opts.units):
        to_stdout(line)
    return 0


def list_storage(opts: argparse.Namespace, args: list[str]) -> int:
    """``gnt-node list-storage``: the storage units on the nodes."""
    fields = O.parse_fields(opts.output, STORAGE_FIELDS)
    output = submit_opcode(get_client(), ops.OpNodeQueryStorage(
        nodes=args, storage_type=opts.user_storage_type, output_fields=fields), opts)
    rows = [[("Y" if v else "N") if f == C.SF_ALLOCATABLE else str(v)
             for f, v in zip(fields, row)] for row in output]
    sizes = [C.SF_SIZE, C.SF_USED, C.SF_FREE]
    headers = None if opts.no_headers else STORAGE_HEADERS
    for line in generate_table(headers, fields, opts.separator, rows, numfields=sizes,
                               unitfields=sizes, units=opts.units):
        to_stdout(line)
    return 0


TABLE_OPTS = [O.NOHDR_OPT, O.SEP_OPT, O.USEUNITS_OPT, O.FIELDS_OPT, O.PRIORITY_OPT]

COMMANDS = CommandTable({
    "add": Command(add_node, ARGS_ONE_NODE, [
        SECONDARY_IP_OPT, READD_OPT, NOSSH_KEYCHECK_OPT, FORCE_JOIN_OPT, NONODE_SETUP_OPT,
        O.VERBOSE_OPT, O.NODEGROUP_OPT, O.PRIORITY_OPT, CAPAB_MASTER_OPT, CAPAB_VM_OPT,
        O.NODE_PARAMS_OPT, JOIN_TOKEN_OPT],
        "[-s ip] [--readd] [--no-ssh-key-check] [--force-join] [--no-node-setup]"
        " [--verbose] [--join-token TOKEN] <node_name>", "Add a node to the cluster"),
    "remove": Command(remove_node, ARGS_ONE_NODE, [O.DRY_RUN_OPT, O.PRIORITY_OPT],
                      "<node_name>", "Removes a node from the cluster"),
    "modify": Command(modify_node, ARGS_ONE_NODE, [
        O.FORCE_OPT, *O.SUBMIT_OPTS, MC_OPT, DRAINED_OPT, OFFLINE_OPT, CAPAB_MASTER_OPT,
        CAPAB_VM_OPT, SECONDARY_IP_OPT, AUTO_PROMOTE_OPT, O.DRY_RUN_OPT, O.PRIORITY_OPT,
        O.NODE_PARAMS_OPT, NODE_POWERED_OPT], "<node_name>",
        "Alters the parameters of a node"),
    "info": Command(show_info, ARGS_MANY_NODES, [], "[<node_name>...]",
                    "Show information about the node(s)", aliases=("show",)),
    "list": Command(list_nodes, ARGS_MANY_NODES, O.LIST_OPTS, "[nodes...]",
                    "Lists the nodes in the cluster. The available fields can be shown using"
                    " the \"list-fields\" command (see the man page for details). The"
                    f" default field list is (in order): {', '.join(DEFAULT_FIELDS)}."),
    "list-fields": Command(list_fields, ARGS_ANY, O.LIST_FIELDS_OPTS, "[fields...]",
                           "Lists all available fields for nodes"),
    "volumes": Command(list_volumes, ARGS_MANY_NODES, [*TABLE_OPTS, HUMAN_READABLE_OPT],
                       "[<node_name>...]", "List logical volumes on node(s)"),
    "list-storage": Command(list_storage, ARGS_MANY_NODES,
                            [*TABLE_OPTS, HUMAN_READABLE_OPT, STORAGE_TYPE_OPT],
                            "[<node_name>...]", "List physical volumes on node(s). The"
                            " available fields are (see the man page for details): "
                            f"{', '.join(STORAGE_FIELDS)}."),
})
COMMANDS.update(lazy_tag_commands(C.TAG_NODE))
COMMANDS.update(node_mobility.COMMANDS)


def main(argv: list[str] | None = None) -> int:
    return run("gnt-node", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
