"""Node procedures for ExtStorage providers and ext volumes."""

from __future__ import annotations

from typing import Any

from gnt import errors, netutils
from gnt.extstorage import diskparams
from gnt.extstorage import provider as es_provider
from gnt.noded.registry import procedure
from gnt.storage.base import BlockDevSpec
from gnt.storage.ext import ExtStorageDevice

_DEV = ExtStorageDevice()


def _spec(raw: dict[str, Any]) -> BlockDevSpec:
    return BlockDevSpec.model_validate(raw)


@procedure("extstorage_diagnose")
def extstorage_diagnose() -> list[dict[str, Any]]:
    """Every provider directory in this node's search path (shadowed ones too):
    ``{"name", "path", "status" (bool), "message", "parameters": [[name, doc], ...]}``."""
    return [{"name": p.name, "path": p.path, "status": p.valid, "message": p.diagnose,
             "parameters": [list(x) for x in p.parameters]}
            for p in es_provider.diagnose()]


@procedure("extstorage_validate")
def extstorage_validate(provider: str, params: dict[str, Any]) -> list[str]:
    """Check ``provider`` is valid here and declares every parameter in ``params``
    (``provider``/``access`` excepted); returns its parameter names.  Raises
    OpPrereqError with the diagnosis otherwise."""
    try:
        prov = es_provider.find(provider)
    except errors.BlockDeviceError as err:
        raise errors.OpPrereqError(str(err), errors.ECODE_INVAL) from None
    if not prov.valid:
        raise errors.OpPrereqError(
            f"ExtStorage provider '{provider}' is not usable on node "
            f"{netutils.my_hostname()}: {prov.diagnose}", errors.ECODE_ENVIRON)
    diskparams.check_declared(prov, params)
    return prov.parameter_names


@procedure("extstorage_setinfo")
def extstorage_setinfo(spec: dict[str, Any], text: str) -> None:
    """Run the volume's ``setinfo`` script with ``VOL_METADATA`` = ``text`` (sanitised)."""
    _DEV.setinfo(_spec(spec), text)


@procedure("extstorage_open")
def extstorage_open(spec: dict[str, Any], exclusive: bool = True) -> None:
    """Run the volume's optional ``open`` script (``exclusive=False`` while migrating)."""
    _DEV.open(_spec(spec), bool(exclusive))


@procedure("extstorage_close")
def extstorage_close(spec: dict[str, Any]) -> None:
    """Run the volume's optional ``close`` script."""
    _DEV.close(_spec(spec))
