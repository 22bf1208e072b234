"""Resources, their endpoints, and the request context handlers receive.

A :class:`Resource` is one URI pattern (``/2/instances/{instance_name}``)
with an :class:`Endpoint` per HTTP method.  An endpoint carries its handler
(run in a worker thread with a :class:`Call`), the permission it needs,
whether anonymous clients may use it, and what it documents (query
arguments, body schema, opcode) for the OpenAPI document.

Resource modules register with :func:`resource`; :func:`match` finds the
resource for a path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gnt.rapi import httperror
from gnt.rapi.constants import REASON_SRC_RLIB2, REASON_SRC_USER

if TYPE_CHECKING:
    from gnt.rapi.luxi import LuxiAccess

Handler = Callable[["Call"], Any]
SchemaFn = Callable[["SchemaSink"], dict[str, Any]]

#: URI parameter patterns (Ganeti's): names, job ids, disk indices.
NAME_PATTERN = r"[\w._-]+"
NUMBER_PATTERN = r"\d+"
_PARAM_PATTERNS = {"job_id": NUMBER_PATTERN, "disk_index": NUMBER_PATTERN}
_PARAM_RE = re.compile(r"\{(\w+)\}")


class SchemaSink:
    """Collects named JSON schemas (OpenAPI ``components/schemas``)."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, name: str, schema_fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A ``$ref`` to schema ``name``, building it with ``schema_fn`` once."""
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder against recursion
            self.schemas[name] = schema_fn()
        return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class QueryArg:
    """A documented query argument; ``kind`` ``bool`` takes ``0``/``1``."""

    name: str
    kind: Literal["bool", "int", "string", "list"]
    doc: str
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One method of a resource.

    ``permission``: what a user needs (``None``: any authenticated user);
    ``public``: anonymous clients may call it unless the daemon requires
    authentication.  ``opcode``/``query_resource``/``luxi_method`` name what
    the master must support; the endpoint answers 501 while it does not.
    ``body``: schema of the request body (None: no body documented);
    ``result``: schema of the 200 answer.
    """

    handler: Handler
    permission: str | None
    summary: str
    public: bool = False
    opcode: str | None = None
    query_resource: str | None = None
    luxi_method: str | None = None
    query: tuple[QueryArg, ...] = ()
    body: SchemaFn | None = None
    body_required: bool = False
    result: SchemaFn | None = None
    extra_statuses: tuple[int, ...] = ()


@dataclass
class Resource:
    """A URI pattern; ``name`` is Ganeti's resource name for reason trails
    (``instances_name_reboot``)."""

    path: str
    name: str
    methods: dict[str, Endpoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pieces, pos = [], 0
        for m in _PARAM_RE.finditer(self.path):
            param = m.group(1)
            pieces.append(re.escape(self.path[pos:m.start()]))
            pieces.append(f"(?P<{param}>{_PARAM_PATTERNS.get(param, NAME_PATTERN)})")
            pos = m.end()
        pieces.append(re.escape(self.path[pos:]))
        self.regex = re.compile("^" + "".join(pieces) + "$")

    @property
    def params(self) -> list[str]:
        return _PARAM_RE.findall(self.path)


_RESOURCES: dict[str, Resource] = {}


def resource(path: str, name: str, **methods: Endpoint) -> Resource:
    """Register ``path`` with endpoints given as ``GET=...``, ``PUT=...``."""
    if path in _RESOURCES:
        raise ValueError(f"resource {path} registered twice")
    res = Resource(path, name, {m.upper(): e for m, e in methods.items()})
    _RESOURCES[path] = res
    return res


def all_resources() -> list[Resource]:
    """Every registered resource, in registration order."""
    import gnt.rapi.resources  # noqa: F401 - registers the resources

    return list(_RESOURCES.values())


def match(path: str) -> tuple[Resource, dict[str, str]] | None:
    """The resource serving ``path`` and its URI parameters, or None."""
    all_resources()
    res = _RESOURCES.get(path)
    if res is not None and not res.params:
        return res, {}
    for res in _RESOURCES.values():
        m = res.regex.match(path)
        if m:
            return res, m.groupdict()
    return None


def _epoch_nano() -> int:
    return time.time_ns()


@dataclass
class Call:
    """What a handler gets: the request, parsed, and LUXI access.

    ``query`` maps each query argument to its values; ``body`` is the
    decoded JSON body (None when there was none).
    """

    method: str
    path: str
    resource: Resource
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    luxi: LuxiAccess
    user: str | None = None

    # --- query arguments (Ganeti's semantics) ---
    def str_arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int = 0) -> int:
        """An integer argument; 400 if it is not one."""
        value = self.str_arg(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise httperror.bad_request(f"Invalid value for the '{name}' parameter") from None

    def bool_arg(self, name: str, default: bool = False) -> bool:
        """A ``0``/``1`` argument (any integer; non-zero is true); 400 otherwise."""
        return bool(self.int_arg(name, int(default)))

    @property
    def dry_run(self) -> bool:
        return self.bool_arg("dry-run")

    @property
    def force(self) -> bool:
        return self.bool_arg("force")

    @property
    def bulk(self) -> bool:
        return self.bool_arg("bulk")

    @property
    def use_locking(self) -> bool:
        return self.bool_arg("lock")

    def reason_trail(self) -> list[list[Any]]:
        """The opcode reason trail: the user's ``?reason=`` and this resource."""
        trail: list[list[Any]] = []
        reason = self.str_arg("reason")
        if reason:
            trail.append([REASON_SRC_USER, reason, _epoch_nano()])
        trail.append([f"{REASON_SRC_RLIB2}:{self.resource.name}", "", _epoch_nano()])
        return trail
