"""The LUXI backend (``-L [SOCKET]``): cluster data from gnt's master daemon.

Queries the ``group``, ``node`` and ``instance`` resources with the field
names of RAPI's bulk listings (so both live backends build the model with
the same rules, see :mod:`gnt.htools.backend_query`), plus the cluster
info and tags.

Public API::

    load_luxi(socket_path) -> ClusterData   # raises DataError when unreachable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gnt import constants, errors
from gnt.htools.backend_query import GROUP_FIELDS, INSTANCE_FIELDS, NODE_FIELDS, build_cluster
from gnt.htools.errors import DataError
from gnt.htools.model import ClusterData


def _rows(client: Any, what: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    resp = client.query(what, list(fields))
    out = []
    for row in resp["data"]:
        out.append({f: (val if status == constants.RS_NORMAL else None)
                    for f, (status, val) in zip(fields, row)})
    return out


def load_luxi(socket_path: str | None) -> ClusterData:
    """Query the master at ``socket_path`` (default: this root's LUXI socket)."""
    from gnt.luxi.client import Client

    source = socket_path or "LUXI"
    try:
        with Client(socket_path or None) as client:
            groups = _rows(client, "group", GROUP_FIELDS)
            nodes = _rows(client, "node", NODE_FIELDS)
            insts = _rows(client, "instance", INSTANCE_FIELDS)
            info = client.query_cluster_info()
            tags = client.query_tags("cluster", "")
    except (errors.GntError, OSError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"cannot query the master daemon: {err}", source) from None
    return build_cluster(groups, nodes, insts, info, tags, source)
