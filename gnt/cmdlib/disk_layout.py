"""Where a new disk lives, per disk template (master side): its ``logical_id``.

Each template that needs one registers a generator with :func:`layout`; the
generator gets a :class:`NewDisk` and returns Ganeti's ``logical_id`` shape
for that template (``file``/``sharedfile``: ``[file_driver, path]``).  Adding
a template is one decorated function here, next to its node-side class in
:mod:`gnt.storage`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.objects import Cluster


@dataclass(frozen=True)
class NewDisk:
    """What a generator knows about the disk being created.

    ``template``: the disk template; ``index``: disk index in the instance; ``uuid``: the new disk's UUID;
    ``instance``: the instance's name; ``params``: the disk's dict from the
    opcode (``size`` MiB, ``mode``, ``name``, ``adopt``, ``provider``...);
    ``file_driver``/``file_storage_dir``: the opcode's values, if any.
    """

    template: str
    index: int
    uuid: str
    instance: str
    cluster: Cluster
    params: dict[str, Any] = field(default_factory=dict)
    file_driver: str | None = None
    file_storage_dir: str | None = None


Generator = Callable[[NewDisk], list[Any]]
_GENERATORS: dict[str, Generator] = {}


def layout(*templates: str) -> Callable[[Generator], Generator]:
    """Register ``fn`` as the logical_id generator of ``templates``."""
    def deco(fn: Generator) -> Generator:
        for t in templates:
            _GENERATORS[t] = fn
        return fn
    return deco


def logical_id(disk: NewDisk) -> list[Any]:
    """The ``logical_id`` of a new disk (``[]`` when its template needs none)."""
    gen = _GENERATORS.get(disk.template)
    return gen(disk) if gen else []


def file_dir(cluster: Cluster, template: str, instance: str,
             requested: str | None) -> str:
    """The directory of a file-based instance's disks (cluster path):
    ``<cluster dir of the template>[/<requested>]/<instance>`` (Ganeti's layout).

    ``requested`` (``--file-storage-dir``) is a path relative to the
    template's cluster directory, or an absolute path inside it; it may not
    climb out of it (``..``).  Raises OpPrereqError: ``wrong_state`` when
    the cluster has no directory for the template, ``wrong_input`` for a
    requested directory outside it.
    """
    raw = (cluster.shared_file_storage_dir if template == C.DT_SHARED_FILE
           else cluster.file_storage_dir)
    if not raw or not raw.startswith("/"):
        raise errors.OpPrereqError(
            f"Cluster file storage dir for '{template}' storage type not defined",
            errors.ECODE_STATE)
    base = os.path.normpath(raw)
    if requested:
        if not requested.strip() or "\0" in requested:
            raise errors.OpPrereqError(f"Invalid file storage directory {requested!r}",
                                       errors.ECODE_INVAL)
        if ".." in requested.split("/"):
            raise errors.OpPrereqError(
                f"File storage directory '{requested}' may not contain '..'; give a "
                f"directory below the cluster's {template} storage directory {base}",
                errors.ECODE_INVAL)
        req = os.path.normpath(os.path.join(base, requested))
        if req != base and not req.startswith(base.rstrip("/") + "/"):
            raise errors.OpPrereqError(
                f"File storage directory '{requested}' is not below the cluster's "
                f"{template} storage directory {base}", errors.ECODE_INVAL)
        base = req
    return f"{base.rstrip('/')}/{instance}"


@layout(C.DT_FILE, C.DT_SHARED_FILE)
def _file_based(disk: NewDisk) -> list[Any]:
    directory = file_dir(disk.cluster, disk.template, disk.instance, disk.file_storage_dir)
    return [disk.file_driver or C.FD_DEFAULT,
            f"{directory}/{disk.uuid}.file.disk{disk.index}"]


@layout(C.DT_EXT)
def _ext(disk: NewDisk) -> list[Any]:
    """``[provider, "<uuid>.ext.disk<N>"]`` (Ganeti's volume name scheme, with the
    disk's UUID); ``provider`` comes from the disk dict (see gnt.extstorage.diskparams)."""
    provider = disk.params.get(C.IDISK_PROVIDER)
    if not provider:
        raise errors.OpPrereqError(f"Disk {disk.index}: missing provider for template "
                                   f"'{C.DT_EXT}'", errors.ECODE_INVAL)
    return [provider, f"{disk.uuid}.ext.disk{disk.index}"]


@layout(C.DT_BLOCK)
def _blockdev(disk: NewDisk) -> list[Any]:
    """Adopted block device: ``["manual", <device path>]`` (from ``adopt``)."""
    return [C.BLOCKDEV_DRIVER_MANUAL, str(disk.params[C.IDISK_ADOPT])]
