"""Opcodes of the everyday operations on existing instances (Ganeti's names).

``OP_INSTANCE_SET_PARAMS`` (``gnt-instance modify``), ``OP_INSTANCE_GROW_DISK``,
``OP_INSTANCE_RENAME``, ``OP_INSTANCE_REINSTALL``, ``OP_INSTANCE_ACTIVATE_DISKS``,
``OP_INSTANCE_DEACTIVATE_DISKS`` and ``OP_INSTANCE_RECREATE_DISKS``.  Sizes
and memory are in MiB.

Disk and NIC changes of ``OP_INSTANCE_SET_PARAMS`` are lists of
``[action, identifier, params]`` (Ganeti's container modifications):
``action`` is ``add``/``attach``/``modify``/``remove``/``detach``,
``identifier`` an index (``-1``: the end / the last item), a name or a UUID,
``params`` a dict (empty for remove/detach).  The legacy two-element form
``[action_or_identifier, params]`` is accepted and upgraded by
:func:`upgrade_mods`, as Ganeti does.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from gnt import constants as C
from gnt import errors
from gnt.opcodes.instance import _InstanceOp

Mod = list[Any]  # [action, identifier, params]

_ADD_REMOVE = (C.DDM_ADD, C.DDM_ATTACH, C.DDM_REMOVE, C.DDM_DETACH)


def upgrade_mods(kind: str, mods: list[Any]) -> list[Mod]:
    """Check ``mods`` and return them as ``[action, identifier, params]`` lists.

    Two-element entries are Ganeti's legacy form: ``[add|attach|remove|detach,
    params]`` acts on the end (identifier ``-1``, at most one such entry),
    ``[identifier, params]`` modifies that item.  Raises
    :class:`errors.OpPrereqError` (``wrong_input``) for malformed entries, an
    unknown action, parameters given to remove/detach, or mixing the forms.
    ``kind`` (``disk``/``NIC``) names the items in messages.
    """
    if not isinstance(mods, list):
        raise errors.OpPrereqError(f"Invalid {kind} modifications {mods!r}: expected a list",
                                   errors.ECODE_INVAL)
    lengths = {len(m) if isinstance(m, (list, tuple)) else 0 for m in mods}
    if lengths - {2, 3}:
        bad = next(m for m in mods if not isinstance(m, (list, tuple)) or len(m) not in (2, 3))
        raise errors.OpPrereqError(
            f"Invalid {kind} modification {bad!r}: expected [action, identifier, params]",
            errors.ECODE_INVAL)
    if len(lengths) > 1:
        raise errors.OpPrereqError(
            f"Invalid {kind} modifications: do not mix [action, identifier, params] and "
            f"the legacy [action, params] form", errors.ECODE_INVAL)
    out: list[Mod] = []
    if lengths == {2}:
        addremove = 0
        for first, params in mods:
            if first in _ADD_REMOVE:
                addremove += 1
                if addremove > 1:
                    raise errors.OpPrereqError(
                        f"Only one {kind} add/attach/remove/detach operation is supported "
                        f"at a time", errors.ECODE_INVAL)
                out.append([first, -1, params])
            else:
                out.append([C.DDM_MODIFY, first, params])
    else:
        out = [list(m) for m in mods]
    for action, ident, params in out:
        if action not in C.DDMS_ALL:
            raise errors.OpPrereqError(
                f"Invalid {kind} modification action {action!r}; allowed: "
                f"{', '.join(C.DDMS_ALL)}", errors.ECODE_INVAL)
        if isinstance(ident, bool) or not isinstance(ident, (int, str)):
            raise errors.OpPrereqError(
                f"Invalid {kind} identifier {ident!r}: give an index, a name or a UUID",
                errors.ECODE_INVAL)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise errors.OpPrereqError(
                f"Invalid {kind} parameters {params!r}: expected a dict", errors.ECODE_INVAL)
        if action in (C.DDM_REMOVE, C.DDM_DETACH) and params:
            raise errors.OpPrereqError(
                f"No settings should be passed when removing or detaching a {kind}",
                errors.ECODE_INVAL)
    return [[a, i, p or {}] for a, i, p in out]


def _mods_validator(kind: str) -> Any:
    def check(cls: type, value: Any) -> list[Mod]:
        try:
            return upgrade_mods(kind, value)
        except errors.OpPrereqError as err:
            raise ValueError(str(err)) from None
    return check


class OpInstanceSetParams(_InstanceOp):
    """Change an instance's parameters, disks and NICs (``gnt-instance modify``).

    ``disks``/``nics``: modification lists (see the module docstring);
    ``beparams``/``hvparams``/``osparams``: updates (``"default"`` removes an
    override); ``runtime_mem``: balloon a running instance to this many MiB;
    ``pnode``: new primary node (shared-storage templates, instance down);
    ``offline``: True/False to mark offline/online; ``hotplug``: apply disk
    and NIC changes to the running instance as well (the default since
    Ganeti 3.0; ignored with a note where the hypervisor cannot).
    """

    OP_ID = "OP_INSTANCE_SET_PARAMS"
    force: bool = False
    force_variant: bool = False
    ignore_ipolicy: bool = False
    nics: list[Mod] = Field(default_factory=list)
    disks: list[Mod] = Field(default_factory=list)
    beparams: dict[str, Any] = Field(default_factory=dict)
    hvparams: dict[str, Any] = Field(default_factory=dict)
    runtime_mem: int | None = Field(default=None, ge=1)
    disk_template: str | None = None
    ext_params: dict[str, Any] = Field(default_factory=dict)
    file_driver: str | None = None
    file_storage_dir: str | None = None
    pnode: str | None = None
    remote_node: str | None = None
    iallocator: str | None = None
    os_name: str | None = None
    osparams: dict[str, Any] = Field(default_factory=dict)
    osparams_private: dict[str, Any] = Field(default_factory=dict)
    wait_for_sync: bool = True
    offline: bool | None = None
    conflicts_check: bool = True
    hotplug: bool = True
    hotplug_if_possible: bool = False
    instance_communication: bool | None = None

    _check_disks = field_validator("disks", mode="before")(_mods_validator("disk"))
    _check_nics = field_validator("nics", mode="before")(_mods_validator("NIC"))


class OpInstanceGrowDisk(_InstanceOp):
    """Grow disk ``disk`` by ``amount`` MiB, or to ``amount`` MiB with ``absolute``."""

    OP_ID = "OP_INSTANCE_GROW_DISK"
    disk: int = Field(ge=0)
    amount: int
    wait_for_sync: bool = True
    absolute: bool = False
    ignore_ipolicy: bool = False


class OpInstanceRename(_InstanceOp):
    """Rename a stopped instance to ``new_name`` (resolved unless ``name_check`` is off)."""

    OP_ID = "OP_INSTANCE_RENAME"
    new_name: str = Field(min_length=1)
    name_check: bool = True
    ip_check: bool = True


class OpInstanceReinstall(_InstanceOp):
    """Reinstall the OS of a stopped instance (``os_type``: change the OS too)."""

    OP_ID = "OP_INSTANCE_REINSTALL"
    os_type: str | None = None
    force_variant: bool = False
    osparams: dict[str, Any] | None = None
    osparams_private: dict[str, Any] | None = None
    osparams_secret: dict[str, Any] | None = None
    clear_osparams: bool = False
    clear_osparams_private: bool = False
    remove_osparams: list[str] | None = None
    remove_osparams_private: list[str] | None = None


class OpInstanceActivateDisks(_InstanceOp):
    """Assemble the instance's disks on its node(s); the result lists
    ``[node name, "disk/N", device path]`` per disk."""

    OP_ID = "OP_INSTANCE_ACTIVATE_DISKS"
    ignore_size: bool = False
    wait_for_sync: bool = False


class OpInstanceDeactivateDisks(_InstanceOp):
    """Release the instance's disks (``force``: even if it may be running)."""

    OP_ID = "OP_INSTANCE_DEACTIVATE_DISKS"
    force: bool = False


class OpInstanceRecreateDisks(_InstanceOp):
    """Recreate missing disks: all, or those in ``disks`` (indices, or
    ``[index, {size, mode, spindles}]`` pairs); ``nodes``: new placement."""

    OP_ID = "OP_INSTANCE_RECREATE_DISKS"
    disks: list[Any] = Field(default_factory=list)
    nodes: list[str] = Field(default_factory=list)
    iallocator: str | None = None

    @field_validator("disks", mode="before")
    @classmethod
    def _check_disks(cls, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueErrors
                "expected a list of disk indices or [index, params] pairs")
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool):
                if item < 0:
                    raise ValueError(f"invalid disk index {item}")
                continue
            if (isinstance(item, (list, tuple)) and len(item) == 2
                    and isinstance(item[0], int) and not isinstance(item[0], bool)
                    and item[0] >= 0 and isinstance(item[1], dict)):
                continue
            raise ValueError(f"invalid disk entry {item!r}: expected an index or "
                             "[index, {size, mode, spindles}]")
        return [list(i) if isinstance(i, tuple) else i for i in value]
