"""The RAPI backend (``-m CLUSTER``): cluster data over Ganeti's RAPI v2.

Speaks to any Ganeti-compatible RAPI server over HTTPS (``gnt-rapi`` or
Ganeti's own) with the bulk listings ``/2/groups``, ``/2/nodes``,
``/2/instances`` (``?bulk=1``), ``/2/info`` and ``/2/tags``.  As Ganeti's
htools do, the server certificate is not verified and no credentials are
sent (reads are public).  ``CLUSTER`` is a host name or address with an
optional ``:port`` (default 5080; IPv6 addresses in brackets), or a full
``https://`` URL.

Public API::

    DEFAULT_PORT = 5080
    rapi_url(cluster) -> str
    load_rapi(cluster, timeout=60.0) -> ClusterData   # raises DataError
"""

from __future__ import annotations

from typing import Any

from gnt.htools.backend_query import build_cluster
from gnt.htools.errors import DataError
from gnt.htools.model import ClusterData

DEFAULT_PORT = 5080


def rapi_url(cluster: str) -> str:
    """The base URL for ``cluster`` (``host``, ``host:port``, ``[v6]:port`` or a URL)."""
    if "://" in cluster:
        return cluster.rstrip("/")
    host = cluster
    if host.startswith("["):
        if "]:" not in host:
            host = f"{host}:{DEFAULT_PORT}"
    elif host.count(":") == 1:
        pass
    elif ":" in host:            # a bare IPv6 address
        host = f"[{host}]:{DEFAULT_PORT}"
    else:
        host = f"{host}:{DEFAULT_PORT}"
    return f"https://{host}"


def load_rapi(cluster: str, timeout: float = 60.0) -> ClusterData:
    """Fetch and build the cluster model; :class:`DataError` when unreachable or bad."""
    import httpx

    base = rapi_url(cluster)

    def get(client: httpx.Client, path: str) -> Any:
        try:
            resp = client.get(path)
        except httpx.HTTPError as err:
            raise DataError(f"cannot reach RAPI at {base}{path}: {err or type(err).__name__}",
                            cluster) from None
        if resp.status_code != 200:
            raise DataError(f"RAPI request {base}{path} failed: HTTP {resp.status_code} "
                            f"{resp.text.strip()[:200]}", cluster)
        try:
            return resp.json()
        except ValueError:
            raise DataError(f"RAPI request {base}{path}: answer is not JSON", cluster) \
                from None

    with httpx.Client(base_url=base, verify=False, timeout=timeout,
                      headers={"Accept": "application/json"}) as client:
        groups = get(client, "/2/groups?bulk=1")
        nodes = get(client, "/2/nodes?bulk=1")
        instances = get(client, "/2/instances?bulk=1")
        info = get(client, "/2/info")
        tags = get(client, "/2/tags")
    for what, val in (("groups", groups), ("nodes", nodes), ("instances", instances),
                      ("tags", tags)):
        if not isinstance(val, list):
            raise DataError(f"RAPI {what} listing is not a list", cluster)
    return build_cluster(groups, nodes, instances, info, tags, cluster)
