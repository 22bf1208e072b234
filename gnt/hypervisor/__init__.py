"""Hypervisors: the registry, parameter tables and master-side checks."""

from __future__ import annotations

import importlib
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.hypervisor.base import Hypervisor, ParamDef
from gnt.objects.params import check_params

_MODULES = {C.HT_KVM: "gnt.hypervisor.kvm", C.HT_FAKE: "gnt.hypervisor.fake"}
_instances: dict[str, Hypervisor] = {}


def _module(hv: str) -> Any:
    if hv not in _MODULES:
        raise errors.ParameterError(
            f"Unknown hypervisor '{hv}'; allowed: {', '.join(C.HYPER_TYPES)}",
            errors.ECODE_INVAL)
    return importlib.import_module(_MODULES[hv])


def parameters(hv: str) -> dict[str, ParamDef]:
    """The parameter table of hypervisor ``hv``."""
    return _module(hv).PARAMETERS


def defaults_for(hv: str) -> dict[str, Any]:
    """Default hvparams of ``hv``."""
    return {k: p.default for k, p in parameters(hv).items()}


def check_parameters(hv: str, params: dict[str, Any], allow_default: bool = False
                     ) -> dict[str, Any]:
    """Check and coerce hvparams for ``hv``; raises :class:`errors.ParameterError`."""
    table = parameters(hv)
    out = check_params(f"{hv} hypervisor", {k: p.kind for k, p in table.items()}, params,
                       allow_default=allow_default)
    for k, v in out.items():
        choices = table[k].choices
        if choices is not None and v is not None and v not in choices:
            raise errors.ParameterError(
                f"Invalid value {v!r} for {hv} hypervisor parameter '{k}'; allowed: "
                f"{', '.join(c if c else repr(c) for c in choices)}", errors.ECODE_INVAL)
    return out


def get(hv: str) -> Hypervisor:
    """The (node-side) driver of ``hv``, created once per process."""
    drv = _instances.get(hv)
    if drv is None:
        drv = _instances[hv] = _module(hv).HYPERVISOR_CLASS()
    return drv
