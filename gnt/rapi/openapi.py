"""The OpenAPI 3.1 document of the RAPI (``GET /openapi.json``).

Generated from the registered resources and the models that validate the
requests: opcode bodies from the opcode models (minus the parameters RAPI
sets itself, plus old names), other bodies from :mod:`gnt.rapi.bodies`.
An operation whose opcode, query resource or LUXI method the master does
not have yet is tagged ``not-implemented`` and documents only its 501 (and
the authentication errors that come first).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.rapi import bodies, opfill, routing
from gnt.rapi.constants import QUERY_RESOURCES
from gnt.rapi.luxi import LuxiAccess
from gnt.rapi.resources.common import model_schema
from gnt.rapi.routing import Endpoint, QueryArg, Resource, SchemaSink

DOC_PATH = "/openapi.json"
NOT_IMPLEMENTED_TAG = "not-implemented"
#: Seconds a generated document is reused.
CACHE_SECONDS = 30.0

#: Authentication of the document itself: as any public read.
DOC_ENDPOINT = Endpoint(handler=lambda call: None, permission=None, public=True,
                        summary="This OpenAPI document")

_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "job_id": {"type": "string", "pattern": "^[0-9]+$"},
    "disk_index": {"type": "string", "pattern": "^[0-9]+$"},
}
_NAME_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"}

_ERROR_TEXT = {
    400: "Bad request (malformed JSON, wrong parameter types, unknown keys)",
    401: "Authentication needed or failed",
    403: "Not allowed for this user, or a parameter RAPI may not set",
    404: "No such resource or object",
    408: "The request was not received in time",
    409: "The object is in the wrong state or already exists",
    413: "Request body too large",
    415: "Request bodies must be application/json",
    501: "Not implemented by this gnt version yet",
    502: "The master daemon could not be reached",
    503: "Temporarily unavailable",
    504: "The master daemon did not answer in time",
}


class Availability:
    """What the master supports, asked once per document."""

    def __init__(self, luxi: LuxiAccess | None) -> None:
        self.luxi = luxi
        self._queries: dict[str, bool] = {}
        self._methods: dict[str, bool] = {}

    def _supported(self, cache: dict[str, bool], key: str, method: bool) -> bool:
        if key not in cache:
            if self.luxi is None:
                cache[key] = True
            else:
                try:
                    cache[key] = (self.luxi.supports_method(key) if method
                                  else self.luxi.supports_query(key))
                except errors.GntError:
                    cache[key] = True  # master unreachable: document, do not hide
        return cache[key]

    def query_resources(self) -> list[str]:
        """The query resources the master answers (all of Ganeti's if unknown)."""
        return [r for r in QUERY_RESOURCES if self._supported(self._queries, r, False)]

    def available(self, ep: Endpoint) -> bool:
        """Whether the master can serve ``ep`` now."""
        if ep.opcode and not opfill.has_opcode(ep.opcode):
            return False
        if ep.query_resource and not self._supported(self._queries, ep.query_resource, False):
            return False
        return not ep.luxi_method or self._supported(self._methods, ep.luxi_method, True)


def _query_param(arg: QueryArg) -> dict[str, Any]:
    schema: dict[str, Any]
    if arg.kind == "bool":
        schema = {"type": "integer", "enum": [0, 1]}
    elif arg.kind == "int":
        schema = {"type": "integer"}
    elif arg.kind == "list":
        schema = {"type": "array", "items": {"type": "string"}}
    else:
        schema = {"type": "string"}
    out: dict[str, Any] = {"name": arg.name, "in": "query", "required": arg.required,
                           "description": arg.doc, "schema": schema}
    if arg.kind == "list":
        out.update(style="form", explode=True)
    return out


def _param_schema(param: str, avail: Availability) -> dict[str, Any]:
    if param == "resource":
        return {"type": "string", "enum": avail.query_resources(),
                "description": "A query resource this master answers (Ganeti also has: "
                               f"{', '.join(QUERY_RESOURCES)})"}
    return _PARAM_SCHEMAS.get(param, _NAME_SCHEMA)


def _error(sink: SchemaSink, status: int) -> dict[str, Any]:
    return {"description": _ERROR_TEXT.get(status, "Error"), "content": {
        "application/json": {"schema": model_schema(bodies.ErrorBody)(sink)}}}


def _operation(res: Resource, method: str, ep: Endpoint, sink: SchemaSink,
               avail: Availability) -> dict[str, Any]:
    implemented = avail.available(ep)
    group = res.path.strip("/").split("/")[1] if res.path.count("/") > 1 else "meta"
    op: dict[str, Any] = {
        "operationId": f"{method.lower()}_{res.name}",
        "summary": ep.summary,
        "tags": [group] if implemented else [group, NOT_IMPLEMENTED_TAG],
        "parameters": [{"name": p, "in": "path", "required": True,
                        "schema": _param_schema(p, avail)} for p in res.params]
        + [_query_param(q) for q in ep.query],
        "security": ([{}] if ep.public else []) + [{"basicAuth": []}],
    }
    if ep.opcode:
        op["description"] = f"Opcode: {ep.opcode}"
    if ep.body is not None:
        op["requestBody"] = {"required": ep.body_required, "content": {
            "application/json": {"schema": ep.body(sink)}}}
    statuses = [401, 403]
    if implemented:
        op["responses"] = {"200": {"description": "Success", "content": {
            "application/json": {"schema": ep.result(sink) if ep.result else {}}}}}
        statuses += [400, 502, 504, *ep.extra_statuses]
        if ep.body is not None:
            statuses += [408, 413, 415]
        if ep.opcode:
            statuses += [503]
    else:
        op["responses"] = {}
        statuses += [501]
    for status in sorted(set(statuses)):
        op["responses"][str(status)] = _error(sink, status)
    return op


def build(luxi: LuxiAccess | None = None) -> dict[str, Any]:
    """The OpenAPI document; ``luxi`` (optional) is asked what the master supports."""
    sink = SchemaSink()
    avail = Availability(luxi)
    paths: dict[str, Any] = {}
    for res in routing.all_resources():
        paths[res.path] = {m.lower(): _operation(res, m, ep, sink, avail)
                           for m, ep in res.methods.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ganeti remote API v2 (gnt)", "version": C.RELEASE_VERSION,
                 "description": "Ganeti's RAPI v2 as served by gnt-rapi. Write operations "
                                "answer a job id; poll /2/jobs/{job_id} or its /wait."},
        "paths": paths,
        "components": {"securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
                       "schemas": sink.schemas},
        "tags": [{"name": NOT_IMPLEMENTED_TAG,
                  "description": "Answers 501 until gnt implements what it needs"}],
    }


class DocumentCache:
    """The document, rebuilt at most every :data:`CACHE_SECONDS`."""

    def __init__(self, luxi: LuxiAccess | None) -> None:
        self.luxi = luxi
        self._lock = threading.Lock()
        self._doc: dict[str, Any] | None = None
        self._built = 0.0

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._doc is None or time.monotonic() - self._built > CACHE_SECONDS:
                self._doc = build(self.luxi)
                self._built = time.monotonic()
            return self._doc
