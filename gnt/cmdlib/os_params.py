"""Cluster-level OS settings changed by ``OP_CLUSTER_SET_PARAMS`` (``gnt-os modify``).

* ``os_hvp``: OS -> hypervisor -> hvparams applied between the cluster's
  hvparams and the instance's (see :func:`gnt.objects.fill.fill_hv`); a
  hypervisor given as None drops the OS's overrides for it, a parameter
  given as ``"default"`` (or None) drops that override;
* ``osparams``: OS -> OS parameters (``"default"``/None removes one); the
  result is checked by the OS's ``verify`` script on the master node when
  the OS is installed there (Ganeti's behaviour);
* ``hidden_os``/``blacklisted_os``: lists of ``[action, os]`` with action
  ``add`` or ``remove`` (Ganeti's DDM modifications); adding a present name
  or removing an absent one is reported and ignored.

:func:`prepare_os_changes` does every check (from ``check_prereq``),
:func:`apply_os_changes` changes the cluster object (inside ``exec``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gnt import constants as C
from gnt import errors, hypervisor
from gnt.objects.cluster import Cluster
from gnt.objects.params import apply_update

if TYPE_CHECKING:
    from gnt.cmdlib.base import LogicalUnit

_LIST_DESC = {"hidden_os": "hidden OS list", "blacklisted_os": "blacklisted OS list"}


@dataclass
class OsChanges:
    """Checked OS changes: the new ``os_hvp``/``osparams`` (None: unchanged) and the
    list modifications ``attr -> [(action, os), ...]``."""

    os_hvp: dict[str, dict[str, dict[str, Any]]] | None = None
    osparams: dict[str, dict[str, Any]] | None = None
    list_mods: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def new_os_hvp(current: Mapping[str, Mapping[str, Mapping[str, Any]]],
               update: Mapping[str, Mapping[str, Mapping[str, Any] | None]]
               ) -> dict[str, dict[str, dict[str, Any]]]:
    """``current`` with ``update`` merged in (checked); empty entries are dropped.

    Raises OpPrereqError for an unknown hypervisor, ParameterError for a
    bad parameter name or value.
    """
    out = {os_name: {hv: dict(p) for hv, p in hvs.items()} for os_name, hvs in current.items()}
    for os_name, hvs in update.items():
        _check_os_name(os_name)
        entry = out.setdefault(os_name, {})
        for hv, params in hvs.items():
            if hv not in C.HYPER_TYPES:
                raise errors.OpPrereqError(
                    f"Unknown hypervisor '{hv}' in the hypervisor parameters of OS "
                    f"'{os_name}'; allowed: {', '.join(C.HYPER_TYPES)}", errors.ECODE_INVAL)
            if params is None or params is False:
                entry.pop(hv, None)
                continue
            checked = hypervisor.check_parameters(hv, dict(params), allow_default=True)
            merged = apply_update(entry.get(hv, {}), checked)
            if merged:
                entry[hv] = merged
            else:
                entry.pop(hv, None)
        if not entry:
            del out[os_name]
    return out


def new_osparams(current: Mapping[str, Mapping[str, Any]],
                 update: Mapping[str, Mapping[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """``current`` with ``update`` merged in; ``"default"``/None values remove a
    parameter, an OS left without parameters is dropped."""
    out = {os_name: dict(p) for os_name, p in current.items()}
    for os_name, params in update.items():
        _check_os_name(os_name)
        changes = {k: None if v is None or v == C.VALUE_DEFAULT else v
                   for k, v in (params or {}).items()}
        merged = apply_update(out.get(os_name, {}), changes)
        if merged:
            out[os_name] = merged
        else:
            out.pop(os_name, None)
    return out


def _check_os_name(name: Any) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise errors.OpPrereqError(f"Invalid OS name {name!r}", errors.ECODE_INVAL)


def check_list_mods(attr: str, mods: Any) -> list[tuple[str, str]]:
    """Validate ``[[action, os], ...]`` for ``hidden_os``/``blacklisted_os``."""
    out: list[tuple[str, str]] = []
    for mod in mods or []:
        if not isinstance(mod, (list, tuple)) or len(mod) != 2:
            raise errors.OpPrereqError(
                f"Invalid {attr} modification {mod!r}: expected [action, OS name]",
                errors.ECODE_INVAL)
        action, name = mod
        if action not in C.DDMS_VALUES:
            raise errors.OpPrereqError(
                f"Invalid {attr} modification '{action}'; allowed: "
                f"{', '.join(sorted(C.DDMS_VALUES))}", errors.ECODE_INVAL)
        _check_os_name(name)
        out.append((action, name))
    return out


def prepare_os_changes(lu: LogicalUnit, os_hvp: Any, osparams: Any, hidden_os: Any,
                       blacklisted_os: Any) -> OsChanges:
    """Check the OS fields of OP_CLUSTER_SET_PARAMS; changes nothing.

    New OS parameters are validated on the master node (``os_validate``,
    not required: an OS not installed there is accepted, so settings can be
    preseeded for OSes not yet known).
    """
    cl = lu.cfg.cluster
    changes = OsChanges()
    if os_hvp:
        changes.os_hvp = new_os_hvp(cl.os_hvp, os_hvp)
    if osparams:
        changes.osparams = new_osparams(cl.osparams, osparams)
        master = lu.cfg.cluster.master_node
        for os_name in osparams:
            params = changes.osparams.get(os_name)
            if not params:
                continue
            res = lu.ctx.rpc.os_validate(master, os_name, params, False, False)
            res.raise_on_fail(f"OS parameters of '{os_name}' rejected")
    for attr, mods in (("hidden_os", hidden_os), ("blacklisted_os", blacklisted_os)):
        if mods:
            changes.list_mods[attr] = check_list_mods(attr, mods)
    return changes


def apply_os_changes(cl: Cluster, changes: OsChanges,
                     feedback: Callable[[str], None]) -> None:
    """Apply checked changes to the cluster object (caller holds the config lock)."""
    if changes.os_hvp is not None:
        cl.os_hvp = changes.os_hvp
    if changes.osparams is not None:
        cl.osparams = changes.osparams
    for attr, mods in changes.list_mods.items():
        names = list(getattr(cl, attr))
        desc = _LIST_DESC[attr]
        for action, name in mods:
            if action == C.DDM_ADD:
                if name in names:
                    feedback(f"OS {name} already in {desc}, ignoring")
                else:
                    names.append(name)
            elif name in names:
                names.remove(name)
            else:
                feedback(f"OS {name} not found in {desc}, ignoring")
        setattr(cl, attr, names)
