"""Cluster-wide resources: ``/``, ``/2``, ``/version``, ``/2/info``,
``/2/features``, ``/2/os``, ``/2/redistribute-config``, ``/2/modify`` and
``/2/tags``."""

from __future__ import annotations

from typing import Any

from gnt.rapi import permissions as perm
from gnt.rapi.constants import CLUSTER_MODIFY_FORBIDDEN, FEATURES, RAPI_VERSION, TAG_CLUSTER
from gnt.rapi.resources.common import (
    OBJECT_SCHEMA,
    Q_REASON,
    STRING_LIST_SCHEMA,
    const_schema,
    opcode_endpoint,
    tag_endpoints,
)
from gnt.rapi.routing import Call, Endpoint, resource

#: ``GET /2/info`` also answers these keys under their other names.
INFO_ALIASES = {"volume_group_name": "vg_name", "drbd_usermode_helper": "drbd_helper"}


def _null(_call: Call) -> None:
    return None


def _version(_call: Call) -> int:
    return RAPI_VERSION


def _features(_call: Call) -> list[str]:
    return list(FEATURES)


def _info(call: Call) -> dict[str, Any]:
    info = dict(call.luxi.client().query_cluster_info())
    for name, alias in INFO_ALIASES.items():
        if name in info:
            info[alias] = info[name]
    return info


def os_names(rows: list[list[Any]]) -> list[str]:
    """OS names as Ganeti lists them: ``name+variant`` per variant, else ``name``."""
    out: list[str] = []
    for name, variants in rows:
        if variants:
            out.extend(f"{name}+{v}" for v in variants)
        else:
            out.append(name)
    return out


def _os(call: Call) -> list[str]:
    qfilter = ["&", ["?", "valid"], ["!", ["?", "hidden"]], ["!", ["?", "blacklisted"]]]
    return os_names(call.luxi.query_rows("os", ["name", "variants"], qfilter))


_META: dict[str, Any] = {"permission": None, "public": True}

resource("/", "R_root", GET=Endpoint(handler=_null, summary="Nothing (kept for old clients)",
                                     result=const_schema({"type": "null"}), **_META))
resource("/2", "R_2", GET=Endpoint(handler=_null, summary="Nothing (kept for old clients)",
                                   result=const_schema({"type": "null"}), **_META))
resource("/version", "R_version", GET=Endpoint(
    handler=_version, summary="The RAPI version (2)",
    result=const_schema({"type": "integer", "const": RAPI_VERSION}), **_META))
resource("/2/features", "features", GET=Endpoint(
    handler=_features, summary="Optional RAPI features this server implements",
    result=STRING_LIST_SCHEMA, **_META))
resource("/2/info", "info", GET=Endpoint(
    handler=_info, permission=perm.CLUSTER_INFO, public=True, summary="Cluster information",
    query=(Q_REASON,), result=OBJECT_SCHEMA))
resource("/2/os", "os", GET=Endpoint(
    handler=_os, permission=perm.OS_LIST, public=True, query_resource="os",
    summary="Valid OS names (with variants) usable for new instances",
    query=(Q_REASON,), result=STRING_LIST_SCHEMA))
resource("/2/redistribute-config", "redist_config", PUT=opcode_endpoint(
    "OP_CLUSTER_REDIST_CONF", perm.CLUSTER_REDISTRIBUTE_CONFIG,
    "Push the configuration to every node again"))
resource("/2/modify", "cluster_modify", PUT=opcode_endpoint(
    "OP_CLUSTER_SET_PARAMS", perm.CLUSTER_MODIFY, "Change cluster parameters",
    forbidden=CLUSTER_MODIFY_FORBIDDEN))
resource("/2/tags", "tags", **tag_endpoints(TAG_CLUSTER, None))

