"""RAPI permissions and the users file options that grant them.

Newer Ganeti names one permission per operation (``instances.create``,
``jobs.wait``, ...) and bundles them in roles (``@admin``, ``@readonly``).
A users file line's options may be:

- roles: ``@admin``, ``@readonly``;
- permissions: ``instances.startup,instances.shutdown``;
- a role adjusted: ``@readonly,+jobs.cancel,-cluster.info``;
- Ganeti's older options: ``write`` (everything), ``read`` (reading,
  including ``/2/query`` and consoles), and ``all`` (as ``write``).

Tokens apply in a fixed order, whatever their order on the line: roles and
old options first, then added permissions (bare or ``+``), then removed
ones (``-``), so ``@admin,-x`` and ``-x,@admin`` mean the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# jobs
JOBS_LIST = "jobs.list"
JOBS_QUERY = "jobs.query"
JOBS_CANCEL = "jobs.cancel"
JOBS_WAIT = "jobs.wait"
# instances
INSTANCES_MULTI_ALLOC = "instances.multi_alloc"
INSTANCES_LIST = "instances.list"
INSTANCES_CREATE = "instances.create"
INSTANCES_GROW_DISK = "instances.grow_disk"
INSTANCES_MODIFY = "instances.modify"
INSTANCES_REMOVE = "instances.remove"
INSTANCES_QUERY = "instances.query"
INSTANCES_INFO = "instances.info"
INSTANCES_REBOOT = "instances.reboot"
INSTANCES_STARTUP = "instances.startup"
INSTANCES_SHUTDOWN = "instances.shutdown"
INSTANCES_MIGRATE = "instances.migrate"
INSTANCES_FAILOVER = "instances.failover"
INSTANCES_RENAME = "instances.rename"
INSTANCES_REINSTALL = "instances.reinstall"
INSTANCES_REPLACE_DISKS = "instances.replace_disks"
INSTANCES_RECREATE_DISKS = "instances.recreate_disks"
INSTANCES_ACTIVATE_DISKS = "instances.activate_disks"
INSTANCES_DEACTIVATE_DISKS = "instances.deactivate_disks"
INSTANCES_EXPORT_PREPARE = "instances.export.prepare"
INSTANCES_EXPORT_CREATE = "instances.export.create"
INSTANCES_EXPORT_REMOVE = "instances.export.remove"
INSTANCES_QUERY_CONSOLE = "instances.query.console"
# os
OS_LIST = "os.list"
# filters
FILTER_LIST = "filter.list"
FILTER_CREATE = "filter.create"
FILTER_QUERY = "filter.query"
FILTER_MODIFY = "filter.modify"
FILTER_REMOVE = "filter.remove"
# nodes
NODES_LIST = "nodes.list"
NODES_QUERY = "nodes.query"
NODES_POWERCYCLE = "nodes.powercycle"
NODES_ROLE_QUERY = "nodes.role.query"
NODES_ROLE_MODIFY = "nodes.role.modify"
NODES_EVACUATE = "nodes.evacuate"
NODES_MIGRATE = "nodes.migrate"
NODES_MODIFY = "nodes.modify"
NODES_STORAGE_QUERY = "nodes.storage.query"
NODES_STORAGE_MODIFY = "nodes.storage.modify"
NODES_STORAGE_REPAIR = "nodes.storage.repair"
# networks
NETWORKS_LIST = "networks.list"
NETWORKS_QUERY = "networks.query"
NETWORKS_CREATE = "networks.create"
NETWORKS_REMOVE = "networks.remove"
NETWORKS_CONNECT = "networks.connect"
NETWORKS_DISCONNECT = "networks.disconnect"
NETWORKS_MODIFY = "networks.modify"
NETWORKS_RENAME = "networks.rename"
# groups
GROUPS_LIST = "groups.list"
GROUPS_CREATE = "groups.create"
GROUPS_QUERY = "groups.query"
GROUPS_DELETE = "groups.delete"
GROUPS_MODIFY = "groups.modify"
GROUPS_RENAME = "groups.rename"
GROUPS_ASSIGN_NODES = "groups.assign_nodes"
# generic queries
QUERY_ALL = "query.all"
# cluster
CLUSTER_INFO = "cluster.info"
CLUSTER_MODIFY = "cluster.modify"
CLUSTER_REDISTRIBUTE_CONFIG = "cluster.redistribute_config"
# tags
TAGS_GET = "tags.get"
TAGS_SET = "tags.set"
TAGS_DELETE = "tags.delete"

ALL: frozenset[str] = frozenset(
    value for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and "." in value)

#: What the ``@readonly`` role grants.
READONLY: frozenset[str] = frozenset({
    JOBS_LIST, JOBS_QUERY, INSTANCES_LIST, INSTANCES_QUERY, INSTANCES_INFO, NODES_LIST,
    NODES_QUERY, NODES_ROLE_QUERY, NETWORKS_LIST, NETWORKS_QUERY, GROUPS_LIST, GROUPS_QUERY,
    FILTER_LIST, FILTER_QUERY, CLUSTER_INFO, TAGS_GET, QUERY_ALL, OS_LIST,
})

ROLES: dict[str, frozenset[str]] = {"admin": ALL, "readonly": READONLY}

#: Ganeti's older options: ``read`` allowed every read, including the
#: generic queries and consoles (not job waits or storage queries, which
#: needed ``write``); ``write`` allowed everything.
LEGACY_OPTIONS: dict[str, frozenset[str]] = {
    "read": READONLY | {INSTANCES_QUERY_CONSOLE},
    "write": ALL,
    "all": ALL,
}


@dataclass(frozen=True)
class Grant:
    """What a user's options grant: ``permissions``, and ``legacy`` when the
    options use only Ganeti's older vocabulary (``read``/``write`` or none),
    whose users may read everything anonymous clients may."""

    permissions: frozenset[str]
    legacy: bool


def resolve(options: Iterable[str], user: str = "") -> Grant:
    """Turn a users file line's option tokens into a :class:`Grant`.

    Unknown roles and permission names are logged and ignored (a typo must
    not grant anything).
    """
    base: set[str] = set()
    added: set[str] = set()
    removed: set[str] = set()
    legacy = True
    for raw in options:
        token = raw.strip()
        if not token:
            continue
        lower = token.lower()
        if lower in LEGACY_OPTIONS:
            base |= LEGACY_OPTIONS[lower]
            continue
        legacy = False
        if token.startswith("@"):
            role = ROLES.get(token[1:])
            if role is None:
                log.warning("Users file: unknown role '%s' for user '%s' ignored; known: %s",
                            token, user, ", ".join(f"@{r}" for r in sorted(ROLES)))
            else:
                base |= role
            continue
        target, name = (removed, token[1:]) if token.startswith("-") else \
            (added, token.removeprefix("+"))
        if name not in ALL:
            log.warning("Users file: unknown permission '%s' for user '%s' ignored", name, user)
            continue
        target.add(name)
    return Grant(frozenset((base | added) - removed), legacy)
