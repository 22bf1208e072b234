"""Network resources: ``/2/networks`` and ``/2/networks/<name>/...``."""

from __future__ import annotations

from typing import Any

from gnt.rapi import permissions as perm
from gnt.rapi.constants import NETWORK_FIELDS, TAG_NETWORK
from gnt.rapi.resources.common import (
    Q_DRY_RUN,
    item_endpoint,
    list_endpoint,
    opcode_endpoint,
    tag_endpoints,
)
from gnt.rapi.routing import Call, resource

_NET = "network_name"


def _static(call: Call) -> dict[str, Any]:
    return {_NET: call.params[_NET]}


def _static_dry(call: Call) -> dict[str, Any]:
    return {_NET: call.params[_NET], "dry_run": call.dry_run}


resource("/2/networks", "networks",
         GET=list_endpoint("network", NETWORK_FIELDS, "name", "/2/networks/%s",
                           perm.NETWORKS_LIST, "All networks"),
         POST=opcode_endpoint(
             "OP_NETWORK_ADD", perm.NETWORKS_CREATE, "Create a network (name or network_name)",
             static=lambda call: {"dry_run": call.dry_run}, static_keys=("dry_run",),
             rename={"name": _NET}, query=(Q_DRY_RUN,)))
resource("/2/networks/{network_name}", "networks_name",
         GET=item_endpoint("network", NETWORK_FIELDS, _NET, perm.NETWORKS_QUERY, "One network"),
         DELETE=opcode_endpoint("OP_NETWORK_REMOVE", perm.NETWORKS_REMOVE, "Remove a network",
                                static=_static_dry, static_keys=(_NET, "dry_run"),
                                query=(Q_DRY_RUN,)))
resource("/2/networks/{network_name}/connect", "networks_name_connect", PUT=opcode_endpoint(
    "OP_NETWORK_CONNECT", perm.NETWORKS_CONNECT, "Connect a network to a node group",
    static=_static_dry, static_keys=(_NET, "dry_run"), query=(Q_DRY_RUN,)))
resource("/2/networks/{network_name}/disconnect", "networks_name_disconnect",
         PUT=opcode_endpoint(
             "OP_NETWORK_DISCONNECT", perm.NETWORKS_DISCONNECT,
             "Disconnect a network from a node group", static=_static_dry,
             static_keys=(_NET, "dry_run"), query=(Q_DRY_RUN,)))
resource("/2/networks/{network_name}/modify", "networks_name_modify", PUT=opcode_endpoint(
    "OP_NETWORK_SET_PARAMS", perm.NETWORKS_MODIFY, "Change network parameters",
    static=_static, static_keys=(_NET,)))
resource("/2/networks/{network_name}/rename", "networks_name_rename", PUT=opcode_endpoint(
    "OP_NETWORK_RENAME", perm.NETWORKS_RENAME, "Rename a network (body: new_name)",
    static=_static_dry, static_keys=(_NET, "dry_run"), query=(Q_DRY_RUN,)))
resource("/2/networks/{network_name}/tags", "networks_name_tags",
         **tag_endpoints(TAG_NETWORK, _NET))
