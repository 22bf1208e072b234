"""htools tag conventions (cluster tags that give meaning to node/instance tags).

* ``htools:iextags:<p>``: instance tags starting with ``<p>`` are exclusion
  tags; two primaries sharing one should not be on the same node.
* ``htools:nlocation:<p>``: node tags ``<p>:...`` are location tags
  (common failure domains).
* ``htools:desiredlocation:<p>``: instance tags ``<p>:...`` name the
  location the instance wants to be in.
* ``htools:migration:<p>``: node tags ``<p>:...`` restrict migrations; a
  node can receive from a source only if it has all the source's tags
  (or they are allowed with ``htools:allowmigration:<x>::<y>``).
"""

from __future__ import annotations

EX_TAGS_PREFIX = "htools:iextags:"
STANDBY_PREFIX = "htools:standby:"
MIGRATION_PREFIX = "htools:migration:"
ALLOW_MIGRATION_PREFIX = "htools:allowmigration:"
LOCATION_PREFIX = "htools:nlocation:"
DESIRED_LOCATION_PREFIX = "htools:desiredlocation:"
AUTOREPAIR_PREFIX = "ganeti:watcher:autorepair:"


def _suffixes(prefix: str, ctags: list[str]) -> list[str]:
    return [t[len(prefix):] for t in ctags if t.startswith(prefix)]


def get_tags(prefix: str, ctags: list[str], tags: list[str]) -> frozenset[str]:
    """The tags among ``tags`` that start with ``<p>:`` for a cluster tag ``prefix<p>``."""
    out: set[str] = set()
    for p in _suffixes(prefix, ctags):
        out.update(t for t in tags if t.startswith(p + ":"))
    return frozenset(out)


def exclusion_prefixes(ctags: list[str], extra: list[str] | None = None) -> list[str]:
    """Exclusion tag prefixes from ``--exclusion-tags`` plus the cluster tags."""
    return list(extra or []) + [s for s in _suffixes(EX_TAGS_PREFIX, ctags) if s]


def exclusion_tags(prefixes: list[str], itags: list[str]) -> list[str]:
    """The instance's exclusion tags (those starting with one of ``prefixes``)."""
    return [t for t in itags if any(t.startswith(p) for p in prefixes)]


def locations(ctags: list[str], ntags: list[str]) -> frozenset[str]:
    return get_tags(LOCATION_PREFIX, ctags, ntags)


def desired_locations(ctags: list[str], itags: list[str]) -> frozenset[str]:
    return get_tags(DESIRED_LOCATION_PREFIX, ctags, itags)


def migration_tags(ctags: list[str], ntags: list[str]) -> frozenset[str]:
    return get_tags(MIGRATION_PREFIX, ctags, ntags)


def _split_at_colons(s: str) -> tuple[str, str] | None:
    pos = s.find("::")
    return None if pos < 0 else (s[:pos], s[pos + 2:])


def allowed_migrations(ctags: list[str]) -> list[tuple[str, str]]:
    """Pairs (x, y) from ``htools:allowmigration:x::y`` cluster tags."""
    out = []
    for s in _suffixes(ALLOW_MIGRATION_PREFIX, ctags):
        pair = _split_at_colons(s)
        if pair is not None and "::" not in pair[1]:
            out.append(pair)
    return out


def recv_migration_tags(ctags: list[str], ntags: list[str]) -> frozenset[str]:
    """Migration tags a node can receive: its own plus those allowed into them."""
    migs = allowed_migrations(ctags)
    out = set()
    for tag in migration_tags(ctags, ntags):
        out.add(tag)
        out.update(src for src, dst in migs if dst == tag)
    return frozenset(out)


def has_standby_tag(ntags: list[str]) -> bool:
    return any(t.startswith(STANDBY_PREFIX) for t in ntags)
