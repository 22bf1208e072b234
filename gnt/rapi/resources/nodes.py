"""Node resources: ``/2/nodes`` and ``/2/nodes/<name>/...``."""

from __future__ import annotations

from typing import Any

from gnt.rapi import httperror
from gnt.rapi import permissions as perm
from gnt.rapi.constants import (
    HT_MIGRATION_LIVE,
    HT_MIGRATION_NONLIVE,
    NODE_FIELDS,
    NODE_ROLE_DRAINED,
    NODE_ROLE_MASTER_CANDIDATE,
    NODE_ROLE_OFFLINE,
    NODE_ROLE_REGULAR,
    NODE_ROLE_WORDS,
    TAG_NODE,
)
from gnt.rapi.resources.common import (
    Q_DRY_RUN,
    Q_FORCE,
    Q_REASON,
    const_schema,
    item_endpoint,
    list_endpoint,
    name_filter,
    opcode_endpoint,
    pick_row,
    tag_endpoints,
)
from gnt.rapi.routing import Call, Endpoint, QueryArg, resource

_NODE = "node_name"

#: ``GET /2/nodes/<name>`` also answers ``sip`` as ``secondary_ip``.
NODE_ALIASES = {"sip": "secondary_ip"}


def _name(call: Call) -> str:
    return call.params[_NODE]


def _static_name(call: Call) -> dict[str, Any]:
    return {_NODE: _name(call)}


def _aliases(node: dict[str, Any]) -> dict[str, Any]:
    for name, alias in NODE_ALIASES.items():
        if name in node:
            node[alias] = node[name]
    return node


def _get_role(call: Call) -> str:
    name = _name(call)
    row = pick_row(call.luxi.query_rows("node", ["name", "role"], name_filter(name)),
                   name, "node")
    word = NODE_ROLE_WORDS.get(row[1])
    if word is None:
        raise httperror.HttpError(502, f"Unknown role {row[1]!r} reported for node {row[0]}")
    return word


def role_params(role: Any) -> dict[str, Any]:
    """The node flags for a RAPI role word; 400 for anything else."""
    if not isinstance(role, str):
        raise httperror.bad_request(
            f"Body contents: Type is '{type(role).__name__}', but 'str' is expected")
    if role == NODE_ROLE_REGULAR:
        return {"master_candidate": False, "offline": False, "drained": False}
    if role == NODE_ROLE_MASTER_CANDIDATE:
        return {"master_candidate": True, "offline": None, "drained": None}
    if role == NODE_ROLE_DRAINED:
        return {"master_candidate": None, "offline": None, "drained": True}
    if role == NODE_ROLE_OFFLINE:
        return {"master_candidate": None, "offline": True, "drained": None}
    raise httperror.bad_request(f"Can't set '{role}' role")


def _role_static(call: Call) -> dict[str, Any]:
    return {_NODE: _name(call), **role_params(call.body), "force": call.force,
            "auto_promote": call.bool_arg("auto-promote")}


def _migrate_body(call: Call) -> Any:
    """Body (request version 1), or the legacy ``?live=``/``?mode=`` form."""
    if "live" in call.query or "mode" in call.query:
        if "live" in call.query and "mode" in call.query:
            raise httperror.bad_request("Only one of 'live' and 'mode' should be passed")
        mode: str | None
        if "live" in call.query:
            mode = HT_MIGRATION_LIVE if call.int_arg("live", 1) else HT_MIGRATION_NONLIVE
        else:
            mode = call.str_arg("mode")
        return {"mode": mode}
    return call.body


def _storage_static(call: Call) -> dict[str, Any]:
    fields = call.str_arg("output_fields")
    if not fields:
        raise httperror.bad_request("Missing the required 'output_fields' parameter")
    return {"nodes": [_name(call)], "storage_type": call.str_arg("storage_type"),
            "output_fields": fields.split(",")}


def _storage_unit(call: Call) -> dict[str, Any]:
    name = call.str_arg("name")
    if not name:
        raise httperror.bad_request("Missing the required 'name' parameter")
    return {_NODE: _name(call), "storage_type": call.str_arg("storage_type"), "name": name}


def _storage_modify_static(call: Call) -> dict[str, Any]:
    changes = {}
    if "allocatable" in call.query:
        changes["allocatable"] = call.bool_arg("allocatable", True)
    return {**_storage_unit(call), "changes": changes}


_Q_STORAGE_TYPE = QueryArg("storage_type", "string", "Storage type (lvm-vg, file, ...)")
_Q_UNIT = QueryArg("name", "string", "Storage unit name", True)

resource("/2/nodes", "nodes", GET=list_endpoint(
    "node", NODE_FIELDS, "id", "/2/nodes/%s", perm.NODES_LIST, "All nodes"))
resource("/2/nodes/{node_name}", "nodes_name", GET=item_endpoint(
    "node", NODE_FIELDS, _NODE, perm.NODES_QUERY, "One node", post=_aliases))
resource("/2/nodes/{node_name}/role", "nodes_name_role",
         GET=Endpoint(handler=_get_role, permission=perm.NODES_ROLE_QUERY, public=True,
                      summary="The node's role: master, master-candidate, regular, drained "
                              "or offline", query_resource="node", query=(Q_REASON,),
                      result=const_schema({"type": "string"}), extra_statuses=(404,)),
         PUT=opcode_endpoint(
             "OP_NODE_SET_PARAMS", perm.NODES_ROLE_MODIFY,
             "Set the node's role (body: a JSON string)", static=_role_static,
             use_body=False,
             query=(Q_FORCE, QueryArg("auto-promote", "bool",
                                      "Promote other nodes to keep enough candidates")),
             body_doc=const_schema({"type": "string", "enum": [
                 NODE_ROLE_REGULAR, NODE_ROLE_MASTER_CANDIDATE, NODE_ROLE_DRAINED,
                 NODE_ROLE_OFFLINE]})))
resource("/2/nodes/{node_name}/modify", "nodes_name_modify", POST=opcode_endpoint(
    "OP_NODE_SET_PARAMS", perm.NODES_MODIFY, "Change node parameters",
    static=_static_name, static_keys=(_NODE,)))
resource("/2/nodes/{node_name}/powercycle", "nodes_name_powercycle", POST=opcode_endpoint(
    "OP_NODE_POWERCYCLE", perm.NODES_POWERCYCLE, "Power-cycle a node",
    static=lambda call: {_NODE: _name(call), "force": call.force},
    static_keys=(_NODE, "force"), query=(Q_FORCE,)))
resource("/2/nodes/{node_name}/evacuate", "nodes_name_evacuate", POST=opcode_endpoint(
    "OP_NODE_EVACUATE", perm.NODES_EVACUATE, "Move instances off a node",
    static=lambda call: {_NODE: _name(call), "dry_run": call.dry_run},
    static_keys=(_NODE, "dry_run"), query=(Q_DRY_RUN,)))
resource("/2/nodes/{node_name}/migrate", "nodes_name_migrate", POST=opcode_endpoint(
    "OP_NODE_MIGRATE", perm.NODES_MIGRATE, "Migrate a node's primary instances",
    static=_static_name, static_keys=(_NODE,), body_fn=_migrate_body,
    query=(QueryArg("live", "bool", "Legacy form: live migration"),
           QueryArg("mode", "string", "Legacy form: migration mode"))))
resource("/2/nodes/{node_name}/storage", "nodes_name_storage", GET=opcode_endpoint(
    "OP_NODE_QUERY_STORAGE", perm.NODES_STORAGE_QUERY,
    "Storage units of a node (submits a job; the result is in the job)",
    static=_storage_static, use_body=False,
    query=(_Q_STORAGE_TYPE, QueryArg("output_fields", "string",
                                     "Comma separated fields", True))))
resource("/2/nodes/{node_name}/storage/modify", "nodes_name_storage_modify",
         PUT=opcode_endpoint(
             "OP_NODE_MODIFY_STORAGE", perm.NODES_STORAGE_MODIFY, "Change a storage unit",
             static=_storage_modify_static, use_body=False,
             query=(_Q_STORAGE_TYPE, _Q_UNIT,
                    QueryArg("allocatable", "bool", "Whether new disks may use it"))))
resource("/2/nodes/{node_name}/storage/repair", "nodes_name_storage_repair",
         PUT=opcode_endpoint(
             "OP_REPAIR_NODE_STORAGE", perm.NODES_STORAGE_REPAIR, "Repair a storage unit",
             static=_storage_unit, use_body=False, query=(_Q_STORAGE_TYPE, _Q_UNIT)))
resource("/2/nodes/{node_name}/tags", "nodes_name_tags", **tag_endpoints(TAG_NODE, _NODE))
