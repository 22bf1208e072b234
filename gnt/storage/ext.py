"""The ``ext`` disk template: volumes of an ExtStorage provider.

``logical_id`` is ``[provider, volume_name]`` (Ganeti's shape; the name is
``<uuid>.ext.disk<N>``).  The disk's ``params`` hold what Ganeti stores
there: ``provider``, ``access`` (``kernelspace``/``userspace``) when given
and the provider's own parameters; all of them reach the scripts as
``EXTP_<NAME>`` (``access`` defaults to ``kernelspace``).

Every operation runs the provider's scripts (:mod:`gnt.extstorage`) on this
node.  ``attach``/``detach`` are idempotent by the interface, so
:meth:`ExtStorageDevice.assemble` and :meth:`ExtStorageDevice.shutdown` can
be repeated, and run on several nodes for the same volume (shared storage,
live migration).  With ``access=userspace``, ``assemble`` returns the
provider's ``kvm:`` URI as ``uri`` (QEMU opens it instead of ``path``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.extstorage import attach, provider
from gnt.extstorage.environment import volume_env
from gnt.extstorage.runner import run_action
from gnt.storage.base import BlockDev, BlockDevInfo, BlockDevSpec

log = logging.getLogger(__name__)

USERSPACE_HYPERVISOR = C.HT_KVM  # the only hypervisor Ganeti allows userspace access for
METADATA_MAX = 128


def volume_of(spec: BlockDevSpec) -> tuple[str, str]:
    """``(provider, volume name)`` from the disk's logical_id; raises
    BlockDeviceError (``wrong_input``) for a malformed one."""
    lid = spec.logical_id
    if (len(lid) != 2 or not all(isinstance(x, str) and x for x in lid)
            or "/" in lid[1] or lid[1] in (".", "..")):
        raise errors.BlockDeviceError(
            f"Invalid logical_id {lid!r} for ext disk {spec.uuid}: want "
            f"[provider, volume_name] (non-empty names, no '/')", errors.ECODE_INVAL)
    provider.check_name(lid[0])
    return lid[0], lid[1]


def ext_params(spec: BlockDevSpec) -> dict[str, Any]:
    """The disk's params filled with the ext defaults (``access=kernelspace``)."""
    return {**C.DISK_DT_DEFAULTS[C.DT_EXT], **spec.params}


def access_mode(spec: BlockDevSpec) -> str:
    """The disk's access mode; raises BlockDeviceError for an unknown one."""
    mode = ext_params(spec).get(C.LDP_ACCESS, C.DISK_KERNELSPACE)
    if mode not in C.DISK_VALID_ACCESS_MODES:
        raise errors.BlockDeviceError(
            f"Invalid access mode {mode!r} for disk {spec.uuid}; allowed: "
            f"{', '.join(C.DISK_VALID_ACCESS_MODES)}", errors.ECODE_INVAL)
    return str(mode)


def sanitize_metadata(text: str) -> str:
    """Ganeti's rule for ``VOL_METADATA``: characters outside ``[-A-Za-z0-9_+.]``
    (and a leading ``-``) become ``_``, at most 128 characters."""
    text = re.sub(r"[^-A-Za-z0-9_+.]", "_", text)
    text = re.sub(r"^-", "_", text)
    return text[:METADATA_MAX]


class ExtStorageDevice(BlockDev):
    """Volumes (``size`` MiB) managed by an ExtStorage provider's scripts."""

    dev_type = C.DT_EXT

    def _run(self, spec: BlockDevSpec, action: str, *args: str, **env: Any) -> str | None:
        prov_name, volume = volume_of(spec)
        prov = provider.get(prov_name)
        environ = volume_env(volume, ext_params(spec), cname=spec.name, uuid=spec.uuid, **env)
        return run_action(prov, action, volume, environ, args)

    def _info(self, spec: BlockDevSpec, output: str) -> BlockDevInfo:
        prov_name, volume = volume_of(spec)
        info = attach.parse(prov_name, volume, output)
        uri = None
        if access_mode(spec) == C.DISK_USERSPACE:
            uri = info.uri_for(USERSPACE_HYPERVISOR)
            if uri is None:
                raise errors.BlockDeviceError(
                    f"Userspace access is not supported by the '{prov_name}' ExtStorage "
                    f"provider for the '{USERSPACE_HYPERVISOR}' hypervisor (its attach "
                    f"script printed no '{USERSPACE_HYPERVISOR}:' URI for volume "
                    f"'{volume}'); use access={C.DISK_KERNELSPACE}", errors.ECODE_ENVIRON)
        elif not info.path:
            raise errors.BlockDeviceError(
                f"ExtStorage provider '{prov_name}' gives no local block device for volume "
                f"'{volume}' (userspace URIs only); use access={C.DISK_USERSPACE}",
                errors.ECODE_ENVIRON)
        size = attach.device_size(info.path) if info.path else None
        return BlockDevInfo(path=info.path, uri=uri, size=spec.size if size is None else size)

    def attach(self, spec: BlockDevSpec) -> BlockDevInfo:
        """Run ``attach``; the local path (and ``uri`` with userspace access).

        Raises BlockDeviceError when the script fails or its output is
        unusable (see :mod:`gnt.extstorage.attach`).
        """
        return self._info(spec, self._run(spec, C.ES_ACTION_ATTACH) or "")

    def create(self, spec: BlockDevSpec, excl_stor: bool = False) -> BlockDevInfo:
        """Provision the volume with ``spec.size`` MiB (``create``), then attach it.

        When ``attach`` fails after a successful ``create``, the new volume
        is removed again (``detach``, ``remove``; best effort, said in the
        error) before BlockDeviceError is raised.  A failing ``create`` is
        taken at its word (the interface: no volume unless it succeeds):
        gnt never removes a volume it did not see created, e.g. one a
        refused ``create`` found already there.
        """
        if excl_stor:
            raise errors.BlockDeviceError("The ext disk template does not support "
                                          "exclusive storage", errors.ECODE_INVAL)
        if spec.size <= 0 or spec.size > C.MAX_DISK_SIZE_MIB:
            raise errors.BlockDeviceError(
                f"Invalid size {spec.size} MiB for disk {spec.uuid}; allowed 1 to "
                f"{C.MAX_DISK_SIZE_MIB} MiB", errors.ECODE_INVAL)
        self._run(spec, C.ES_ACTION_CREATE, size=spec.size)
        try:
            return self.attach(spec)
        except errors.BlockDeviceError as err:
            raise self._undo_create(spec, err) from err

    def _undo_create(self, spec: BlockDevSpec, err: errors.BlockDeviceError
                     ) -> errors.BlockDeviceError:
        try:
            self.remove(spec)
        except errors.GntError as undo_err:
            note = f"\nremoving the partial volume failed too: {undo_err}"
        else:
            note = "\n(the new volume was removed again)"
        return errors.BlockDeviceError(f"{err}{note}", err.ecode)

    def remove(self, spec: BlockDevSpec) -> None:
        """Detach the volume here, then delete it (``detach``, ``remove``).

        Whether removing a missing volume succeeds is the provider's
        ``remove`` script's choice.
        """
        self._run(spec, C.ES_ACTION_DETACH)
        self._run(spec, C.ES_ACTION_REMOVE)

    def assemble(self, spec: BlockDevSpec, exclusive: bool = True) -> BlockDevInfo:
        """Attach the volume and open it (``open``, if the provider has one, with
        ``VOL_OPEN_EXCLUSIVE``); idempotent.  Raises BlockDeviceError."""
        info = self.attach(spec)
        self.open(spec, exclusive)
        return info

    def open(self, spec: BlockDevSpec, exclusive: bool = True) -> None:
        """Run the optional ``open`` script (shared access: ``exclusive=False``)."""
        self._run(spec, C.ES_ACTION_OPEN, exclusive=exclusive)

    def close(self, spec: BlockDevSpec) -> None:
        """Run the optional ``close`` script."""
        self._run(spec, C.ES_ACTION_CLOSE)

    def shutdown(self, spec: BlockDevSpec) -> None:
        """Unmap the volume from this node (``detach``; idempotent by the interface)."""
        self._run(spec, C.ES_ACTION_DETACH)

    def grow(self, spec: BlockDevSpec, amount: int) -> None:
        """Grow from ``spec.size`` to ``spec.size + amount`` MiB (``grow``).

        Attaches first, as Ganeti does.  Raises BlockDeviceError for a
        negative amount or a failing script; 0 does nothing.
        """
        if amount < 0:
            raise errors.BlockDeviceError(
                f"Cannot shrink disk {spec.uuid} (grow by {amount} MiB); only growing is "
                f"supported", errors.ECODE_INVAL)
        if amount == 0:
            return
        self.attach(spec)
        self._run(spec, C.ES_ACTION_GROW, size=spec.size, new_size=spec.size + amount)

    def find(self, spec: BlockDevSpec) -> BlockDevInfo | None:
        """The attached volume, or None when ``attach`` fails (volume absent).

        Raises BlockDeviceError when the provider is missing or invalid, or
        ``attach`` succeeds with unusable output.
        """
        provider.get(volume_of(spec)[0])
        try:
            output = self._run(spec, C.ES_ACTION_ATTACH) or ""
        except errors.BlockDeviceError as err:
            log.info("ext volume of disk %s not found: %s", spec.uuid, err)
            return None
        return self._info(spec, output)

    def setinfo(self, spec: BlockDevSpec, text: str) -> None:
        """Attach metadata (``setinfo``, ``VOL_METADATA``, sanitised as Ganeti does);
        Ganeti sets ``originstname+<instance name>`` after creating a disk."""
        self._run(spec, C.ES_ACTION_SETINFO, metadata=sanitize_metadata(text))

    def verify(self, spec: BlockDevSpec, *checks: str) -> None:
        """Run ``verify`` with ``checks`` as arguments (default ``parameters``).

        Ganeti defines the script but never runs it; gnt neither does on its
        own.  Raises BlockDeviceError when it fails.
        """
        self._run(spec, C.ES_ACTION_VERIFY, *(checks or ("parameters",)))

    def snapshot(self, spec: BlockDevSpec, snap_name: str | None = None,
                 snap_size: int | None = None) -> list[str]:
        """Run the optional ``snapshot`` script; returns the snapshot's
        ``[provider, name]`` (default name ``<volume>.snap``, size the disk's)."""
        prov_name, volume = volume_of(spec)
        name = snap_name or f"{volume}.snap"
        self._run(spec, C.ES_ACTION_SNAPSHOT, snap_name=name,
                  snap_size=snap_size or spec.size)
        return [prov_name, name]


BLOCKDEV_CLASS = ExtStorageDevice
