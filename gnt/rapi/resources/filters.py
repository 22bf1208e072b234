"""Job filter rules: ``/2/filters`` and ``/2/filters/<uuid>`` (LUXI
``QueryFilters``, ``ReplaceFilter``, ``DeleteFilter``; 501 while the master
has no filter rules)."""

from __future__ import annotations

from typing import Any

from gnt.rapi import bodies, httperror
from gnt.rapi import permissions as perm
from gnt.rapi.constants import FILTER_RULE_FIELDS
from gnt.rapi.resources.common import (
    OBJECT_SCHEMA,
    Q_BULK,
    bulk_or_list_schema,
    const_schema,
    model_schema,
)
from gnt.rapi.routing import Call, Endpoint, resource

_UUID_SCHEMA = const_schema({"type": "string", "description": "UUID of the filter rule"})


def _list(call: Call) -> list[dict[str, Any]]:
    if call.bulk:
        rows = call.luxi.call("QueryFilters", [None, FILTER_RULE_FIELDS])
        return [dict(zip(FILTER_RULE_FIELDS, r)) for r in rows if r is not None]
    rows = call.luxi.call("QueryFilters", [None, ["uuid"]])
    uuids = sorted(str(r[0]) for r in rows if r is not None)
    return [{"uuid": u, "uri": f"/2/filters/{u}"} for u in uuids]


def _get(call: Call) -> dict[str, Any]:
    uuid = call.params["filter_uuid"]
    rows = call.luxi.call("QueryFilters", [[uuid], FILTER_RULE_FIELDS])
    if not rows or rows[0] is None:
        raise httperror.not_found(f"Filter rule {uuid} not found")
    return dict(zip(FILTER_RULE_FIELDS, rows[0]))


def _replace(call: Call, uuid: str | None) -> Any:
    rule = bodies.parse(bodies.FilterRuleBody, call.body)
    return call.luxi.call("ReplaceFilter", [uuid, rule.priority, rule.predicates, rule.action,
                                            rule.reason])


def _delete(call: Call) -> Any:
    return call.luxi.call("DeleteFilter", [call.params["filter_uuid"]])


_LUXI = "QueryFilters"
_RULE = model_schema(bodies.FilterRuleBody)

resource("/2/filters", "filters",
         GET=Endpoint(handler=_list, permission=perm.FILTER_LIST, public=True,
                      summary="All job filter rules", luxi_method=_LUXI, query=(Q_BULK,),
                      result=bulk_or_list_schema("uuid")),
         POST=Endpoint(handler=lambda call: _replace(call, None),
                       permission=perm.FILTER_CREATE, summary="Add a job filter rule",
                       luxi_method=_LUXI, body=_RULE, result=_UUID_SCHEMA))
resource("/2/filters/{filter_uuid}", "filters_uuid",
         GET=Endpoint(handler=_get, permission=perm.FILTER_QUERY, public=True,
                      summary="One job filter rule", luxi_method=_LUXI, result=OBJECT_SCHEMA,
                      extra_statuses=(404,)),
         PUT=Endpoint(handler=lambda call: _replace(call, call.params["filter_uuid"]),
                      permission=perm.FILTER_MODIFY,
                      summary="Replace a job filter rule (or add it under this UUID)",
                      luxi_method=_LUXI, body=_RULE, result=_UUID_SCHEMA),
         DELETE=Endpoint(handler=_delete, permission=perm.FILTER_REMOVE,
                         summary="Remove a job filter rule", luxi_method=_LUXI,
                         result=const_schema({})))
