"""Node group resources: ``/2/groups`` and ``/2/groups/<name>/...``."""

from __future__ import annotations

from typing import Any

from gnt.rapi import permissions as perm
from gnt.rapi.constants import GROUP_FIELDS, TAG_NODEGROUP
from gnt.rapi.resources.common import (
    Q_DRY_RUN,
    Q_FORCE,
    item_endpoint,
    list_endpoint,
    opcode_endpoint,
    tag_endpoints,
)
from gnt.rapi.routing import Call, resource

_GROUP = "group_name"

#: Names ``/modify`` accepts for what bulk listings call ``custom_*``.
MODIFY_RENAME = {"custom_ndparams": "ndparams", "custom_ipolicy": "ipolicy",
                 "custom_diskparams": "diskparams"}


def _static(call: Call, *, dry_run: bool = False, force: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {_GROUP: call.params[_GROUP]}
    if dry_run:
        out["dry_run"] = call.dry_run
    if force:
        out["force"] = call.force
    return out


resource("/2/groups", "groups",
         GET=list_endpoint("group", GROUP_FIELDS, "name", "/2/groups/%s", perm.GROUPS_LIST,
                           "All node groups"),
         POST=opcode_endpoint(
             "OP_GROUP_ADD", perm.GROUPS_CREATE, "Create a node group (name or group_name)",
             static=lambda call: {"dry_run": call.dry_run}, static_keys=("dry_run",),
             rename={"name": _GROUP}, query=(Q_DRY_RUN,)))
resource("/2/groups/{group_name}", "groups_name",
         GET=item_endpoint("group", GROUP_FIELDS, _GROUP, perm.GROUPS_QUERY, "One node group"),
         DELETE=opcode_endpoint(
             "OP_GROUP_REMOVE", perm.GROUPS_DELETE, "Remove a node group",
             static=lambda call: _static(call, dry_run=True), use_body=False,
             query=(Q_DRY_RUN,)))
resource("/2/groups/{group_name}/modify", "groups_name_modify", PUT=opcode_endpoint(
    "OP_GROUP_SET_PARAMS", perm.GROUPS_MODIFY, "Change node group parameters",
    static=_static, static_keys=(_GROUP,), rename=MODIFY_RENAME))
resource("/2/groups/{group_name}/rename", "groups_name_rename", PUT=opcode_endpoint(
    "OP_GROUP_RENAME", perm.GROUPS_RENAME, "Rename a node group (body: new_name)",
    static=lambda call: _static(call, dry_run=True), static_keys=(_GROUP, "dry_run"),
    query=(Q_DRY_RUN,)))
resource("/2/groups/{group_name}/assign-nodes", "groups_name_assign_nodes",
         PUT=opcode_endpoint(
             "OP_GROUP_ASSIGN_NODES", perm.GROUPS_ASSIGN_NODES,
             "Move nodes into a node group (body: nodes)",
             static=lambda call: _static(call, dry_run=True, force=True),
             static_keys=(_GROUP, "dry_run", "force"), query=(Q_DRY_RUN, Q_FORCE)))
resource("/2/groups/{group_name}/tags", "groups_name_tags",
         **tag_endpoints(TAG_NODEGROUP, _GROUP))
