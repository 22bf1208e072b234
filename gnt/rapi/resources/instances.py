"""Instance resources: ``/2/instances``, ``/2/instances-multi-alloc`` and
``/2/instances/<name>/...``."""

from __future__ import annotations

from typing import Any

from gnt.rapi import bodies, httperror, opfill
from gnt.rapi import permissions as perm
from gnt.rapi.constants import INSTANCE_FIELDS, REQ_DATA_VERSION, TAG_INSTANCE
from gnt.rapi.resources.common import (
    JOB_ID_SCHEMA,
    OBJECT_SCHEMA,
    Q_DRY_RUN,
    Q_FORCE,
    Q_REASON,
    item_endpoint,
    list_endpoint,
    model_schema,
    name_filter,
    opcode_endpoint,
    opcode_schema,
    pick_row,
    submit_opcode,
    tag_endpoints,
)
from gnt.rapi.routing import Call, Endpoint, QueryArg, resource

#: Old body names of instance creation parameters.
CREATE_RENAME = {"os": "os_type", "name": "instance_name"}
#: Names ``/modify`` accepts for what bulk listings call ``custom_*``.
MODIFY_RENAME = {"custom_beparams": "beparams", "custom_hvparams": "hvparams"}
#: Seconds ``/console`` waits for the console job when the instance query
#: has no ``console`` field.
CONSOLE_JOB_TIMEOUT = 30.0

_INST = "instance_name"


def update_beparams(inst: dict[str, Any]) -> dict[str, Any]:
    """Ganeti's compatibility key: ``beparams.memory`` mirrors ``maxmem``."""
    be = inst.get("beparams")
    if isinstance(be, dict) and "maxmem" in be:
        inst["beparams"] = {**be, "memory": be["maxmem"]}
    return inst


def convert_usb_devices(data: dict[str, Any]) -> None:
    """``hvparams.usb_devices`` may be space separated (newer) or comma
    separated (older clients); the opcode takes commas."""
    hv = data.get("hvparams")
    if isinstance(hv, dict) and isinstance(hv.get("usb_devices"), str):
        data["hvparams"] = {**hv, "usb_devices": hv["usb_devices"].replace(" ", ",")}


def create_body(call: Call) -> dict[str, Any]:
    """The creation body without its envelope; 400 unless format version 1."""
    body = opfill.check_body_object(call.body)
    version = body.get(REQ_DATA_VERSION, 0)
    if version == 0:
        raise httperror.bad_request("Instance creation request version 0 is no longer supported")
    if version != 1:
        raise httperror.bad_request(f"Unsupported request data version {version}")
    data = {k: v for k, v in body.items() if k != REQ_DATA_VERSION}
    convert_usb_devices(data)
    return data


def _modify_body(call: Call) -> dict[str, Any]:
    data = dict(opfill.check_body_object(call.body))
    convert_usb_devices(data)
    return data


def _name(call: Call) -> str:
    return call.params[_INST]


def _static_name(call: Call) -> dict[str, Any]:
    return {_INST: _name(call)}


def _static_name_dry(call: Call) -> dict[str, Any]:
    return {_INST: _name(call), "dry_run": call.dry_run}


# --- multi-allocation ---
def _multi_alloc(call: Call) -> int:
    cls = opfill.opcode_class("OP_INSTANCE_MULTI_ALLOC")
    opfill.opcode_class("OP_INSTANCE_CREATE")
    body = opfill.check_body_object(call.body)
    if "instances" not in body:
        raise httperror.bad_request("Request is missing required 'instances' field in body")
    if not isinstance(body["instances"], list):
        raise httperror.bad_request("'instances' must be a list of instance definitions")
    ops = [opfill.fill_opcode("OP_INSTANCE_CREATE", inst, {}, rename=CREATE_RENAME)
           for inst in body["instances"]]
    field = cls.model_fields.get("instances")
    wants_models = field is not None and "OpInstanceCreate" in str(field.annotation)
    instances = [op.model_dump(mode="json") if wants_models else op.to_dict() for op in ops]
    return submit_opcode(call, "OP_INSTANCE_MULTI_ALLOC", {**body, "instances": instances},
                         {"dry_run": call.dry_run})


# --- reinstall: shutdown, reinstall, start (unless told not to) ---
def _reinstall(call: Call) -> int:
    for op_id in ("OP_INSTANCE_SHUTDOWN", "OP_INSTANCE_REINSTALL", "OP_INSTANCE_STARTUP"):
        opfill.opcode_class(op_id)
    legacy_args = {k for k in call.query if k != "reason"}
    if call.body:
        if legacy_args:
            raise httperror.bad_request("Can't combine query and body parameters")
        req = bodies.parse(bodies.ReinstallBody, call.body)
    elif legacy_args:
        req = bodies.ReinstallBody(os=call.str_arg("os"), start=not call.int_arg("nostartup"))
    else:
        req = bodies.ReinstallBody()
    name, reason = _name(call), call.reason_trail()
    reinstall: dict[str, Any] = {_INST: name, "os_type": req.os, "reason": reason}
    if req.osparams is not None:
        reinstall["osparams"] = req.osparams
    ops = [opfill.build_opcode("OP_INSTANCE_SHUTDOWN", {_INST: name, "reason": reason}),
           opfill.build_opcode("OP_INSTANCE_REINSTALL", reinstall)]
    if req.start:
        ops.append(opfill.build_opcode("OP_INSTANCE_STARTUP",
                                       {_INST: name, "force": False, "reason": reason}))
    return call.luxi.submit(ops)


# --- replace-disks: body, or the legacy query arguments ---
def _replace_disks_body(call: Call) -> dict[str, Any]:
    if call.body:
        data = dict(opfill.check_body_object(call.body))
    elif any(k != "reason" for k in call.query):
        data = {k: call.str_arg(k) for k in ("remote_node", "mode", "disks", "iallocator")}
    else:
        data = {}
    raw = data.pop("disks", None)
    if raw:
        if isinstance(raw, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                         for d in raw):
            data["disks"] = raw
        else:
            try:
                data["disks"] = [int(part) for part in str(raw).split(",")]
            except ValueError as err:
                raise httperror.bad_request(f"Invalid disk index passed: {err}") from None
    return data


# --- console ---
def _console(call: Call) -> dict[str, Any]:
    name = _name(call)
    rows = call.luxi.query_rows("instance", ["name", "oper_state", "console"],
                                name_filter(name))
    row = pick_row(rows, name, "instance")
    if not row[1]:
        raise httperror.HttpError(503, "Instance console unavailable")
    if isinstance(row[2], dict):
        result = row[2]
    else:
        op = opfill.build_opcode("OP_INSTANCE_CONSOLE",
                                 {_INST: row[0], "reason": call.reason_trail()})
        result = call.luxi.run_job([op], CONSOLE_JOB_TIMEOUT)[0]
    if not isinstance(result, dict):
        raise httperror.HttpError(502, "Unexpected console information from the master")
    # as Ganeti's console objects: only the keys that apply to this kind
    return {k: v for k, v in result.items() if v is not None}


_Q_NO_REMEMBER = QueryArg("no_remember", "bool", "Do not record the new state in the config")

resource("/2/instances", "instances",
         GET=list_endpoint("instance", INSTANCE_FIELDS, "id", "/2/instances/%s",
                           perm.INSTANCES_LIST, "All instances", post=update_beparams),
         POST=opcode_endpoint(
             "OP_INSTANCE_CREATE", perm.INSTANCES_CREATE,
             "Create an instance (request format version 1)",
             static=lambda call: {"dry_run": call.dry_run}, body_fn=create_body,
             rename=CREATE_RENAME, query=(Q_DRY_RUN,),
             body_doc=opcode_schema("OP_INSTANCE_CREATE", ["dry_run"], CREATE_RENAME,
                                    extra={REQ_DATA_VERSION: {"type": "integer", "const": 1}},
                                    extra_required=[REQ_DATA_VERSION])))
resource("/2/instances-multi-alloc", "instances_multi_alloc", POST=Endpoint(
    handler=_multi_alloc, permission=perm.INSTANCES_MULTI_ALLOC,
    summary="Allocate several instances at once", opcode="OP_INSTANCE_MULTI_ALLOC",
    query=(Q_DRY_RUN, Q_REASON), body=opcode_schema("OP_INSTANCE_MULTI_ALLOC", ["dry_run"]),
    body_required=True, result=JOB_ID_SCHEMA))
resource("/2/instances/{instance_name}", "instances_name",
         GET=item_endpoint("instance", INSTANCE_FIELDS, _INST, perm.INSTANCES_QUERY,
                           "One instance", post=update_beparams),
         DELETE=opcode_endpoint(
             "OP_INSTANCE_REMOVE", perm.INSTANCES_REMOVE, "Remove an instance",
             static=lambda call: {**_static_name_dry(call), "ignore_failures": False},
             static_keys=(_INST, "dry_run", "ignore_failures"), query=(Q_DRY_RUN,)))
resource("/2/instances/{instance_name}/info", "instances_name_info", GET=opcode_endpoint(
    "OP_INSTANCE_QUERY_DATA", perm.INSTANCES_INFO,
    "Detailed instance information (submits a job; the result is in the job)",
    static=lambda call: {"instances": [_name(call)], "static": call.bool_arg("static")},
    use_body=False, public=True,
    query=(QueryArg("static", "bool", "Only the configuration, without asking the nodes"),)))
resource("/2/instances/{instance_name}/reboot", "instances_name_reboot", POST=opcode_endpoint(
    "OP_INSTANCE_REBOOT", perm.INSTANCES_REBOOT, "Reboot an instance",
    static=lambda call: {**_static_name_dry(call),
                         "reboot_type": call.str_arg("type", "hard"),
                         "ignore_secondaries": call.bool_arg("ignore_secondaries")},
    static_keys=(_INST, "dry_run", "reboot_type", "ignore_secondaries"),
    query=(QueryArg("type", "string", "soft, hard (default) or full"),
           QueryArg("ignore_secondaries", "bool", "Start even if secondary disks fail"),
           Q_DRY_RUN)))
resource("/2/instances/{instance_name}/startup", "instances_name_startup", PUT=opcode_endpoint(
    "OP_INSTANCE_STARTUP", perm.INSTANCES_STARTUP, "Start an instance",
    static=lambda call: {**_static_name_dry(call), "force": call.force,
                         "no_remember": call.bool_arg("no_remember")},
    use_body=False, query=(Q_FORCE, _Q_NO_REMEMBER, Q_DRY_RUN)))
resource("/2/instances/{instance_name}/shutdown", "instances_name_shutdown", PUT=opcode_endpoint(
    "OP_INSTANCE_SHUTDOWN", perm.INSTANCES_SHUTDOWN, "Stop an instance",
    static=lambda call: {**_static_name_dry(call),
                         "no_remember": call.bool_arg("no_remember")},
    static_keys=(_INST, "dry_run", "no_remember"), query=(_Q_NO_REMEMBER, Q_DRY_RUN)))
resource("/2/instances/{instance_name}/reinstall", "instances_name_reinstall", POST=Endpoint(
    handler=_reinstall, permission=perm.INSTANCES_REINSTALL,
    summary="Reinstall the OS (shutdown, reinstall, start unless start=false)",
    opcode="OP_INSTANCE_REINSTALL",
    query=(QueryArg("os", "string", "Legacy form: the OS"),
           QueryArg("nostartup", "bool", "Legacy form: do not start afterwards"), Q_REASON),
    body=model_schema(bodies.ReinstallBody), result=JOB_ID_SCHEMA))
resource("/2/instances/{instance_name}/replace-disks", "instances_name_replace_disks",
         POST=opcode_endpoint(
             "OP_INSTANCE_REPLACE_DISKS", perm.INSTANCES_REPLACE_DISKS,
             "Replace an instance's disks", static=_static_name, static_keys=(_INST,),
             body_fn=_replace_disks_body,
             query=tuple(QueryArg(n, "string", f"Legacy form: {n}")
                         for n in ("mode", "remote_node", "iallocator", "disks"))))
resource("/2/instances/{instance_name}/activate-disks", "instances_name_activate_disks",
         PUT=opcode_endpoint(
             "OP_INSTANCE_ACTIVATE_DISKS", perm.INSTANCES_ACTIVATE_DISKS,
             "Activate an instance's disks",
             static=lambda call: {**_static_name(call),
                                  "ignore_size": call.bool_arg("ignore_size")},
             use_body=False,
             query=(QueryArg("ignore_size", "bool", "Ignore the recorded disk sizes"),)))
resource("/2/instances/{instance_name}/deactivate-disks", "instances_name_deactivate_disks",
         PUT=opcode_endpoint(
             "OP_INSTANCE_DEACTIVATE_DISKS", perm.INSTANCES_DEACTIVATE_DISKS,
             "Deactivate an instance's disks",
             static=lambda call: {**_static_name(call), "force": call.force},
             use_body=False, query=(Q_FORCE,)))
resource("/2/instances/{instance_name}/recreate-disks", "instances_name_recreate_disks",
         POST=opcode_endpoint(
             "OP_INSTANCE_RECREATE_DISKS", perm.INSTANCES_RECREATE_DISKS,
             "Recreate an instance's disks", static=_static_name, static_keys=(_INST,)))
resource("/2/instances/{instance_name}/disk/{disk_index}/grow",
         "instances_name_disk_grow", POST=opcode_endpoint(
             "OP_INSTANCE_GROW_DISK", perm.INSTANCES_GROW_DISK, "Grow a disk",
             static=lambda call: {**_static_name(call), "disk": int(call.params["disk_index"])},
             static_keys=(_INST, "disk")))
resource("/2/instances/{instance_name}/prepare-export", "instances_name_prepare_export",
         PUT=opcode_endpoint(
             "OP_BACKUP_PREPARE", perm.INSTANCES_EXPORT_PREPARE,
             "Prepare an export (remote mode: returns the handshake in the job)",
             static=lambda call: {**_static_name(call), "mode": call.str_arg("mode")},
             use_body=False, query=(QueryArg("mode", "string", "Export mode", True),)))
resource("/2/instances/{instance_name}/export", "instances_name_export", PUT=opcode_endpoint(
    "OP_BACKUP_EXPORT", perm.INSTANCES_EXPORT_CREATE, "Export an instance",
    static=_static_name, static_keys=(_INST,), rename={"destination": "target_node"}))
resource("/2/instances/{instance_name}/migrate", "instances_name_migrate", PUT=opcode_endpoint(
    "OP_INSTANCE_MIGRATE", perm.INSTANCES_MIGRATE, "Migrate an instance",
    static=_static_name, static_keys=(_INST,)))
resource("/2/instances/{instance_name}/failover", "instances_name_failover",
         PUT=opcode_endpoint("OP_INSTANCE_FAILOVER", perm.INSTANCES_FAILOVER,
                             "Fail an instance over", static=_static_name,
                             static_keys=(_INST,)))
resource("/2/instances/{instance_name}/rename", "instances_name_rename", PUT=opcode_endpoint(
    "OP_INSTANCE_RENAME", perm.INSTANCES_RENAME, "Rename an instance",
    static=_static_name, static_keys=(_INST,)))
resource("/2/instances/{instance_name}/modify", "instances_name_modify", PUT=opcode_endpoint(
    "OP_INSTANCE_SET_PARAMS", perm.INSTANCES_MODIFY, "Change instance parameters",
    static=_static_name, static_keys=(_INST,), rename=MODIFY_RENAME, body_fn=_modify_body))
resource("/2/instances/{instance_name}/console", "instances_name_console", GET=Endpoint(
    handler=_console, permission=perm.INSTANCES_QUERY_CONSOLE,
    summary="How to connect to the instance's console (503 while it is not running)",
    query_resource="instance", query=(Q_REASON,), result=OBJECT_SCHEMA,
    extra_statuses=(404, 503)))
resource("/2/instances/{instance_name}/tags", "instances_name_tags",
         **tag_endpoints(TAG_INSTANCE, _INST))
