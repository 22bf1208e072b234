"""Tag LUs (``*-tags`` commands, ``gnt-cluster search-tags``) and tag validation.

A tag is 1 to ``MAX_TAG_LEN`` (128) characters out of letters, digits and
``_.+*/:@-``; an object holds at most ``MAX_TAGS_PER_OBJ`` (4096) tags
(Ganeti's rules).  Bad tags raise :class:`errors.TagError`; the whole
request is checked before anything changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.cmdlib.base import FeedbackFn, Level, NoHooksLU
from gnt.cmdlib.common import expand_instance, expand_node
from gnt.objects import ConfigData
from gnt.opcodes.tags import OpTagsDel, OpTagsGet, OpTagsSearch, OpTagsSet

VALID_TAG_RE = re.compile(r"^[\w.+*/:@-]+$", re.ASCII)


def validate_tag(tag: Any) -> None:
    """Raise :class:`errors.TagError` unless ``tag`` is a valid tag."""
    if not isinstance(tag, str):
        raise errors.TagError(f"Invalid tag type (not a string): {tag!r}")
    if len(tag) > C.MAX_TAG_LEN:
        raise errors.TagError(f"Tag too long (>{C.MAX_TAG_LEN} characters): '{tag[:20]}...'")
    if not tag:
        raise errors.TagError("Tags cannot be empty")
    if not VALID_TAG_RE.match(tag):
        raise errors.TagError(f"Tag contains invalid characters: '{tag}' (allowed: letters,"
                              " digits and _.+*/:@-)")


def validate_tags(tags: Iterable[Any]) -> list[str]:
    """Check every tag; returns them as a list (order kept)."""
    out = list(tags)
    for tag in out:
        validate_tag(tag)
    return out


def added_tags(current: Iterable[str], new: Iterable[str]) -> list[str]:
    """The sorted tag set after adding ``new``; raises TagError when invalid or
    when the object would hold more than ``MAX_TAGS_PER_OBJ`` tags."""
    result = set(current) | set(validate_tags(new))
    if len(result) > C.MAX_TAGS_PER_OBJ:
        raise errors.TagError(f"Too many tags: an object holds at most {C.MAX_TAGS_PER_OBJ}")
    return sorted(result)


def removed_tags(current: Iterable[str], gone: Iterable[str]) -> list[str]:
    """The sorted tag set after removing ``gone``; raises TagError when invalid and
    OpPrereqError (unknown_entity) naming the tags the object does not have."""
    have = set(current)
    missing = sorted(set(validate_tags(gone)) - have)
    if missing:
        raise errors.OpPrereqError(
            f"Tag(s) {', '.join(repr(t) for t in missing)} not found", errors.ECODE_NOENT)
    return sorted(have - set(gone))


def find_network(cfg: ConfigData, name: str) -> Any:
    """The network called (or with UUID) ``name``; raises OpPrereqError if unknown."""
    for uuid, net in cfg.networks.items():
        if uuid == name or getattr(net, "name", None) == name:
            return net
    raise errors.OpPrereqError(f"Network '{name}' not known", errors.ECODE_NOENT)


def find_group(cfg: ConfigData, name: str) -> Any:
    """The node group called (or with UUID) ``name``; raises OpPrereqError if unknown."""
    grp = cfg.nodegroups.get(name) or cfg.group_by_name(name)
    if grp is None:
        raise errors.OpPrereqError(f"Node group '{name}' not found", errors.ECODE_NOENT)
    return grp


def tag_target(cfg: ConfigData, kind: str, name: str | None) -> Any:
    """The object whose tags ``kind``/``name`` designate (Ganeti's tag kinds;
    nodes and instances may be given by short name).  Raises OpPrereqError
    for an unknown kind, a missing name or an unknown object."""
    if kind == C.TAG_CLUSTER:
        return cfg.cluster
    if kind not in C.VALID_TAG_TYPES:
        raise errors.OpPrereqError(f"Invalid tag kind '{kind}'; allowed: "
                                   f"{', '.join(C.VALID_TAG_TYPES)}", errors.ECODE_INVAL)
    if not name:
        raise errors.OpPrereqError(f"A {kind} name is needed for {kind} tags",
                                   errors.ECODE_INVAL)
    if kind == C.TAG_NODE:
        return expand_node(cfg, name)
    if kind == C.TAG_INSTANCE:
        return expand_instance(cfg, name)
    if kind == C.TAG_NODEGROUP:
        return find_group(cfg, name)
    return find_network(cfg, name)


class _TagsLU(NoHooksLU):
    """Locks the tagged object (node, instance, group or network); the cluster's
    tags need no lock beyond the config's own."""

    REQ_BGL = False
    SHARED = False

    def expand_names(self) -> None:
        op: Any = self.op
        target = tag_target(self.cfg, op.kind, op.name)
        self.kind = op.kind
        self.target_id = getattr(target, "uuid", None)
        level = {C.TAG_NODE: Level.NODE, C.TAG_INSTANCE: Level.INSTANCE,
                 C.TAG_NODEGROUP: Level.NODEGROUP, C.TAG_NETWORK: Level.NETWORK}.get(op.kind)
        if level is not None and (level == Level.INSTANCE or self.target_id):
            # instances are locked by name, everything else by UUID
            self.needed_locks[level] = [target.name if level == Level.INSTANCE
                                        else self.target_id]
            if self.SHARED:
                self.share_all()
        # groups can be renamed: find them again by UUID
        self.target_name = (None if op.kind == C.TAG_CLUSTER else
                            self.target_id if op.kind == C.TAG_NODEGROUP else target.name)

    def target(self) -> Any:
        """The tagged object, looked up again (it may be gone since expand_names)."""
        return tag_target(self.cfg, self.kind, self.target_name)


class LUTagsGet(_TagsLU):
    """The tags of one object, sorted."""

    OP = OpTagsGet
    SHARED = True

    def expand_names(self) -> None:
        super().expand_names()
        if not self.op.use_locking:  # type: ignore[attr-defined]
            self.needed_locks.clear()

    def exec(self, feedback: FeedbackFn) -> Any:
        return sorted(self.target().tags)


class LUTagsSet(_TagsLU):
    """Add tags; adding a tag the object has is not an error (nothing changes)."""

    OP = OpTagsSet

    def check_arguments(self) -> None:
        op: OpTagsSet = self.op  # type: ignore[assignment]
        validate_tags(op.tags)

    def check_prereq(self) -> None:
        op: OpTagsSet = self.op  # type: ignore[assignment]
        added_tags(self.target().tags, op.tags)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpTagsSet = self.op  # type: ignore[assignment]
        with self.ctx.cfg.lock:
            obj = self.target()
            new = added_tags(obj.tags, op.tags)
            if new != sorted(obj.tags):
                obj.tags = new
                self.ctx.cfg.update(obj)
        return None


class LUTagsDel(_TagsLU):
    """Remove tags; every tag must be present, else nothing is removed."""

    OP = OpTagsDel

    def check_arguments(self) -> None:
        op: OpTagsDel = self.op  # type: ignore[assignment]
        validate_tags(op.tags)

    def check_prereq(self) -> None:
        op: OpTagsDel = self.op  # type: ignore[assignment]
        removed_tags(self.target().tags, op.tags)

    def exec(self, feedback: FeedbackFn) -> Any:
        op: OpTagsDel = self.op  # type: ignore[assignment]
        with self.ctx.cfg.lock:
            obj = self.target()
            obj.tags = removed_tags(obj.tags, op.tags)
            self.ctx.cfg.update(obj)
        return None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled search pattern; raises OpPrereqError (wrong_input) if invalid."""
    try:
        return re.compile(pattern)
    except re.error as err:
        raise errors.OpPrereqError(f"Invalid search pattern '{pattern}': {err}",
                                   errors.ECODE_INVAL) from None


def search_tags(cfg: ConfigData, pattern: str) -> list[list[str]]:
    """``[path, tag]`` for every tag matching the regular expression ``pattern``
    (Ganeti's paths, objects in config order, tags sorted); raises OpPrereqError
    for an invalid pattern."""
    rx = compile_pattern(pattern)
    targets: list[tuple[str, Any]] = [("/cluster", cfg.cluster)]
    targets += [(f"/instances/{i.name}", i) for i in cfg.instances.values()]
    targets += [(f"/nodes/{n.name}", n) for n in cfg.nodes.values()]
    targets += [(f"/nodegroup/{g.name}", g) for g in cfg.nodegroups.values()]
    targets += [(f"/networks/{getattr(n, 'name', u)}", n) for u, n in cfg.networks.items()]
    out = []
    for path, obj in targets:
        for tag in sorted(getattr(obj, "tags", None) or []):
            if rx.search(tag):
                out.append([path, tag])
    return out


class LUTagsSearch(NoHooksLU):
    """``gnt-cluster search-tags``: every object's matching tags."""

    OP = OpTagsSearch
    REQ_BGL = False

    def check_arguments(self) -> None:
        compile_pattern(self.op.pattern)  # type: ignore[attr-defined]

    def exec(self, feedback: FeedbackFn) -> Any:
        with self.ctx.cfg.lock:
            return search_tags(self.cfg, self.op.pattern)  # type: ignore[attr-defined]
