"""Building blocks shared by the resource modules.

- :func:`opcode_endpoint`: an endpoint that builds one opcode from the
  request (:mod:`gnt.rapi.opfill`) and answers the job id;
- :func:`list_endpoint` / :func:`item_endpoint`: ``GET`` of a collection
  (``[{"id"|"name", "uri"}]`` or, with ``?bulk=1``, full objects with
  Ganeti's dotted keys) and of one item (404 if unknown);
- :func:`tag_endpoints`: ``GET``/``PUT``/``DELETE`` of an object's tags;
- schema helpers for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from gnt.rapi import httperror, opfill
from gnt.rapi import permissions as perm
from gnt.rapi.constants import TAG_CLUSTER, TAG_NODEGROUP
from gnt.rapi.routing import Call, Endpoint, QueryArg, SchemaFn, SchemaSink

StaticFn = Callable[[Call], dict[str, Any]]

# --- documented query arguments ---
Q_DRY_RUN = QueryArg("dry-run", "bool", "Only check the request, do not execute it")
Q_FORCE = QueryArg("force", "bool", "Force the operation")
Q_BULK = QueryArg("bulk", "bool", "Return full objects instead of names and URIs")
Q_REASON = QueryArg("reason", "string", "Reason for the change, added to the reason trail")
Q_LOCK = QueryArg("lock", "bool", "Accepted for compatibility; gnt queries never lock")
Q_TAG = QueryArg("tag", "list", "A tag (repeat the argument for several)")


# --- schemas ---
def const_schema(schema: dict[str, Any]) -> SchemaFn:
    return lambda _sink: schema


JOB_ID_SCHEMA = const_schema({"type": "integer", "minimum": 0,
                              "description": "Id of the submitted job"})
ANY_SCHEMA = const_schema({})
OBJECT_SCHEMA = const_schema({"type": "object"})
STRING_LIST_SCHEMA = const_schema({"type": "array", "items": {"type": "string"}})


def model_schema(model: type[BaseModel]) -> SchemaFn:
    """A ``$ref`` to ``model``'s schema in ``components/schemas``."""
    def build(sink: SchemaSink) -> dict[str, Any]:
        def make() -> dict[str, Any]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in schema.pop("$defs", {}).items():
                sink.schemas.setdefault(name, sub)
            return schema
        return sink.ref(model.__name__, make)
    return build


def opcode_schema(op_id: str, static: Sequence[str] = (), rename: Mapping[str, str] | None = None,
                  forbidden: Sequence[str] = (),
                  extra: Mapping[str, dict[str, Any]] | None = None,
                  extra_required: Sequence[str] = ()) -> SchemaFn:
    """The body schema of an opcode endpoint (``{"type": "object"}`` while
    the opcode does not exist)."""
    def build(sink: SchemaSink) -> dict[str, Any]:
        schema = opfill.body_schema(op_id, static, rename, forbidden)
        if schema is None:
            return {"type": "object", "description": f"{op_id} (not implemented yet)"}
        for name, sub in schema.pop("$defs", {}).items():
            sink.schemas.setdefault(name, sub)
        schema = _rewrite_refs(schema)
        if extra:
            schema.setdefault("properties", {}).update(extra)
        if extra_required:
            schema["required"] = list(extra_required) + schema.get("required", [])
        return schema
    return build


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/")
                    if k == "$ref" and isinstance(v, str) else _rewrite_refs(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def uri_list_schema(id_field: str) -> SchemaFn:
    return const_schema({"type": "array", "items": {
        "type": "object", "required": [id_field, "uri"],
        "properties": {id_field: {}, "uri": {"type": "string"}}}})


def bulk_or_list_schema(id_field: str) -> SchemaFn:
    return const_schema({"type": "array", "items": {"type": "object"},
                         "description": f"[{{{id_field}, uri}}], or full objects with bulk=1"})


# --- opcode endpoints ---
def depends_only(body: Any) -> dict[str, Any]:
    """What Ganeti keeps of a body an endpoint otherwise ignores: ``depends``."""
    if isinstance(body, dict) and body.get("depends"):
        return {"depends": body["depends"]}
    return {}


def _no_static(_call: Call) -> dict[str, Any]:
    return {}


def submit_opcode(call: Call, op_id: str, body: Any, static: Mapping[str, Any],
                  rename: Mapping[str, str] | None = None, forbidden: Sequence[str] = ()
                  ) -> int:
    """Build the opcode (with the reason trail) and submit it; the job id."""
    st = {"reason": call.reason_trail(), **static}
    op = opfill.fill_opcode(op_id, body, st, rename, forbidden, query_args=call.query)
    return call.luxi.submit([op])


def opcode_endpoint(op_id: str, permission: str, summary: str, *,
                    static: StaticFn = _no_static, static_keys: Sequence[str] = (),
                    rename: Mapping[str, str] | None = None, forbidden: Sequence[str] = (),
                    use_body: bool = True, body_fn: Callable[[Call], Any] | None = None,
                    query: Sequence[QueryArg] = (), body_doc: SchemaFn | None = None,
                    public: bool = False) -> Endpoint:
    """An endpoint submitting ``op_id`` built from the request.

    ``static(call)`` gives the parameters taken from the URI and query
    arguments (``static_keys`` names them for the documentation);
    ``use_body=False`` ignores the body except ``depends``, as Ganeti does
    for endpoints configured by query arguments only; ``body_fn(call)``
    turns the request into the body to use (legacy formats, checks).
    """
    def handler(call: Call) -> int:
        opfill.opcode_class(op_id)
        if body_fn is not None:
            body = body_fn(call)
        else:
            body = call.body if use_body else depends_only(call.body)
        return submit_opcode(call, op_id, body, static(call), rename, forbidden)

    doc = body_doc
    if doc is None:
        doc = opcode_schema(op_id, static_keys, rename, forbidden) if use_body else \
            const_schema({"type": "object", "properties": {"depends": {"type": "array"}},
                          "description": "Ignored except `depends`"})
    return Endpoint(handler=handler, permission=permission, summary=summary, opcode=op_id,
                    public=public, query=tuple(query) + (Q_REASON,), body=doc,
                    result=JOB_ID_SCHEMA)


# --- collections and items ---
def name_filter(name: str) -> list[Any]:
    return ["|", ["=", "name", name]]


def pick_row(rows: list[list[Any]], name: str, what: str) -> list[Any]:
    """The row for ``name`` (an exact name wins over a short-name match); 404."""
    if not rows:
        raise httperror.not_found(f"{what.capitalize()} '{name}' not known")
    for row in rows:
        if row[0] == name:
            return row
    return rows[0]


def list_endpoint(what: str, fields: Sequence[str], id_field: str, uri_format: str,
                  permission: str, summary: str,
                  post: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Endpoint:
    """``GET`` of a collection backed by query resource ``what``."""
    def handler(call: Call) -> list[dict[str, Any]]:
        if call.bulk:
            rows = call.luxi.query_rows(what, fields)
            items = [dict(zip(fields, row)) for row in rows]
            return [post(i) for i in items] if post else items
        names = sorted(str(row[0]) for row in call.luxi.query_rows(what, ["name"]))
        return [{id_field: n, "uri": uri_format % n} for n in names]

    return Endpoint(handler=handler, permission=permission, summary=summary, public=True,
                    query_resource=what, query=(Q_BULK, Q_LOCK, Q_REASON),
                    result=bulk_or_list_schema(id_field))


def item_endpoint(what: str, fields: Sequence[str], param: str, permission: str, summary: str,
                  post: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Endpoint:
    """``GET`` of one item of query resource ``what``, named by URI parameter ``param``."""
    def handler(call: Call) -> dict[str, Any]:
        name = call.params[param]
        rows = call.luxi.query_rows(what, ["name", *fields], name_filter(name))
        item = dict(zip(fields, pick_row(rows, name, what)[1:]))
        return post(item) if post else item

    return Endpoint(handler=handler, permission=permission, summary=summary, public=True,
                    query_resource=what, query=(Q_LOCK, Q_REASON), result=OBJECT_SCHEMA,
                    extra_statuses=(404,))


# --- tags ---
#: Query resource of each tag kind.
_TAG_QUERY_RESOURCES = {TAG_NODEGROUP: "group"}


def tag_endpoints(kind: str, param: str | None) -> dict[str, Endpoint]:
    """``GET``/``PUT``/``DELETE`` of the tags of a ``kind`` object named by
    URI parameter ``param`` (None for the cluster).  ``PUT``/``DELETE``
    take the tags as repeated ``?tag=`` arguments."""
    def name_of(call: Call) -> str | None:
        return None if param is None else call.params[param]

    def get(call: Call) -> list[str]:
        name = name_of(call)
        if name is not None:
            # the full name (short names are accepted, as everywhere else)
            what = _TAG_QUERY_RESOURCES.get(kind, kind)
            name = str(pick_row(call.luxi.query_rows(what, ["name"], name_filter(name)),
                                name, kind)[0])
        return list(call.luxi.client().query_tags(kind, name or ""))

    def static(call: Call) -> dict[str, Any]:
        return {"kind": kind, "name": name_of(call), "tags": call.query.get("tag", []),
                "dry_run": call.dry_run}

    what = {TAG_CLUSTER: "cluster", TAG_NODEGROUP: "node group"}.get(kind, kind)
    return {
        "GET": Endpoint(handler=get, permission=perm.TAGS_GET, public=True,
                        summary=f"Tags of the {what}", query=(Q_REASON,),
                        query_resource=None if param is None else
                        _TAG_QUERY_RESOURCES.get(kind, kind),
                        result=STRING_LIST_SCHEMA, extra_statuses=(404,)),
        "PUT": opcode_endpoint("OP_TAGS_SET", perm.TAGS_SET, f"Add tags to the {what}",
                               static=static, use_body=False, query=(Q_TAG, Q_DRY_RUN)),
        "DELETE": opcode_endpoint("OP_TAGS_DEL", perm.TAGS_DELETE,
                                  f"Remove tags from the {what}", static=static,
                                  use_body=False, query=(Q_TAG, Q_DRY_RUN)),
    }
