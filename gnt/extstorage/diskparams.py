"""The ``--disk`` dict of an ``ext`` disk (master side).

``gnt-instance add -t ext --disk 0:size=1G,provider=NAME,access=MODE,p1=v1``:
``provider`` is required and names the ExtStorage provider; ``access``
(``kernelspace``/``userspace``) is optional; every key that is not one of
the generic disk keys (size, mode, name, vg, ...) is a provider parameter.
As Ganeti, the disk's ``params`` then hold ``provider``, the provider
parameters and (when given) ``access``; the scripts get each as
``EXTP_<NAME>``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.extstorage import provider as es_provider
from gnt.objects import ConfigData, Node
from gnt.objects.fill import fill_diskparams

# provider parameter names: what can follow EXTP_ in an environment variable
_PARAM_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
#: disk params that are gnt's/Ganeti's own, not the provider's
OWN_PARAMS = frozenset({C.IDISK_PROVIDER, C.LDP_ACCESS})


def _fail(msg: str) -> errors.OpPrereqError:
    return errors.OpPrereqError(msg, errors.ECODE_INVAL)


def parse_disk(template: str | None, idx: int, disk: Mapping[str, Any],
               generic_keys: Collection[str]) -> dict[str, Any]:
    """Check the ext part of disk ``idx``'s dict.

    For the ext template returns ``{"provider": name, "params": {...}}``
    (the disk's params as stored in the config, values as strings); for
    other templates ``{}``.  ``generic_keys`` are the disk keys that are not
    provider parameters.  Raises OpPrereqError (``wrong_input``) when
    ``provider`` is missing for ext or given for another template, for a bad
    provider or parameter name, a non-scalar value or an unknown access mode.
    """
    prov = disk.get(C.IDISK_PROVIDER)
    if template != C.DT_EXT:
        if prov:
            raise _fail(f"Disk {idx}: the '{C.IDISK_PROVIDER}' option is only valid for "
                        f"the {C.DT_EXT} disk template, not {template}")
        return {}
    if not prov:
        raise _fail(f"Disk {idx}: missing provider for template '{C.DT_EXT}' (give "
                    f"provider=NAME, see gnt-storage diagnose)")
    try:
        es_provider.check_name(str(prov))
    except errors.BlockDeviceError as err:
        raise _fail(f"Disk {idx}: {err}") from None
    params: dict[str, Any] = {C.IDISK_PROVIDER: str(prov)}
    access = disk.get(C.IDISK_ACCESS)
    if access is not None:
        if access not in C.DISK_VALID_ACCESS_MODES:
            raise _fail(f"Disk {idx}: invalid access mode {access!r}; allowed: "
                        f"{', '.join(C.DISK_VALID_ACCESS_MODES)}")
        params[C.LDP_ACCESS] = access
    for key, value in disk.items():
        if key in generic_keys or key in OWN_PARAMS:
            continue
        if not _PARAM_RE.match(str(key)):
            raise _fail(f"Disk {idx}: invalid ExtStorage parameter name {key!r}: use "
                        f"letters, digits, '_', '.' and '-'")
        if isinstance(value, (dict, list, tuple)):
            raise _fail(f"Disk {idx}: ExtStorage parameter '{key}' must be a single "
                        f"value, not {type(value).__name__}")
        params[str(key)] = "" if value is None else str(value)
    return {"provider": str(prov), "params": params}


def provider_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The provider's own parameters among a disk's ``params``."""
    return {k: v for k, v in params.items() if k not in OWN_PARAMS}


def check_access(hypervisor: str, template: str, access: str | None) -> None:
    """Ganeti's rule: userspace access only with kvm, for ext/rbd/gluster disks.

    ``access`` None means the default (kernelspace).  Raises OpPrereqError
    (``wrong_state``) for other combinations.
    """
    if access in (None, C.DISK_KERNELSPACE):
        return
    if not (hypervisor == C.HT_KVM and template in C.DTS_HAVE_ACCESS
            and access == C.DISK_USERSPACE):
        raise errors.OpPrereqError(
            f"Selected hypervisor ({hypervisor}) cannot be used with {access} disk access "
            f"param (userspace access needs the {C.HT_KVM} hypervisor and a "
            f"{'/'.join(C.DTS_HAVE_ACCESS)} disk)", errors.ECODE_STATE)


def check_declared(prov: es_provider.Provider, params: Mapping[str, Any]) -> None:
    """Refuse provider parameters ``prov`` does not declare in ``parameters.list``.

    Raises OpPrereqError (``wrong_input``) naming the unknown ones and the
    supported ones.
    """
    unknown = sorted(set(provider_params(params)) - set(prov.parameter_names))
    if unknown:
        supported = ", ".join(prov.parameter_names) or "none"
        raise errors.OpPrereqError(
            f"ExtStorage provider '{prov.name}' does not support the parameter(s) "
            f"{', '.join(unknown)}; supported: {supported}", errors.ECODE_INVAL)


def check_disks_on_node(rpc: Any, cfg: ConfigData, node: Node, hypervisor: str,
                        disks: list[dict[str, Any]]) -> None:
    """Prerequisites of new ext disks (as parsed by :func:`parse_disk`) on
    ``node``.

    Checks each disk's access mode (its own, else the one its node group
    or the cluster sets in ``diskparams``) against ``hypervisor`` and,
    through the node RPC ``extstorage_validate``, that its provider is
    valid on the node and declares its parameters.  ``rpc`` is the
    master's NodeRpc.  Raises OpPrereqError (the node's diagnosis in the
    message), RPCError when the node cannot be reached.
    """
    inherited = fill_diskparams(cfg.cluster, cfg.nodegroups.get(node.group), C.DT_EXT)
    for idx, d in enumerate(disks):
        params = d.get("params", {})
        check_access(hypervisor, C.DT_EXT,
                     params.get(C.LDP_ACCESS, inherited.get(C.LDP_ACCESS)))
        rpc.extstorage_validate(node.uuid, d["provider"], params).raise_on_fail(
            f"Disk {idx}: ExtStorage provider '{d['provider']}' check failed on node "
            f"{node.name}")
