"""Generic queries: ``/2/query/<resource>`` and ``/2/query/<resource>/fields``."""

from __future__ import annotations

from typing import Any

from gnt.rapi import bodies, httperror
from gnt.rapi import permissions as perm
from gnt.rapi.constants import QUERY_RESOURCES
from gnt.rapi.resources.common import Q_REASON, const_schema, model_schema
from gnt.rapi.routing import Call, Endpoint, QueryArg, resource

_Q_FIELDS = QueryArg("fields", "string", "Comma separated field names")

QUERY_RESULT = const_schema({"type": "object", "required": ["fields", "data"], "properties": {
    "fields": {"type": "array", "items": {"type": "object"}},
    "data": {"type": "array", "items": {"type": "array"}}}})
FIELDS_RESULT = const_schema({"type": "object", "required": ["fields"], "properties": {
    "fields": {"type": "array", "items": {"type": "object"}}}})


def split_fields(text: str) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (Ganeti's splitting)."""
    return [f.strip() for f in text.split(",")]


def _what(call: Call) -> str:
    what = call.params["resource"]
    if what not in QUERY_RESOURCES:
        raise httperror.not_found(f"Unknown query resource '{what}'; known: "
                                  f"{', '.join(QUERY_RESOURCES)}")
    return what


def _fields_arg(call: Call) -> list[str]:
    raw = call.str_arg("fields")
    if raw is None:
        raise httperror.bad_request("Missing 'fields' query argument")
    return split_fields(raw)


def _get(call: Call) -> Any:
    what = _what(call)
    return call.luxi.query(what, _fields_arg(call), None)


def _put(call: Call) -> Any:
    what = _what(call)
    req = bodies.parse(bodies.QueryBody, call.body)
    fields = req.fields if req.fields is not None else _fields_arg(call)
    qfilter = req.qfilter if req.qfilter is not None else req.filter
    return call.luxi.query(what, fields, qfilter)


def _fields(call: Call) -> Any:
    what = _what(call)
    raw = call.str_arg("fields")
    return call.luxi.query_fields(what, None if raw is None else split_fields(raw))


resource("/2/query/{resource}", "query",
         GET=Endpoint(handler=_get, permission=perm.QUERY_ALL,
                      summary="Query a resource: fields of every item",
                      query=(QueryArg("fields", "string", "Comma separated field names", True),
                             Q_REASON), result=QUERY_RESULT, extra_statuses=(404,)),
         PUT=Endpoint(handler=_put, permission=perm.QUERY_ALL,
                      summary="Query a resource with a filter",
                      query=(_Q_FIELDS, Q_REASON), body=model_schema(bodies.QueryBody),
                      result=QUERY_RESULT, extra_statuses=(404,)))
resource("/2/query/{resource}/fields", "query_fields", GET=Endpoint(
    handler=_fields, permission=perm.QUERY_ALL, public=True,
    summary="Definitions of a resource's query fields", query=(_Q_FIELDS, Q_REASON),
    result=FIELDS_RESULT, extra_statuses=(404,)))
