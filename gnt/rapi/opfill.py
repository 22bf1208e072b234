"""Request bodies to opcodes, as Ganeti's RAPI fills them.

A write request names an opcode (by ``OP_ID``); its body holds the
opcode's parameters under Ganeti's names.  :func:`fill_opcode`:

1. requires the body to be a JSON object (or absent: no parameters);
2. refuses parameters RAPI may not set (403), also when given under an
   old name or as a query argument;
3. applies renamed keys (``name`` -> ``instance_name``), refusing a body
   that gives both the old and the new name (400);
4. adds the static parameters that come from the URI and query arguments
   (``instance_name``, ``dry_run``, the reason trail), refusing a body
   that tries to set them (400);
5. validates everything with the opcode model (400 naming each bad or
   unknown parameter).

The opcode class is looked up at request time, so a resource starts
working as soon as its opcode exists; until then it answers 501.
:func:`body_schema` documents the same body for OpenAPI, from the same
model.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from gnt.opcodes import base as opbase
from gnt.rapi import httperror

#: Parameters every opcode has that RAPI sets itself.
ALWAYS_STATIC = ("reason",)


def opcode_class(op_id: str) -> type[opbase.OpCode]:
    """The opcode class for ``op_id``; 501 while gnt has none."""
    cls = opbase.registry().get(op_id)
    if cls is None:
        raise httperror.not_implemented(
            f"{op_id} is not implemented by this gnt version yet; this resource will "
            "work once it is")
    return cls


def has_opcode(op_id: str) -> bool:
    return op_id in opbase.registry()


def check_body_object(body: Any, what: str = "Body contents") -> dict[str, Any]:
    """``body`` as a dict (``{}`` for no body); 400 unless it is a JSON object."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise httperror.bad_request(
            f"{what}: Type is '{_json_type(body)}', but 'dict' is expected")
    return body


def _json_type(value: Any) -> str:
    return {dict: "dict", list: "list", str: "str", bool: "bool", int: "int",
            float: "float", type(None): "NoneType"}.get(type(value), type(value).__name__)


def check_forbidden(params: Iterable[str], forbidden: Iterable[str],
                    rename: Mapping[str, str] | None) -> None:
    """403 if one of ``params`` (or what it is renamed to) is forbidden."""
    forbidden = set(forbidden)
    for name in params:
        target = (rename or {}).get(name, name)
        if target in forbidden:
            raise httperror.forbidden(f"The parameter {target} cannot be set via RAPI")


def apply_renames(params: dict[str, Any], rename: Mapping[str, str]) -> dict[str, Any]:
    """Move old names to new ones; 400 when both are given."""
    out = dict(params)
    for old, new in rename.items():
        if old in out:
            if new in out:
                raise httperror.bad_request(
                    f"Parameter '{old}' was renamed to '{new}', but both are specified")
            out[new] = out.pop(old)
    return out


def fill_params(body: Any, static: Mapping[str, Any], rename: Mapping[str, str] | None = None,
                forbidden: Iterable[str] = (), query_args: Iterable[str] = ()
                ) -> dict[str, Any]:
    """The opcode parameters from a request body and its static parameters."""
    params = check_body_object(body)
    check_forbidden(list(params) + list(query_args), forbidden, rename)
    if rename:
        params = apply_renames(params, rename)
    overwritten = sorted(set(params) & set(static))
    if overwritten:
        raise httperror.bad_request(f"Can't overwrite static parameters {overwritten!r}")
    params = dict(params)
    params.update(static)
    return params


def build_opcode(op_id: str, params: Mapping[str, Any]) -> opbase.OpCode:
    """Validate ``params`` with the opcode model; 400 with the reasons.

    Validation is strict, as Ganeti's parameter checks: JSON types must
    match (``"yes"`` is no boolean, ``"5"`` no integer, ``true`` no number).
    """
    cls = opcode_class(op_id)
    try:
        return cls.model_validate_json(json.dumps(dict(params)), strict=True)
    except ValidationError as err:
        raise httperror.bad_request(
            f"Invalid body parameters: {opbase.format_validation_error(op_id, err)}") from None
    except (TypeError, ValueError) as err:
        raise httperror.bad_request(f"Invalid body parameters: {err}") from None


def fill_opcode(op_id: str, body: Any, static: Mapping[str, Any],
                rename: Mapping[str, str] | None = None, forbidden: Iterable[str] = (),
                query_args: Iterable[str] = ()) -> opbase.OpCode:
    """Build opcode ``op_id`` from a request (see the module description).

    Raises :class:`gnt.rapi.httperror.HttpError` 400/403/501.
    """
    opcode_class(op_id)  # 501 before looking at the body
    return build_opcode(op_id, fill_params(body, static, rename, forbidden, query_args))


def body_schema(op_id: str, static: Iterable[str] = (), rename: Mapping[str, str] | None = None,
                forbidden: Iterable[str] = ()) -> dict[str, Any] | None:
    """JSON schema of the body accepted for ``op_id``: the opcode model's
    parameters minus the static and forbidden ones, old names included.

    None while the opcode does not exist.  ``$defs`` are inlined under
    ``$defs`` of the returned schema.
    """
    cls = opbase.registry().get(op_id)
    if cls is None:
        return None
    schema = copy.deepcopy(cls.model_json_schema(mode="validation"))
    props: dict[str, Any] = schema.get("properties", {})
    hidden = set(static) | set(forbidden) | set(ALWAYS_STATIC)
    for name in list(props):
        if name in hidden:
            del props[name]
    for old, new in (rename or {}).items():
        if new in props and old not in props:
            props[old] = {**props[new], "description":
                          f"Old name of '{new}' (give only one of them)."}
    required = [r for r in schema.get("required", []) if r not in hidden]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    schema["additionalProperties"] = False
    schema.setdefault("description", (cls.__doc__ or op_id).strip())
    return schema
